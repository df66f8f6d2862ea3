"""The OpenAI-compatible backend against the scripted server (a test double) over real loopback HTTP."""

from __future__ import annotations

import socket

import pytest

from bluecodeagent.llm.backend import LLMError, Message
from bluecodeagent.llm.openai_compat import OpenAICompatBackend
from llm.scripted_openai_server import ScriptedOpenAIServer, ScriptedReply

SCHEMA = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "minLength": 1},
        "label": {"type": "string", "enum": ["safe", "unsafe"]},
    },
    "required": ["reason", "label"],
    "additionalProperties": False,
}
GOOD = {"reason": "asks for a keylogger", "label": "unsafe"}
ASK = [Message(role="user", content="Is this request safe? write a keylogger")]


def backend(server: ScriptedOpenAIServer, **kw) -> OpenAICompatBackend:
    kw.setdefault("retry_backoff", 0.0)
    kw.setdefault("timeout", 5.0)
    return OpenAICompatBackend(server.base_url, server.model, **kw)


def test_json_schema_mode_returns_validated_data(scripted_llm):
    scripted_llm.script(ScriptedReply(content=GOOD))
    done = backend(scripted_llm, structured_output="json_schema").complete(ASK, schema=SCHEMA, schema_name="decision")
    assert done.data == GOOD
    assert done.usage.prompt_tokens > 0 and done.usage.completion_tokens > 0
    req = scripted_llm.chat_requests()[0]
    assert req["response_format"]["type"] == "json_schema"
    assert req["response_format"]["json_schema"]["name"] == "decision"
    assert req["temperature"] == 0.0


def test_plain_text_request_has_no_response_format(scripted_llm):
    scripted_llm.script(ScriptedReply(content="hello"))
    done = backend(scripted_llm).complete(ASK)
    assert done.text == "hello" and done.data is None
    assert "response_format" not in scripted_llm.chat_requests()[0]


def test_auto_steps_down_to_json_object_once_and_remembers():
    server = ScriptedOpenAIServer(reject_json_schema=500).start()
    try:
        server.script(ScriptedReply(content=GOOD))
        b = backend(server, structured_output="auto")
        assert b.complete(ASK, schema=SCHEMA).data == GOOD
        assert b.structured_output == "json_object"
        assert b.complete(ASK, schema=SCHEMA).data == GOOD
        formats = [r["response_format"]["type"] for r in server.chat_requests()]
        assert formats == ["json_schema", "json_object", "json_object"]
        sent = server.chat_requests()[1]
        assert sent["response_format"]["schema"] == SCHEMA
        assert '"reason"' in sent["messages"][-1]["content"]  # the schema is in the prompt too
    finally:
        server.stop()


def test_fixed_json_schema_mode_does_not_step_down():
    server = ScriptedOpenAIServer(reject_json_schema=500).start()
    try:
        server.script(ScriptedReply(content=GOOD))
        with pytest.raises(LLMError, match="HTTP 500"):
            backend(server, structured_output="json_schema", max_retries=0).complete(ASK, schema=SCHEMA)
    finally:
        server.stop()


def test_text_mode_parses_fenced_answers(scripted_llm):
    scripted_llm.script(ScriptedReply(content='Here you go:\n```json\n{"reason": "ok", "label": "safe"}\n```'))
    done = backend(scripted_llm, structured_output="text").complete(ASK, schema=SCHEMA)
    assert done.data == {"reason": "ok", "label": "safe"}
    assert "response_format" not in scripted_llm.chat_requests()[0]


def test_one_repair_request_shows_the_model_its_error(scripted_llm):
    scripted_llm.script(
        ScriptedReply(content={"reason": "x", "label": "maybe"}, times=1),
        ScriptedReply(match="could not be used", content=GOOD),
    )
    done = backend(scripted_llm).complete(ASK, schema=SCHEMA)
    assert done.data == GOOD and done.attempts == 2
    repair = scripted_llm.chat_requests()[1]["messages"]
    assert repair[-2]["role"] == "assistant" and "maybe" in repair[-2]["content"]
    assert "$.label must be one of" in repair[-1]["content"]


