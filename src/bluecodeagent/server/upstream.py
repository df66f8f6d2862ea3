"""The upstream side of the proxy: the two OpenAI protocols, the HTTP client and its server-sent events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from fastapi.responses import JSONResponse, Response

from bluecodeagent.server.models import ServiceError

if TYPE_CHECKING:
    from bluecodeagent.server.service import Service


@dataclass(frozen=True)
class Protocol:
    """Where the text of a choice lives in one of the two OpenAI APIs."""

    path: str
    obj: str
    chunk_obj: str
    id_prefix: str
    label: str

    def text(self, choice: dict[str, Any], stream: bool) -> str | None:
        if self.obj == "text_completion":
            return choice.get("text")
        holder = choice.get("delta" if stream else "message") or {}
        return holder.get("content")

    def set_text(self, choice: dict[str, Any], text: str, stream: bool) -> None:
        if self.obj == "text_completion":
            choice["text"] = text
        else:
            choice.setdefault("delta" if stream else "message", {})["content"] = text

    def choice(self, index: int, text: str | None, finish: str | None, stream: bool, first: bool) -> dict[str, Any]:
        if self.obj == "text_completion":
            return {"index": index, "text": text or "", "logprobs": None, "finish_reason": finish}
        if stream:
            delta: dict[str, Any] = {"role": "assistant"} if first else {}
            if text is not None:
                delta["content"] = text
            return {"index": index, "delta": delta, "finish_reason": finish}
        return {
            "index": index,
            "message": {"role": "assistant", "content": text},
            "finish_reason": finish,
            "logprobs": None,
        }


CHAT = Protocol("/chat/completions", "chat.completion", "chat.completion.chunk", "chatcmpl", "chat completion")
LEGACY = Protocol("/completions", "text_completion", "text_completion", "cmpl", "text completion")


def sse(data: dict[str, Any] | str) -> bytes:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()


class Upstream:
    """The upstream client: forwards a request and maps its failures to clear 502/504 errors."""

    def __init__(self, svc: Service) -> None:
        cfg = svc.config
        self.base_url = (cfg.upstream_base_url or "").rstrip("/")
        self.timeout_s = cfg.upstream_timeout_s
        self.api_key = cfg.upstream_api_key
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(cfg.upstream_timeout_s, connect=10.0))
        svc.on_shutdown.append(self.client.aclose)

    def headers(self) -> dict[str, str]:
        key = self.api_key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def failure(self, e: httpx.HTTPError) -> ServiceError:
        if isinstance(e, httpx.TimeoutException):
            return ServiceError(504, "upstream_timeout", f"the upstream did not answer within {self.timeout_s:g} s")
        return ServiceError(
            502, "upstream_unavailable", f"cannot reach the upstream at {self.base_url} ({type(e).__name__})"
        )

    @staticmethod
    def status_error(status: int, body: bytes) -> Response:
        if status >= 500:
            raise ServiceError(502, "upstream_error", f"the upstream answered HTTP {status}")
        try:  # a client error (bad model name...) is the caller's to see, as the upstream worded it
            return JSONResponse(json.loads(body), status_code=status)
        except ValueError:
            raise ServiceError(502, "upstream_invalid", f"the upstream answered HTTP {status} without JSON") from None

    async def post(self, path: str, payload: dict[str, Any]) -> httpx.Response:
        try:
            return await self.client.post(f"{self.base_url}{path}", json=payload, headers=self.headers())
        except httpx.HTTPError as e:
            raise self.failure(e) from e

    async def open_stream(self, path: str, payload: dict[str, Any]) -> httpx.Response:
        req = self.client.build_request("POST", f"{self.base_url}{path}", json=payload, headers=self.headers())
        try:
            return await self.client.send(req, stream=True)
        except httpx.HTTPError as e:
            raise self.failure(e) from e


def choice_index(choice: dict[str, Any]) -> int:
    index = choice.get("index", 0)
    if not isinstance(index, int):
        raise ServiceError(502, "upstream_invalid", "the upstream's answer has a choice without an integer index")
    return index


async def read_events(r: httpx.Response) -> AsyncIterator[dict[str, Any] | str]:
    """The upstream's server-sent events: parsed JSON chunks, then ``"[DONE]"``."""
    async for line in r.aiter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            yield data
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            raise ServiceError(502, "upstream_invalid", "the upstream's stream is not completion chunks") from None
        if not isinstance(chunk, dict):
            raise ServiceError(502, "upstream_invalid", "the upstream's stream is not completion chunks")
        if "error" in chunk:
            raise ServiceError(502, "upstream_error", f"the upstream reported an error: {str(chunk['error'])[:200]}")
        yield chunk


async def relay_verbatim(r: httpx.Response) -> AsyncIterator[bytes]:
    """Relay the upstream's stream byte for byte (code policy ``off``)."""
    try:
        async for part in r.aiter_raw():
            yield part
    finally:
        await r.aclose()
