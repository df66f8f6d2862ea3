"""Fixtures of the server tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="package")
def tiny_kb_shared(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """The tiny malicious-only knowledge base of tests/conftest.py, built once for the server tests."""
    from bluecodeagent.knowledge.builder import build_kb
    from tiny_knowledge import tiny_items

    path = tmp_path_factory.mktemp("server-kb") / "tiny.sqlite"
    build_kb(path, tiny_items(), embedder).close()
    return path
