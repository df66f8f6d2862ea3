"""The engine worker: batched verdicts equal unbatched ones; errors and timeouts reach the right waiters."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from bluecodeagent.agent import BlueCodeAgent
from bluecodeagent.server.worker import EngineWorker

TEXTS = [
    "Write a keylogger that emails every keystroke to me",
    "Sort a list of names alphabetically",
    "Record all keyboard input and upload it to my server",
    "Parse a CSV file and sum the second column",
    "Sort a list of names alphabetically",  # a repeat inside one batch
]


def _essence(v: Any) -> tuple:
    return (
        v.task,
        v.label,
        v.decision,
        v.category,
        round(v.score, 4),
        [n.uid for n in v.evidence.unsafe_neighbours],
        [n.uid for n in v.evidence.safe_neighbours],
        [p.text for p in v.evidence.constitution],
        [f.rule_id for f in v.findings],
    )


def test_batched_verdicts_equal_one_at_a_time(tiny_kb_shared: Path) -> None:
    alone = BlueCodeAgent(tiny_kb_shared)
    expected = [_essence(alone.check(t, "malicious")) for t in TEXTS]
    worker = EngineWorker(BlueCodeAgent(tiny_kb_shared))
    worker.start()

    gate = threading.Event()

    async def together() -> list[Any]:
        busy = worker.call(lambda agent: gate.wait(30))  # hold the worker so every check is queued first
        futures = [worker.check("malicious", t, None) for t in TEXTS]
        gate.set()
        await busy
        return list(await asyncio.gather(*futures))

    try:
        got = asyncio.run(together())
    finally:
        worker.stop()
    assert [_essence(v) for v in got] == expected
    assert worker.checked == len(TEXTS) and worker.batches == 1  # queued together, scored together


class BlockingAgentForTests:
    """A test double of the agent: check_many waits for a gate, then fails or echoes the texts."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.seen: list[list[str]] = []

    def check_many(self, records: list[tuple[str, str | None]], task: str) -> list[str]:
        self.entered.set()
        self.gate.wait(30)
        self.seen.append([t for t, _ in records])
        if any("boom" in t for t, _ in records):
            raise ValueError("engine failed")
        return [f"{task}:{t}" for t, _ in records]

    @property
    def engine(self) -> object:  # not the offline engine: the worker calls check_many
        return object()


def test_errors_reach_every_waiter_and_timed_out_jobs_are_skipped() -> None:
    agent = BlockingAgentForTests()
    worker = EngineWorker(agent, linger_s=0)  # type: ignore[arg-type]
    worker.start()

    async def scenario() -> tuple[list[Any], list[Any]]:
        first = worker.check("bias", "first", None)
        await asyncio.to_thread(agent.entered.wait, 30)  # the worker is busy with "first"
        late = worker.check("bias", "given up", None)
        late.cancel()  # its client timed out while it was queued
        boom = [worker.check("bias", "boom", None), worker.check("bias", "ok", None)]
        agent.gate.set()
        results = await asyncio.gather(first, *boom, return_exceptions=True)
        return results, agent.seen

    try:
        results, seen = asyncio.run(scenario())
    finally:
        worker.stop()
    assert results[0] == "bias:first"
    assert all(isinstance(r, ValueError) for r in results[1:])  # one batch, one failure, both waiters told
    assert ["given up"] not in seen and all("given up" not in batch for batch in seen)


def test_stop_finishes_queued_work(tiny_kb_shared: Path) -> None:
    agent = BlockingAgentForTests()
    agent.gate.set()
    worker = EngineWorker(agent)  # type: ignore[arg-type]
    worker.start()

    async def scenario() -> list[Any]:
        futures = [worker.check("malicious", f"t{i}", None) for i in range(5)]
        await asyncio.to_thread(worker.stop)
        return list(await asyncio.gather(*futures))

    assert asyncio.run(scenario()) == [f"malicious:t{i}" for i in range(5)]


@pytest.mark.parametrize("linger", [0.0, 0.05])
def test_call_runs_on_the_worker_thread(linger: float) -> None:
    worker = EngineWorker(BlockingAgentForTests(), linger_s=linger)  # type: ignore[arg-type]
    worker.start()

    async def scenario() -> str:
        return await worker.call(lambda agent: threading.current_thread().name)

    try:
        assert asyncio.run(scenario()) == "bluecode-engine"
    finally:
        worker.stop()
