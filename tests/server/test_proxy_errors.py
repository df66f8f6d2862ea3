"""The proxy under bad input and a misbehaving upstream: a clear status and body, no crash, no lost or repeated call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from server_helpers import ORDINARY_ANSWER, FakeUpstreamForTests, free_port, guard_server, serve_in_thread

KEY = {"Authorization": "Bearer proxy-key"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[FakeUpstreamForTests, str]]:
    fake = FakeUpstreamForTests()
    with serve_in_thread(fake.app) as url:
        yield fake, f"{url}/v1"


@pytest.fixture(scope="module")
def guard(upstream: tuple[FakeUpstreamForTests, str], tiny_kb_shared: Path) -> Iterator[str]:
    with guard_server(tiny_kb_shared, upstream[1], upstream_timeout_s=1.0, max_body_bytes=20_000) as url:
        yield url


def _chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": text}], **extra}


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        (b'{"model": "m", "messages": [', 400, "invalid_json"),
        (b'{"model": "m"}', 422, "invalid_request"),
        (b'{"model": "m", "messages": []}', 422, "invalid_request"),
        (b'{"model": 5, "messages": [{"role": "user", "content": "hi"}]}', 422, "invalid_request"),
        (b'{"model": "m", "messages": [{"content": "hi"}]}', 422, "invalid_request"),
        (b'{"model": "m", "messages": [{"role": "user", "content": 7}]}', 422, "invalid_request"),
        (b'["not", "an", "object"]', 422, "invalid_request"),
    ],
)
def test_malformed_chat_requests(guard: str, body: bytes, status: int, kind: str, upstream: Any) -> None:
    before = len(upstream[0].requests)
    r = httpx.post(f"{guard}/v1/chat/completions", content=body, headers={**KEY, "Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert r.json()["error"]["type"] == kind and r.json()["error"]["message"]
    assert len(upstream[0].requests) == before  # nothing forwarded


def test_huge_body_and_missing_key(guard: str, upstream: Any) -> None:
    before = len(upstream[0].requests)
    r = httpx.post(f"{guard}/v1/chat/completions", json=_chat("x" * 30_000), headers=KEY)
    assert r.status_code == 413 and r.json()["error"]["type"] == "request_too_large"
    r = httpx.post(f"{guard}/v1/completions", json={"model": "m", "prompt": "hi"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "unauthorized"
    assert len(upstream[0].requests) == before


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("prompt", "status", "kind"),
    [
        ("garbage please", 502, "upstream_invalid"),
        ("server error please", 502, "upstream_error"),
        ("slow please", 504, "upstream_timeout"),
    ],
)
def test_upstream_misbehaving(guard: str, upstream: Any, prompt: str, status: int, kind: str, stream: bool) -> None:
    fake = upstream[0]
    before = len(fake.requests)
    r = httpx.post(f"{guard}/v1/chat/completions", json=_chat(prompt, stream=stream), headers=KEY, timeout=30)
    assert r.status_code == status, r.text
    assert r.json()["error"]["type"] == kind
    assert len(fake.requests) == before + 1  # forwarded exactly once, no retry


def test_broken_stream_ends_with_an_error_event(guard: str, upstream: Any) -> None:
    client = openai.OpenAI(base_url=f"{guard}/v1", api_key="proxy-key", max_retries=0)
    before = len(upstream[0].requests)
    stream = client.chat.completions.create(**_chat("broken stream please"), stream=True)
    with pytest.raises(openai.APIError, match="not completion chunks"):
        for _ in stream:
            pass
    assert len(upstream[0].requests) == before + 1


def test_upstream_down(tiny_kb_shared: Path) -> None:
    with guard_server(tiny_kb_shared, f"http://127.0.0.1:{free_port()}/v1", warm_up=False) as url:
        for path, body in (("/v1/chat/completions", _chat("hi")), ("/v1/completions", {"model": "m", "prompt": "hi"})):
            for stream in (False, True):
                r = httpx.post(f"{url}{path}", json={**body, "stream": stream}, headers=KEY, timeout=30)
                assert r.status_code == 502, r.text
                assert r.json()["error"]["type"] == "upstream_unavailable"


def test_concurrent_requests_each_forwarded_once(guard: str, upstream: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    fake = upstream[0]
    prompts = [f"How do I reverse list number {i}?" for i in range(24)]

    def one(p: str) -> str:
        r = httpx.post(f"{guard}/v1/chat/completions", json=_chat(p, stream=p.endswith("3?")), headers=KEY, timeout=30)
        assert r.status_code == 200, r.text
        return p

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(one, prompts)) == sorted(prompts)
    forwarded = [m["messages"][-1]["content"] for m in fake.requests if m["messages"][-1]["content"] in prompts]
    assert sorted(forwarded) == sorted(prompts)  # none lost, none duplicated
    r = httpx.post(f"{guard}/v1/chat/completions", json=_chat("How do I reverse a list?"), headers=KEY)
    assert r.json()["choices"][0]["message"]["content"] == ORDINARY_ANSWER
