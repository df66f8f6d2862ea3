"""The one counter of model calls, tokens and money (:class:`Spend`), a run's ledger and its budget.

Prices are USD per million prompt and completion tokens, looked up by model name (exact, then the
longest known prefix). Unknown and local models cost 0. The built-in table holds list prices of a
few hosted models at the time of writing; the ``llm_prices`` setting overrides or extends it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from pydantic import BaseModel

from bluecodeagent.llm.backend import Completion, LLMError, Usage

# model -> (USD per 1M prompt tokens, USD per 1M completion tokens)
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1": (2.00, 8.00),
}


class BudgetExceeded(LLMError):
    """The run has spent its ``--max-cost``."""


def price_of(model: str, prices: dict[str, tuple[float, float]] | None = None) -> tuple[float, float]:
    """Prompt and completion price per million tokens (0, 0 when unknown)."""
    table = {**DEFAULT_PRICES, **(prices or {})}
    if model in table:
        return table[model]
    prefixes = [m for m in table if model.startswith(m)]
    return table[max(prefixes, key=len)] if prefixes else (0.0, 0.0)


def cost_of(model: str, usage: Usage, prices: dict[str, tuple[float, float]] | None = None) -> float:
    p_in, p_out = price_of(model, prices)
    return (usage.prompt_tokens * p_in + usage.completion_tokens * p_out) / 1_000_000


class Spend(BaseModel):
    """What some model answers cost: one subject's, one benchmark item's or a whole run's."""

    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, completion: Completion, *, cached_tokens: bool = True) -> None:
        """Count one answer. A cached one costs nothing and took no time; its tokens count unless
        ``cached_tokens`` is False (a run's ledger counts only the tokens it paid for)."""
        self.calls += 1
        self.cached_calls += int(completion.cached)
        if completion.cached and not cached_tokens:
            return
        self.prompt_tokens += completion.usage.prompt_tokens
        self.completion_tokens += completion.usage.completion_tokens
        self.cost_usd += completion.cost_usd
        self.latency_s += completion.latency_s

    def merge(self, other: Spend) -> None:
        """Add what ``other`` counted."""
        for name in Spend.model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @classmethod
    def total(cls, parts: Iterable[Spend]) -> Spend:
        out = cls()
        for part in parts:
            out.merge(part)
        return out


class RunTotals(Spend):
    """What a run used so far: its answers, the requests they took and the calls that failed."""

    requests: int = 0
    errors: int = 0


class Ledger:
    """Thread-safe totals of one run, with an optional cost budget checked before every paid call."""

    def __init__(self, max_cost: float | None = None) -> None:
        self.max_cost = max_cost
        self._totals = RunTotals()
        self._lock = threading.Lock()

    def check_budget(self) -> None:
        if self.max_cost is None:
            return
        with self._lock:
            spent, calls = self._totals.cost_usd, self._totals.calls
        if spent >= self.max_cost:
            raise BudgetExceeded(
                f"cost budget exceeded: ${spent:.4f} spent of --max-cost ${self.max_cost:.4f} after {calls} "
                "LLM call(s); raise --max-cost or re-run with --resume (cached answers cost nothing)"
            )

    def add(self, completion: Completion) -> None:
        with self._lock:
            self._totals.add(completion, cached_tokens=False)
            if not completion.cached:
                self._totals.requests += completion.attempts

    def add_error(self) -> None:
        with self._lock:
            self._totals.errors += 1

    @property
    def totals(self) -> RunTotals:
        with self._lock:
            return self._totals.model_copy()
