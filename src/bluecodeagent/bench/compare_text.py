"""The text-task comparison variants, run through the product's own LLM engine (``engines/llm.py``).

Each variant is one of the engine's strategies, so the numbers describe what ``--engine llm`` does:
direct prompting, a general safety reminder, a fine-grained reminder listing the risk categories of
the product's policies, and the constitution (retrieval + LLM-summarised principles).
"""

from __future__ import annotations

from typing import Any

from bluecodeagent.bench.datasets import Sample
from bluecodeagent.code.llm.calls import CallLog
from bluecodeagent.config import Settings
from bluecodeagent.engines.llm import LLMEngine
from bluecodeagent.engines.offline import OfflineEngine
from bluecodeagent.knowledge.store import KnowledgeBase
from bluecodeagent.llm.backend import Backend, Completion, Message

TEXT_VARIANTS = ("direct", "general", "fine_grained", "constitution")
STRATEGY = {"direct": "direct", "general": "reminder", "fine_grained": "categories", "constitution": "constitution"}


class TallyBackend:
    """Passes calls to ``inner`` and sums what one item's answers cost (the run's trace and ledger stay shared)."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self.tracer = getattr(inner, "tracer", None)
        self.ledger = getattr(inner, "ledger", None)
        self.log = CallLog()

    def complete(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        schema_name: str = "answer",
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        c = self.inner.complete(
            messages, schema=schema, schema_name=schema_name, temperature=temperature, max_tokens=max_tokens
        )
        self.log.add(c)
        return c


class TextSide:
    """What the text variants share: the knowledge base, settings and the offline engine (retrieval)."""

    def __init__(self, kb: KnowledgeBase, settings: Settings | None = None) -> None:
        # Endpoint failures must show as errors in the comparison, never as silent offline verdicts.
        self.settings = (settings or Settings()).model_copy(update={"llm_fallback": "none"})
        self.kb = kb
        self.offline = OfflineEngine(kb, self.settings)

    def decide(self, backend: Backend, variant: str, s: Sample) -> tuple[str, dict[str, Any]]:
        """Label ``s`` with one variant: (pred, detail for the per-item record)."""
        engine = LLMEngine(self.kb, self.settings, backend, offline=self.offline, strategy=STRATEGY[variant])
        v = engine.check(s.text, s.task, s.context)
        detail: dict[str, Any] = {"score": v.score, "category": v.category}
        if v.evidence.constitution:
            detail["constitution"] = [p.text for p in v.evidence.constitution]
        if v.evidence.notes:
            detail["reason"] = v.evidence.notes[0][:300]
        return v.label, detail
