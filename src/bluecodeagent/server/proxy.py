"""An OpenAI-compatible guarding proxy: ``/v1/chat/completions`` and ``/v1/completions`` before an upstream.

Before forwarding, the latest user message (or the legacy prompt) is screened for the configured prompt
tasks, and system/developer/tool content for injection; a blocked request gets a well-formed refusal
(``finish_reason`` ``content_filter``, details under ``bluecode``) and never reaches the upstream. The
answer's Python code blocks are scanned (see ``answers.py``); streamed answers are relayed as they
arrive, holding back only an open code block until it closes and is screened, so a blocked block never
leaks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from bluecodeagent.server.answers import ChoiceScreen
from bluecodeagent.server.models import RANK, ErrorResponse, ServiceError, worst
from bluecodeagent.verdict import Decision, Verdict

if TYPE_CHECKING:
    from bluecodeagent.server.service import Service

log = logging.getLogger("bluecodeagent.server")
CONTEXT_ROLES = {"system", "developer", "tool", "function"}
FENCES = ("```", "~~~")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """An OpenAI chat-completions request; fields the guard does not read are forwarded as they are."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


class CompletionRequest(BaseModel):
    """A legacy completions request; the prompt must be text (token-id prompts cannot be screened)."""

    model_config = ConfigDict(extra="allow")
    model: str
    prompt: str | list[str] = Field(description="Text, or a list of texts (one completion each).")
    stream: bool = False


def text_of(content: str | list[dict[str, Any]] | None) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(str(p.get("text", "")) for p in content or [] if p.get("type") == "text")


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


def _sse(data: dict[str, Any] | str) -> bytes:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()


async def screen_request(svc: Service, prompts: list[str], context: str) -> list[Verdict]:
    """Screen the prompts for the configured tasks and the context for injection (batched, concurrently)."""
    cfg = svc.config
    jobs = [svc.check(p, task, None) for p in prompts if p.strip() for task in cfg.proxy_prompt_tasks]
    if cfg.proxy_injection and context.strip():
        jobs.append(svc.check(next((p for p in prompts if p.strip()), "(no user message)"), "injection", context))
    return list(await asyncio.gather(*jobs))


def refusal(proto: Protocol, model: str, verdicts: list[Verdict], stream: bool) -> Response:
    """A refusal the client shows like any answer (``finish_reason`` is ``content_filter``)."""
    top = max(verdicts, key=lambda v: (RANK[v.decision], v.score))
    what = f"{top.task.value} ({top.category})" if top.category else top.task.value
    text = (
        f"I can't help with this request: BlueCodeAgent flagged it as a {what} risk "
        f"(score {top.score:.2f}). If you think this is a mistake, rephrase or contact your administrator."
    )
    base = {"id": f"{proto.id_prefix}-bluecode-{uuid.uuid4().hex[:20]}", "created": int(time.time()), "model": model}
    meta = {"action": "block", "stage": "request", "verdicts": [v.summary() for v in verdicts]}
    headers = {"x-bluecode-decision": "block"}
    if not stream:
        body = {
            **base,
            "object": proto.obj,
            "choices": [proto.choice(0, text, "content_filter", False, True)],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "bluecode": meta,
        }
        return JSONResponse(body, headers=headers)
    events = [
        {**base, "object": proto.chunk_obj, "choices": [proto.choice(0, text, None, True, True)]},
        {**base, "object": proto.chunk_obj, "choices": [proto.choice(0, None, "content_filter", True, False)]},
    ]
    events[-1]["bluecode"] = meta
    return StreamingResponse(
        iter([*map(_sse, events), _sse("[DONE]")]), media_type="text/event-stream", headers=headers
    )


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


