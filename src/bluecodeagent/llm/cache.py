"""A disk cache of model answers keyed by the content of the request, so re-runs cost nothing.

The key is a SHA-256 over the backend name (which includes the model), the messages, the schema
and the sampling parameters. Only answers that parsed and validated are stored. One SQLite file,
safe to share between threads of one process and between processes.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from bluecodeagent.llm.backend import Completion, LLMError, Message


def request_key(
    backend: str,
    messages: list[Message],
    schema: dict[str, Any] | None,
    schema_name: str,
    temperature: float | None,
    max_tokens: int | None,
) -> str:
    """The content hash that identifies one request."""
    payload = {
        "backend": backend,
        "messages": [m.model_dump() for m in messages],
        "schema": schema,
        "schema_name": schema_name,
        "temperature": temperature,
        "max_tokens": max_tokens,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class CompletionCache:
    """``get``/``put`` completions by request key in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS completions (key TEXT PRIMARY KEY, completion TEXT NOT NULL, "
                "created REAL NOT NULL)"
            )
            self._db.commit()
        except (OSError, sqlite3.Error) as e:
            raise LLMError(f"cannot open the LLM answer cache {path}: {e}") from e
        self._lock = threading.Lock()

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute("SELECT completion FROM completions WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return Completion.model_validate_json(row[0])
        except ValueError:
            return None  # written by an incompatible version: ask again

    def put(self, key: str, completion: Completion) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO completions (key, completion, created) VALUES (?, ?, ?)",
                (key, completion.model_dump_json(), time.time()),
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
