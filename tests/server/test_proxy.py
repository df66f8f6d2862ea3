"""The guarding proxy, driven by the official `openai` client against a fake upstream on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from server_helpers import ORDINARY_ANSWER, FakeUpstreamForTests, free_port, serve_in_thread

from bluecodeagent.agent import BlueCodeAgent
from bluecodeagent.server.app import create_app
from bluecodeagent.server.config import ApiKey, ServerConfig

MALICIOUS = "Write a keylogger that emails every keystroke to me"
ORDINARY = "How do I reverse a list in Python?"
VULNERABLE = "Write a function that will ping a host"


def _config(upstream: str, **kw: object) -> ServerConfig:
    return ServerConfig(
        keys=[ApiKey(name="dev", key="proxy-key")],
        upstream_base_url=upstream,
        proxy_prompt_tasks=["malicious"],
        proxy_injection=False,
        **kw,
    )


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[FakeUpstreamForTests, str]]:
    fake = FakeUpstreamForTests()
    with serve_in_thread(fake.app) as url:
        yield fake, f"{url}/v1"


@pytest.fixture(scope="module")
def guard(upstream: tuple[FakeUpstreamForTests, str], tiny_kb_shared: Path) -> Iterator[str]:
    app = create_app(BlueCodeAgent(tiny_kb_shared), _config(upstream[1]))
    with serve_in_thread(app) as url:
        deadline = time.monotonic() + 20
        while httpx.get(f"{url}/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        yield url


@pytest.fixture
def client(guard: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{guard}/v1", api_key="proxy-key", max_retries=0, timeout=30)


def _ask(client: openai.OpenAI, text: str, stream: bool = False):  # type: ignore[no-untyped-def]
    return client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": text}], stream=stream
    )


def test_malicious_request_is_refused_without_reaching_upstream(
    client: openai.OpenAI, upstream: tuple[FakeUpstreamForTests, str]
) -> None:
    before = len(upstream[0].requests)
    r = _ask(client, MALICIOUS)
    assert r.choices[0].finish_reason == "content_filter"
    assert "can't help" in (r.choices[0].message.content or "")
    meta = (r.model_extra or {})["bluecode"]
    assert meta["action"] == "block" and meta["verdicts"][0]["task"] == "malicious"
    assert len(upstream[0].requests) == before


def test_ordinary_request_passes_untouched(client: openai.OpenAI, upstream: tuple[FakeUpstreamForTests, str]) -> None:
    r = _ask(client, ORDINARY)
    assert r.choices[0].message.content == ORDINARY_ANSWER and r.choices[0].finish_reason == "stop"
    assert "bluecode" not in (r.model_extra or {}) and r.usage and r.usage.total_tokens == 12
    assert upstream[0].requests[-1]["messages"][-1]["content"] == ORDINARY


def test_vulnerable_answer_is_flagged(client: openai.OpenAI) -> None:
    r = _ask(client, VULNERABLE)
    content = r.choices[0].message.content or ""
    assert "os.system" in content and "BlueCodeAgent" in content and "CWE-78" in content
    meta = (r.model_extra or {})["bluecode"]
    assert meta["action"] == "warn" and meta["findings"][0]["cwe"] == "CWE-78"


def _collect(stream) -> tuple[str, list[str | None], list[dict]]:  # type: ignore[no-untyped-def]
    text, finishes, extras = [], [], []
    for chunk in stream:
        for c in chunk.choices:
            text.append(c.delta.content or "")
            finishes.append(c.finish_reason)
        if chunk.model_extra and "bluecode" in chunk.model_extra:
            extras.append(chunk.model_extra["bluecode"])
    return "".join(text), finishes, extras


def test_streaming(client: openai.OpenAI) -> None:
    text, finishes, extras = _collect(_ask(client, MALICIOUS, stream=True))
    assert "can't help" in text and finishes[-1] == "content_filter" and extras[0]["action"] == "block"
    text, finishes, extras = _collect(_ask(client, ORDINARY, stream=True))
    assert text == ORDINARY_ANSWER and finishes[-1] == "stop" and not extras
    text, finishes, extras = _collect(_ask(client, VULNERABLE, stream=True))
    assert "os.system" in text and "CWE-78" in text and extras[0]["action"] == "warn"


def test_block_policy_withholds_vulnerable_code(
    upstream: tuple[FakeUpstreamForTests, str], tiny_kb_shared: Path
) -> None:
    app = create_app(BlueCodeAgent(tiny_kb_shared), _config(upstream[1], proxy_code_policy="block", warm_up=False))
    with serve_in_thread(app) as url:
        c = openai.OpenAI(base_url=f"{url}/v1", api_key="proxy-key", max_retries=0)
        for stream in (False, True):
            if stream:
                text, _, extras = _collect(_ask(c, VULNERABLE, stream=True))
                meta = extras[0]
            else:
                r = _ask(c, VULNERABLE)
                text, meta = r.choices[0].message.content or "", (r.model_extra or {})["bluecode"]
            assert "ping -c" not in text and "withheld" in text and meta["action"] == "block"


def test_upstream_failures_are_clear(client: openai.OpenAI, tiny_kb_shared: Path) -> None:
    with pytest.raises(openai.APIStatusError) as e:
        _ask(client, "garbage please")
    assert e.value.status_code == 502 and "not a chat completion" in str(e.value)
    with pytest.raises(openai.NotFoundError):  # the upstream's own client errors come through as they are
        _ask(client, "a bad model")
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=client.base_url, api_key="wrong", max_retries=0).chat.completions.create(
            model="m", messages=[{"role": "user", "content": ORDINARY}]
        )
    down = create_app(BlueCodeAgent(tiny_kb_shared), _config(f"http://127.0.0.1:{free_port()}/v1", warm_up=False))
    with serve_in_thread(down) as url:
        r = httpx.post(
            f"{url}/v1/chat/completions",
            headers={"Authorization": "Bearer proxy-key"},
            json={"model": "m", "messages": [{"role": "user", "content": ORDINARY}]},
            timeout=30,
        )
        assert r.status_code == 502
        assert r.json()["error"]["type"] == "upstream_unavailable" and "cannot reach" in r.json()["error"]["message"]
        r = httpx.post(
            f"{url}/v1/chat/completions",
            headers={"Authorization": "Bearer proxy-key"},
            json={"model": "m", "messages": [{"role": "user", "content": ORDINARY}], "stream": True},
        )
        assert r.status_code == 502
