"""Approximate search for the embedded base: one usearch HNSW graph per (task, label) partition.

An index is built on the first approximate search of its partition, from that partition's rows of the
in-memory matrix (keys are row offsets within the partition), and saved next to the SQLite file
(``<base>.ann/``) with a manifest. The manifest records a fingerprint of what the graph was built
from (the task's item version, the partition's row ids and vectors, the index parameters and the
usearch version) and the SHA-256 of the index file: a saved index is used only when both match, so a
stale or damaged file is rebuilt, never trusted. An edit of the base drops the indexes held in memory
(``KnowledgeBase._changed``); the next search rebuilds the partitions whose fingerprint moved.

Threads: usearch keeps the search expansion on the index, not per call, so a partition's searches pass
an ``ExpansionGate``: searches of one expansion run together, one of another waits until they finish.
Builds take a lock of their own partition, so a build never holds up another partition's builds or searches.
Files: a stale or damaged index's files are deleted before it is rebuilt; each build or load also deletes
the files of partitions the base no longer holds and temporary files a crashed writer left behind.

The graph stores half-precision vectors (half the memory of the matrix rows it duplicates); its
candidates are re-scored exactly against the float32 matrix, so similarities equal exact search's.

usearch is imported only through ``_usearch``, after onnxruntime: the usearch 2.26.6 wheel links its
own copy of the C++ runtime, and once it is loaded a later ``import onnxruntime`` (the embedders)
crashes the process (SIGSEGV in ``std::codecvt`` during onnxruntime's start-up); the other order works.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from usearch.index import Index

    from bluecodeagent.knowledge.store import _Index

FORMAT = 1  # of the manifest and of what the fingerprint covers
ANN_MIN_ROWS = 50_000  # smaller partitions are searched exactly (fast there, no index to build)
ANN_EXPANSION = 128  # candidates a search keeps (HNSW "ef")
ANN_CONNECTIVITY = 32  # graph edges per node (HNSW "M")
ANN_EXPANSION_ADD = 128  # candidates kept while inserting (HNSW "efConstruction")
ANN_DTYPE = "f16"
RERANK_MIN = 16  # candidates re-scored exactly against the float32 rows, at least (else 4 x k)
TMP_MAX_AGE_S = 3600.0  # a temporary file older than this was left by a writer that died: deleted
_HASH_CHUNK = 1 << 24


class ExpansionGate:
    """Admits the searches of one index: those of the expansion in force run together; one asking for another
    waits until they have finished, then sets it. A waiting expansion holds back new searches of the current
    one, so a steady stream of one expansion cannot starve another."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._current: int | None = None
        self._active = 0
        self._waiting: Counter[int] = Counter()

    @contextlib.contextmanager
    def use(self, index: Index, expansion: int) -> Iterator[None]:
        with self._cond:
            self._waiting[expansion] += 1
            while self._active and (
                self._current != expansion or sum(self._waiting.values()) > self._waiting[expansion]
            ):
                self._cond.wait()
            self._waiting[expansion] -= 1
            if self._current != expansion:
                index.expansion_search = expansion
                self._current = expansion
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if not self._active:
                    self._cond.notify_all()


@dataclass
class PartitionIndex:
    """One partition's graph and where its keys point."""

    index: Index
    lo: int  # first row of the partition in the matrix: key i is matrix row lo + i
    rows: int
    fingerprint: str
    source: str  # "built" or "loaded"
    seconds: float  # to build, or to verify and load
    disk_bytes: int  # of the saved file (0: kept in memory only)
    gate: ExpansionGate = field(default_factory=ExpansionGate, repr=False, compare=False)

    @property
    def memory_bytes(self) -> int:
        return int(self.index.memory_usage)


