"""Knowledge-base endpoints: statistics and search (check scope), adding and removing batches (admin scope).

Every read and edit runs on the engine worker, in order with the prompt checks. An edit reopens the
knowledge base and retrains the detectors before it answers, so the next check already uses it; checks
queued meanwhile wait for the retraining.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Path, Request, Response

from bluecodeagent.agent import BlueCodeAgent
from bluecodeagent.knowledge.builder import BUILTIN_BATCH
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.server.models import (
    ErrorResponse,
    KbAddRequest,
    KbChange,
    KbHit,
    KbSearchRequest,
    KbSearchResponse,
    KbStats,
    ServiceError,
)
from bluecodeagent.server.service import Service, dump
from bluecodeagent.tasks import PROMPT_TASKS

_ERRORS = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
    504: {"model": ErrorResponse},
}


def _reload(svc: Service, agent: BlueCodeAgent) -> BlueCodeAgent:
    """A fresh agent over the edited knowledge base, with its detectors trained (runs on the worker)."""
    fresh = BlueCodeAgent(settings=agent.settings, auto_build=False)
    agent.kb.close()
    fresh.warm_up(tuple(t for t in fresh.kb.stats()["by_task"] if t in PROMPT_TASKS))
    svc.agent = svc.worker.agent = fresh
    return fresh


def _stats(agent: BlueCodeAgent) -> KbStats:
    st = agent.kb.stats()
    return KbStats(
        items=st["items"],
        embedder=st.get("embedder"),
        by_task=st["by_task"],
        categories=st["categories"],
        batches=st["batches"],
    )


def build_router(svc: Service, scope: Callable[[str], Any]) -> APIRouter:
    """The ``/v1/kb`` routes; ``scope(name)`` gives the dependency that enforces an API-key scope."""
    router = APIRouter(prefix="/v1/kb", tags=["knowledge"], responses=_ERRORS)

    @router.get(
        "/stats",
        response_model=KbStats,
        dependencies=[scope("check")],
        openapi_extra={"x-bluecode-scope": "check"},
        summary="Knowledge-base statistics",
    )
    async def stats() -> Response:
        return Response(dump(await svc.call(_stats)), media_type="application/json")

    @router.post(
        "/search",
        response_model=KbSearchResponse,
        dependencies=[scope("check")],
        openapi_extra={"x-bluecode-scope": "check"},
        summary="The knowledge items nearest to a text",
    )
    async def search(req: KbSearchRequest) -> Response:
        def find(agent: BlueCodeAgent) -> KbSearchResponse:
            base = agent.kb
            vec = base.require_embedder().embed([req.text])[0]
            hits = base.search(vec, req.k, task=req.task, label=req.label)
            return KbSearchResponse(
                hits=[
                    KbHit(
                        uid=h.item.uid,
                        task=h.item.task,
                        label=h.item.label,
                        category=h.item.category,
                        similarity=round(float(h.similarity), 4),
                        text=h.item.text,
                        policy=h.item.policy,
                        batch=h.item.batch,
                    )
                    for h in hits
                ]
            )

        return Response(dump(await svc.call(find)), media_type="application/json")

    @router.post(
        "/items",
        response_model=KbChange,
        status_code=201,
        dependencies=[scope("admin")],
        openapi_extra={"x-bluecode-scope": "admin"},
        responses={409: {"model": ErrorResponse}},
        summary="Add items under a batch name (embedded now; detectors retrain before the answer)",
    )
    async def add_items(req: KbAddRequest, request: Request) -> Response:
        if req.batch == BUILTIN_BATCH:
            raise ServiceError(409, "reserved_batch", f"batch {BUILTIN_BATCH!r} holds the shipped knowledge")
        key = getattr(request.state, "key_name", None)
        items = [
            KnowledgeItem(**it.model_dump(), batch=req.batch, provenance={"source": "api", "key": key})
            for it in req.items
        ]

        def add(agent: BlueCodeAgent) -> KbChange:
            added = agent.kb.add(items)
            fresh = _reload(svc, agent)
            return KbChange(batch=req.batch, added=added, items=len(fresh.kb))

        change = await svc.call(add, bounded=False)  # an edit always completes
        svc.knowledge_changed()
        request.state.log = {"kb": f"add {change.added} to {req.batch}"}
        return Response(dump(change), status_code=201, media_type="application/json")

    @router.delete(
        "/batches/{batch}",
        response_model=KbChange,
        dependencies=[scope("admin")],
        openapi_extra={"x-bluecode-scope": "admin"},
        responses={404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}},
        summary="Remove every item of a batch (detectors retrain before the answer)",
    )
    async def remove_batch(request: Request, batch: str = Path(min_length=1, max_length=100)) -> Response:
        if batch == BUILTIN_BATCH:
            message = f"batch {BUILTIN_BATCH!r} is the shipped knowledge; rebuild with bluecode kb build"
            raise ServiceError(409, "reserved_batch", message)

        def remove(agent: BlueCodeAgent) -> KbChange | None:
            removed = agent.kb.remove(batch=batch)
            if not removed:
                return None
            fresh = _reload(svc, agent)
            return KbChange(batch=batch, removed=removed, items=len(fresh.kb))

        change = await svc.call(remove, bounded=False)
        if change is None:
            raise ServiceError(404, "not_found", f"no items in batch {batch!r}")
        svc.knowledge_changed()
        request.state.log = {"kb": f"remove {change.removed} from {batch}"}
        return Response(dump(change), media_type="application/json")

    return router
