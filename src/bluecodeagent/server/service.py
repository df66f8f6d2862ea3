"""What every route shares: the engine worker, a verdict cache, API keys, rate limits and metrics."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, Counter, Histogram

from bluecodeagent.agent import BlueCodeAgent
from bluecodeagent.server.config import ServerConfig
from bluecodeagent.server.models import ServiceError
from bluecodeagent.server.worker import EngineWorker
from bluecodeagent.subject import validate_text
from bluecodeagent.tasks import PROMPT_TASKS
from bluecodeagent.verdict import Verdict

log = logging.getLogger("bluecodeagent.server")
T = TypeVar("T")
BEARER = HTTPBearer(auto_error=False, description="An API key of the service: `Authorization: Bearer <key>`.")
BEARER_CREDENTIALS = Security(BEARER)


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
        self.batch_size = Histogram(
            "bluecode_check_batch_size",
            "Prompts scored together in one batched engine call",
            registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32),
        )
        self.cache_hits = Counter(
            "bluecode_verdict_cache_hits_total", "Prompt checks answered from the verdict cache", registry=self.registry
        )

    def record(self, verdicts: list[Verdict]) -> None:
        for v in verdicts:
            self.verdicts.labels(v.task.value, v.decision.value).inc()
            if v.evidence.dynamic:
                self.sandbox_runs.inc(len(v.evidence.dynamic))


class Service:
    """The agent behind its worker thread, the config, keys, metrics and the verdict cache."""

    def __init__(self, agent: BlueCodeAgent, config: ServerConfig) -> None:
        self.agent, self.config = agent, config
        self.keys = config.resolved_keys()
        self.metrics = Metrics()
        self.worker = EngineWorker(
            agent, on_batch=self.metrics.batch_size.observe, linger_s=config.batch_wait_ms / 1000
        )
        self.ready = threading.Event()
        self.ready_detail = "loading the model and knowledge base"
        self.previous_weights: set[str] = set()  # tasks served with a detector older than their items (retraining)
        self.on_shutdown: list[Callable[[], Awaitable[None]]] = []
        self._cache: OrderedDict[bytes, Verdict] = OrderedDict()
        self._limiter: anyio.CapacityLimiter | None = None
        self._buckets: dict[str, tuple[float, float]] = {}  # key name -> (tokens, last refill)

    # -- lifecycle ------------------------------------------------------------------------------------
    async def warm_up(self) -> None:
        """Load the model and the detectors of the tasks the knowledge base has; report it on /readyz."""

        def load(agent: BlueCodeAgent) -> tuple[str, ...]:
            tasks = tuple(t for t in agent.kb.stats()["by_task"] if t in PROMPT_TASKS)
            agent.warm_up(tasks)
            return tasks

        try:
            tasks = await self.worker.call(load)
            # The model, knowledge and detectors live as long as the process: keep them out of the
            # collector's full passes, which otherwise pause every request now and then.
            gc.collect()
            gc.freeze()
            self.ready_detail = f"ready: {', '.join(tasks) or 'no prompt tasks'}"
            self.ready.set()
        except Exception as e:  # reported by /readyz; requests will show the error too
            self.ready_detail = f"not ready: {type(e).__name__}: {e}"
            log.error(json.dumps({"event": "warm_up_failed", "error": self.ready_detail}))

    # -- engine work --------------------------------------------------------------------------------
    async def call(self, fn: Callable[[BlueCodeAgent], T], *, bounded: bool = True) -> T:
        """Run ``fn(agent)`` on the engine worker, with the check timeout (504) when ``bounded``."""
        fut = self.worker.call(fn)
        return await (self._wait(fut) if bounded else fut)

    async def check(self, text: str, task: str, context: str | None) -> Verdict:
        """Screen one prompt for one task: batched with concurrent checks, answered from the cache on repeats."""
        limit = self.agent.settings.max_input_bytes
        validate_text(text, limit, "text")
        if context is not None:
            validate_text(context, limit, "context")
        key = _cache_key(task, text, context) if self.config.verdict_cache_size else b""
        if key and (hit := self._cache.get(key)) is not None:
            self._cache.move_to_end(key)
            self.metrics.cache_hits.inc()
            return hit
        verdict = await self._wait(self.worker.check(task, text, context))
        if key:
            self._cache[key] = verdict
            if len(self._cache) > self.config.verdict_cache_size:
                self._cache.popitem(last=False)
        return verdict

    def knowledge_changed(self) -> None:
        """Forget cached verdicts (call on the event loop after an edit of the knowledge base)."""
        self._cache.clear()

    async def _wait(self, fut: asyncio.Future[T]) -> T:
        try:
            return await asyncio.wait_for(fut, self.config.check_timeout_s)
        except TimeoutError as e:  # the worker skips a timed-out job that has not started yet
            raise ServiceError(504, "timeout", f"the check took longer than {self.config.check_timeout_s:g} s") from e

    async def run(self, fn: Callable[[], T]) -> T:
        """Run CPU-bound work that needs no agent (code scans) in a bounded thread pool, with the timeout."""
        if self._limiter is None:  # CPU-bound: more threads than cores only thrash the GIL
            self._limiter = anyio.CapacityLimiter(max(2, os.cpu_count() or 2))
        try:
            with anyio.fail_after(self.config.check_timeout_s):
                return await anyio.to_thread.run_sync(fn, abandon_on_cancel=True, limiter=self._limiter)
        except TimeoutError as e:
            raise ServiceError(504, "timeout", f"the check took longer than {self.config.check_timeout_s:g} s") from e

    # -- keys and rate limits -------------------------------------------------------------------------
    def _take(self, name: str, rate: float, burst: int) -> bool:
        """Token bucket per key (the event loop is single-threaded, so no lock is needed)."""
        now = time.monotonic()
        tokens, last = self._buckets.get(name, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate)
        ok = tokens >= 1.0
        self._buckets[name] = (tokens - 1.0 if ok else tokens, now)
        return ok

    def require(self, scope: str) -> Callable[..., Awaitable[None]]:
        """A dependency enforcing ``Authorization: Bearer <key>`` with ``scope`` (no keys configured: open)."""
        if not self.keys:

            async def open_access() -> None:
                return None

            return open_access

        async def dependency(request: Request, cred: HTTPAuthorizationCredentials | None = BEARER_CREDENTIALS) -> None:
            token = cred.credentials.strip() if cred else ""
            match = next((k for v, k in self.keys.items() if token and hmac.compare_digest(v, token)), None)
            if match is None:
                raise ServiceError(401, "unauthorized", "missing or invalid API key (Authorization: Bearer <key>)")
            request.state.key_name = match.name
            if match.rate_per_s is not None and not self._take(match.name, match.rate_per_s, match.burst):
                raise ServiceError(429, "rate_limited", f"rate limit of {match.rate_per_s:g} requests/s exceeded")
            if scope not in match.scopes and "admin" not in match.scopes:
                raise ServiceError(403, "forbidden", f"this key lacks the {scope!r} scope")

        return dependency


def _cache_key(task: str, text: str, context: str | None) -> bytes:
    h = hashlib.sha256(task.encode())
    for part in (text, context):
        h.update(b"\x00" if part is None else b"\x01" + len(part).to_bytes(8, "big") + part.encode("utf-8", "replace"))
    return h.digest()


def log_verdicts(request: Request, verdicts: list[Verdict]) -> None:
    """Put the decisions (never the prompt) into the request's log line."""
    request.state.log = {"verdicts": [f"{v.task.value}:{v.decision.value}" for v in verdicts]}


def dump(model: Any) -> bytes:
    """JSON of a pydantic model, without FastAPI's second validation pass (checks are the hot path)."""
    return model.model_dump_json().encode()
