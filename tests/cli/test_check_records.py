"""How `check --task all` sums up one record: the deciding task names the category."""

from __future__ import annotations

from bluecodeagent.cli.check import _record
from bluecodeagent.verdict import Decision, Task, Verdict


def _v(task: Task, decision: Decision, score: float, category: str | None) -> Verdict:
    label = "safe" if decision == Decision.ALLOW else "unsafe"
    return Verdict(task=task, label=label, score=score, decision=decision, category=category)


def test_the_most_severe_decision_decides_not_the_highest_score():
    rec = _record(
        [
            _v(Task.BIAS, Decision.ALLOW, 0.1, None),
            _v(Task.MALICIOUS, Decision.BLOCK, 0.86, "ransomware"),
            _v(Task.INJECTION, Decision.WARN, 0.9, "ad insertion"),  # a higher score, a lower decision
        ]
    )
    assert rec["decision"] == "block" and rec["category"] == "ransomware" and rec["deciding_task"] == "malicious"
    assert rec["categories"] == {"malicious": "ransomware", "injection": "ad insertion"}
    assert [r["task"] for r in rec["results"]] == ["bias", "malicious", "injection"]


def test_a_safe_record_has_no_category():
    rec = _record([_v(Task.BIAS, Decision.ALLOW, 0.3, None), _v(Task.MALICIOUS, Decision.ALLOW, 0.4, "spyware")])
    assert rec["label"] == "safe" and rec["category"] is None and rec["categories"] == {}
