"""The LLM code agent: retrieval -> constitution -> guided review -> generated tests in the sandbox -> judge.

:class:`Steps` switches the optional parts, which is how the research comparisons are built:

=====================  ======================================================================
variant                steps
=====================  ======================================================================
plain                  review only
examples               review shown the retrieved vulnerable and secure examples
constitution           review guided by the summarised constitution
constitution_dynamic   constitution, review, tests in the sandbox when it claims a weakness, judge
dynamic                review, tests, judge (no retrieval, no constitution)
=====================  ======================================================================
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from pydantic import BaseModel, Field

from bluecodeagent.code.llm import constitution as const
from bluecodeagent.code.llm.calls import Caller, CallLog, TraceHook
from bluecodeagent.code.llm.harness import TestRun
from bluecodeagent.code.llm.judge import Judgement, judge
from bluecodeagent.code.llm.review import Review, review
from bluecodeagent.code.llm.testgen import MAX_ATTEMPTS, generate_and_run
from bluecodeagent.code.sandbox import Sandbox
from bluecodeagent.errors import ConfigError, InputError, SandboxUnavailable
from bluecodeagent.knowledge.store import KnowledgeBase
from bluecodeagent.llm.backend import Backend
from bluecodeagent.verdict import Decision, Evidence, Finding, Neighbour, Principle, Task, Verdict

MAX_LLM_CHARS = 40_000


class Steps(BaseModel):
    """Which optional steps run."""

    examples: bool = False
    constitution: bool = True
    dynamic: bool = True


VARIANTS: dict[str, Steps] = {
    "plain": Steps(constitution=False, dynamic=False),
    "examples": Steps(examples=True, constitution=False, dynamic=False),
    "constitution": Steps(dynamic=False),
    "constitution_dynamic": Steps(),
    "dynamic": Steps(constitution=False),
}


class LLMAnalysis(BaseModel):
    """Everything the LLM agent did for one subject, and its conclusion."""

    vulnerable: bool
    cwe: str | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    confirmed: bool = Field(default=False, description="A test observed the weakness on the verified code.")
    review: Review
    judgement: Judgement | None = None
    constitution: list[Principle] = Field(default_factory=list)
    vulnerable_neighbours: list[Neighbour] = Field(default_factory=list)
    safe_neighbours: list[Neighbour] = Field(default_factory=list)
    tests: list[TestRun] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    log: CallLog = Field(default_factory=CallLog)
    seconds: float = 0.0
    trace_id: str | None = Field(default=None, description="This subject's records in the trace file.")


class LLMCodeScanner:
    """Runs the LLM steps for one subject at a time (thread-safe: state lives per call)."""

    def __init__(
        self,
        backend: Backend,
        kb: KnowledgeBase | None = None,
        *,
        steps: Steps | None = None,
        sandbox: Sandbox | None = None,
        k: int = 3,
        attempts: int = MAX_ATTEMPTS,
        trace: TraceHook | None = None,
    ) -> None:
        self.backend, self.kb, self.steps = backend, kb, steps or Steps()
        self.sandbox, self.k, self.attempts, self.trace = sandbox, k, attempts, trace
        if (self.steps.constitution or self.steps.examples) and kb is None:
            raise ConfigError("the LLM code engine needs a knowledge base for retrieval (or steps without it)")

    def _sandbox(self) -> Sandbox:
        if self.sandbox is None:
            from bluecodeagent.code.scanner import default_sandbox

            self.sandbox = default_sandbox()
        return self.sandbox

    def analyze(self, code: str, subject_id: str | None = None) -> LLMAnalysis:
        """Run the configured steps on ``code``."""
        if len(code) > MAX_LLM_CHARS:
            raise InputError(
                f"{subject_id or 'code'}: {len(code)} characters is too large for the LLM engine "
                f"(limit {MAX_LLM_CHARS}); scan it with --engine offline"
            )
        tracer = getattr(self.backend, "tracer", None)  # a run backend records its own LLM calls
        with tracer.span() if tracer is not None else contextlib.nullcontext() as trace_id:
            a = self._analyze(code, subject_id, self._hook(subject_id, tracer))
            if tracer is not None and getattr(tracer, "enabled", False):
                a.trace_id = trace_id
                tracer.record("verdict", subject=subject_id, vulnerable=a.vulnerable, cwe=a.cwe,
                              confidence=a.confidence, confirmed=a.confirmed, engine="llm")  # fmt: skip
            return a

    def _hook(self, subject_id: str | None, tracer: Any) -> TraceHook | None:
        trace = self.trace
        if trace is not None:
            return lambda ev: trace({"subject": subject_id, **ev})
        if tracer is None:
            return None

        def to_tracer(ev: dict[str, Any]) -> None:
            if ev["kind"] != "llm":
                rest = {k: v for k, v in ev.items() if k not in ("kind", "time")}
                tracer.record(ev["kind"], subject=subject_id, **rest)

        return to_tracer

    def _analyze(self, code: str, subject_id: str | None, hook: TraceHook | None) -> LLMAnalysis:
        start = time.perf_counter()
        caller = Caller(self.backend, hook)
        notes: list[str] = []
        principles: list[Principle] = []
        guidance = ""
        retrieved = const.Retrieved()
        if self.kb is not None and (self.steps.constitution or self.steps.examples):
            retrieved = const.retrieve(self.kb, code, self.k)
            caller.event("retrieval", vulnerable=[n.uid for n in retrieved.neighbours("vulnerable")],
                         safe=[n.uid for n in retrieved.neighbours("safe")])  # fmt: skip
        if self.steps.examples:
            guidance += (
                "Known vulnerable examples similar to this code:\n"
                + const.render_examples(retrieved.vulnerable)
                + "\n\nTheir secure counterparts:\n"
                + const.render_examples(retrieved.safe)
                + "\n\n"
            )
        if self.steps.constitution:
            principles = const.summarise(caller, code, retrieved)
            guidance += const.render_constitution(principles)
        claim = review(caller, code, guidance)
        runs: list[TestRun] = []
        judgement: Judgement | None = None
        if claim.vulnerable and self.steps.dynamic:
            try:
                runs, stopped = generate_and_run(caller, self._sandbox(), code, claim, self.attempts)
                if stopped:
                    notes.append(stopped)
            except SandboxUnavailable as e:
                notes.append(f"dynamic testing refused: {e}")
            judgement = judge(caller, code, claim, runs, const.render_constitution(principles))
        vulnerable = judgement.verdict == "vulnerable" if judgement else claim.vulnerable
        confidence = judgement.confidence if judgement else claim.confidence
        confirmed = vulnerable and any(r.outcome == "vulnerable" and r.subject_verified for r in runs)
        tampered = [r for r in runs if r.outcome == "tampered"]
        if tampered:  # code that reaches for the harness testing it is a finding, whatever the judge said
            vulnerable, confirmed, confidence = True, True, max(confidence, 0.95)
            notes.append(tampered[0].evidence[:500])
        if runs and all(r.retry or r.outcome == "crashed" for r in runs):
            notes.append(f"no generated test produced a result ({len(runs)} attempt(s) failed as tests)")
        return LLMAnalysis(
            vulnerable=vulnerable,
            cwe=(judgement.cwe if judgement and judgement.cwe else claim.cwe) if vulnerable else None,
            confidence=confidence,
            confirmed=confirmed,
            review=claim,
            judgement=judgement,
            constitution=principles,
            vulnerable_neighbours=retrieved.neighbours("vulnerable"),
            safe_neighbours=retrieved.neighbours("safe"),
            tests=runs,
            notes=notes,
            log=caller.log,
            seconds=time.perf_counter() - start,
        )

    def verdict(self, code: str, path: str | None = None, id: str | None = None) -> Verdict:
        """The analysis as a :class:`Verdict` (engine ``llm``)."""
        return to_verdict(self.analyze(code, id or path), code, path, id)


def to_verdict(a: LLMAnalysis, code: str, path: str | None = None, id: str | None = None) -> Verdict:
    """A verdict whose finding and evidence carry the constitution, reasoning, tests and results."""
    findings: list[Finding] = []
    if a.vulnerable:
        lines = sorted(n for n in a.review.lines if n > 0)
        src = code.splitlines()
        findings.append(
            Finding(
                rule_id="llm.review" + (".confirmed" if a.confirmed else ""),
                message=(a.judgement.reasoning if a.judgement else a.review.reasoning)[:500] or "the model flagged it",
                cwe=a.cwe,
                severity="high" if a.confirmed or a.confidence >= 0.8 else "medium",
                confidence=round(a.confidence, 3),
                line=lines[0] if lines else None,
                end_line=lines[-1] if len(lines) > 1 else None,
                path=path,
                snippet=src[lines[0] - 1].strip() if lines and lines[0] <= len(src) else None,
                confirmed=a.confirmed,
                source="llm",
                details=_details(a),
            )
        )
    score = a.confidence if a.vulnerable else 1.0 - a.confidence
    decision = Decision.ALLOW
    if findings:
        decision = Decision.BLOCK if findings[0].severity == "high" else Decision.WARN
    log = a.log
    return Verdict(
        task=Task.VULNERABILITY,
        label="vulnerable" if a.vulnerable else "safe",
        score=round(min(1.0, max(0.0, score)), 4),
        decision=decision,
        category=a.cwe if a.vulnerable else None,
        findings=findings,
        evidence=Evidence(
            constitution=a.constitution,
            unsafe_neighbours=a.vulnerable_neighbours,
            safe_neighbours=a.safe_neighbours,
            static=[{"step": "llm-review", **a.review.model_dump(mode="json")}],
            dynamic=[t.model_dump(mode="json") for t in a.tests],
            notes=[*a.notes, *([f"judge: {a.judgement.reasoning[:500]}"] if a.judgement else [])],
            signals={
                "review_confidence": a.review.confidence,
                "judge_confidence": a.judgement.confidence if a.judgement else -1.0,
                "confirmed": float(a.confirmed),
                "llm_calls": float(log.calls),
                "llm_tokens": float(log.tokens),
                "llm_cost_usd": log.cost_usd,
                "sandbox_runs": float(log.sandbox_runs),
            },
        ),
        engine="llm",
        latency_ms=a.seconds * 1000,
        id=id,
        trace_id=a.trace_id,
    )


def _details(a: LLMAnalysis) -> dict[str, Any]:
    d: dict[str, Any] = {"function": a.review.function, "reasoning": a.review.reasoning}
    if a.judgement:
        d["judge"] = a.judgement.model_dump(mode="json")
    if a.tests:
        last = a.tests[-1]
        d["dynamic"] = {"probe": "llm-test", "outcome": last.outcome, "evidence": last.evidence, "why": last.error}
        d["tests"] = len(a.tests)
    return d
