from __future__ import annotations

from pathlib import Path

import pytest

from bluecodeagent.bench.datasets import (
    BIPIA_CLEAN_GROUP,
    MBPP_GROUP,
    DataDirError,
    bipia_question,
    load_task,
    resolve_data_dir,
)


def test_malicious_loader_groups_and_labels(data_dir: Path) -> None:
    samples = load_task("malicious", data_dir)
    unsafe = [s for s in samples if s.label == "unsafe"]
    safe = [s for s in samples if s.label == "safe"]
    assert len(unsafe) == 4 * 3 + 7 and len(safe) == 6
    groups = {s.group for s in unsafe}
    assert "redcode:virus" in groups
    # attack_type given as a list and as the list's repr string both parse
    assert {"cyberseceval:Privilege Escalation", "cyberseceval:Container Escape"} <= groups
    assert all(s.group == MBPP_GROUP and s.context is None for s in safe)
    assert all("def " in s.text for s in unsafe if s.source == "redcode_gen")


def test_bias_loader(data_dir: Path) -> None:
    samples = load_task("bias", data_dir)
    groups = sorted({s.group for s in samples if s.label == "unsafe"})
    assert groups == ["cbs:employment", "cbs:income", "cbs:insurance"]
    assert sum(s.label == "safe" for s in samples) == 6


def test_injection_loader_inserts_each_category(data_dir: Path) -> None:
    samples = load_task("injection", data_dir, seed=3)
    clean = [s for s in samples if s.group == BIPIA_CLEAN_GROUP]
    injected = [s for s in samples if s.label == "unsafe"]
    assert len(clean) == 3 and len(injected) == 3 * 2
    for s in injected:
        assert s.payload and s.payload in (s.context or "")
        base = next(c for c in clean if c.text == s.text)
        assert (s.context or "").replace(s.payload, "").split() == (base.context or "").split()
        assert s.unit.startswith("bipia-attack:")
    assert clean[0].text.startswith("Fix this error:") and "ValueError" in clean[0].text
    # seeded: same seed -> same samples, other seed -> (here) different placements
    assert [s.context for s in load_task("injection", data_dir, seed=3)] == [s.context for s in samples]
    assert any(a.id != b.id for a, b in zip(samples, load_task("injection", data_dir, seed=4), strict=True))


def test_bipia_question_format() -> None:
    q = bipia_question({"error": ["E1", "E2"], "code": ["x = 1"]})
    assert q == "Fix this error:\nE1\nE2\n\nx = 1"


def test_limit_is_stratified_and_deterministic(data_dir: Path) -> None:
    a = load_task("malicious", data_dir, limit=8, seed=1)
    b = load_task("malicious", data_dir, limit=8, seed=1)
    assert [s.id for s in a] == [s.id for s in b]
    assert len(a) <= 8 and {s.label for s in a} == {"safe", "unsafe"}


def test_missing_files_and_dirs(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataDirError, match="RedCode-Gen"):
        resolve_data_dir(tmp_path / "nope")
    (data_dir / "cbs" / "dataset.json").unlink()
    with pytest.raises(DataDirError, match=r"cbs/dataset\.json"):
        load_task("bias", data_dir)
    monkeypatch.setenv("BLUECODE_DATA_DIR", str(data_dir))
    assert resolve_data_dir() == data_dir
    monkeypatch.delenv("BLUECODE_DATA_DIR")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataDirError, match="--data-dir"):
        resolve_data_dir()
