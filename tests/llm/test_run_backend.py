"""The run backend from settings: answer cache, cost accounting and budget, and the JSONL trace."""

from __future__ import annotations

import pytest

from bluecodeagent.errors import ConfigError
from bluecodeagent.llm.accounting import BudgetExceeded, cost_of, price_of
from bluecodeagent.llm.backend import LLMError, Message, Usage
from bluecodeagent.llm.factory import backend_from_settings
from bluecodeagent.llm.trace import read_trace
from llm.scripted_openai_server import ScriptedReply

SCHEMA = {
    "type": "object",
    "properties": {"reason": {"type": "string"}, "label": {"type": "string", "enum": ["safe", "unsafe"]}},
    "required": ["reason", "label"],
    "additionalProperties": False,
}
GOOD = {"reason": "it is a sorting task", "label": "safe"}


def ask(n: int = 0) -> list[Message]:
    return [Message(role="system", content="You screen prompts."), Message(role="user", content=f"sort a list {n}")]


def test_factory_needs_base_url_and_model():
    from bluecodeagent.config import Settings

    with pytest.raises(ConfigError, match="--llm-base-url and --llm-model"):
        backend_from_settings(Settings(engine="llm"))


def test_cache_answers_a_repeated_request_without_a_call(scripted_llm, llm_settings):
    scripted_llm.script(ScriptedReply(content=GOOD))
    first = backend_from_settings(llm_settings).complete(ask(), schema=SCHEMA)
    again = backend_from_settings(llm_settings)  # a new run, same cache file
    second = again.complete(ask(), schema=SCHEMA)
    assert len(scripted_llm.chat_requests()) == 1
    assert second.cached and not first.cached and second.data == first.data == GOOD
    assert second.cost_usd == 0.0
    assert again.ledger.totals.cached_calls == 1 and again.ledger.totals.requests == 0
    again.complete(ask(1), schema=SCHEMA)  # a different request is not a hit
    assert len(scripted_llm.chat_requests()) == 2


def test_cache_can_be_switched_off(scripted_llm, llm_settings):
    scripted_llm.script(ScriptedReply(content=GOOD))
    b = backend_from_settings(llm_settings.model_copy(update={"llm_cache": False}))
    b.complete(ask(), schema=SCHEMA)
    b.complete(ask(), schema=SCHEMA)
    assert len(scripted_llm.chat_requests()) == 2


def test_prices_and_costs():
    assert price_of("gpt-4o-mini-2024-07-18") == price_of("gpt-4o-mini")  # longest known prefix
    assert price_of("llama-3-8b") == (0.0, 0.0)
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=500_000)
    assert cost_of("m", usage, {"m": (2.0, 4.0)}) == pytest.approx(4.0)


def test_ledger_counts_tokens_and_cost(scripted_llm, llm_settings):
    scripted_llm.script(ScriptedReply(content=GOOD))
    settings = llm_settings.model_copy(update={"llm_prices": {scripted_llm.model: (1000.0, 2000.0)}})
    b = backend_from_settings(settings)
    done = b.complete(ask(), schema=SCHEMA)
    t = b.ledger.totals
    assert t.calls == 1 and t.prompt_tokens == done.usage.prompt_tokens > 0
    expected = (done.usage.prompt_tokens * 1000 + done.usage.completion_tokens * 2000) / 1e6
    assert t.cost_usd == pytest.approx(expected) and done.cost_usd == pytest.approx(expected)


def test_budget_stops_paid_calls_but_not_cached_ones(scripted_llm, llm_settings):
    scripted_llm.script(ScriptedReply(content=GOOD))
    settings = llm_settings.model_copy(
        update={"llm_prices": {scripted_llm.model: (1000.0, 1000.0)}, "llm_max_cost": 0.001}
    )
    b = backend_from_settings(settings)
    b.complete(ask(0), schema=SCHEMA)  # the first call is allowed and overspends the tiny budget
    with pytest.raises(BudgetExceeded, match=r"cost budget exceeded: \$0\.\d+ spent of --max-cost \$0\.0010"):
        b.complete(ask(1), schema=SCHEMA)
    assert len(scripted_llm.chat_requests()) == 1
    assert b.complete(ask(0), schema=SCHEMA).cached  # answers already paid for still come back


def test_trace_records_every_call_of_a_span(scripted_llm, llm_settings, tmp_path):
    scripted_llm.script(ScriptedReply(match="sort a list 0", content=GOOD), ScriptedReply(status=401))
    trace = tmp_path / "trace.jsonl"
    b = backend_from_settings(llm_settings.model_copy(update={"llm_trace": trace}))
    with b.tracer.span() as tid:
        b.complete(ask(0), schema=SCHEMA, schema_name="decision")
        b.complete(ask(0), schema=SCHEMA, schema_name="decision")
        with pytest.raises(LLMError):
            b.complete(ask(1))
    b.tracer.close()
    records = read_trace(trace, tid)
    assert [r["cached"] for r in records[:2]] == [False, True]
    first = records[0]
    assert first["kind"] == "llm" and first["step"] == "decision" and first["model"] == scripted_llm.model
    assert first["messages"][1]["content"] == "sort a list 0"
    assert first["data"] == GOOD and first["prompt_tokens"] > 0 and "latency_s" in first
    assert "HTTP 401" in records[2]["error"] and records[2]["text"] is None
    assert b.ledger.totals.errors == 1


def test_trace_keeps_an_unusable_answer(scripted_llm, llm_settings, tmp_path):
    scripted_llm.script(ScriptedReply(content='{"reason": "cut', finish_reason="length"))
    trace = tmp_path / "trace.jsonl"
    b = backend_from_settings(llm_settings.model_copy(update={"llm_trace": trace}))
    with pytest.raises(LLMError, match="truncated JSON"):
        b.complete(ask(), schema=SCHEMA)
    (record,) = read_trace(trace)
    assert record["text"] == '{"reason": "cut' and "truncated JSON" in record["error"]
