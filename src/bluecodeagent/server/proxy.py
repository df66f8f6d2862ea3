"""An OpenAI-compatible guarding proxy: ``POST /v1/chat/completions`` in front of a configured upstream.

Before forwarding, the latest user message is screened (malicious, bias) and system/tool content for
injection; a blocked request gets a well-formed ``chat.completion`` refusal (``finish_reason`` is
``content_filter``, details under ``bluecode``). After the upstream answers, its ```python code blocks
are scanned (static analysis by default) and, per policy, annotated (warn) or withheld (block).
Streaming is buffered whole in this version: the upstream stream is read to the end, screened, then
re-emitted as SSE chunks (verbatim when nothing was flagged), so a blocked block never leaks.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import APIRouter, Request
from fastapi.params import Depends
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from bluecodeagent.errors import BlueCodeError
from bluecodeagent.server.app import _RANK, ErrorResponse, ServiceError
from bluecodeagent.verdict import Decision, Verdict

if TYPE_CHECKING:
    from bluecodeagent.server.app import Service

CODE_BLOCK = re.compile(r"```[ \t]*(?:python3?|py)[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
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


def text_of(content: str | list[dict[str, Any]] | None) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(str(p.get("text", "")) for p in content or [] if p.get("type") == "text")


def screen_request(svc: Service, req: ChatRequest) -> list[Verdict]:
    """Screen the latest user message and the context content (runs in a worker thread)."""
    cfg, agent = svc.config, svc.agent
    users = [text_of(m.content) for m in req.messages if m.role == "user"]
    prompt = next((u for u in reversed(users) if u.strip()), "")
    context = "\n\n".join(t for m in req.messages if m.role in CONTEXT_ROLES and (t := text_of(m.content)).strip())
    verdicts: list[Verdict] = []
    if prompt:
        verdicts += [agent.check(prompt, task) for task in cfg.proxy_prompt_tasks]
    if cfg.proxy_injection and context:
        verdicts.append(agent.check(prompt or "(no user message)", "injection", context))
    return verdicts


def screen_answer(svc: Service, content: str) -> tuple[str, dict[str, Any] | None]:
    """Scan the answer's Python code blocks; return the (possibly annotated) content and metadata."""
    from bluecodeagent.code.scanner import scan_code

    policy = svc.config.proxy_code_policy
    findings: list[dict[str, Any]] = []
    withheld: set[int] = set()
    verdicts: list[Verdict] = []
    blocks = list(CODE_BLOCK.finditer(content))
    for i, m in enumerate(blocks, 1):
        try:
            v = scan_code(m.group(1), "python", dynamic=svc.config.proxy_code_dynamic)
        except BlueCodeError:
            continue
        verdicts.append(v)
        for f in v.findings:
            findings.append(
                {
                    "block": i,
                    "cwe": f.cwe,
                    "line": f.line,
                    "severity": f.severity,
                    "rule_id": f.rule_id,
                    "confirmed": f.confirmed,
                    "message": f.message,
                }
            )
        if policy == "block" and v.decision == Decision.BLOCK:
            withheld.add(i)
    svc.metrics.record(verdicts)
    if not findings:
        return content, None
    for i in sorted(withheld, reverse=True):
        m = blocks[i - 1]
        cwes = ", ".join(sorted({f["cwe"] or "?" for f in findings if f["block"] == i}))
        content = content[: m.start()] + f"[code block {i} withheld by BlueCodeAgent: {cwes}]" + content[m.end() :]
    notes = [f"- code block {f['block']}, line {f['line']}: {f['cwe']} {f['message']}" for f in findings]
    content += "\n\n> **BlueCodeAgent**: possible vulnerabilities in the code above:\n" + "\n".join(
        f"> {n}" for n in notes
    )
    action = "block" if withheld else "warn"
    return content, {"action": action, "stage": "response", "findings": findings, "withheld_blocks": sorted(withheld)}


