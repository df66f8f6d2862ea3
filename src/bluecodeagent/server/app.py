"""The guard service's HTTP API: prompt checks, code scans, the knowledge base, health and metrics.

``create_app(agent, config)`` returns a FastAPI app; ``bluecode serve`` runs it with uvicorn. Prompt
checks go to one engine worker thread that batches concurrent requests (see ``worker.py``); code
scans need no model and run in a small thread pool.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bluecodeagent.agent import BlueCodeAgent
from bluecodeagent.errors import BlueCodeError, ConfigError, InputError, KnowledgeError, ModelError
from bluecodeagent.server import knowledge
from bluecodeagent.server.config import ServerConfig
from bluecodeagent.server.middleware import AccessLog, BodyLimit
from bluecodeagent.server.models import (
    CheckRequest,
    CheckResponse,
    ErrorResponse,
    Health,
    Ready,
    ScanRequest,
    ServiceError,
    error_response,
    worst,
)
from bluecodeagent.server.replica import follow
from bluecodeagent.server.service import Service, dump, log_verdicts
from bluecodeagent.tasks import PROMPT_TASKS
from bluecodeagent.verdict import Verdict

log = logging.getLogger("bluecodeagent.server")


def _install_error_handlers(app: FastAPI) -> None:
    """Every error becomes ``{"error": {"type", "message"}}`` with the right status; nothing leaks a traceback."""

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


def create_app(agent: BlueCodeAgent, config: ServerConfig) -> FastAPI:
    """Build the API (and the guarding proxy when ``config.upstream_base_url`` is set)."""
    svc = Service(agent, config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc.worker.start()
        follower = follow(svc)  # replicas on one PostgreSQL base reload its changes
        warm = asyncio.create_task(svc.warm_up()) if config.warm_up else None
        if warm is None:
            svc.ready.set()
        yield  # uvicorn finishes the requests in flight before it gets here on shutdown
        if warm is not None and not warm.done():
            warm.cancel()
        for close in svc.on_shutdown:
            await close()
        if follower is not None:
            await asyncio.to_thread(follower.stop)
        await asyncio.to_thread(svc.worker.stop)
        if svc.agent._kb is not None:  # release the SQLite handle
            svc.agent._kb.close()

    app = FastAPI(
        title="BlueCodeAgent guard",
        version="0.1.0",
        lifespan=lifespan,
        description="Screen prompts for malicious, biased or injected requests and code for CWE "
        "vulnerabilities; optionally guard an OpenAI-compatible upstream. Routes with a security "
        "requirement need `Authorization: Bearer <key>` when keys are configured; `x-bluecode-scope` "
        "names the scope the key needs (`admin` implies `check`).",
        responses={413: {"model": ErrorResponse}, 500: {"model": ErrorResponse}},
    )
    app.state.service = svc
    _install_error_handlers(app)

    def scope(name: str) -> object:
        return Depends(svc.require(name))

    err = {
        400: {"model": ErrorResponse},
        401: {"model": ErrorResponse},
        403: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        429: {"model": ErrorResponse},
        503: {"model": ErrorResponse},
        504: {"model": ErrorResponse},
    }

    @app.post(
        "/v1/check",
        response_model=CheckResponse,
        dependencies=[scope("check")],
        openapi_extra={"x-bluecode-scope": "check"},
        responses=err,
        tags=["guard"],
        summary="Screen a prompt",
    )
    async def check(req: CheckRequest, request: Request) -> Response:
        tasks = PROMPT_TASKS if req.task == "all" else (req.task,)
        verdicts: list[Verdict] = list(await asyncio.gather(*(svc.check(req.text, t, req.context) for t in tasks)))
        svc.metrics.record(verdicts)
        log_verdicts(request, verdicts)
        body = CheckResponse(
            decision=worst([v.decision for v in verdicts]), unsafe=any(v.unsafe for v in verdicts), verdicts=verdicts
        )
        return Response(dump(body), media_type="application/json")

    @app.post(
        "/v1/scan",
        response_model=Verdict,
        dependencies=[scope("check")],
        openapi_extra={"x-bluecode-scope": "check"},
        responses=err,
        tags=["guard"],
        summary="Scan code for CWE vulnerabilities",
    )
    async def scan(req: ScanRequest, request: Request) -> Response:
        from bluecodeagent.code.scanner import scan_code

        v = await svc.run(lambda: scan_code(req.code, req.language, path=req.path, dynamic=req.dynamic))
        svc.metrics.record([v])
        log_verdicts(request, [v])
        return Response(dump(v), media_type="application/json")

    app.include_router(knowledge.build_router(svc, scope))

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
        body = Ready(ready=ready, detail=svc.ready_detail, previous_weights=sorted(svc.previous_weights))
        return JSONResponse(body.model_dump(), status_code=200 if ready else 503)

    @app.get(
        "/metrics",
        dependencies=[scope("admin")],
        openapi_extra={"x-bluecode-scope": "admin"},
        responses={  # errors are JSON even though the metrics are text
            code: {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
            for code in (401, 403)
        },
        tags=["ops"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
    )
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    if config.upstream_base_url:
        from bluecodeagent.server.proxy import build_router

        app.include_router(build_router(svc, scope("check")))

    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    app.add_middleware(AccessLog, metrics=svc.metrics)
    return app
