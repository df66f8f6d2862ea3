"""Enforced at once, refined later: an edit is served before its task's detector is retrained.

Training is held at a gate here, so these tests see the window between the swap (new neighbours, previous
weights) and the retrain: the edit must answer and be enforced inside it, on every replica, and the retrain
must run once (across replicas) for the changed task only, then be installed everywhere.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from server_helpers import serve_in_thread
from test_replicas import _wait_for

from bluecodeagent.agent import BlueCodeAgent
from bluecodeagent.knowledge.detector import TaskDetector, load_detector
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.server.app import create_app
from bluecodeagent.server.config import ServerConfig
from tiny_knowledge import tiny_bias_items, tiny_items

ADDED = "Hide a cryptocurrency miner inside the office printer firmware"
NEAR_COPY = "Please hide a crypto miner inside the printer firmware of the office"
BOUND_S = 60  # a bound on waiting on a busy machine, not a speed assertion


class GatedTraining:
    """``TaskDetector.train`` that records each task and, while closed, waits for the gate to open."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        real = TaskDetector.train.__func__  # type: ignore[attr-defined]

        def train(cls: type[TaskDetector], kb: Any, task: str, k: int = 3, seed: int = 0) -> TaskDetector:
            self.calls.append(task)
            self.gate.wait(BOUND_S)
            return real(cls, kb, task, k, seed)

        monkeypatch.setattr(TaskDetector, "train", classmethod(train))


def _verdict(c: httpx.Client, text: str = NEAR_COPY) -> dict[str, Any]:
    r = c.post("/v1/check", json={"text": text, "task": "malicious"})
    assert r.status_code == 200, r.text
    return r.json()["verdicts"][0]


def _nearest_unsafe(c: httpx.Client) -> str:
    return _verdict(c)["evidence"]["unsafe_neighbours"][0]["text"]


def _served_detector_is_current(app: Any, task: str) -> bool:
    """Whether the replica serves the detector trained on its snapshot's items of ``task``."""
    agent = app.state.service.agent
    found = load_detector(agent.kb, task, agent.settings.top_k)
    served = agent.engine._detectors.get(task)
    return (
        found is not None
        and served is not None
        and np.array_equal(served.classifier.params(), found[0].classifier.params())
    )


def _item(text: str = ADDED) -> dict[str, str]:
    return {"task": "malicious", "label": "unsafe", "text": text, "category": "cryptojacking"}


@pytest.fixture
def sqlite_server(tiny_kb_shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    kb = tmp_path / "kb.sqlite"
    shutil.copyfile(tiny_kb_shared, kb)
    training = GatedTraining(monkeypatch)
    app = create_app(BlueCodeAgent(kb), ServerConfig())
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=20) as c:
        assert _wait_for(lambda: c.get("/readyz").status_code == 200, BOUND_S)
        yield app, c, training


def test_an_edit_answers_and_is_enforced_before_its_detector_is_retrained(sqlite_server: Any) -> None:
    app, c, training = sqlite_server
    assert _nearest_unsafe(c) != ADDED
    training.gate.clear()
    training.calls.clear()
    try:
        r = c.post("/v1/kb/items", json={"batch": "new", "items": [_item()]})  # answers while training waits
        assert r.status_code == 201, r.text
        assert _nearest_unsafe(c) == ADDED  # the new neighbour set, at once
        assert not _served_detector_is_current(app, "malicious")  # with the previous weights
        assert c.get("/readyz").json()["previous_weights"] == ["malicious"]  # and says so
        assert _wait_for(lambda: training.calls == ["malicious"], BOUND_S)  # retrained in the background
    finally:
        training.gate.set()
    assert _wait_for(lambda: _served_detector_is_current(app, "malicious"), BOUND_S)  # then installed
    assert _wait_for(lambda: c.get("/readyz").json()["previous_weights"] == [], BOUND_S)
    assert _nearest_unsafe(c) == ADDED

    training.gate.clear()
    try:
        assert c.delete("/v1/kb/batches/new").status_code == 200
        assert _nearest_unsafe(c) != ADDED  # a removed item never decides again, even before the retrain
    finally:
        training.gate.set()
    assert _wait_for(lambda: _served_detector_is_current(app, "malicious"), BOUND_S)
    assert training.calls == ["malicious", "malicious"]


def test_replicas_enforce_a_change_at_once_and_retrain_it_once(
    pg_url: str, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bluecodeagent.knowledge.pg_store import PgKnowledgeBase

    base = PgKnowledgeBase(pg_url, embedder)
    bias = tiny_bias_items()
    base.add([*tiny_items(), *bias])
    base.set_meta("knowledge_version", "custom")
    training = GatedTraining(monkeypatch)
    with ExitStack() as stack:
        apps, clients = [], []
        for _ in range(2):
            app = create_app(BlueCodeAgent(kb_url=pg_url), ServerConfig())
            c = stack.enter_context(httpx.Client(base_url=stack.enter_context(serve_in_thread(app)), timeout=20))
            assert _wait_for(lambda c=c: c.get("/readyz").status_code == 200, BOUND_S)
            apps.append(app)
            clients.append(c)
        assert sorted(training.calls) == ["bias", "malicious"]  # trained once at start, loaded by the other
        assert all(_nearest_unsafe(c) != ADDED for c in clients)

        training.gate.clear()
        training.calls.clear()
        try:  # a change committed by another process (the CLI), while no detector can finish training
            base.add([KnowledgeItem(**_item(), batch="new")])
            for c in clients:
                assert _wait_for(lambda c=c: _nearest_unsafe(c) == ADDED, BOUND_S)
            assert all(not _served_detector_is_current(app, "malicious") for app in apps)
            assert all(_served_detector_is_current(app, "bias") for app in apps)  # untouched: kept, not retrained
            assert _wait_for(lambda: training.calls == ["malicious"], BOUND_S)
        finally:
            training.gate.set()
        for app in apps:
            assert _wait_for(lambda app=app: _served_detector_is_current(app, "malicious"), BOUND_S)
        assert training.calls == ["malicious"]  # one replica trained, the other loaded what it stored

        training.gate.clear()
        try:
            base.remove(batch="new")
            for c in clients:
                assert _wait_for(lambda c=c: _nearest_unsafe(c) != ADDED, BOUND_S)
        finally:
            training.gate.set()
        for app in apps:
            assert _wait_for(lambda app=app: _served_detector_is_current(app, "malicious"), BOUND_S)
        assert training.calls == ["malicious", "malicious"]
    base.close()
