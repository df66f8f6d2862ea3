"""`bluecode kb` end to end through the real entry point."""

from __future__ import annotations

import json

from tests_helpers import run


def test_stats_search_add_remove_export(tiny_kb_path, tmp_path):
    kb = str(tiny_kb_path)
    st = run("kb", "stats", "--kb", kb, "--format", "json")
    assert st.returncode == 0, st.stderr.decode()
    before = json.loads(st.stdout)
    assert before["by_task"]["malicious"]["unsafe"] == 4

    found = run("kb", "search", "--kb", kb, "-t", "malicious", "-k", "1", "capture keystrokes secretly")
    assert found.returncode == 0 and "keylogger" in found.stdout.decode()

    new = tmp_path / "team.jsonl"
    new.write_text(
        json.dumps({"task": "bias", "label": "unsafe", "text": "reject applicants older than 50", "category": "age"})
        + "\n"
    )
    added = run("kb", "add", "--kb", kb, str(new), "--batch", "team-1")
    assert added.returncode == 0, added.stderr.decode()
    after = json.loads(run("kb", "stats", "--kb", kb, "--format", "json").stdout)
    assert after["by_task"]["bias"] == {"unsafe": 1} and after["batches"]["team-1"] == 1

    out = tmp_path / "export.jsonl"
    assert run("kb", "export", "--kb", kb, str(out), "-t", "bias").returncode == 0
    assert [json.loads(x)["text"] for x in out.read_text().splitlines()] == ["reject applicants older than 50"]

    removed = run("kb", "remove", "--kb", kb, "--batch", "team-1")
    assert removed.returncode == 0 and "removed 1" in removed.stdout.decode()
    assert "bias" not in json.loads(run("kb", "stats", "--kb", kb, "--format", "json").stdout)["by_task"]


def test_add_rejects_bad_records(tiny_kb_path, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task": "bias", "label": "perhaps", "text": "x"}\n')
    proc = run("kb", "add", "--kb", str(tiny_kb_path), str(bad))
    assert proc.returncode == 2 and "bad.jsonl:1" in proc.stderr.decode()
    assert "Traceback" not in proc.stderr.decode()
    assert run("kb", "remove", "--kb", str(tiny_kb_path)).returncode == 2


def test_kb_build_trains_each_prompt_detector_with_a_progress_line(tiny_kb_path, embedder, capsys) -> None:
    """After a build the detectors are stored, so the first check does not train in silence (issue 12)."""
    from bluecodeagent.cli.kb import train_prompt_detectors
    from bluecodeagent.knowledge.detector import load_detector
    from bluecodeagent.knowledge.store import KnowledgeBase
    from bluecodeagent.tasks import PROMPT_TASKS

    base = KnowledgeBase(tiny_kb_path, embedder)
    with_items = [t for t in PROMPT_TASKS if any(True for _ in base.items(t))]
    assert with_items and all(load_detector(base, t, 3) is None for t in with_items)
    train_prompt_detectors(base, top_k=3, first_readers=False)
    err = capsys.readouterr().err
    for task in PROMPT_TASKS:
        if task in with_items:
            assert load_detector(base, task, 3) is not None, task
            assert f"trained {task}: detector in " in err
        else:
            assert f"training {task}: no items, skipped" in err


def test_prune_drops_only_detectors_this_version_never_loads(tiny_kb_path, embedder) -> None:
    """Each rule or cue version stored its detectors (several MB with support vectors) and never dropped the old."""
    from bluecodeagent.knowledge.detector import TaskDetector, stored_key
    from bluecodeagent.knowledge.store import KnowledgeBase

    base = KnowledgeBase(tiny_kb_path, embedder)
    TaskDetector.load_or_train(base, "malicious", 3)
    current = stored_key(base, "malicious", 3)
    for old in ("detector:malicious:k3:0ldrules:0ldcues@1", "detector:retired-task:k3:a:b@1", "detector:garbled"):
        base.put_blob(old, b"x" * 1000)
    base.close()
    proc = run("kb", "prune", "--kb", str(tiny_kb_path))
    assert proc.returncode == 0 and "pruned 3 " in proc.stdout.decode(), proc.stderr.decode()
    base = KnowledgeBase(tiny_kb_path, embedder)
    assert base.blob_keys("detector:") == [current]
    assert run("kb", "prune", "--kb", str(tiny_kb_path)).stdout.decode().startswith("pruned 0 ")