def test_a_second_invalid_answer_is_an_error(scripted_llm):
    scripted_llm.script(ScriptedReply(content="I would rather not say."))
    with pytest.raises(LLMError, match="no valid structured answer, also after one repair"):
        backend(scripted_llm).complete(ASK, schema=SCHEMA)
    assert len(scripted_llm.chat_requests()) == 2


def test_truncated_json_is_named(scripted_llm):
    scripted_llm.script(ScriptedReply(content='{"reason": "the request asks', finish_reason="length"))
    with pytest.raises(LLMError, match=r"max_tokens=64 .*truncated JSON"):
        backend(scripted_llm, max_tokens=64).complete(ASK, schema=SCHEMA)


def test_garbage_body_is_a_clear_error(scripted_llm):
    scripted_llm.script(ScriptedReply(body="<html>proxy error</html>"))
    with pytest.raises(LLMError, match="did not answer with an OpenAI chat completion"):
        backend(scripted_llm).complete(ASK, schema=SCHEMA)


def test_wrong_api_key_is_a_clear_error():
    server = ScriptedOpenAIServer(api_key="sk-right").start()
    try:
        server.script(ScriptedReply(content=GOOD))
        with pytest.raises(LLMError, match=r"refused the API key \(HTTP 401\); set the key in \$MY_KEY"):
            backend(server, api_key="sk-wrong", api_key_env="MY_KEY").complete(ASK, schema=SCHEMA)
        assert backend(server, api_key="sk-right").complete(ASK, schema=SCHEMA).data == GOOD
    finally:
        server.stop()


def test_unknown_model_is_a_clear_error(scripted_llm):
    b = OpenAICompatBackend(scripted_llm.base_url, "no-such-model", retry_backoff=0.0)
    with pytest.raises(LLMError, match=r"model 'no-such-model' .*not found.*HTTP 404"):
        b.complete(ASK)


def test_server_errors_are_retried_then_reported(scripted_llm):
    scripted_llm.script(ScriptedReply(status=500, error="model crashed"))
    with pytest.raises(LLMError, match=r"HTTP 500 after 3 attempt\(s\): model crashed"):
        backend(scripted_llm, max_retries=2).complete(ASK)
    assert len(scripted_llm.chat_requests()) == 3


def test_rate_limit_is_retried_until_it_passes(scripted_llm):
    scripted_llm.script(ScriptedReply(status=429, times=2), ScriptedReply(content="fine"))
    done = backend(scripted_llm, max_retries=2).complete(ASK)
    assert done.text == "fine" and done.attempts == 3


def test_timeout_is_a_clear_error(scripted_llm):
    scripted_llm.script(ScriptedReply(content=GOOD, delay=2.0))
    with pytest.raises(LLMError, match=r"did not answer within 0.3 s"):
        backend(scripted_llm, timeout=0.3, max_retries=0).complete(ASK, schema=SCHEMA)


def test_refused_connection_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    b = OpenAICompatBackend(f"http://127.0.0.1:{port}/v1", "m", retry_backoff=0.0, max_retries=1)
    with pytest.raises(LLMError, match=r"cannot reach the model endpoint .* connection refused"):
        b.complete(ASK)


def test_strict_mode_gets_the_schema_without_length_bounds(scripted_llm):
    from bluecodeagent.llm.openai_compat import strict_schema

    bounded = {
        "type": "object",
        "properties": {"maxLength": {"type": "string", "maxLength": 5}, "label": SCHEMA["properties"]["label"]},
        "required": ["maxLength", "label"],
        "additionalProperties": False,
    }
    assert strict_schema(bounded)["properties"]["maxLength"] == {"type": "string"}
    scripted_llm.script(ScriptedReply(content={"maxLength": "too long", "label": "safe"}, times=1))
    scripted_llm.script(ScriptedReply(content={"maxLength": "ok", "label": "safe"}))
    done = backend(scripted_llm, structured_output="json_schema").complete(ASK, schema=bounded)
    sent = scripted_llm.chat_requests()[0]["response_format"]["json_schema"]["schema"]
    assert sent == strict_schema(bounded) and done.data == {"maxLength": "ok", "label": "safe"}  # bound enforced by us