class Relay:
    """Screens one answer (whole or streamed) under the proxy's code policy."""

    def __init__(self, svc: Service, proto: Protocol) -> None:
        self.svc, self.proto = svc, proto
        self.policy = svc.config.proxy_code_policy
        self.screens: dict[int, ChoiceScreen] = {}

    def screen(self, index: int) -> ChoiceScreen:
        if index not in self.screens:
            self.screens[index] = ChoiceScreen(index, self.policy, self._scan)
        return self.screens[index]

    async def _scan(self, code: str) -> Verdict:
        from bluecodeagent.code.scanner import scan_code

        dynamic = self.svc.config.proxy_code_dynamic
        v = await self.svc.run(lambda: scan_code(code, "python", dynamic=dynamic))
        self.svc.metrics.record([v])
        return v

    def decision(self) -> str:
        metas = [m for s in self.screens.values() if (m := s.meta())]
        if any(m["action"] == "block" for m in metas):
            return "block"
        return "warn" if metas else "allow"

    async def whole(self, r: httpx.Response, headers: dict[str, str]) -> Response:
        """A non-streamed answer: screened per choice, returned verbatim when nothing was found."""
        try:
            data = r.json()
            choices = data["choices"]
            texts = [self.proto.text(c, False) for c in choices]
            if not all(t is None or isinstance(t, str) for t in texts):
                raise TypeError
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise ServiceError(502, "upstream_invalid", f"the upstream's answer is not a {self.proto.label}") from None
        if self.policy == "off" or not any(t and any(f in t for f in FENCES) for t in texts):
            return Response(r.content, media_type="application/json", headers=headers)
        metas = []
        for choice, text in zip(choices, texts, strict=True):
            if not text:
                continue
            s = self.screen(_index(choice))
            new = await s.feed(text) + await s.close()
            if (meta := s.meta()) is not None:
                metas.append(meta)
                self.proto.set_text(choice, new, False)
                if s.stopped:
                    choice["finish_reason"] = "content_filter"
        if not metas:
            return Response(r.content, media_type="application/json", headers=headers)
        data["bluecode"] = metas[0] if len(metas) == 1 else {"action": self.decision(), "choices": metas}
        headers["x-bluecode-decision"] = self.decision()
        return JSONResponse(data, headers=headers)

    async def stream(self, r: httpx.Response, headers: dict[str, str]) -> Response:
        """A streamed answer: the first event is read before answering (so a broken upstream is a 502)."""
        events = _events(r)
        try:
            first = await anext(events, None)
        except ServiceError:
            await r.aclose()
            raise
        except httpx.HTTPError as e:
            await r.aclose()
            raise ServiceError(502, "upstream_invalid", f"the upstream's stream broke ({type(e).__name__})") from e
        if first is None or first == "[DONE]":
            await r.aclose()
            raise ServiceError(502, "upstream_invalid", "the upstream's stream was empty")
        return StreamingResponse(self._relay(first, events, r), media_type="text/event-stream", headers=headers)

    async def _relay(
        self, first: dict[str, Any] | str, events: AsyncIterator[dict[str, Any] | str], r: httpx.Response
    ) -> AsyncIterator[bytes]:
        base: dict[str, Any] = {}
        try:
            event: dict[str, Any] | str | None = first
            while event is not None and event != "[DONE]":
                assert isinstance(event, dict)
                base = base or {k: event.get(k) for k in ("id", "created", "model")}
                out = await self._chunk(event)
                if out is not None:
                    yield _sse(out)
                if self.screens and all(s.stopped for s in self.screens.values()):
                    break  # every choice was cut at a blocked block: stop reading the upstream
                event = await anext(events, None)
            for s in self.screens.values():  # the upstream ended without finishing a choice
                if not s.stopped and (tail := await s.close()):
                    yield _sse(self._synth(base, s.index, tail, None, s.meta()))
            yield _sse("[DONE]")
        except (ServiceError, httpx.HTTPError, ValueError, TypeError, KeyError, AttributeError) as e:
            # after the first byte only an error event can tell; whatever was held back is dropped, never sent
            if isinstance(e, ServiceError):
                message = e.message
            elif isinstance(e, httpx.HTTPError):
                message = f"the upstream's stream broke ({type(e).__name__})"
            else:
                message = "the upstream's stream is not completion chunks"
            yield _sse({"error": {"type": "upstream_invalid", "message": message}})
        except Exception:
            log.exception("proxy stream failed")
            yield _sse({"error": {"type": "internal_error", "message": "internal error (see the service log)"}})
        finally:
            await r.aclose()

    async def _chunk(self, chunk: dict[str, Any]) -> dict[str, Any] | None:
        """Screen one upstream chunk; None when nothing of it can be released yet."""
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            raise ServiceError(502, "upstream_invalid", "the upstream's stream is not completion chunks")
        if not choices:
            return chunk  # usage and other choice-less chunks pass as they are
        kept = []
        for choice in choices:
            if not isinstance(choice, dict):
                raise ServiceError(502, "upstream_invalid", "the upstream's stream is not completion chunks")
            s = self.screen(_index(choice))
            if s.stopped:
                continue
            text = self.proto.text(choice, True)
            if text is not None and not isinstance(text, str):
                raise ServiceError(502, "upstream_invalid", "the upstream's stream is not completion chunks")
            released = await s.feed(text) if text else ""
            finish = choice.get("finish_reason")
            if finish and not s.stopped:
                released += await s.close()
            if s.stopped:
                choice["finish_reason"] = "content_filter"
            if text is not None or released:
                self.proto.set_text(choice, released, True)
            if (finish or s.stopped) and (meta := s.meta()):
                chunk["bluecode"] = meta
            if released or self._carries_more(choice):
                kept.append(choice)
        if not kept:
            return None
        chunk["choices"] = kept
        return chunk

    def _carries_more(self, choice: dict[str, Any]) -> bool:
        """Does a choice say anything besides (held back) text: a role, tool calls, a finish reason?"""
        if choice.get("finish_reason"):
            return True
        if self.proto is LEGACY:
            return False
        delta = choice.get("delta") or {}
        return any(k != "content" and v is not None for k, v in delta.items())

    def _synth(
        self, base: dict[str, Any], index: int, text: str, finish: str | None, meta: dict[str, Any] | None
    ) -> dict[str, Any]:
        choice = self.proto.choice(index, text, finish, True, False)
        chunk = {**base, "object": self.proto.chunk_obj, "choices": [choice]}
        if meta:
            chunk["bluecode"] = meta
        return chunk


