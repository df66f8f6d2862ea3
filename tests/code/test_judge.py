"""Judge: confirmed first, refuted suspicions drop below the report threshold, unexercised ones keep confidence."""

from __future__ import annotations

from bluecodeagent.code.dynamic.base import ProbeResult
from bluecodeagent.code.judge import REPORT_THRESHOLD, KnowledgeSignal, judge
from bluecodeagent.verdict import Finding


def f(rule: str, cwe: str, conf: float, fn: str = "f", line: int = 1) -> Finding:
    return Finding(rule_id=rule, message="m", cwe=cwe, confidence=conf, line=line, details={"function": fn})


def pr(outcome: str, cwe: str, fn: str = "f") -> ProbeResult:
    return ProbeResult(probe="p", cwe=cwe, function=fn, outcome=outcome, evidence="e")  # type: ignore[arg-type]


def test_vulnerable_confirms_and_ranks_first() -> None:
    j = judge(
        [f("a", "CWE-79", 0.9, line=1), f("b", "CWE-78", 0.6, line=9)], {("f", "CWE-78"): pr("vulnerable", "CWE-78")}
    )
    assert [x.rule_id for x in j.findings] == ["b", "a"]
    assert j.findings[0].confirmed and j.findings[0].confidence >= 0.95
    assert not j.findings[1].confirmed
    assert j.findings[0].details["dynamic"]["outcome"] == "vulnerable"


def test_rejected_is_downgraded_but_kept_in_judged() -> None:
    j = judge([f("a", "CWE-78", 0.85)], {("f", "CWE-78"): pr("rejected", "CWE-78")})
    assert j.findings == []
    assert j.judged[0].confidence < REPORT_THRESHOLD and not j.judged[0].confirmed
    assert j.score < 0.5


def test_not_exercised_keeps_static_confidence() -> None:
    j = judge([f("a", "CWE-78", 0.85)], {("f", "CWE-78"): pr("not_exercised", "CWE-78")})
    assert j.findings[0].confidence == 0.85 and not j.findings[0].confirmed


def test_outcome_applies_only_to_its_function_and_cwe() -> None:
    j = judge([f("a", "CWE-78", 0.85, fn="g")], {("f", "CWE-78"): pr("rejected", "CWE-78")})
    assert len(j.findings) == 1


def test_knowledge_hook_moves_confidence() -> None:
    j = judge([f("a", "CWE-78", 0.45)], knowledge=[KnowledgeSignal(cwe="CWE-78", confidence_delta=-0.2)])
    assert j.findings == [] and j.judged[0].confidence == 0.25


def test_a_refuted_finding_is_never_a_confident_safe_for_the_hybrid_engine() -> None:
    from bluecodeagent.code.llm.engine import CodeLLMOptions, offline_confident
    from bluecodeagent.verdict import Decision, Evidence, Task, Verdict

    opts = CodeLLMOptions(engine="hybrid")
    quiet = Verdict(task=Task.VULNERABILITY, label="safe", score=0.05, decision=Decision.ALLOW)
    assert offline_confident(quiet, opts)  # control: a low score with nothing refuted stands alone
    refuted = quiet.model_copy(update={"evidence": Evidence(signals={"refuted": 1.0})})
    assert not offline_confident(refuted, opts)
