"""Building the shipped knowledge base from the product's own policies (never from benchmark data)."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import sys
from importlib import metadata, resources
from pathlib import Path

from bluecodeagent.config import KB_URL_SCHEMES
from bluecodeagent.errors import KnowledgeError
from bluecodeagent.knowledge.embedders import Embedder, get_embedder
from bluecodeagent.knowledge.embedders.minilm_onnx import MiniLMOnnxEmbedder, MiniLMOnnxQ8Embedder
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.knowledge.store import KnowledgeBase

BUILTIN_BATCH = "builtin"
SHIPPED_GENERATORS = ("generate.py", "paraphrase.py", "vulns.py")


def knowledge_version() -> str:
    """A fingerprint of the shipped policies and generator: a base built from other inputs is rebuilt."""
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
    # Only the red-team modules that render shipped items (not optimisation, mutators, loop, ...).
    for name in SHIPPED_GENERATORS:
        entry = root.joinpath("redteam", name)
        h.update(name.encode())
        h.update(entry.read_bytes())
    return h.hexdigest()[:16]


def default_items(tasks: list[str] | None = None) -> list[KnowledgeItem]:
    """The items the product generates from its policies and CWE cards."""
    from bluecodeagent.redteam.generate import builtin_items
    from bluecodeagent.redteam.vulns import vulnerable_pairs

    items = builtin_items(tasks)
    if tasks is None or "vulnerability" in tasks:
        items += vulnerable_pairs()
    return items


def build_kb(
    path: str | Path, items: list[KnowledgeItem] | None = None, embedder: Embedder | None = None, progress: bool = False
) -> KnowledgeBase:
    """Create (or replace) a knowledge base at ``path`` holding ``items`` (default: the shipped items)."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".building")
    tmp.unlink(missing_ok=True)
    embedder = embedder or get_embedder()
    kb = KnowledgeBase(tmp, embedder, create=True)
    kb.add(default_items() if items is None else items, progress=progress)
    kb.set_meta("knowledge_version", knowledge_version() if items is None else "custom")
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


def ensure_kb(path: str | Path, embedder: Embedder | None = None, *, auto_build: bool = True) -> KnowledgeBase:
    """Open the knowledge base, building the shipped one on first use (or after an upgrade).

    ``path`` may be a ``postgresql://`` URL: the shared base in that database.
    """
    embedder = embedder or get_embedder()
    if isinstance(path, str) and path.startswith(KB_URL_SCHEMES):
        return _ensure_shared_kb(path, embedder, auto_build=auto_build)
    path = Path(path)
    if path.is_file():
        _migrate_local_embedder(path, embedder)  # a conversion, not a build: every item is kept
        kb = KnowledgeBase(path, embedder)
        version = kb.meta().get("knowledge_version")
        if not auto_build or version in (None, "custom") or version == knowledge_version():
            return kb
        print(f"bluecode: shipped knowledge changed; refreshing the built-in items of {path}", file=sys.stderr)
        kb.sync_batch(BUILTIN_BATCH, default_items(), progress=sys.stderr.isatty())
        kb.set_meta("knowledge_version", knowledge_version())
        return kb
    if not auto_build:
        return KnowledgeBase(path, embedder)  # raises a clear KnowledgeError
    print(f"bluecode: building the knowledge base at {path} (first run, about a minute on 2 cores)", file=sys.stderr)
    return build_kb(path, embedder=embedder, progress=sys.stderr.isatty())


def _ensure_shared_kb(url: str, embedder: Embedder, *, auto_build: bool) -> KnowledgeBase:
    """The PostgreSQL base: tables made on first use, the shipped items added or refreshed in one transaction."""
    from bluecodeagent.knowledge.pg_store import PgKnowledgeBase

    kb = PgKnowledgeBase(url, embedder)
    version = kb.meta().get("knowledge_version")
    if version in ("custom", knowledge_version()) or (version is None and len(kb)) or not auto_build:
        return kb
    with kb.exclusive("knowledge_version"):  # replicas starting together build it once
        if kb.meta().get("knowledge_version") != knowledge_version():
            print(f"bluecode: adding the shipped knowledge to {kb.path}", file=sys.stderr)
            kb.sync_batch(BUILTIN_BATCH, default_items(), progress=sys.stderr.isatty())
            kb.set_meta("knowledge_version", knowledge_version())
    return kb
