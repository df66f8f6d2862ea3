"""What `redteam optimize` says: records counted as written, untried operators explained."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from bluecodeagent.cli.redteam import optimize_written, untried_note


def test_the_count_printed_is_the_count_written():
    records = [{"success": True}] * 14 + [{"success": False}] * 7
    line = optimize_written(records, Path("f.jsonl"))
    assert line.startswith("21 record(s) written to f.jsonl: 14 evasion(s)")
    assert "7 best attempt(s) of seeds that held (success false)" in line
    assert optimize_written([{"success": True}], Path("f.jsonl")).endswith("1 evasion(s) (success true)")


def test_a_small_budget_says_why_operators_were_not_tried():
    rep = SimpleNamespace(caught_at_baseline=3, per_operator={f"op{i}": {} for i in range(4)})
    note = untried_note(rep, 12, 5)
    assert note is not None and "4 of 12 operators were tried" in note and "--budget 13" in note
    assert untried_note(rep, 12, 40) is None  # enough budget: an untried operator left the text unchanged
    assert untried_note(SimpleNamespace(caught_at_baseline=0, per_operator={}), 12, 5) is None