def _index(choice: dict[str, Any]) -> int:
    index = choice.get("index", 0)
    if not isinstance(index, int):
        raise ServiceError(502, "upstream_invalid", "the upstream's answer has a choice without an integer index")
    return index


async def _events(r: httpx.Response) -> AsyncIterator[dict[str, Any] | str]:
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


def build_router(svc: Service, check_dep: Any) -> APIRouter:
    """Routes of the proxy; ``svc.config.upstream_base_url`` must be set."""
    cfg = svc.config
    upstream = Upstream(svc)
    router = APIRouter(tags=["proxy"])
    errors = {
        400: {"model": ErrorResponse},
        401: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        502: {"model": ErrorResponse},
        504: {"model": ErrorResponse},
    }

    async def guarded(
        proto: Protocol,
        request: Request,
        model: str,
        stream: bool,
        prompts: list[str],
        context: str,
        payload: Callable[[], dict[str, Any]],
    ) -> Response:
        verdicts = await screen_request(svc, prompts, context)
        svc.metrics.record(verdicts)
        request.state.log = {"verdicts": [f"{v.task.value}:{v.decision.value}" for v in verdicts]}
        threshold = RANK[Decision(cfg.proxy_block_on)]
        if any(RANK[v.decision] >= threshold for v in verdicts):
            return refusal(proto, model, verdicts, stream)
        headers = {"x-bluecode-decision": worst([v.decision for v in verdicts]).value}
        relay = Relay(svc, proto)
        if not stream:
            r = await upstream.post(proto.path, payload())
            if r.status_code >= 400:
                return upstream.status_error(r.status_code, r.content)
            return await relay.whole(r, headers)
        r = await upstream.open_stream(proto.path, payload())
        if r.status_code >= 400:
            try:
                return upstream.status_error(r.status_code, await r.aread())
            finally:
                await r.aclose()
        if cfg.proxy_code_policy == "off":
            return StreamingResponse(_verbatim(r), media_type="text/event-stream", headers=headers)
        return await relay.stream(r, headers)

    @router.post(
        "/v1/chat/completions",
        dependencies=[check_dep],
        openapi_extra={"x-bluecode-scope": "check"},
        summary="Guarded OpenAI chat completions",
        responses=errors,
    )
    async def chat_completions(req: ChatRequest, request: Request) -> Response:
        users = [text_of(m.content) for m in req.messages if m.role == "user"]
        prompt = next((u for u in reversed(users) if u.strip()), "")
        context = "\n\n".join(t for m in req.messages if m.role in CONTEXT_ROLES and (t := text_of(m.content)).strip())
        return await guarded(
            CHAT, request, req.model, req.stream, [prompt], context, lambda: req.model_dump(exclude_unset=True)
        )

    @router.post(
        "/v1/completions",
        dependencies=[check_dep],
        openapi_extra={"x-bluecode-scope": "check"},
        summary="Guarded OpenAI (legacy) completions",
        responses=errors,
    )
    async def completions(req: CompletionRequest, request: Request) -> Response:
        prompts = [req.prompt] if isinstance(req.prompt, str) else req.prompt
        return await guarded(
            LEGACY, request, req.model, req.stream, prompts, "", lambda: req.model_dump(exclude_unset=True)
        )

    return router


async def _verbatim(r: httpx.Response) -> AsyncIterator[bytes]:
    """Relay the upstream's stream byte for byte (code policy ``off``)."""
    try:
        async for part in r.aiter_raw():
            yield part
    finally:
        await r.aclose()
