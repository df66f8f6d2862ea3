"""The one counter of model calls, tokens and money, as the run ledger, a subject's log and a bench item use it."""

from __future__ import annotations

from bluecodeagent.bench.compare_table import Item
from bluecodeagent.code.llm.calls import CallLog
from bluecodeagent.llm.accounting import Ledger, RunTotals, Spend
from bluecodeagent.llm.backend import Completion, Usage


def _answer(prompt: int, completion: int, cost: float, *, cached: bool = False) -> Completion:
    return Completion(
        text="{}", usage=Usage(prompt_tokens=prompt, completion_tokens=completion), cost_usd=cost,
        cached=cached, latency_s=0.0 if cached else 0.5, attempts=2,
    )  # fmt: skip


def test_a_subject_counts_every_answer_and_the_tokens_of_cached_ones():
    log = CallLog()
    log.add(_answer(100, 20, 0.01))
    log.add(_answer(100, 20, 0.0, cached=True))
    assert (log.calls, log.cached_calls, log.tokens, log.cost_usd, log.latency_s) == (2, 1, 240, 0.01, 0.5)


def test_the_run_ledger_counts_only_the_tokens_and_requests_it_paid_for():
    ledger = Ledger()
    ledger.add(_answer(100, 20, 0.01))
    ledger.add(_answer(100, 20, 0.0, cached=True))
    t = ledger.totals
    assert isinstance(t, RunTotals)
    assert (t.calls, t.cached_calls, t.requests, t.tokens, t.cost_usd) == (2, 1, 2, 120, 0.01)


def test_totals_merge_every_counter_and_keep_the_rest():
    a, b = CallLog(), CallLog(sandbox_runs=3)
    a.add(_answer(10, 1, 0.001))
    b.add(_answer(5, 5, 0.002))
    item = Item(task="malicious", variant="v", id="x", label="unsafe", group="g", sandbox_runs=1)
    item.merge(a)
    item.merge(b)
    assert (item.calls, item.tokens, round(item.cost_usd, 6), item.sandbox_runs) == (2, 21, 0.003, 1)
    total = Spend.total([a, b])
    assert type(total) is Spend and (total.calls, total.tokens, total.latency_s) == (2, 21, 1.0)
