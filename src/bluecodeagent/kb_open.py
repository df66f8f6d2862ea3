"""Opening the knowledge base from the settings: the one place every caller goes through.

This module wires the knowledge layer (:mod:`bluecodeagent.knowledge`, which stands alone) to the
product's own generators: it hands the builder the shipped items (rendered by
:mod:`bluecodeagent.redteam` from the policies and CWE cards, never from benchmark data) and their
fingerprint. Both backends are handled: a SQLite file and a ``postgresql://`` base (``kb_url``).
"""

from __future__ import annotations

import contextlib
import hashlib
from importlib import metadata, resources
from typing import TYPE_CHECKING

from bluecodeagent.knowledge.builder import ShippedKnowledge, build_kb, ensure_kb
from bluecodeagent.knowledge.embedders import Embedder, get_embedder

if TYPE_CHECKING:
    from pathlib import Path

    from bluecodeagent.config import Settings
    from bluecodeagent.knowledge.item import KnowledgeItem
    from bluecodeagent.knowledge.store import KnowledgeBase

# Only the red-team modules that render shipped items (not optimisation, mutators, loop, ...).
SHIPPED_GENERATORS = ("generate.py", "paraphrase.py", "vulns.py")


def knowledge_version() -> str:
    """A fingerprint of the shipped policies, cards and generators: a base built from other inputs is refreshed."""
    h = hashlib.sha256()
    with contextlib.suppress(metadata.PackageNotFoundError):
        h.update(metadata.version("bluecodeagent").encode())
    root = resources.files("bluecodeagent")
    for rel in ("knowledge/policies", "knowledge/cards"):
        folder = root.joinpath(rel)
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith((".toml", ".py")):
                h.update(entry.name.encode())
                h.update(entry.read_bytes())
    for name in SHIPPED_GENERATORS:
        entry = root.joinpath("redteam", name)
        h.update(name.encode())
        h.update(entry.read_bytes())
    return h.hexdigest()[:16]


def default_items(tasks: list[str] | None = None) -> list[KnowledgeItem]:
    """The items the product generates from its policies and CWE cards (all tasks, or ``tasks``)."""
    from bluecodeagent.redteam.generate import builtin_items
    from bluecodeagent.redteam.vulns import vulnerable_pairs

    items = builtin_items(tasks)
    if tasks is None or "vulnerability" in tasks:
        items += vulnerable_pairs()
    return items


SHIPPED = ShippedKnowledge(items=default_items, version=knowledge_version)


def settings_embedder(settings: Settings) -> Embedder:
    """The embedder the settings name (built once per process)."""
    return get_embedder(settings.embedder, settings.embedder_model)


def open_kb(settings: Settings, *, auto_build: bool | None = None, embedder: Embedder | None = None) -> KnowledgeBase:
    """The knowledge base of ``settings`` (``kb_url``, else ``kb_path``, else the default file).

    The shipped base is built on first use and its built-in items refreshed after an upgrade when
    ``auto_build`` (default: only when no ``kb_path`` was given); a missing file otherwise is a
    clear :class:`~bluecodeagent.errors.KnowledgeError`.
    """
    auto = settings.kb_path is None if auto_build is None else auto_build
    kb = ensure_kb(
        settings.kb_location(),
        embedder or settings_embedder(settings),
        SHIPPED,
        auto_build=auto,
        ef_search=settings.kb_hnsw_ef_search,
        build_memory_mb=settings.kb_hnsw_build_memory_mb,
        hnsw_graph=(settings.kb_hnsw_m, settings.kb_hnsw_ef_construction),
    )
    kb.configure_ann(expansion=settings.kb_ann_expansion, min_rows=settings.kb_ann_min_rows)
    return kb


def build_shipped_kb(path: str | Path, embedder: Embedder, progress: bool = False) -> KnowledgeBase:
    """(Re)build the SQLite file at ``path`` from the shipped items (anything added to it is lost)."""
    return build_kb(path, default_items(), embedder, progress, version=knowledge_version())
