"""The backend a run uses: any backend wrapped with the answer cache, cost accounting, budget and trace."""

from __future__ import annotations

import time
from typing import Any

from bluecodeagent.llm.accounting import Ledger, cost_of
from bluecodeagent.llm.backend import Backend, Completion, LLMError, Message
from bluecodeagent.llm.cache import CompletionCache, request_key
from bluecodeagent.llm.trace import Tracer


class RunBackend:
    """Implements :class:`Backend`; ``ledger`` holds the run's totals, ``tracer`` its trace."""

    def __init__(
        self,
        inner: Backend,
        *,
        cache: CompletionCache | None = None,
        ledger: Ledger | None = None,
        tracer: Tracer | None = None,
        prices: dict[str, tuple[float, float]] | None = None,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.cache = cache
        self.ledger = ledger or Ledger()
        self.tracer = tracer or Tracer()
        self.prices = prices

    def complete(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        schema_name: str = "answer",
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        key = request_key(self.name, messages, schema, schema_name, temperature, max_tokens)
        hit = self.cache.get(key) if self.cache is not None else None
        if hit is not None:
            done = hit.model_copy(update={"cached": True, "cost_usd": 0.0, "latency_s": 0.0})
        else:
            self.ledger.check_budget()
            started = time.perf_counter()
            try:
                done = self.inner.complete(
                    messages, schema=schema, schema_name=schema_name, temperature=temperature, max_tokens=max_tokens
                )
            except LLMError as e:
                self.ledger.add_error()
                self.tracer.record(
                    "llm",
                    step=schema_name,
                    backend=self.name,
                    messages=[m.model_dump() for m in messages],
                    error=str(e),
                    text=getattr(e, "answer", None),
                    latency_s=round(time.perf_counter() - started, 4),
                )
                raise
            done = done.model_copy(update={"cost_usd": cost_of(done.model, done.usage, self.prices)})
            if self.cache is not None:
                self.cache.put(key, done)
        self.ledger.add(done)
        self.tracer.record(
            "llm",
            step=schema_name,
            backend=self.name,
            model=done.model,
            messages=[m.model_dump() for m in messages],
            text=done.text,
            data=done.data,
            prompt_tokens=done.usage.prompt_tokens,
            completion_tokens=done.usage.completion_tokens,
            cost_usd=round(done.cost_usd, 8),
            latency_s=round(done.latency_s, 4),
            attempts=done.attempts,
            cached=done.cached,
        )
        return done
