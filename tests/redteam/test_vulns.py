"""CWE cards and the vulnerable/secure pairs generated from them."""

from __future__ import annotations

from bluecodeagent.code.static.base import rules
from bluecodeagent.knowledge.cards import get_card, load_cards
from bluecodeagent.redteam.vulns import GENERATOR, validate_pairs, vulnerable_pairs


def test_cards_cover_every_static_cwe() -> None:
    cards = {c.id for c in load_cards()}
    assert {r.cwe for r in rules("python")} <= cards
    assert len(cards) >= 29
    for c in load_cards():
        assert c.principles and c.secure_markers and c.risky_markers and len(c.pairs) >= 2


def test_pairs_deterministic_and_paired() -> None:
    a, b = vulnerable_pairs(seed=0), vulnerable_pairs(seed=0)
    assert [i.uid for i in a] == [i.uid for i in b]
    assert len(a) <= 600
    by_uid = {i.uid: i for i in a}
    for it in a:
        assert it.task == "vulnerability" and it.provenance["generator"] == GENERATOR
        other = by_uid[it.counterpart]  # type: ignore[index]
        assert other.counterpart == it.uid and other.label != it.label and other.category == it.category
        assert it.principle == get_card(it.category).principle  # type: ignore[union-attr]
        compile(it.text, "<pair>", "exec")


def test_static_analyzer_agrees_with_most_pairs() -> None:
    checks = validate_pairs(vulnerable_pairs())
    ok = [c for c in checks if c.ok]
    assert len(ok) / len(checks) >= 0.9
    assert all(c.secure_clean for c in checks)


def test_cwe_filter() -> None:
    items = vulnerable_pairs(["22", "CWE-89"])
    assert {i.category for i in items} == {"CWE-22", "CWE-89"}
