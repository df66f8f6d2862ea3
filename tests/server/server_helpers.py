"""Helpers for the server tests: a real uvicorn server on a free loopback port, and a fake upstream."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

VULNERABLE_ANSWER = (
    'Here is a helper:\n\n```python\nimport os\n\n\ndef ping(host):\n    os.system("ping -c 1 " + host)\n```\n'
)
ORDINARY_ANSWER = "To reverse a list in Python use `items[::-1]` or `items.reverse()`."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """Run ``app`` with uvicorn on loopback; yield its base URL; shut it down gracefully."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


class FakeUpstreamForTests:
    """A test double of an OpenAI-compatible upstream: canned answers chosen by the user's message.

    Chat and legacy completions, whole or streamed in 16-character pieces. Special prompts: ``garbage``
    (not JSON), ``bad model`` (404), ``server error`` (500), ``slow`` (answers after 3 s), ``broken stream``
    (a good chunk, then garbage), ``stepwise`` (streams a line of prose, then waits for ``gate`` before
    the rest, recording in ``released`` whether the gate opened), ``ping`` (a vulnerable code block,
    followed by a sentence with ``AFTER-THE-BLOCK``), ``unterminated`` (ends inside a code block).
    """

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.gate = threading.Event()
        self.released: bool | None = None
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self.chat)
        self.app.post("/v1/completions")(self.legacy)

    def answer(self, prompt: str) -> str:
        if "unterminated" in prompt:  # the answer ends inside a code block
            return "Sure:\n```python\nimport os\n\n\ndef ping(host):\n    os.system('ping -c 1 ' + host)"
        if "ping" in prompt:
            return VULNERABLE_ANSWER + "Call it with a host name. AFTER-THE-BLOCK\n"
        return ORDINARY_ANSWER

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        return await self._respond(body, body["messages"][-1]["content"], legacy=False)

    async def legacy(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        prompt = body["prompt"] if isinstance(body["prompt"], str) else body["prompt"][0]
        return await self._respond(body, prompt, legacy=True)

    async def _respond(self, body: dict, prompt: str, legacy: bool) -> Response:
        if "garbage" in prompt:
            return PlainTextResponse("<html>oops</html>")
        if "bad model" in prompt:
            return JSONResponse({"error": {"message": "no such model", "type": "invalid_request_error"}}, 404)
        if "server error" in prompt:
            return JSONResponse({"error": {"message": "overloaded"}}, 500)
        if "slow" in prompt:
            await asyncio.sleep(3)
        text = self.answer(prompt)
        base = {"id": "cmpl-fake" if legacy else "chatcmpl-fake", "created": 1700000000, "model": body["model"]}
        if body.get("stream"):
            return StreamingResponse(self._chunks(base, text, prompt, legacy), media_type="text/event-stream")
        if legacy:
            choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}
        else:
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        return JSONResponse(
            {
                **base,
                "object": "text_completion" if legacy else "chat.completion",
                "choices": [choice],
                "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
            }
        )

    async def _chunks(self, base: dict, text: str, prompt: str, legacy: bool) -> AsyncIterator[str]:
        def event(content: str | None, finish: str | None = None, first: bool = False) -> str:
            if legacy:
                choice = {"index": 0, "text": content or "", "logprobs": None, "finish_reason": finish}
                obj = "text_completion"
            else:
                delta = {"role": "assistant"} if first else {}
                if content is not None:
                    delta["content"] = content
                choice, obj = {"index": 0, "delta": delta, "finish_reason": finish}, "chat.completion.chunk"
            return "data: " + json.dumps({**base, "object": obj, "choices": [choice]}) + "\n\n"

        yield event("", first=True)
        if "stepwise" in prompt:
            yield event("First, some prose.\n")
            self.released = await asyncio.to_thread(self.gate.wait, 30)
            text = VULNERABLE_ANSWER
        if "broken stream" in prompt:
            yield event("It starts well")
            yield "data: {not json\n\n"
            return
        for i in range(0, len(text), 16):
            yield event(text[i : i + 16])
        yield event(None, "stop")
        yield "data: [DONE]\n\n"


@contextmanager
def guard_server(kb_path: object, upstream: str, **overrides: object) -> Iterator[str]:
    """The guard (one key, ``proxy-key``) in front of ``upstream``, served on loopback until ready; yield its URL."""
    import httpx

    from bluecodeagent.agent import BlueCodeAgent
    from bluecodeagent.server.app import create_app
    from bluecodeagent.server.config import ApiKey, ServerConfig

    settings: dict[str, object] = {
        "keys": [ApiKey(name="dev", key="proxy-key")],
        "upstream_base_url": upstream,
        "proxy_prompt_tasks": ["malicious"],
        "proxy_injection": False,
        **overrides,
    }
    app = create_app(BlueCodeAgent(kb_path), ServerConfig(**settings))
    with serve_in_thread(app) as url:
        deadline = time.monotonic() + 20
        while httpx.get(f"{url}/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        yield url
