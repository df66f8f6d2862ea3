"""Shared fixtures: the real embedder, a tiny hand-written knowledge base, and the shipped one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from llm.scripted_openai_server import llm_settings, scripted_llm  # noqa: F401 (fixtures of the LLM tests)
from postgres_server import pg_server, pg_url  # noqa: F401 (fixtures of the PostgreSQL tests)
from ray_cluster import ray_address  # noqa: F401 (the Ray tests' local cluster)
from tiny_knowledge import tiny_items


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's real knowledge base or config from a test."""
    monkeypatch.setenv("BLUECODE_HOME", str(tmp_path_factory.getbasetemp() / "home"))
    monkeypatch.delenv("BLUECODE_CONFIG", raising=False)


@pytest.fixture(scope="session")
def embedder():
    from bluecodeagent.knowledge.embedders import get_embedder

    return get_embedder()


@pytest.fixture
def tiny_kb_path(tmp_path: Path, embedder) -> Path:
    from bluecodeagent.knowledge.builder import build_kb

    path = tmp_path / "tiny.sqlite"
    build_kb(path, tiny_items(), embedder).close()
    return path


@pytest.fixture(scope="session")
def shipped_kb_path(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """The real shipped knowledge base, built once per test session (about a minute).

    Developers may set ``BLUECODE_TEST_KB_CACHE`` to a folder: the base is kept there, refreshed
    incrementally when the shipped knowledge changes, and copied for the session. CI leaves it unset.
    """
    from bluecodeagent.config import Settings
    from bluecodeagent.kb_open import build_shipped_kb, open_kb

    path = tmp_path_factory.mktemp("shipped") / "knowledge.sqlite"
    if cache := os.environ.get("BLUECODE_TEST_KB_CACHE"):
        cached = Path(cache) / "knowledge.sqlite"
        cached.parent.mkdir(parents=True, exist_ok=True)
        open_kb(Settings(kb_path=cached), auto_build=True, embedder=embedder).close()
        shutil.copyfile(cached, path)
        return path
    build_shipped_kb(path, embedder).close()
    return path
