"""A real PostgreSQL with pgvector for the tests: one server per session (pgserver), one database per test."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_names = itertools.count()


def start_server(data_dir: Path) -> Any:
    """Start PostgreSQL in ``data_dir`` (skips the test with the reason when it genuinely cannot start)."""
    try:
        import pgserver
        import psycopg  # noqa: F401
    except ImportError as e:
        pytest.skip(f"PostgreSQL tests need the postgres extra (pgserver, psycopg, pgvector): {e}")
    try:
        return pgserver.get_server(str(data_dir), cleanup_mode="stop")
    except Exception as e:  # pgserver raises its own errors for a failed initdb/start
        pytest.skip(f"PostgreSQL (pgserver) cannot start here: {type(e).__name__}: {e}")


def fresh_database(server: Any) -> str:
    """A new empty database on ``server``; returns its URL."""
    import psycopg

    name = f"kb_test_{os.getpid()}_{next(_names)}"
    admin = server.get_uri()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.replace("/postgres?", f"/{name}?", 1)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    server = start_server(tmp_path_factory.mktemp("pg") / "data")
    yield server
    server.cleanup()


@pytest.fixture
def pg_url(pg_server: Any) -> str:
    """The URL of a new empty database (tests never share one)."""
    return fresh_database(pg_server)