def _chunk(base: dict[str, Any], delta: dict[str, Any], finish: str | None, extra: dict[str, Any] | None = None) -> str:
    body = {
        "id": base["id"],
        "object": "chat.completion.chunk",
        "created": base["created"],
        "model": base["model"],
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if extra:
        body["bluecode"] = extra
    return f"data: {json.dumps(body)}\n\n"


def _sse(base: dict[str, Any], content: str, finish: str, meta: dict[str, Any] | None) -> Iterator[str]:
    yield _chunk(base, {"role": "assistant", "content": ""}, None)
    for start in range(0, len(content), 512):
        yield _chunk(base, {"content": content[start : start + 512]}, None)
    yield _chunk(base, {}, finish, meta)
    yield "data: [DONE]\n\n"


def refusal(req: ChatRequest, verdicts: list[Verdict]) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The refusal's base fields, text and ``bluecode`` metadata."""
    worst = max(verdicts, key=lambda v: (_RANK[v.decision], v.score))
    what = f"{worst.task.value} ({worst.category})" if worst.category else worst.task.value
    text = (
        f"I can't help with this request: BlueCodeAgent flagged it as a {what} risk "
        f"(score {worst.score:.2f}). If you think this is a mistake, rephrase or contact your administrator."
    )
    base = {"id": f"chatcmpl-bluecode-{uuid.uuid4().hex[:20]}", "created": int(time.time()), "model": req.model}
    meta = {"action": "block", "stage": "request", "verdicts": [v.summary() for v in verdicts]}
    return base, text, meta


def build_router(svc: Service, check_dep: Depends) -> APIRouter:
    """Routes of the proxy; ``svc.config.upstream_base_url`` must be set."""
    cfg = svc.config
    base_url = (cfg.upstream_base_url or "").rstrip("/")
    client = httpx.AsyncClient(timeout=httpx.Timeout(cfg.upstream_timeout_s, connect=10.0))
    svc.on_shutdown.append(client.aclose)
    router = APIRouter(tags=["proxy"])

    def upstream_headers() -> dict[str, str]:
        key = cfg.upstream_api_key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def upstream_failure(e: httpx.HTTPError) -> ServiceError:
        if isinstance(e, httpx.TimeoutException):
            return ServiceError(
                504, "upstream_timeout", f"the upstream did not answer within {cfg.upstream_timeout_s:g} s"
            )
        return ServiceError(
            502, "upstream_unavailable", f"cannot reach the upstream at {base_url} ({type(e).__name__})"
        )

    def upstream_status(status: int, body: bytes) -> Response:
        if status >= 500:
            raise ServiceError(502, "upstream_error", f"the upstream answered HTTP {status}")
        try:  # a client error (bad model name...) is the caller's to see, as the upstream worded it
            return JSONResponse(json.loads(body), status_code=status)
        except ValueError:
            raise ServiceError(502, "upstream_invalid", f"the upstream answered HTTP {status} without JSON") from None

    @router.post(
        "/v1/chat/completions",
        dependencies=[check_dep],
        summary="Guarded OpenAI chat completions",
        responses={400: {"model": ErrorResponse}, 502: {"model": ErrorResponse}, 504: {"model": ErrorResponse}},
    )
    async def chat_completions(req: ChatRequest, request: Request) -> Response:
        verdicts = await svc.run(lambda: screen_request(svc, req))
        svc.metrics.record(verdicts)
        request.state.log = {"verdicts": [f"{v.task.value}:{v.decision.value}" for v in verdicts]}
        threshold = _RANK[Decision(cfg.proxy_block_on)]
        blocking = [v for v in verdicts if _RANK[v.decision] >= threshold]
        worst = max((v.decision for v in verdicts), key=_RANK.__getitem__, default=Decision.ALLOW)
        headers = {"x-bluecode-decision": "block" if blocking else worst.value}
        if blocking:
            base, text, meta = refusal(req, verdicts)
            if req.stream:
                return StreamingResponse(
                    _sse(base, text, "content_filter", meta), media_type="text/event-stream", headers=headers
                )
            body = {
                **base,
                "object": "chat.completion",
                "bluecode": meta,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "content_filter",
                        "logprobs": None,
                    }
                ],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            }
            return JSONResponse(body, headers=headers)
        payload = req.model_dump(exclude_unset=True)
        url = f"{base_url}/chat/completions"
        if req.stream:
            return await _stream(payload, url, headers)
        try:
            r = await client.post(url, json=payload, headers=upstream_headers())
        except httpx.HTTPError as e:
            raise upstream_failure(e) from e
        if r.status_code >= 400:
            return upstream_status(r.status_code, r.content)
        try:
            data = r.json()
            message = data["choices"][0]["message"]
            content = message.get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise ServiceError(502, "upstream_invalid", "the upstream's answer is not a chat completion") from None
        if cfg.proxy_code_policy == "off" or "```" not in content:
            return Response(r.content, media_type="application/json", headers=headers)
        new, meta = await svc.run(lambda: screen_answer(svc, content), agent=False)
        if meta is None:
            return Response(r.content, media_type="application/json", headers=headers)
        message["content"] = new
        data["bluecode"] = meta
        headers["x-bluecode-decision"] = meta["action"]
        return JSONResponse(data, headers=headers)

    async def _stream(payload: dict[str, Any], url: str, headers: dict[str, str]) -> Response:
        raw: list[str] = []
        parts: list[str] = []
        base: dict[str, Any] | None = None
        finish = "stop"
        try:
            async with client.stream("POST", url, json=payload, headers=upstream_headers()) as r:
                if r.status_code >= 400:
                    return upstream_status(r.status_code, await r.aread())
                async for line in r.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                        base = base or {"id": chunk["id"], "created": chunk["created"], "model": chunk["model"]}
                        for choice in chunk.get("choices") or []:
                            if choice.get("index", 0) == 0:
                                parts.append((choice.get("delta") or {}).get("content") or "")
                                finish = choice.get("finish_reason") or finish
                    except (ValueError, KeyError, TypeError, AttributeError):
                        raise ServiceError(502, "upstream_invalid", "the upstream's stream is not chunks") from None
                    raw.append(f"data: {data}\n\n")
        except httpx.HTTPError as e:
            raise upstream_failure(e) from e
        if base is None:
            raise ServiceError(502, "upstream_invalid", "the upstream's stream was empty")
        content = "".join(parts)
        meta = None
        if cfg.proxy_code_policy != "off" and "```" in content:
            new, meta = await svc.run(lambda: screen_answer(svc, content), agent=False)
        if meta is None:
            return StreamingResponse(iter([*raw, "data: [DONE]\n\n"]), media_type="text/event-stream", headers=headers)
        headers["x-bluecode-decision"] = meta["action"]
        return StreamingResponse(_sse(base, new, finish, meta), media_type="text/event-stream", headers=headers)

    return router
