"""Fixtures of the server tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


@pytest.fixture(scope="package")
def tiny_kb_shared(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """The tiny malicious-only knowledge base of tests/conftest.py, built once for the server tests."""
    from bluecodeagent.knowledge.builder import build_kb

    spec = importlib.util.spec_from_file_location("_bluecode_root_conftest", Path(__file__).parents[1] / "conftest.py")
    assert spec and spec.loader
    root = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root)
    path = tmp_path_factory.mktemp("server-kb") / "tiny.sqlite"
    build_kb(path, root.tiny_items(), embedder).close()
    return path
