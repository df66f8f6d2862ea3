"""An OpenAI-compatible guarding proxy: ``/v1/chat/completions`` and ``/v1/completions`` before an upstream.

Before forwarding, the latest user message (or the legacy prompt) is screened for the configured prompt
tasks, and system/developer/tool content for injection; a blocked request gets a well-formed refusal
(``finish_reason`` ``content_filter``, details under ``bluecode``) and never reaches the upstream. The
answer's Python code blocks are scanned (``answers.py``, ``relay.py``); streamed answers are relayed as
they arrive, holding back only an open code block until it closes and is screened, so a blocked block
never leaks. The upstream client and the two protocols are in ``upstream.py``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from bluecodeagent.server.models import RANK, ErrorResponse, worst
from bluecodeagent.server.relay import Relay
from bluecodeagent.server.upstream import CHAT, LEGACY, Protocol, Upstream, relay_verbatim, sse
from bluecodeagent.verdict import Decision, Verdict

if TYPE_CHECKING:
    from bluecodeagent.server.service import Service

CONTEXT_ROLES = {"system", "developer", "tool", "function"}


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
    return StreamingResponse(iter([*map(sse, events), sse("[DONE]")]), media_type="text/event-stream", headers=headers)


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
            return StreamingResponse(relay_verbatim(r), media_type="text/event-stream", headers=headers)
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
