"""Code knowledge: constitution checks, retrieval signals, and their effect on the judge and scanner."""

from __future__ import annotations

from pathlib import Path

import pytest

from bluecodeagent.code.judge import judge
from bluecodeagent.code.knowledge import (
    FULL_MARGIN,
    MAX_DOWN,
    check_principle,
    knowledge_delta,
    knowledge_hook,
    marker_reliability,
)
from bluecodeagent.code.scanner import scan_code
from bluecodeagent.code.static.base import get_analyzer
from bluecodeagent.knowledge.cards import get_card
from bluecodeagent.redteam.vulns import vulnerable_pairs

UNGUARDED = (
    "import os\n\n\ndef read_doc(root, name):\n    with open(os.path.join(root, name)) as f:\n        return f.read()\n"
)
GUARDED = (
    "import os\n\n\ndef read_doc(root, name):\n"
    "    full = os.path.realpath(os.path.join(root, name))\n"
    "    if os.path.commonpath([full, os.path.realpath(root)]) != os.path.realpath(root):\n"
    "        raise PermissionError(name)\n"
    "    with open(full) as f:\n        return f.read()\n"
)


@pytest.fixture(scope="module")
def small_kb(tmp_path_factory: pytest.TempPathFactory):
    from bluecodeagent.knowledge.builder import build_kb
    from bluecodeagent.knowledge.embedders import get_embedder

    path = tmp_path_factory.mktemp("codekb") / "kb.sqlite"
    kb = build_kb(path, vulnerable_pairs(["CWE-22", "CWE-89"], per_cwe=4), get_embedder())
    yield kb
    kb.close()


def test_principle_check() -> None:
    card = get_card("CWE-22")
    assert card is not None
    assert check_principle(card, GUARDED).status == "satisfied"
    assert check_principle(card, UNGUARDED).status == "violated"
    assert check_principle(card, "def f():\n    return 1\n").status == "unknown"


def test_signals_move_judge(small_kb) -> None:
    hook = knowledge_hook(small_kb)
    static = get_analyzer("python").analyze(UNGUARDED)
    res = hook(UNGUARDED, static)
    assert res.vulnerable_neighbours and res.safe_neighbours and res.constitution
    assert any(s.cwe == "CWE-22" and s.confidence_delta > 0 for s in res.signals)
    base = judge(static).judged[0].confidence
    assert judge(static, None, res.signals).judged[0].confidence > base
    # the same finding on a guarded function is weakened, in proportion to how much closer the secure
    # neighbour is (so it stays reported unless the margin is decisive)
    guarded = hook(GUARDED, static)
    sig = next(s for s in guarded.signals if s.cwe == "CWE-22")
    assert -MAX_DOWN <= sig.confidence_delta < 0
    assert judge(static, None, guarded.signals).judged[0].confidence < base


def test_delta_is_evidence_proportional() -> None:
    # neighbours that disagree with the check, or tie, never nudge
    assert knowledge_delta("satisfied", sv=0.7, ss=0.6) == 0.0
    assert knowledge_delta("satisfied", sv=0.6, ss=0.6) == 0.0
    assert knowledge_delta("violated", sv=0.6, ss=0.7) == 0.0
    # a small margin (twins of one pair) barely moves a finding; a decisive one drops it below 0.4
    small = knowledge_delta("satisfied", sv=0.60, ss=0.62)
    assert -0.1 < small < 0
    assert knowledge_delta("satisfied", sv=0.5, ss=0.5 + FULL_MARGIN) == pytest.approx(-MAX_DOWN)
    assert 0.85 + knowledge_delta("satisfied", sv=0.4, ss=0.8) < 0.4
    # a marker the vulnerable examples carry as well is no evidence of a guard
    assert knowledge_delta("satisfied", sv=0.4, ss=0.8, reliability=0.0) == 0.0
    assert knowledge_delta("violated", sv=0.7, ss=0.6) > 0


def test_marker_reliability_from_the_base() -> None:
    from bluecodeagent.knowledge.item import KnowledgeItem

    card = get_card("CWE-22")
    assert card is not None

    def item(label: str, text: str) -> KnowledgeItem:
        return KnowledgeItem(task="vulnerability", label=label, category="CWE-22", text=text)

    separating = [item("vulnerable", UNGUARDED), item("safe", GUARDED)]
    assert marker_reliability(card, separating) == 1.0
    both = [item("vulnerable", GUARDED), item("safe", GUARDED)]
    assert marker_reliability(card, both) == 0.0


def test_withheld_cwe_gives_no_signal(small_kb) -> None:
    code = "import pickle\n\n\ndef load(blob):\n    return pickle.loads(blob)\n"
    res = knowledge_hook(small_kb)(code, get_analyzer("python").analyze(code))
    assert not any(s.cwe == "CWE-502" for s in res.signals)


def test_scan_code_exposes_constitution(small_kb) -> None:
    v = scan_code(UNGUARDED, dynamic=False, knowledge=small_kb)
    assert v.label == "vulnerable"
    assert any(p.source == "CWE-22" and p.kind == "unsafe" and p.matched for p in v.evidence.constitution)
    assert v.evidence.unsafe_neighbours and any(n.startswith("knowledge:") for n in v.evidence.notes)


def test_shipped_kb_end_to_end(shipped_kb_path: Path, embedder) -> None:
    from bluecodeagent.knowledge.store import KnowledgeBase

    kb = KnowledgeBase(shipped_kb_path, embedder)
    assert kb.stats()["by_task"]["vulnerability"]["vulnerable"] >= 29 * 6
    v = scan_code(UNGUARDED, dynamic=False, knowledge=kb)
    assert v.label == "vulnerable" and any(p.source == "CWE-22" for p in v.evidence.constitution)
    kb.close()
