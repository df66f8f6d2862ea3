"""Knowledge-base endpoints: statistics and search (check scope), adding and removing batches (admin scope).

An edit answers once the edited base is served, so the next check already uses it. On SQLite the edit
and the reload run on the engine worker (checks queued meanwhile wait); on PostgreSQL the edit commits
off the worker and the replica follower swaps in a fresh agent built on a thread of its own, so checks
keep being answered from the previous snapshot until then.

Enforced at once, refined later: a fresh agent serves the new items at once (the kNN neighbour sets,
the rules and the evidence are the new snapshot's) with the previous classifier and combiner weights
of each task whose items changed; the detectors of untouched tasks are current and simply loaded. A
background thread then retrains each changed task's detector (``TaskDetector.load_or_train``: on a
shared base one process trains under ``kb.exclusive`` and the others load what it stored) and installs
it on the engine worker. Until then the previous classifier knows nothing of an added item (only the
neighbour signal carries it) and may still lean towards a removed one (which is never a neighbour or
evidence again).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Path, Request, Response

from bluecodeagent.agent import BlueCodeAgent
from bluecodeagent.engines.offline import OfflineEngine
from bluecodeagent.knowledge.builder import BUILTIN_BATCH
from bluecodeagent.knowledge.detector import load_detector, train_once
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.knowledge.store import KnowledgeBase
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

log = logging.getLogger("bluecodeagent.server")
REFINE_NICE = 10  # the background retraining yields the CPU to checks and to the next reload
RELOAD_WAIT_S = 600  # an edit answers once this replica serves it (a first detector training can take minutes)
_ERRORS = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
    504: {"model": ErrorResponse},
}


def fresh_agent(agent: BlueCodeAgent) -> tuple[BlueCodeAgent, list[str]]:
    """A new agent over the knowledge base as it is now, ready to serve, and the tasks it serves with the
    previous weights of their detectors (to be refined by ``refine_detectors``).

    A task without any stored detector (a first start, changed rules) is trained here, as before.
    """
    fresh = BlueCodeAgent(settings=agent.settings, auto_build=False)
    try:
        if agent._kb is not None:  # a shared base reads only the rows added since the snapshot served now
            fresh.kb.reuse(agent._kb)
        tasks = tuple(t for t in fresh.kb.stats()["by_task"] if t in PROMPT_TASKS)
        previous = []
        offline = offline_engine(fresh)
        for task in tasks if offline is not None else ():
            found = load_detector(fresh.kb, task, fresh.settings.top_k, previous=True)
            if found is not None:
                offline.install_detector(task, found[0])  # type: ignore[union-attr]
                if not found[1]:
                    previous.append(task)
        fresh.warm_up(tasks)
    except BaseException:
        fresh.kb.close()
        raise
    return fresh, previous


def offline_engine(agent: BlueCodeAgent) -> OfflineEngine | None:
    """The offline engine that holds the agent's detectors (itself, or inside the LLM and hybrid engines)."""
    engine = agent.engine
    found = engine if isinstance(engine, OfflineEngine) else getattr(engine, "offline", None)
    return found if isinstance(found, OfflineEngine) else None


def refine_detectors(svc: Service, agent: BlueCodeAgent, tasks: list[str], loop: asyncio.AbstractEventLoop) -> None:
    """Retrain (or load, when another replica stored them) the detectors of ``tasks`` on a thread, then install
    each one on the engine worker while ``agent`` is still the one served (checks never see a half swap)."""
    svc.previous_weights = set(tasks)  # what the agent now served is on, until each retrained detector is installed
    if not tasks:
        return

    def run() -> None:
        from bluecodeagent.knowledge.pg_store import PgKnowledgeBase
        from bluecodeagent.knowledge.store import KnowledgeBase

        with contextlib.suppress(AttributeError, OSError):  # Linux: a thread's own nice value; checks and reloads first
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + REFINE_NICE))
        k = agent.settings.top_k
        base = agent.kb
        # PostgreSQL: training reads only the snapshot in memory, so the served handle is shared. SQLite reads
        # items from the file: a handle of its own keeps its statements apart from the engine worker's.
        own = None if isinstance(base, PgKnowledgeBase) else KnowledgeBase(base.path, base.embedder)
        try:
            for task in tasks:
                started = time.monotonic()
                try:  # superseded (a newer snapshot served): its own refiner takes over, nothing is trained
                    if train_once(own or base, task, k, wanted=lambda: svc.agent is agent) is None:
                        return
                except Exception as e:  # keep serving the previous weights; a later change retries
                    log.error(json.dumps({"event": "detector_refine_failed", "task": task, "error": repr(e)}))
                    continue

                def install(current: BlueCodeAgent, task: str = task) -> bool:
                    offline = offline_engine(current)
                    found = load_detector(current.kb, task, k) if current is agent and offline else None
                    if found is None:
                        return False
                    offline.install_detector(task, found[0])  # type: ignore[union-attr]
                    return True

                done = asyncio.run_coroutine_threadsafe(svc.call(install, bounded=False), loop).result()
                if done:
                    svc.previous_weights.discard(task)
                    loop.call_soon_threadsafe(svc.knowledge_changed)
                log.info(
                    json.dumps(
                        {
                            "event": "detector_refined",
                            "task": task,
                            "installed": done,
                            "seconds": round(time.monotonic() - started, 1),
                        }
                    )
                )
        except RuntimeError:  # the event loop is gone: the service is shutting down
            return
        finally:
            if own is not None:
                own.close()

    threading.Thread(target=run, name="detector-refiner", daemon=True).start()


