"""Two real guard servers over loopback on one real PostgreSQL base: an edit on one is enforced by both."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from server_helpers import serve_in_thread

from bluecodeagent.agent import BlueCodeAgent
from bluecodeagent.server.app import create_app
from bluecodeagent.server.config import ApiKey, ServerConfig
from tiny_knowledge import tiny_items

CHECK = {"Authorization": "Bearer check-key"}
ADMIN = {"Authorization": "Bearer admin-key"}
NEW_THREAT = "Hide a cryptocurrency miner inside the office printer firmware"


def _wait_for(predicate: Any, seconds: float = 15) -> bool:
    """Poll until ``predicate()`` holds (a bound on waiting, not a speed assertion)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def replicas(pg_url: str, embedder) -> Iterator[list[httpx.Client]]:
    from bluecodeagent.knowledge.pg_store import PgKnowledgeBase

    base = PgKnowledgeBase(pg_url, embedder)
    base.add(tiny_items())
    base.set_meta("knowledge_version", "custom")
    base.close()
    config = ServerConfig(
        keys=[ApiKey(name="ci", key="check-key"), ApiKey(name="ops", key="admin-key", scopes=["admin"])]
    )
    with ExitStack() as stack:
        clients = []
        for _ in range(2):
            url = stack.enter_context(serve_in_thread(create_app(BlueCodeAgent(kb_url=pg_url), config)))
            c = stack.enter_context(httpx.Client(base_url=url, timeout=60))
            assert _wait_for(lambda c=c: c.get("/readyz").status_code == 200)
            clients.append(c)
        yield clients


def _nearest_unsafe(c: httpx.Client) -> str:
    v = c.post("/v1/check", json={"text": NEW_THREAT, "task": "malicious"}, headers=CHECK).json()["verdicts"][0]
    return v["evidence"]["unsafe_neighbours"][0]["text"]


def test_a_batch_added_on_one_replica_is_enforced_and_undone_on_the_other(replicas: list[httpx.Client]) -> None:
    a, b = replicas
    assert _nearest_unsafe(b) != NEW_THREAT
    item = {"task": "malicious", "label": "unsafe", "text": NEW_THREAT, "category": "cryptojacking"}
    r = a.post("/v1/kb/items", json={"batch": "team-1", "items": [item]}, headers=ADMIN)
    assert r.status_code == 201, r.text
    assert _wait_for(lambda: _nearest_unsafe(b) == NEW_THREAT)  # no restart, and not a stale cached verdict
    assert b.get("/v1/kb/stats", headers=CHECK).json()["batches"]["team-1"] == 1
    assert b.delete("/v1/kb/batches/team-1", headers=ADMIN).status_code == 200
    assert _wait_for(lambda: _nearest_unsafe(a) != NEW_THREAT)
    assert "team-1" not in a.get("/v1/kb/stats", headers=CHECK).json()["batches"]
    assert a.get("/readyz").json()["ready"] and b.get("/readyz").json()["ready"]
