"""The engine worker: one thread owns the agent and screens queued prompts in batches.

Requests queue prompt checks from the event loop; the thread takes everything queued at that moment,
groups it by task and scores each group with one batched embedding call (``check_many``), then
resolves the waiting futures in one hop back to the loop. Other agent work (knowledge-base reads
and edits) goes through the same queue, so the model and the knowledge base are only ever used by
this thread. A request that timed out before its turn is skipped, not computed.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bluecodeagent.agent import BlueCodeAgent
from bluecodeagent.tasks import get_task
from bluecodeagent.verdict import Verdict

log = logging.getLogger("bluecodeagent.server")
MAX_BATCH = 32


@dataclass
class _Check:
    task: str
    text: str
    context: str | None
    future: asyncio.Future[Verdict]


@dataclass
class _Call:
    fn: Callable[[BlueCodeAgent], Any]
    future: asyncio.Future[Any]


@dataclass
class _Stop:
    done: threading.Event = field(default_factory=threading.Event)


class EngineWorker:
    """A dedicated thread that runs every piece of agent work, batching prompt checks per task."""

    def __init__(
        self,
        agent: BlueCodeAgent,
        max_batch: int = MAX_BATCH,
        on_batch: Callable[[int], None] | None = None,
        linger_s: float = 0.004,
    ) -> None:
        self.agent = agent
        self.max_batch = max_batch
        self.on_batch = on_batch
        self.linger_s = linger_s
        self._recent: deque[int] = deque([1], maxlen=8)  # sizes of the latest batches
        self._queue: queue.SimpleQueue[_Check | _Call | _Stop] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.checked = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="bluecode-engine", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the queued work, then end the thread."""
        if self._thread is None:
            return
        stop = _Stop()
        self._queue.put(stop)
        stop.done.wait(timeout)
        self._thread = None

    def check(self, task: str, text: str, context: str | None) -> asyncio.Future[Verdict]:
        """Queue one prompt check (call from the event loop); the future resolves with its verdict."""
        fut: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self._queue.put(_Check(task, text, context, fut))
        return fut

    def call(self, fn: Callable[[BlueCodeAgent], Any]) -> asyncio.Future[Any]:
        """Queue ``fn(agent)`` (call from the event loop); the future resolves with its result."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put(_Call(fn, fut))
        return fut

    # -- the thread ---------------------------------------------------------------------------------
    def _take(self) -> list[_Check | _Call | _Stop]:
        """The next jobs: everything queued now, and under concurrent load a short wait for more.

        While recent batches had several prompts (concurrent clients), the thread waits up to
        ``linger_s`` for as many jobs as the largest recent batch: requests of concurrent clients
        arrive a few hundred microseconds apart, and one batch of eight embeds much faster than
        eight batches of one. A lone client never waits.
        """
        jobs = [self._queue.get()]
        want = max(self._recent)
        deadline = time.monotonic() + self.linger_s
        while len(jobs) < 4 * self.max_batch:
            try:
                jobs.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            left = deadline - time.monotonic()
            if len(jobs) >= want or left <= 0:
                break
            try:
                jobs.append(self._queue.get(timeout=left))
            except queue.Empty:
                break
        return jobs

    def _loop(self) -> None:
        while True:
            jobs = self._take()
            stop = next((j for j in jobs if isinstance(j, _Stop)), None)
            self._run([j for j in jobs if not isinstance(j, _Stop)])
            if stop is not None:
                while True:  # work queued after the stop signal still gets an answer
                    try:
                        rest = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if not isinstance(rest, _Stop):
                        self._run([rest])
                stop.done.set()
                return

    def _run(self, jobs: list[_Check | _Call]) -> None:
        groups: dict[str, list[_Check]] = {}
        for job in jobs:
            if job.future.done():  # cancelled or timed out while queued
                continue
            if isinstance(job, _Call):
                self._settle([(job.future, *self._attempt(job.fn))])
            else:
                groups.setdefault(job.task, []).append(job)
        known: dict[str, Any] = {}  # a text checked for several tasks (the proxy does) is embedded once
        for task, checks in groups.items():
            for start in range(0, len(checks), self.max_batch):
                batch = checks[start : start + self.max_batch]
                records = [(c.text, c.context) for c in batch]
                verdicts, error = self._attempt(lambda a, r=records, t=task: _check_many(a, r, t, known))
                self.batches += 1
                self.checked += len(batch)
                self._recent.append(len(batch))
                if self.on_batch is not None:
                    self.on_batch(len(batch))
                if error is not None:
                    self._settle([(c.future, None, error) for c in batch])
                else:
                    self._settle([(c.future, v, None) for c, v in zip(batch, verdicts, strict=True)])

    def _attempt(self, fn: Callable[[BlueCodeAgent], Any]) -> tuple[Any, Exception | None]:
        try:
            return fn(self.agent), None
        except Exception as e:  # handed to the waiting request, which maps it to an HTTP error
            return None, e

    @staticmethod
    def _settle(results: list[tuple[asyncio.Future[Any], Any, Exception | None]]) -> None:
        """Resolve futures on their event loop, in one call for the whole batch."""
        if not results:
            return

        def resolve() -> None:
            for fut, value, error in results:
                if fut.done():
                    continue
                if error is not None:
                    fut.set_exception(error)
                else:
                    fut.set_result(value)

        loop = results[0][0].get_loop()
        try:
            loop.call_soon_threadsafe(resolve)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            log.debug("engine worker: event loop closed before results were delivered")


def _check_many(
    agent: BlueCodeAgent, records: list[tuple[str, str | None]], task: str, known: dict[str, Any]
) -> list[Verdict]:
    """``agent.check_many``, sharing embeddings across the tasks of one round with the offline engine."""
    from bluecodeagent.engines.offline import OfflineEngine

    engine = agent.engine
    if isinstance(engine, OfflineEngine):
        get_task(task)  # the texts were validated when the requests were queued
        return engine.check_many(records, task, known)
    return agent.check_many(records, task)
