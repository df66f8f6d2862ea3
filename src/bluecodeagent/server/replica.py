"""Keep a replica in step with a shared (PostgreSQL) knowledge base.

A thread LISTENs on the base's channel (and polls once a second, in case a notification is missed);
when the database's generation differs from the one this replica holds, a fresh agent is built on this
thread, then swapped in on the engine worker: checks keep being answered from the previous snapshot
meanwhile and never see a half-loaded base. The fresh agent serves the new snapshot at once with the
previous weights of the detectors whose task changed; they are retrained (once across the replicas) in
the background and installed when stored (``refine_detectors``). If the database goes away the
replica keeps serving its snapshot and ``/readyz`` says so; it catches up when the database returns.
While the follower is busy loading a change (a first training can take a minute), a watchdog thread pings
the database once a second, so an outage in that time still reaches ``/readyz``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from typing import Any

from bluecodeagent.server.knowledge import fresh_agent, refine_detectors, swap_agent

log = logging.getLogger("bluecodeagent.server")
POLL_S = 1.0


class ReplicaFollower:
    """Reloads the service's agent when the shared base changes; reports the database's state."""

    def __init__(self, svc: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.svc, self.loop = svc, loop
        self.database_ok = True
        self._busy = threading.Event()  # set while the follower loads a change
        self._state = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kb-follower", daemon=True)
        self._watchdog = threading.Thread(target=self._watch, name="kb-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._watchdog.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._watchdog.join(5)

    def _watch(self) -> None:
        """While the follower is busy, ping the database on a connection of its own and report what it finds."""
        from bluecodeagent.knowledge.pg_store import connect

        url = self.svc.agent.settings.kb_url
        conn = None
        while not self._stop.wait(POLL_S):
            if not self._busy.is_set():
                continue
            try:
                conn = conn if conn is not None and not conn.closed and not conn.broken else connect(url)
                conn.execute("SELECT 1")
                if self._busy.is_set():  # the follower may have seen the outage itself meanwhile
                    self._set_database(True)
            except Exception as e:
                with contextlib.suppress(Exception):
                    if conn is not None:
                        conn.close()
                conn = None
                self._set_database(False, f"{type(e).__name__}: {e}")
        if conn is not None:
            conn.close()

    def _run(self) -> None:
        from bluecodeagent.knowledge.pg_store import CHANNEL, connect

        url = self.svc.agent.settings.kb_url
        while not self._stop.is_set():
            try:
                conn = connect(url)
                conn.execute(f"LISTEN {CHANNEL}")
                self._set_database(True)
                with contextlib.closing(conn):
                    while not self._stop.is_set():
                        self._catch_up(conn)
                        for _ in conn.notifies(timeout=POLL_S, stop_after=1):
                            pass
            except Exception as e:  # the database went away: keep serving, retry
                self._set_database(False, f"{type(e).__name__}: {e}")
                self._stop.wait(POLL_S)

    def _catch_up(self, conn: Any) -> None:
        row = conn.execute("SELECT value FROM kb_meta WHERE key = 'generation'").fetchone()
        if not self.svc.ready.is_set():  # the warm-up loads the first snapshot
            return
        if int(row[0]) != getattr(self.svc.agent._kb, "generation", -1):
            self._busy.set()
            try:  # built here, off the engine worker: checks keep being answered meanwhile
                self._load()
            finally:
                self._busy.clear()

    def _load(self) -> None:
        """Build a fresh agent over the base as it is now and swap it in (then refine its detectors)."""
        fresh, previous = fresh_agent(self.svc.agent)
        swap = self.svc.call(lambda agent: swap_agent(self.svc, agent, fresh), bounded=False)
        served = asyncio.run_coroutine_threadsafe(swap, self.loop).result()
        self.loop.call_soon_threadsafe(self.svc.knowledge_changed)
        if served is fresh:
            refine_detectors(self.svc, fresh, previous, self.loop)

    def _set_database(self, ok: bool, error: str = "") -> None:
        with self._state:  # the follower and the watchdog both report
            if ok == self.database_ok:
                return
            self.database_ok = ok
            if ok:
                self.svc.ready_detail = self.svc.ready_detail.split(" (knowledge database", 1)[0]
            else:
                self.svc.ready_detail += " (knowledge database unreachable: serving the last snapshot)"
        log.warning(json.dumps({"event": "kb_database", "ok": ok, "error": error}))


def follow(svc: Any) -> ReplicaFollower | None:
    """Start following the shared base when the service's knowledge base is in PostgreSQL."""
    if not svc.agent.settings.kb_url:
        return None
    follower = ReplicaFollower(svc, asyncio.get_running_loop())
    follower.start()
    return follower
