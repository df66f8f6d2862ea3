"""A JSONL trace of everything a verdict asked a model (and ran in the sandbox), for people to audit.

Each verdict opens a *span*: a trace id held in a context variable while the verdict is worked
out. Every record written meanwhile (an LLM call, a sandbox run, a note) carries that id, and the
verdict carries it too (``Verdict.trace_id``), so ``grep <id> trace.jsonl`` shows how it was reached.

Records: ``{"trace_id", "time", "kind": "llm" | "sandbox" | ..., ...}``; an LLM record holds the
step (the schema name), model, messages, answer text, parsed data, tokens, cost, latency, attempts,
whether it came from the cache, or the error.
"""

from __future__ import annotations

import contextvars
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bluecodeagent.errors import ConfigError

_CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("bluecode_trace_id", default=None)


def current_trace_id() -> str | None:
    """The id of the span in progress in this thread or task (``None`` outside a span)."""
    return _CURRENT.get()


class Tracer:
    """Appends trace records to a JSONL file; with no file it only hands out ids (and records nothing)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._file = path.open("a", encoding="utf-8")
            except OSError as e:
                raise ConfigError(f"cannot write the trace file {path}: {e.strerror or e}") from e

    @property
    def enabled(self) -> bool:
        return self._file is not None

    @contextmanager
    def span(self) -> Iterator[str]:
        """A fresh trace id for the work done inside the ``with`` block (nested spans reuse the outer id)."""
        outer = _CURRENT.get()
        if outer is not None:
            yield outer
            return
        token = _CURRENT.set(uuid.uuid4().hex[:16])
        try:
            yield _CURRENT.get() or ""
        finally:
            _CURRENT.reset(token)

    def record(self, kind: str, **fields: Any) -> None:
        """Write one record tagged with the current span's id (no-op without a trace file)."""
        if self._file is None:
            return
        rec = {"trace_id": _CURRENT.get(), "time": round(time.time(), 3), "kind": kind, **fields}
        line = json.dumps(rec, ensure_ascii=False, default=str)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def read_trace(path: Path, trace_id: str | None = None) -> list[dict[str, Any]]:
    """The records of a trace file (only those of ``trace_id`` when given)."""
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in records if trace_id is None or r.get("trace_id") == trace_id]
