"""Helpers for the server tests: a real uvicorn server on a free loopback port, and a fake upstream."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
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
    """A test double of an OpenAI-compatible upstream: canned answers chosen by the user's message."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self.chat)

    def answer(self, prompt: str) -> str:
        return VULNERABLE_ANSWER if "ping" in prompt else ORDINARY_ANSWER

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        prompt = body["messages"][-1]["content"]
        if "garbage" in prompt:
            return PlainTextResponse("<html>oops</html>")
        if "bad model" in prompt:
            return JSONResponse({"error": {"message": "no such model", "type": "invalid_request_error"}}, 404)
        text = self.answer(prompt)
        base = {"id": "chatcmpl-fake", "created": 1700000000, "model": body["model"]}
        if body.get("stream"):

            def chunks() -> Iterator[str]:
                yield (
                    "data: "
                    + json.dumps(
                        {
                            **base,
                            "object": "chat.completion.chunk",
                            "choices": [
                                {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                            ],
                        }
                    )
                    + "\n\n"
                )
                for i in range(0, len(text), 16):
                    yield (
                        "data: "
                        + json.dumps(
                            {
                                **base,
                                "object": "chat.completion.chunk",
                                "choices": [
                                    {"index": 0, "delta": {"content": text[i : i + 16]}, "finish_reason": None}
                                ],
                            }
                        )
                        + "\n\n"
                    )
                yield (
                    "data: "
                    + json.dumps(
                        {
                            **base,
                            "object": "chat.completion.chunk",
                            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                        }
                    )
                    + "\n\n"
                )
                yield "data: [DONE]\n\n"

            return StreamingResponse(chunks(), media_type="text/event-stream")
        return JSONResponse(
            {
                **base,
                "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
            }
        )
