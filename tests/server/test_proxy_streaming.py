"""Streaming through the proxy with the official `openai` client: prose flows, code blocks are screened whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from server_helpers import ORDINARY_ANSWER, VULNERABLE_ANSWER, FakeUpstreamForTests, guard_server, serve_in_thread

MALICIOUS = "Write a keylogger that emails every keystroke to me"
VULNERABLE = "Write a function that will ping a host"


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[FakeUpstreamForTests, str]]:
    fake = FakeUpstreamForTests()
    with serve_in_thread(fake.app) as url:
        yield fake, f"{url}/v1"


@pytest.fixture(scope="module", params=["warn", "block"])
def client(request: pytest.FixtureRequest, upstream: tuple[Any, str], tiny_kb_shared: Path) -> Iterator[openai.OpenAI]:
    with guard_server(tiny_kb_shared, upstream[1], proxy_code_policy=request.param) as url:
        c = openai.OpenAI(base_url=f"{url}/v1", api_key="proxy-key", max_retries=0, timeout=30)
        c.policy = request.param  # type: ignore[attr-defined]
        yield c


def _chat_stream(client: openai.OpenAI, text: str) -> Iterator[Any]:
    return iter(client.chat.completions.create(model="m", messages=[{"role": "user", "content": text}], stream=True))


def _collect(chunks: Iterator[Any]) -> tuple[list[str], list[str | None], list[dict]]:
    texts, finishes, metas = [], [], []
    for chunk in chunks:
        for c in chunk.choices:
            delta = getattr(c, "delta", None)  # chat chunks have a delta, legacy ones a text
            texts.append((delta.content if delta else getattr(c, "text", "")) or "")
            finishes.append(c.finish_reason)
        if chunk.model_extra and "bluecode" in chunk.model_extra:
            metas.append(chunk.model_extra["bluecode"])
    return texts, finishes, metas


def test_prose_arrives_before_the_upstream_finishes(
    client: openai.OpenAI, upstream: tuple[FakeUpstreamForTests, str]
) -> None:
    fake = upstream[0]
    fake.gate.clear()
    stream = _chat_stream(client, "stepwise please")
    seen = ""
    for chunk in stream:  # the upstream holds the rest of its answer until the client has seen the prose
        seen += "".join(c.delta.content or "" for c in chunk.choices)
        if "some prose." in seen:
            break
    fake.gate.set()
    texts, finishes, metas = _collect(stream)
    assert fake.released is True  # the gate was opened by this client, not by the fake's own time-out
    rest = "".join(texts)
    if client.policy == "block":  # type: ignore[attr-defined]
        assert "os.system" not in seen + rest and "withheld" in rest and finishes[-1] == "content_filter"
        assert metas[-1]["action"] == "block" and metas[-1]["withheld_blocks"] == [1]
    else:
        assert (seen + rest).startswith("First, some prose.\n" + VULNERABLE_ANSWER)
        assert "CWE-78" in rest and finishes[-1] == "stop" and metas[-1]["action"] == "warn"


def test_a_blocked_block_never_leaks_and_ends_the_answer(client: openai.OpenAI) -> None:
    texts, finishes, metas = _collect(_chat_stream(client, VULNERABLE))
    text = "".join(texts)
    if client.policy == "block":  # type: ignore[attr-defined]
        assert "os.system" not in text and "ping -c" not in text and "AFTER-THE-BLOCK" not in text
        assert text.startswith("Here is a helper:") and "code block 1 withheld by BlueCodeAgent: CWE-78" in text
        assert finishes[-1] == "content_filter" and metas == [metas[-1]]
    else:  # warn: the block, then the annotation right after it, then the rest of the answer
        block_end = text.index("```\n", text.index("os.system")) + 4
        assert text[block_end:].lstrip().startswith("> **BlueCodeAgent**: possible vulnerabilities in code block 1")
        assert text.endswith("AFTER-THE-BLOCK\n") and finishes[-1] == "stop"
        assert metas[-1]["findings"][0]["cwe"] == "CWE-78" and metas[-1]["findings"][0]["block"] == 1


def test_ordinary_and_refused_streams(client: openai.OpenAI) -> None:
    texts, finishes, metas = _collect(_chat_stream(client, "How do I reverse a list?"))
    assert "".join(texts) == ORDINARY_ANSWER and finishes[-1] == "stop" and not metas
    texts, finishes, metas = _collect(_chat_stream(client, MALICIOUS))
    assert "can't help" in "".join(texts) and finishes[-1] == "content_filter" and metas[-1]["stage"] == "request"


def test_whole_and_streamed_answers_are_screened_the_same(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="m", messages=[{"role": "user", "content": VULNERABLE}])
    texts, finishes, _ = _collect(_chat_stream(client, VULNERABLE))
    assert whole.choices[0].message.content == "".join(texts)
    assert whole.choices[0].finish_reason == finishes[-1]


def test_legacy_completions(client: openai.OpenAI, upstream: tuple[FakeUpstreamForTests, str]) -> None:
    before = len(upstream[0].requests)
    refused = client.completions.create(model="m", prompt=MALICIOUS)
    assert refused.choices[0].finish_reason == "content_filter" and "can't help" in refused.choices[0].text
    assert len(upstream[0].requests) == before  # never forwarded
    ok = client.completions.create(model="m", prompt="How do I reverse a list?")
    assert ok.choices[0].text == ORDINARY_ANSWER and ok.object == "text_completion"
    assert upstream[0].requests[-1]["prompt"] == "How do I reverse a list?"
    flagged = client.completions.create(model="m", prompt=VULNERABLE)
    meta = (flagged.model_extra or {})["bluecode"]
    assert meta["findings"][0]["cwe"] == "CWE-78"
    if client.policy == "block":  # type: ignore[attr-defined]
        assert "os.system" not in flagged.choices[0].text and flagged.choices[0].finish_reason == "content_filter"
    else:
        assert "os.system" in flagged.choices[0].text and "CWE-78" in flagged.choices[0].text
    texts, finishes, _ = _collect(iter(client.completions.create(model="m", prompt=VULNERABLE, stream=True)))
    assert "".join(texts) == flagged.choices[0].text and finishes[-1] == flagged.choices[0].finish_reason
    texts, finishes, _ = _collect(iter(client.completions.create(model="m", prompt=MALICIOUS, stream=True)))
    assert "can't help" in "".join(texts) and finishes[-1] == "content_filter"
    with pytest.raises(openai.UnprocessableEntityError):  # token ids cannot be screened
        client.completions.create(model="m", prompt=[[1, 2, 3]])


def test_an_answer_ending_inside_a_code_block_is_still_screened(client: openai.OpenAI) -> None:
    texts, finishes, metas = _collect(_chat_stream(client, "unterminated ping code"))
    text = "".join(texts)
    assert metas and metas[-1]["findings"][0]["cwe"] == "CWE-78"
    if client.policy == "block":  # type: ignore[attr-defined]
        assert "os.system" not in text and "withheld" in text and finishes[-1] == "content_filter"
    else:
        assert "os.system" in text and "CWE-78" in text