def swap_agent(svc: Service, agent: BlueCodeAgent, fresh: BlueCodeAgent) -> BlueCodeAgent:
    """Serve ``fresh`` from now on, unless it holds an older snapshot than ``agent`` (runs on the worker)."""
    old_gen, new_gen = (getattr(a.kb, "generation", None) for a in (agent, fresh))
    if old_gen is not None and new_gen is not None and new_gen < old_gen:
        fresh.kb.close()  # a newer snapshot is already served
        return agent
    svc.agent = svc.worker.agent = fresh
    agent.kb.close()
    return fresh


async def _edit(svc: Service, change: Callable[[KnowledgeBase], int]) -> tuple[int, int]:
    """Apply ``change`` and serve its result before answering: (items changed, items now).

    SQLite: the edit and the reload run together on the worker (the serving base reads items from the
    file, so no check may run between them). PostgreSQL: the edit commits through a handle of its own
    off the worker, and the replica follower reloads it (checks keep being answered meanwhile); the
    request answers once this replica serves the new generation.
    """
    if not svc.agent.settings.kb_url:

        def on_worker(agent: BlueCodeAgent) -> tuple[int, int, BlueCodeAgent | None, list[str]]:
            n = change(agent.kb)
            if not n:
                return n, len(agent.kb), None, []
            fresh, previous = fresh_agent(agent)
            served = swap_agent(svc, agent, fresh)
            return n, len(served.kb), served, previous if served is fresh else []

        n, total, served, previous = await svc.call(on_worker, bounded=False)  # an edit always completes
        svc.knowledge_changed()
        if served is not None:
            refine_detectors(svc, served, previous, asyncio.get_running_loop())
        return n, total

    from bluecodeagent.knowledge.pg_store import PgKnowledgeBase

    def commit() -> tuple[int, int, int]:
        settings = svc.agent.settings
        base = PgKnowledgeBase(
            settings.kb_url or "",
            svc.agent.kb.embedder,
            build_memory_mb=settings.kb_hnsw_build_memory_mb,
            m=settings.kb_hnsw_m,
            ef_construction=settings.kb_hnsw_ef_construction,
        )
        try:
            return change(base), base.current_generation(), len(base)
        finally:
            base.close()

    n, generation, total = await asyncio.to_thread(commit)
    deadline = time.monotonic() + RELOAD_WAIT_S
    while n and getattr(svc.agent.kb, "generation", generation) < generation:
        if time.monotonic() > deadline:
            raise ServiceError(504, "timeout", f"the change is committed but not yet served after {RELOAD_WAIT_S} s")
        await asyncio.sleep(0.05)
    return n, total


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

        added, total = await _edit(svc, lambda base: base.add(items))
        change = KbChange(batch=req.batch, added=added, items=total)
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

        removed, total = await _edit(svc, lambda base: base.remove(batch=batch))
        if not removed:
            raise ServiceError(404, "not_found", f"no items in batch {batch!r}")
        change = KbChange(batch=batch, removed=removed, items=total)
        request.state.log = {"kb": f"remove {change.removed} from {batch}"}
        return Response(dump(change), media_type="application/json")

    return router
