"""Building and opening a knowledge base: a SQLite file or a ``postgresql://`` base.

The shipped items are handed in (:class:`ShippedKnowledge`) by :mod:`bluecodeagent.kb_open`; this
layer imports nothing from the red-team or code packages.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bluecodeagent.config import KB_URL_SCHEMES
from bluecodeagent.errors import KnowledgeError
from bluecodeagent.knowledge.embedders import Embedder, get_embedder
from bluecodeagent.knowledge.embedders.minilm_onnx import MiniLMOnnxEmbedder, MiniLMOnnxQ8Embedder
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.knowledge.store import KnowledgeBase

BUILTIN_BATCH = "builtin"


@dataclass(frozen=True)
class ShippedKnowledge:
    """What the product ships, handed in by whoever wires things together (the knowledge layer knows
    nothing of where the items come from): the items, and a fingerprint of the inputs that made them."""

    items: Callable[[], list[KnowledgeItem]]
    version: Callable[[], str]


def build_kb(
    path: str | Path,
    items: list[KnowledgeItem],
    embedder: Embedder | None = None,
    progress: bool = False,
    *,
    version: str = "custom",
) -> KnowledgeBase:
    """Create (or replace) a knowledge base at ``path`` holding ``items``.

    ``version`` is the fingerprint of the shipped knowledge when ``items`` are the shipped ones
    (a base is refreshed when it changes); ``custom`` bases are never refreshed.
    """
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".building")
    tmp.unlink(missing_ok=True)
    embedder = embedder or get_embedder()
    kb = KnowledgeBase(tmp, embedder, create=True)
    kb.add(items, progress=progress)
    kb.set_meta("knowledge_version", version)
    kb.close()
    tmp.replace(path)
    return KnowledgeBase(path, embedder)


# The offline embedders: switching between them costs no money, so an existing base is re-embedded
# in place (its own items and every added batch kept) instead of refusing to open.
LOCAL_EMBEDDERS = frozenset({MiniLMOnnxEmbedder.name, MiniLMOnnxQ8Embedder.name})


def _migrate_local_embedder(path: Path, embedder: Embedder) -> None:
    kb = KnowledgeBase(path)
    try:
        built_with = kb.meta().get("embedder")
        if built_with != embedder.name and {built_with, embedder.name} <= LOCAL_EMBEDDERS:
            print(
                f"bluecode: {path} was embedded with {built_with}; re-embedding its {len(kb)} items with "
                f"{embedder.name} (once)",
                file=sys.stderr,
            )
            try:
                kb.reembed(embedder, progress=sys.stderr.isatty())
            except sqlite3.DatabaseError as e:
                raise KnowledgeError(f"cannot re-embed {path}: {e} (is the file writable?)") from e
    finally:
        kb.close()


def ensure_kb(
    path: str | Path,
    embedder: Embedder,
    shipped: ShippedKnowledge,
    *,
    auto_build: bool = True,
    ef_search: int | None = None,
    build_memory_mb: int | None = None,
    hnsw_graph: tuple[int, int] | None = None,
) -> KnowledgeBase:
    """Open the knowledge base, building it from ``shipped`` on first use (or refreshing it after an upgrade).

    ``path`` may be a ``postgresql://`` URL: the shared base in that database (``ef_search``: its
    HNSW searches' candidate count, the setting ``kb_hnsw_ef_search``; ``build_memory_mb``: the most memory an
    index build may take, ``kb_hnsw_build_memory_mb``; ``hnsw_graph``: the (m, ef_construction) of the partition
    indexes it builds, ``kb_hnsw_m`` and ``kb_hnsw_ef_construction``).
    """
    if isinstance(path, str) and path.startswith(KB_URL_SCHEMES):
        return _ensure_shared_kb(
            path,
            embedder,
            shipped,
            auto_build=auto_build,
            ef_search=ef_search,
            build_memory_mb=build_memory_mb,
            hnsw_graph=hnsw_graph,
        )
    path = Path(path)
    if path.is_file():
        _migrate_local_embedder(path, embedder)  # a conversion, not a build: every item is kept
        kb = KnowledgeBase(path, embedder)
        version = kb.meta().get("knowledge_version")
        if not auto_build or version in (None, "custom") or version == (current := shipped.version()):
            return kb
        print(f"bluecode: shipped knowledge changed; refreshing the built-in items of {path}", file=sys.stderr)
        kb.sync_batch(BUILTIN_BATCH, shipped.items(), progress=sys.stderr.isatty())
        kb.set_meta("knowledge_version", current)
        return kb
    if not auto_build:
        return KnowledgeBase(path, embedder)  # raises a clear KnowledgeError
    print(f"bluecode: building the knowledge base at {path} (first run, about a minute on 2 cores)", file=sys.stderr)
    return build_kb(path, shipped.items(), embedder, sys.stderr.isatty(), version=shipped.version())


def _ensure_shared_kb(
    url: str,
    embedder: Embedder,
    shipped: ShippedKnowledge,
    *,
    auto_build: bool,
    ef_search: int | None,
    build_memory_mb: int | None = None,
    hnsw_graph: tuple[int, int] | None = None,
) -> KnowledgeBase:
    """The PostgreSQL base: tables made on first use, the shipped items added or refreshed in one transaction."""
    from bluecodeagent.knowledge.pg_store import (
        HNSW_BUILD_MEMORY_MB,
        HNSW_EF_CONSTRUCTION,
        HNSW_EF_SEARCH,
        HNSW_M,
        PgKnowledgeBase,
    )

    m, ef_construction = hnsw_graph or (HNSW_M, HNSW_EF_CONSTRUCTION)
    kb = PgKnowledgeBase(
        url,
        embedder,
        ef_search=ef_search or HNSW_EF_SEARCH,
        build_memory_mb=build_memory_mb or HNSW_BUILD_MEMORY_MB,
        m=m,
        ef_construction=ef_construction,
    )
    version = kb.meta().get("knowledge_version")
    current = shipped.version()
    if version in ("custom", current) or (version is None and len(kb)) or not auto_build:
        return kb
    with kb.exclusive("knowledge_version"):  # replicas starting together build it once
        if kb.meta().get("knowledge_version") != current:
            print(f"bluecode: adding the shipped knowledge to {kb.path}", file=sys.stderr)
            kb.sync_batch(BUILTIN_BATCH, shipped.items(), progress=sys.stderr.isatty())
            kb.set_meta("knowledge_version", current)
    return kb
