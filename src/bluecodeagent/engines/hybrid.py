"""The hybrid engine: the offline engine decides when it is confident; only the uncertain band asks the LLM.

A subject whose offline score lies outside ``[llm_hybrid_low, llm_hybrid_high]`` keeps its offline
verdict (``engine="hybrid:offline"``); one inside the band goes to the LLM engine, which reuses the
neighbours the offline engine already retrieved (``engine="hybrid:llm"``). ``stats`` counts both,
and the LLM calls the confident subjects saved.
"""

from __future__ import annotations

from bluecodeagent.config import Settings
from bluecodeagent.engines.base import register_engine
from bluecodeagent.engines.llm import EngineStats, LLMEngine
from bluecodeagent.errors import ConfigError
from bluecodeagent.knowledge.store import KnowledgeBase
from bluecodeagent.verdict import Verdict


class HybridEngine:
    """Offline first, the LLM for the uncertain band."""

    name = "hybrid"

    def __init__(self, llm: LLMEngine, settings: Settings) -> None:
        if settings.llm_hybrid_low > settings.llm_hybrid_high:
            raise ConfigError(
                f"the hybrid band is empty: llm_hybrid_low {settings.llm_hybrid_low} > "
                f"llm_hybrid_high {settings.llm_hybrid_high}"
            )
        self.llm = llm
        self.offline = llm.offline
        self.settings = settings
        self.stats = EngineStats()
        self.ledger = llm.ledger
        self.tracer = llm.tracer

    def uncertain(self, verdict: Verdict) -> bool:
        return self.settings.llm_hybrid_low <= verdict.score <= self.settings.llm_hybrid_high

    def check(self, text: str, task: str, context: str | None = None) -> Verdict:
        return self.check_many([(text, context)], task)[0]

    def check_all(self, text: str, context: str | None = None) -> list[Verdict]:
        return [self._route([(text, context)], v.task.value, [v])[0] for v in self.offline.check_all(text, context)]

    def check_many(self, records: list[tuple[str, str | None]], task: str) -> list[Verdict]:
        return self._route(records, task, self.offline.check_many(records, task))

    def _route(self, records: list[tuple[str, str | None]], task: str, offline: list[Verdict]) -> list[Verdict]:
        band = [i for i, v in enumerate(offline) if self.uncertain(v)]
        asked = self.llm.decide_many([records[i] for i in band], task, [offline[i] for i in band]) if band else []
        out = list(offline)
        fallbacks = 0
        for i, v in zip(band, asked, strict=True):
            if v.engine == "offline-fallback":
                fallbacks += 1
            else:
                v.engine = "hybrid:llm"
                v.evidence.signals["offline_score"] = round(offline[i].score, 4)
            out[i] = v
        for i in set(range(len(out))) - set(band):
            out[i].engine = "hybrid:offline"
        self.stats.count(
            subjects=len(records),
            decided_offline=len(records) - len(band),
            decided_by_llm=len(band) - fallbacks,
            fallbacks=fallbacks,
        )
        return out


@register_engine("hybrid")
def build(kb: KnowledgeBase, settings: Settings) -> HybridEngine:
    """The offline engine decides when confident; only its uncertain band asks the model."""
    return HybridEngine(LLMEngine(kb, settings), settings)
