"""The guard service's HTTP API: prompt checks, code scans, knowledge-base stats, health and metrics.

``create_app(agent, config)`` returns a FastAPI app; ``bluecode serve`` runs it with uvicorn. Checks are
CPU-bound and run in a thread pool, one at a time per agent (the model and knowledge base are shared).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bluecodeagent.agent import BlueCodeAgent
from bluecodeagent.errors import BlueCodeError, ConfigError, InputError, KnowledgeError, ModelError
from bluecodeagent.server.config import ServerConfig
from bluecodeagent.subject import validate_text
from bluecodeagent.verdict import Decision, Verdict

log = logging.getLogger("bluecodeagent.server")
T = TypeVar("T")
_RANK = {Decision.ALLOW: 0, Decision.WARN: 1, Decision.BLOCK: 2}
MAX_BATCH = 32


# -- request and response models ------------------------------------------------------------------------


class CheckRequest(BaseModel):
    """A prompt to screen, with optional context (files or tool output the assistant will read)."""

    text: str = Field(min_length=1, description="The user's request.")
    task: Literal["bias", "malicious", "injection", "all"] = "all"
    context: str | None = Field(default=None, description="Material screened for injected instructions.")


class CheckResponse(BaseModel):
    decision: Decision = Field(description="The strictest decision over all verdicts.")
    unsafe: bool
    verdicts: list[Verdict]


class ScanRequest(BaseModel):
    """Source code to scan for CWE vulnerabilities."""

    code: str = Field(min_length=1)
    language: str = "python"
    dynamic: bool = Field(default=False, description="Confirm findings by running probes in the sandbox.")
    path: str | None = Field(default=None, description="Only used in findings' locations.")


class KbStats(BaseModel):
    items: int
    embedder: str | None = None
    by_task: dict[str, dict[str, int]]
    categories: int


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    ready: bool
    detail: str = ""


class ErrorBody(BaseModel):
    type: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    """Every error, in the shape OpenAI clients also understand."""

    error: ErrorBody


def error_response(
    status: int,
    type_: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(type=type_, message=message, details=details))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


class ServiceError(Exception):
    """An error with an HTTP status and a message safe to show the client."""

    def __init__(self, status: int, type_: str, message: str) -> None:
        super().__init__(message)
        self.status, self.type, self.message = status, type_, message


# -- metrics ----------------------------------------------------------------------------------------------


class Metrics:
    """Prometheus metrics on a registry of the app's own (several apps can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bluecode_requests_total",
            "HTTP requests by endpoint and status",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "bluecode_request_duration_seconds",
            "HTTP request latency by endpoint",
            ["endpoint"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.verdicts = Counter(
            "bluecode_verdicts_total", "Verdicts by task and decision", ["task", "decision"], registry=self.registry
        )
        self.sandbox_runs = Counter(
            "bluecode_sandbox_runs_total", "Dynamic tests run in the sandbox", registry=self.registry
        )

    def record(self, verdicts: list[Verdict]) -> None:
        for v in verdicts:
            self.verdicts.labels(v.task.value, v.decision.value).inc()
            if v.evidence.dynamic:
                self.sandbox_runs.inc(len(v.evidence.dynamic))


# -- middleware -------------------------------------------------------------------------------------------


class BodyLimit:
    """Reject bodies over ``limit`` bytes with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._reject(scope, receive, send)
            return
        chunks: list[bytes] = []
        seen, more = 0, True
        while more:  # buffer the body (bounded) so an oversized chunked upload is refused cleanly
            message = await receive()
            if message["type"] != "http.request":
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                await self._reject(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        resp = error_response(413, "request_too_large", f"request body exceeds {self.limit} bytes")
        await resp(scope, receive, send)


class AccessLog:
    """One structured log line and metrics per request; never logs bodies or keys."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = uuid.uuid4().hex[:16]
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(endpoint, scope["method"], str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(elapsed)
            state = scope.get("state") or {}
            log.info(
                json.dumps(
                    {
                        "ts": round(time.time(), 3),
                        "event": "request",
                        "request_id": rid,
                        "method": scope["method"],
                        "endpoint": endpoint,
                        "status": status,
                        "ms": round(elapsed * 1000, 2),
                        "key": state.get("key_name"),
                        **(state.get("log") or {}),
                    }
                )
            )


# -- the service ------------------------------------------------------------------------------------------


class Service:
    """What every route shares: the agent (behind a lock), the config, keys and metrics."""

    def __init__(self, agent: BlueCodeAgent, config: ServerConfig) -> None:
        self.agent, self.config = agent, config
        self.keys = config.resolved_keys()
        self.metrics = Metrics()
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.ready_detail = "loading the model and knowledge base"
        self.on_shutdown: list[Callable[[], Awaitable[None]]] = []
        self._pending: dict[str, list[tuple[str, str | None, asyncio.Future[Verdict]]]] = {}
        self._draining: set[str] = set()
        self._limiter: anyio.CapacityLimiter | None = None
        self._buckets: dict[str, tuple[float, float]] = {}  # key name -> (tokens, last refill)

    def warm_up(self) -> None:
        """Load the model and knowledge base (the tasks it has) so the first request is fast."""
        try:
            with self.lock:
                tasks = tuple(t for t in self.agent.kb.stats()["by_task"] if t in ("bias", "malicious", "injection"))
                self.agent.warm_up(tasks)
            self.ready_detail = f"ready: {', '.join(tasks) or 'no prompt tasks'}"
            self.ready.set()
        except Exception as e:  # reported by /readyz; requests will show the error too
            self.ready_detail = f"not ready: {type(e).__name__}: {e}"
            log.error(json.dumps({"event": "warm_up_failed", "error": self.ready_detail}))

    async def run(self, fn: Callable[[], T], *, agent: bool = True) -> T:
        """Run CPU-bound work in a worker thread with the check timeout (504 when it runs over)."""

        def call() -> T:
            if not agent:
                return fn()
            with self.lock:
                return fn()

        if self._limiter is None:  # CPU-bound: more threads than cores only thrash the GIL
            self._limiter = anyio.CapacityLimiter(max(2, os.cpu_count() or 2))
        try:
            with anyio.fail_after(self.config.check_timeout_s):
                return await anyio.to_thread.run_sync(call, abandon_on_cancel=True, limiter=self._limiter)
        except TimeoutError as e:
            raise ServiceError(504, "timeout", f"the check took longer than {self.config.check_timeout_s:g} s") from e

    async def check(self, text: str, task: str, context: str | None) -> Verdict:
        """Screen one prompt; requests arriving while a batch runs are embedded together in the next one."""
        limit = self.agent.settings.max_input_bytes
        validate_text(text, limit, "text")
        if context is not None:
            validate_text(context, limit, "context")
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(task, []).append((text, context, future))
        if task not in self._draining:
            self._draining.add(task)
            asyncio.create_task(self._drain(task))  # noqa: RUF006 - it ends when the queue is empty
        return await future

    async def _drain(self, task: str) -> None:
        try:
            while queue := self._pending.get(task):
                batch, self._pending[task] = queue[:MAX_BATCH], queue[MAX_BATCH:]
                records = [(text, ctx) for text, ctx, _ in batch]
                try:
                    verdicts = await self.run(lambda records=records: self.agent.check_many(records, task))
                except Exception as e:  # every waiter of the batch gets the error
                    for *_, fut in batch:
                        if not fut.done():
                            fut.set_exception(e)
                else:
                    for (*_, fut), v in zip(batch, verdicts, strict=True):
                        if not fut.done():
                            fut.set_result(v)
        finally:
            self._draining.discard(task)

    def _take(self, name: str, rate: float, burst: int) -> bool:
        """Token bucket per key (the event loop is single-threaded, so no lock is needed)."""
        now = time.monotonic()
        tokens, last = self._buckets.get(name, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate)
        ok = tokens >= 1.0
        self._buckets[name] = (tokens - 1.0 if ok else tokens, now)
        return ok

    def require(self, scope: str) -> Callable[[Request], Awaitable[None]]:
        """A dependency enforcing ``Authorization: Bearer <key>`` with ``scope`` (no keys: open)."""

        async def dependency(request: Request) -> None:
            if not self.keys:
                return
            header = request.headers.get("authorization", "")
            token = header[7:].strip() if header[:7].lower() == "bearer " else ""
            match = next((k for v, k in self.keys.items() if token and hmac.compare_digest(v, token)), None)
            if match is None:
                raise ServiceError(401, "unauthorized", "missing or invalid API key (Authorization: Bearer <key>)")
            request.state.key_name = match.name
            if match.rate_per_s is not None and not self._take(match.name, match.rate_per_s, match.burst):
                raise ServiceError(429, "rate_limited", f"rate limit of {match.rate_per_s:g} requests/s exceeded")
            if scope not in match.scopes and "admin" not in match.scopes:
                raise ServiceError(403, "forbidden", f"this key lacks the {scope!r} scope")

        return dependency


def _verdict_log(request: Request, verdicts: list[Verdict]) -> None:
    request.state.log = {"verdicts": [f"{v.task.value}:{v.decision.value}" for v in verdicts]}


def create_app(agent: BlueCodeAgent, config: ServerConfig) -> FastAPI:
    """Build the API (and the guarding proxy when ``config.upstream_base_url`` is set)."""
    svc = Service(agent, config)

    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        if config.warm_up:
            threading.Thread(target=svc.warm_up, name="bluecode-warm-up", daemon=True).start()
        else:
            svc.ready.set()
        yield
        for close in svc.on_shutdown:
            await close()
        if svc.agent._kb is not None:  # release the SQLite handle on shutdown
            svc.agent._kb.close()

    app = FastAPI(
        title="BlueCodeAgent guard",
        version="0.1.0",
        lifespan=lifespan,
        description="Screen prompts for malicious, biased or injected requests and code for CWE "
        "vulnerabilities; optionally guard an OpenAI-compatible upstream.",
        responses={401: {"model": ErrorResponse}, 413: {"model": ErrorResponse}},
    )
    app.state.service = svc
    check_dep, admin_dep = Depends(svc.require("check")), Depends(svc.require("admin"))
    err = {400: {"model": ErrorResponse}, 403: {"model": ErrorResponse}, 504: {"model": ErrorResponse}}

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        headers = {401: {"WWW-Authenticate": "Bearer"}, 429: {"Retry-After": "1"}}.get(exc.status)
        return error_response(exc.status, exc.type, exc.message, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in errors):
            return error_response(400, "invalid_json", "the request body is not valid JSON", errors)
        return error_response(422, "invalid_request", "the request does not match the schema", errors)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(BlueCodeError)
    async def _product(request: Request, exc: BlueCodeError) -> JSONResponse:
        if isinstance(exc, InputError):
            return error_response(400, "invalid_input", str(exc))
        if isinstance(exc, KnowledgeError | ModelError | ConfigError):
            return error_response(503, "not_configured", str(exc))
        return error_response(500, "internal_error", str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal error (see the service log)")

    @app.post(
        "/v1/check",
        response_model=CheckResponse,
        dependencies=[check_dep],
        responses=err,
        tags=["guard"],
        summary="Screen a prompt",
    )
    async def check(req: CheckRequest, request: Request) -> CheckResponse:
        tasks = ("bias", "malicious", "injection") if req.task == "all" else (req.task,)
        verdicts = list(await asyncio.gather(*(svc.check(req.text, t, req.context) for t in tasks)))
        svc.metrics.record(verdicts)
        _verdict_log(request, verdicts)
        worst = max((v.decision for v in verdicts), key=_RANK.__getitem__)
        return CheckResponse(decision=worst, unsafe=any(v.unsafe for v in verdicts), verdicts=verdicts)

    @app.post(
        "/v1/scan",
        response_model=Verdict,
        dependencies=[check_dep],
        responses=err,
        tags=["guard"],
        summary="Scan code for CWE vulnerabilities",
    )
    async def scan(req: ScanRequest, request: Request) -> Verdict:
        from bluecodeagent.code.scanner import scan_code

        v = await svc.run(lambda: scan_code(req.code, req.language, path=req.path, dynamic=req.dynamic), agent=False)
        svc.metrics.record([v])
        _verdict_log(request, [v])
        return v

    @app.get(
        "/v1/kb/stats",
        response_model=KbStats,
        dependencies=[admin_dep],
        responses=err,
        tags=["admin"],
        summary="Knowledge-base statistics",
    )
    async def kb_stats() -> KbStats:
        st = await svc.run(lambda: agent.kb.stats())
        return KbStats(
            items=st["items"], embedder=st.get("embedder"), by_task=st["by_task"], categories=st["categories"]
        )

    @app.get("/healthz", response_model=Health, tags=["ops"], summary="The process is up")
    async def healthz() -> Health:
        return Health()

    @app.get(
        "/readyz",
        response_model=Ready,
        tags=["ops"],
        summary="Model and knowledge base are loaded",
        responses={503: {"model": Ready}},
    )
    async def readyz() -> JSONResponse:
        ready = svc.ready.is_set()
        return JSONResponse(Ready(ready=ready, detail=svc.ready_detail).model_dump(), status_code=200 if ready else 503)

    @app.get(
        "/metrics",
        dependencies=[admin_dep],
        tags=["ops"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
    )
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    if config.upstream_base_url:
        from bluecodeagent.server.proxy import build_router

        app.include_router(build_router(svc, check_dep))

    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    app.add_middleware(AccessLog, metrics=svc.metrics)
    return app
