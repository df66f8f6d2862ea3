"""``--engine llm`` and ``--engine hybrid`` for code, with ``--fallback offline``.

- ``llm``: the LLM agent decides every subject.
- ``hybrid``: the offline scan (static + sandbox probes) runs first; it decides alone when it is
  confident (a confirmed finding, or a score outside the uncertain band); only the band goes to the LLM.
- fallback: when the model endpoint fails, the offline verdict is returned with a note instead of an error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, Field, model_validator

from bluecodeagent.code.llm.pipeline import LLMCodeScanner
from bluecodeagent.config import Settings
from bluecodeagent.knowledge.store import KnowledgeBase
from bluecodeagent.llm.backend import Backend, LLMError
from bluecodeagent.verdict import Verdict


class CodeLLMOptions(BaseModel):
    """How the code scanner uses the model."""

    engine: str = Field(default="llm", pattern="^(llm|hybrid)$")
    fallback_offline: bool = False
    uncertain_low: float = Field(default=0.2, ge=0.0, le=1.0, description="Offline scores below: confidently safe.")
    uncertain_high: float = Field(default=0.9, ge=0.0, le=1.0, description="At or above: confidently vulnerable.")

    @model_validator(mode="after")
    def _band(self) -> CodeLLMOptions:
        if self.uncertain_low > self.uncertain_high:
            raise ValueError("uncertain_low must not exceed uncertain_high")
        return self


class CodeStats:
    """How the subjects of a run were decided (thread-safe counters)."""

    def __init__(self) -> None:
        self.subjects = self.decided_offline = self.decided_by_llm = self.fallbacks = 0
        self._lock = threading.Lock()

    def count(self, **increments: int) -> None:
        with self._lock:
            for name, n in increments.items():
                setattr(self, name, getattr(self, name) + n)

    def summary(self, engine: str) -> str:
        parts = []
        if engine == "hybrid":
            parts.append(f"hybrid: {self.decided_offline} of {self.subjects} file(s) decided offline, "
                         f"{self.decided_by_llm} by the LLM")  # fmt: skip
        if self.fallbacks:
            parts.append(f"{self.fallbacks} offline fallback(s)")
        return "; ".join(parts)


@dataclass(frozen=True)
class LLMRoute:
    """What ``scan_code(..., llm=...)`` needs: the LLM agent, how to use it, and the run's counters."""

    scanner: LLMCodeScanner
    options: CodeLLMOptions
    stats: CodeStats = field(default_factory=CodeStats)


def offline_confident(v: Verdict, opts: CodeLLMOptions) -> bool:
    """Whether the offline verdict stands without asking the model.

    A finding that dynamic testing refuted is never a confident "safe": the refusal was observed in
    code the scanner does not control, so the model is asked (a refusal can be staged).
    """
    if any(f.confirmed for f in v.findings):
        return True
    if v.evidence.signals.get("refuted", 0.0) > 0:
        return False
    return v.score < opts.uncertain_low or v.score >= opts.uncertain_high


def scan_llm(
    code: str,
    scanner: LLMCodeScanner,
    opts: CodeLLMOptions,
    offline: Callable[[], Verdict],
    path: str | None = None,
    id: str | None = None,
    stats: CodeStats | None = None,
) -> Verdict:
    """One subject through the LLM (or hybrid) engine."""
    stats = stats or CodeStats()
    stats.count(subjects=1)
    first: Verdict | None = None
    if opts.engine == "hybrid":
        first = offline()
        if offline_confident(first, opts):
            stats.count(decided_offline=1)
            first.engine = "hybrid"
            first.evidence.notes.append(f"hybrid: offline verdict is confident (score {first.score:.2f}); no LLM call")
            first.evidence.signals["llm_calls"] = 0.0
            return first
    try:
        v = scanner.verdict(code, path, id)
    except LLMError as e:
        if not opts.fallback_offline:
            raise
        stats.count(fallbacks=1)
        fb = first or offline()
        fb.engine = "offline"
        fb.evidence.notes.append(f"LLM engine failed ({e}); offline verdict (--fallback offline)")
        return fb
    stats.count(decided_by_llm=1)
    if first is not None:
        v.engine = "hybrid"
        note = f"hybrid: offline verdict uncertain (score {first.score:.2f}, {first.label}); asked the LLM"
        v.evidence.notes.insert(0, note)
        v.evidence.signals["offline_score"] = first.score
        v.evidence.static = first.evidence.static + v.evidence.static
    return v


def route_from_settings(
    settings: Settings, kb: KnowledgeBase | None = None, backend: Backend | None = None
) -> LLMRoute:
    """The code engine of ``settings`` (engine llm or hybrid): model backend, knowledge base, options.

    Raises :class:`ConfigError` when no endpoint is configured. Nothing is contacted here.
    """
    if backend is None:
        from bluecodeagent.llm.factory import backend_from_settings

        backend = backend_from_settings(settings)
    if kb is None:
        from bluecodeagent.kb_open import open_kb

        kb = open_kb(settings, auto_build=True)
    opts = CodeLLMOptions(
        engine=settings.engine,
        fallback_offline=settings.llm_fallback == "offline",
        uncertain_low=settings.llm_hybrid_low,
        uncertain_high=settings.llm_hybrid_high,
    )
    return LLMRoute(LLMCodeScanner(backend, kb, k=settings.top_k), opts)
