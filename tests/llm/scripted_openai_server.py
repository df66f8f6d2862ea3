"""A test double: a real OpenAI-compatible HTTP server on loopback that replays scripted answers.

It speaks ``POST /v1/chat/completions`` and ``GET /v1/models`` over real HTTP (``http.server`` in a
thread), so the product's real client, retries and parsing are exercised. Answers come from
:class:`ScriptedReply` rules, tried in order: the first whose ``match`` is found in the request's
messages (a substring, or a predicate over the request body) and that has uses left answers. A
request no rule matches gets HTTP 500 ``no scripted answer``, so a test never passes by accident.

Failure modes: ``status`` (401, 429, 500, ...), ``body`` (raw bytes instead of a completion:
garbage), ``finish_reason="length"`` with a cut-off ``content`` (truncated JSON), ``delay`` (slow
answers, for timeouts), ``reject_json_schema=500`` on the server (llama.cpp's server answers 500 to
``response_format={"type": "json_schema"}``), ``api_key`` (401 unless the bearer key matches).

The fixtures ``scripted_llm`` and ``llm_settings`` are registered for every test by
``tests/conftest.py``; import only the classes (``tests`` is on ``pythonpath``)::

    from llm.scripted_openai_server import ScriptedReply

    def test_x(scripted_llm, llm_settings):
        scripted_llm.script(ScriptedReply(match="static analysis", content={"reason": "...", ...}))
        backend = backend_from_settings(llm_settings)          # points at the scripted server
        ...
        assert scripted_llm.requests[0]["response_format"]["type"] == "json_schema"

``llm_settings`` is a :class:`Settings` with the server's URL and model, a fresh answer cache under
the test's tmp path, no retry delays and a short timeout.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

MODEL = "scripted-model"


@dataclass
class ScriptedReply:
    """One scripted answer and when to give it."""

    match: str | Callable[[dict[str, Any]], bool] | None = None
    content: str | dict[str, Any] | None = None
    status: int = 200
    body: str | None = None
    delay: float = 0.0
    finish_reason: str = "stop"
    times: int | None = None
    error: str = "scripted failure"
    used: int = field(default=0, init=False)

    def matches(self, request: dict[str, Any]) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.match is None:
            return True
        if callable(self.match):
            return bool(self.match(request))
        return self.match in "\n".join(str(m.get("content", "")) for m in request.get("messages", []))


class ScriptedOpenAIServer:
    """Start with :meth:`start` (or the ``scripted_llm`` fixture); ``requests`` logs every body received."""

    def __init__(self, model: str = MODEL, *, reject_json_schema: int | None = None, api_key: str | None = None):
        self.model = model
        self.reject_json_schema = reject_json_schema
        self.api_key = api_key
        self.rules: list[ScriptedReply] = []
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def script(self, *replies: ScriptedReply) -> ScriptedOpenAIServer:
        """Append rules (tried in order after the ones already there)."""
        with self._lock:
            self.rules.extend(replies)
        return self

    def reset(self) -> None:
        with self._lock:
            self.rules.clear()
            self.requests.clear()

    def chat_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if "messages" in r]

    def start(self) -> ScriptedOpenAIServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    request = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._send(400, {"error": {"message": "request body is not JSON"}})
                    return
                with server._lock:
                    server.requests.append(request)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                if server.api_key is not None and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    self._send(401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}})
                    return
                if request.get("model") != server.model:
                    self._send(404, {"error": {"message": f"model {request.get('model')!r} not found"}})
                    return
                fmt = (request.get("response_format") or {}).get("type")
                if fmt == "json_schema" and server.reject_json_schema:
                    self._send(server.reject_json_schema, {"error": {"message": "json_schema is not supported"}})
                    return
                with server._lock:
                    rule = next((r for r in server.rules if r.matches(request)), None)
                    if rule is not None:
                        rule.used += 1
                if rule is None:
                    self._send(500, {"error": {"message": "no scripted answer matches this request"}})
                    return
                if rule.delay:
                    time.sleep(rule.delay)
                if rule.body is not None:
                    self._send_raw(rule.status, rule.body.encode(), "text/plain")
                elif rule.status != 200:
                    self._send(rule.status, {"error": {"message": rule.error}})
                else:
                    self._send(200, server.completion(request, rule))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                self._send_raw(status, json.dumps(payload).encode(), "application/json")

            def _send_raw(self, status: int, data: bytes, ctype: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="scripted-openai", daemon=True
        ).start()
        return self

    def completion(self, request: dict[str, Any], rule: ScriptedReply) -> dict[str, Any]:
        """A chat completion body with deterministic token counts (characters / 4)."""
        content = rule.content if isinstance(rule.content, str) else json.dumps(rule.content or {})
        prompt_chars = sum(len(str(m.get("content", ""))) for m in request.get("messages", []))
        return {
            "id": f"chatcmpl-scripted-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": rule.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_chars // 4,
                "completion_tokens": len(content) // 4,
                "total_tokens": prompt_chars // 4 + len(content) // 4,
            },
        }

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


@pytest.fixture
def scripted_llm() -> Iterator[ScriptedOpenAIServer]:
    """A started scripted server with no rules yet (add them with ``.script(...)``)."""
    server = ScriptedOpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def llm_settings(scripted_llm: ScriptedOpenAIServer, tmp_path: Path):
    """Settings pointing the LLM engine at ``scripted_llm``: fresh cache, no retry delay, 5 s timeout."""
    from bluecodeagent.config import Settings

    return Settings(
        llm_base_url=scripted_llm.base_url,
        llm_model=scripted_llm.model,
        llm_cache_path=tmp_path / "llm-cache.sqlite",
        llm_retry_backoff=0.0,
        llm_timeout=5.0,
    )
