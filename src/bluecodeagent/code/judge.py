"""The judge: combine static, knowledge/constitution and dynamic evidence into final findings.

- a probe observed the weakness ("vulnerable")  -> confirmed, confidence >= 0.95, ranked first;
- a probe refused the attack ("rejected")        -> downgraded below the report threshold (kept in evidence);
- a probe could not exercise the code            -> the static confidence stands;
- the code tampered with the harness ("tampered") -> no finding of the file is downgraded, and the
  tampering is a finding of its own (CWE-506, confirmed: the harness observed it);
- knowledge evidence (when given) nudges the confidence by its own ``confidence_delta`` per CWE.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, Field

from bluecodeagent.code.dynamic.base import ProbeResult
from bluecodeagent.verdict import Finding

REPORT_THRESHOLD = 0.4
CONFIRMED_CONFIDENCE = 0.95
REJECTED_FACTOR = 0.35
_SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


class KnowledgeSignal(BaseModel):
    """Hook for knowledge/constitution evidence about one CWE of the subject."""

    cwe: str
    confidence_delta: float = Field(default=0.0, ge=-1.0, le=1.0)
    note: str = ""


class Judgement(BaseModel):
    """Final findings (reported) and everything judged (for evidence)."""

    findings: list[Finding]
    judged: list[Finding]
    score: float = Field(ge=0.0, le=1.0)


def finding_key(f: Finding) -> tuple[str | None, str | None]:
    """Which probe run answers for a finding: its function and CWE."""
    return (f.details.get("function"), f.cwe)


def tamper_finding(runs: Sequence[ProbeResult]) -> Finding:
    """The finding for code that reached for the harness testing it."""
    what = "; ".join(dict.fromkeys(w for r in runs for w in r.integrity))[:600] or runs[0].evidence[:600]
    observed = any(r.why != "static" for r in runs)  # seen by the harness while it ran, not only in the source
    return Finding(
        rule_id="dynamic.harness-tampering",
        message=f"the code tampers with the harness that tests it ({what})",
        cwe="CWE-506",
        severity="high",
        confidence=CONFIRMED_CONFIDENCE if observed else 0.8,
        confirmed=observed,
        source="dynamic" if observed else "static",
        details={"function": runs[0].function, "probes": sorted({r.probe for r in runs}), "what": what},
    )


def judge(
    static: Sequence[Finding],
    dynamic: Mapping[tuple[str | None, str | None], ProbeResult] | None = None,
    knowledge: Sequence[KnowledgeSignal] = (),
    threshold: float = REPORT_THRESHOLD,
) -> Judgement:
    """Combine the evidence; ``dynamic`` maps (function, CWE) to the probe outcome for it."""
    dynamic = dynamic or {}
    tampered = [r for r in dynamic.values() if r.outcome == "tampered"]
    deltas: dict[str, float] = {}
    for k in knowledge:
        deltas[k.cwe] = deltas.get(k.cwe, 0.0) + k.confidence_delta
    judged: list[Finding] = []
    for f in static:
        conf = min(1.0, max(0.0, f.confidence + deltas.get(f.cwe or "", 0.0)))
        details = dict(f.details)
        res = dynamic.get(finding_key(f))
        confirmed = False
        if res is not None:
            details["dynamic"] = {"probe": res.probe, "outcome": res.outcome, "evidence": res.evidence, "why": res.why}
            if res.outcome == "vulnerable":
                confirmed, conf = True, max(conf, CONFIRMED_CONFIDENCE)
            elif res.outcome == "rejected" and not tampered:
                conf = min(conf * REJECTED_FACTOR, threshold - 0.05)
        judged.append(f.model_copy(update={"confidence": round(conf, 3), "confirmed": confirmed, "details": details}))
    if tampered:
        judged.append(tamper_finding(tampered))
    judged.sort(key=lambda f: (not f.confirmed, -f.confidence, _SEVERITY_RANK.get(f.severity, 3), f.line or 0))
    reported = [f for f in judged if f.confirmed or f.confidence >= threshold]
    score = max((f.confidence for f in reported), default=max((f.confidence for f in judged), default=0.0) / 2)
    return Judgement(findings=reported, judged=judged, score=round(min(1.0, score), 4))