class AnnIndexes:
    """The partition indexes of one knowledge-base handle (``directory`` None: never saved)."""

    def __init__(
        self,
        directory: Path | None,
        *,
        min_rows: int = ANN_MIN_ROWS,
        expansion: int = ANN_EXPANSION,
        connectivity: int = ANN_CONNECTIVITY,
        expansion_add: int = ANN_EXPANSION_ADD,
        dtype: str = ANN_DTYPE,
    ) -> None:
        self.directory = directory
        self.min_rows = min_rows
        self.expansion = expansion
        self.connectivity = connectivity
        self.expansion_add = expansion_add
        self.dtype = dtype
        self._held: dict[tuple[str, str], tuple[weakref.ref[_Index], int, PartitionIndex]] = {}
        self._lock = threading.Lock()  # guards the two dicts only, never held while building
        self._building: dict[tuple[str, str], threading.Lock] = {}  # one per partition

    def clear(self) -> None:
        with self._lock:
            self._held.clear()

    def _current(self, idx: _Index, key: tuple[str, str], version: int) -> PartitionIndex | None:
        with self._lock:
            held = self._held.get(key)
        return held[2] if held is not None and held[0]() is idx and held[1] == version else None

    def partition_index(self, idx: _Index, task: str, label: str, version: int) -> PartitionIndex | None:
        """The index of (task, label) for the matrix ``idx`` at the task's item ``version``; None when the
        partition is small enough for exact search."""
        lo, hi = idx.partition(task, label)
        if hi - lo < max(self.min_rows, 1):
            return None
        key = (task, label)
        if (part := self._current(idx, key, version)) is not None:
            return part
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:  # a second caller waits for the first one's build, then uses it
            if (part := self._current(idx, key, version)) is not None:
                return part
            part = self._load_or_build(idx, task, label, version, lo, hi)
            with self._lock:
                self._held[key] = (weakref.ref(idx), version, part)
        self.sweep(idx)
        return part

    def search(
        self, idx: _Index, part: PartitionIndex, query: np.ndarray, k: int, expansion: int | None = None
    ) -> list[tuple[int, float]]:
        """Approximate top-k (rowid, exact similarity) within ``part``."""
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        wanted = min(max(4 * k, RERANK_MIN), part.rows)
        with part.gate.use(part.index, max(int(expansion or self.expansion), wanted)):
            keys = np.asarray(part.index.search(q, wanted, threads=1).keys, dtype=np.int64)
        keys = keys[(keys >= 0) & (keys < part.rows)]
        if not len(keys) or k <= 0:
            return []
        rows = part.lo + keys
        sims = idx.matrix[rows] @ q
        top = np.argsort(-sims, kind="stable")[:k]
        return [(int(idx.rowids[rows[i]]), float(sims[i])) for i in top]

    # -- building, saving, loading ----------------------------------------------------------------
    def fingerprint(self, idx: _Index, task: str, label: str, version: int, lo: int, hi: int) -> str:
        """What a saved index must have been built from to be used for this partition."""
        h = hashlib.sha256()
        head = {
            "format": FORMAT,
            "usearch": _usearch().__version__,
            "task": task,
            "label": label,
            "version": version,
            "rows": hi - lo,
            "dim": int(idx.matrix.shape[1]),
            "metric": "ip",
            "dtype": self.dtype,
            "connectivity": self.connectivity,
            "expansion_add": self.expansion_add,
        }
        h.update(json.dumps(head, sort_keys=True).encode())
        h.update(np.ascontiguousarray(idx.rowids[lo:hi]).tobytes())
        step = max(_HASH_CHUNK // max(idx.matrix.shape[1] * 4, 1), 1)
        for start in range(lo, hi, step):
            h.update(np.ascontiguousarray(idx.matrix[start : min(hi, start + step)]).data)
        return h.hexdigest()

    def paths(self, task: str, label: str) -> tuple[Path, Path] | None:
        if self.directory is None:
            return None
        name = _file_stem(task, label)
        return self.directory / f"{name}.usearch", self.directory / f"{name}.json"

    def sweep(self, idx: _Index) -> int:
        """Delete the saved files of partitions ``idx`` does not hold, and stale temporary files; the count."""
        if self.directory is None or not self.directory.is_dir():
            return 0
        keep = {_file_stem(task, label) for task, label in idx.partitions()}
        removed = 0
        for path in self.directory.iterdir():
            if path.name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    if time.time() - path.stat().st_mtime > TMP_MAX_AGE_S:
                        path.unlink()
                        removed += 1
            elif path.suffix in (".usearch", ".json") and path.stem not in keep:
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed += 1
        return removed

    def _load_or_build(self, idx: _Index, task: str, label: str, version: int, lo: int, hi: int) -> PartitionIndex:
        fingerprint = self.fingerprint(idx, task, label, version, lo, hi)
        paths = self.paths(task, label)
        if paths is not None:
            t0 = time.perf_counter()
            loaded = _load(paths, fingerprint, hi - lo, int(idx.matrix.shape[1]))
            if loaded is not None:
                index, size = loaded
                return PartitionIndex(index, lo, hi - lo, fingerprint, "loaded", time.perf_counter() - t0, size)
            for path in paths:  # stale or damaged: gone now, even if the new index cannot be saved
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
        t0 = time.perf_counter()
        index = self._build(idx.matrix[lo:hi])
        seconds = time.perf_counter() - t0
        size = _save(index, paths, fingerprint, task, label) if paths is not None else 0
        return PartitionIndex(index, lo, hi - lo, fingerprint, "built", seconds, size)

    def _build(self, vectors: np.ndarray) -> Index:
        index = _usearch().index.Index(
            ndim=int(vectors.shape[1]),
            metric="ip",
            dtype=self.dtype,
            connectivity=self.connectivity,
            expansion_add=self.expansion_add,
            expansion_search=self.expansion,
        )
        if len(vectors):
            index.add(np.arange(len(vectors), dtype=np.uint64), np.ascontiguousarray(vectors, dtype=np.float32))
        return index


def _file_stem(task: str, label: str) -> str:
    """The name (without suffix) of a partition's saved files."""
    return hashlib.sha256(f"{task}\0{label}".encode()).hexdigest()[:16]


def _usearch() -> ModuleType:
    """The usearch package, imported after onnxruntime (see the module docstring)."""
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401
    import usearch
    import usearch.index

    return usearch


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _load(paths: tuple[Path, Path], fingerprint: str, rows: int, dim: int) -> tuple[Index, int] | None:
    """The saved index when its manifest matches ``fingerprint`` and the file its checksum; else None."""
    index_path, manifest_path = paths
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT or manifest.get("fingerprint") != fingerprint:
            return None
        if _file_sha256(index_path) != manifest.get("sha256"):
            return None
        index = _usearch().index.Index.restore(str(index_path))
    except (OSError, ValueError, RuntimeError, TypeError, AttributeError):
        return None
    if index is None or len(index) != rows or index.ndim != dim:
        return None
    return index, index_path.stat().st_size


def _save(index: Index, paths: tuple[Path, Path], fingerprint: str, task: str, label: str) -> int:
    """Write the index, then its manifest (each replaced atomically); 0 when the directory is not writable."""
    index_path, manifest_path = paths
    suffix = f".{os.getpid()}.{threading.get_ident()}.tmp"
    tmp = index_path.with_name(index_path.name + suffix)
    tmp_manifest = manifest_path.with_name(manifest_path.name + suffix)
    try:
        index_path.parent.mkdir(parents=True, exist_ok=True)
        index.save(str(tmp))
        digest = _file_sha256(tmp)
        os.replace(tmp, index_path)
        manifest = {"format": FORMAT, "fingerprint": fingerprint, "sha256": digest, "task": task, "label": label}
        tmp_manifest.write_text(json.dumps(manifest, sort_keys=True), encoding="utf-8")
        os.replace(tmp_manifest, manifest_path)
        return index_path.stat().st_size
    except (OSError, RuntimeError):
        for path in (tmp, tmp_manifest):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        return 0  # kept in memory only: rebuilt by the next process
