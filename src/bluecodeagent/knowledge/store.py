"""The knowledge base: one SQLite file with items and their vectors, searched by exact cosine.

Vectors are stored as float32 blobs next to their items and held in memory as one matrix whose
rows are grouped by (task, label): a search filtered by task, or by task and label (what the
engines ask), multiplies only that partition's contiguous rows, so its cost follows the partition,
not the base (other filters are a boolean mask within it). Items are written with the name of the
embedder that made their vectors; a base built with one embedder refuses queries from another.

Every edit bumps the item version of each task whose items it changed (``task_versions``), in the
same transaction: what is derived from one task's items (its trained detector) is keyed by that
version, so an edit of one task leaves the others' derived artefacts valid.

``search_ann`` is the approximate alternative for partitions too big for exact search: a usearch HNSW
index per (task, label) partition, built on first use and saved beside the file (``knowledge/ann.py``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bluecodeagent.errors import KnowledgeError
from bluecodeagent.knowledge.ann import AnnIndexes, PartitionIndex
from bluecodeagent.knowledge.embedders.base import Embedder
from bluecodeagent.knowledge.item import KnowledgeItem

SCHEMA_VERSION = 1
ITEM_CACHE_SIZE = 50_000  # neighbour items kept in memory by shared_item_at
LOAD_CHUNK = 20_000
PARTITION_ORDER = "task, label, rowid"  # the order both backends load rows in: partitions come out contiguous
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    rowid INTEGER PRIMARY KEY,
    uid TEXT UNIQUE NOT NULL,
    task TEXT NOT NULL,
    label TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL,
    counterpart TEXT,
    policy TEXT NOT NULL DEFAULT '',
    principle TEXT NOT NULL DEFAULT '',
    provenance TEXT NOT NULL DEFAULT '{}',
    batch TEXT NOT NULL DEFAULT 'builtin',
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS items_task ON items(task, label);
CREATE INDEX IF NOT EXISTS items_batch ON items(batch);
CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, value BLOB NOT NULL);
"""
_COLUMNS = "uid, task, label, category, text, counterpart, policy, principle, provenance, batch"
TASK_VERSION = "items_version:"  # meta key prefix: a task's item version, bumped by every edit of its items
_META_COLUMNS = ("category", "counterpart", "policy", "principle", "provenance")  # what sync_batch updates in place


@dataclass(frozen=True)
class Hit:
    """A search result."""

    item: KnowledgeItem
    similarity: float


class KnowledgeBase:
    """Items plus vectors in SQLite; exact top-k search in memory."""

    # The approximate indexes, made on first use (a class default: the PostgreSQL subclass has its own __init__).
    _ann: AnnIndexes | None = None

    def __init__(self, path: str | Path, embedder: Embedder | None = None, *, create: bool = False) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise KnowledgeError(f"knowledge base not found: {self.path} (build it with: bluecode kb build)")
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False)
            self._db.executescript(_SCHEMA)
            self._check_meta(embedder, create)
        except sqlite3.DatabaseError as e:
            raise KnowledgeError(f"knowledge base {self.path} is unreadable or corrupt: {e}") from e
        self.embedder = embedder
        self._index: _Index | None = None
        self._index_lock = threading.Lock()  # one load at a time: threads searching together share it
        self._versions: dict[str, int] = {}
        self._cache: dict[int, KnowledgeItem] = {}

    # -- metadata -------------------------------------------------------------------------------
    def _check_meta(self, embedder: Embedder | None, create: bool) -> None:
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            if not create and embedder is None:
                raise KnowledgeError(f"{self.path} is not a BlueCodeAgent knowledge base")
            if embedder is not None:
                with self._db:
                    self._db.executemany(
                        "INSERT INTO meta VALUES (?, ?)",
                        [("schema", str(SCHEMA_VERSION)), ("embedder", embedder.name), ("dim", str(embedder.dim))],
                    )
            return
        if meta.get("schema") != str(SCHEMA_VERSION):
            raise KnowledgeError(f"{self.path} has schema {meta.get('schema')}, expected {SCHEMA_VERSION}")
        if embedder is not None and meta.get("embedder") != embedder.name:
            raise KnowledgeError(
                f"{self.path} was built with embedder {meta.get('embedder')!r}, not {embedder.name!r}; rebuild it"
            )

    def meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def set_meta(self, key: str, value: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def put_blob(self, key: str, value: bytes) -> None:
        """Store a derived artefact (for instance a trained detector) alongside the items."""
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO blobs VALUES (?, ?)", (key, value))

    def get_blob(self, key: str) -> bytes | None:
        row = self._db.execute("SELECT value FROM blobs WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def delete_blobs(self, prefix: str) -> None:
        with self._db:
            self._db.execute("DELETE FROM blobs WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))

    def blob_keys(self, prefix: str) -> list[str]:
        """The keys of the stored blobs that start with ``prefix``, sorted."""
        rows = self._db.execute("SELECT key FROM blobs WHERE substr(key, 1, ?) = ? ORDER BY key", (len(prefix), prefix))
        return [r[0] for r in rows]

    def delete_blob(self, key: str) -> None:
        with self._db:
            self._db.execute("DELETE FROM blobs WHERE key = ?", (key,))

    def compact(self) -> None:
        """Give the space of deleted rows back to the file system (SQLite's VACUUM)."""
        self._db.execute("VACUUM")

    def reuse(self, previous: KnowledgeBase) -> None:
        """Let the next load copy what it shares with ``previous`` (a shared backend's faster reload; none here)."""
        del previous

    def task_versions(self) -> dict[str, int]:
        """Each task's item version in the items this handle serves (a task never edited: absent, i.e. 0)."""
        self.index()
        return dict(self._versions)

    def task_version(self, task: str) -> int:
        return self.task_versions().get(task, 0)

    @contextmanager
    def exclusive(self, key: str) -> Iterator[None]:
        """Work that others sharing this base must not repeat (a lock on shared backends; none here)."""
        del key
        yield

    # -- writing --------------------------------------------------------------------------------
    def require_embedder(self) -> Embedder:
        if self.embedder is None:
            raise KnowledgeError("this knowledge base was opened without an embedder")
        return self.embedder

    def add(self, items: Iterable[KnowledgeItem], *, batch_size: int = 256, progress: bool = False) -> int:
        """Embed and insert items (an item whose uid exists is replaced). Returns how many were written."""
        items = list(items)
        embedder = self.require_embedder()
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(items), desc="embedding", unit="item", disable=None)
        written = 0
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            vectors = embedder.embed([it.text for it in chunk])
            self._write(chunk, vectors)
            written += len(chunk)
            if bar:
                bar.update(len(chunk))
        if bar:
            bar.close()
        self._changed()
        return written

    def add_vectors(self, items: list[KnowledgeItem], vectors: np.ndarray) -> int:
        """Insert items with precomputed vectors (import, benchmarks)."""
        for start in range(0, len(items), 256):
            self._write(items[start : start + 256], vectors[start : start + 256])
        self._changed()
        return len(items)

    def _write(self, items: list[KnowledgeItem], vectors: Any) -> None:
        """Insert or replace ``items`` in one transaction that bumps their tasks' versions (and a replaced item's)."""
        rows = [_row(it, vec) for it, vec in zip(items, vectors, strict=True)]
        uids = [it.uid for it in items]
        with self._db:
            replaced = self._db.execute(
                f"SELECT DISTINCT task FROM items WHERE uid IN ({','.join('?' * len(uids))})", uids
            ).fetchall()
            self._db.executemany(
                f"INSERT OR REPLACE INTO items ({_COLUMNS}, vector) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows
            )
            self._bump({it.task for it in items} | {r[0] for r in replaced})

    def _bump(self, tasks: Iterable[str]) -> None:
        """Raise the item version of ``tasks`` (inside the caller's transaction)."""
        self._db.executemany(
            "INSERT INTO meta VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            [(TASK_VERSION + t,) for t in sorted(set(tasks))],
        )

    def reembed(self, embedder: Embedder, *, batch_size: int = 256, progress: bool = False) -> int:
        """Recompute every item's vector with ``embedder`` and record it as this base's embedder."""
        rows = self._db.execute("SELECT rowid, text FROM items ORDER BY rowid").fetchall()
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(rows), desc="re-embedding", unit="item", disable=None)
        with self._db:  # one transaction: an interrupted run leaves the base as it was
            for start in range(0, len(rows), batch_size):
                chunk = rows[start : start + batch_size]
                vectors = embedder.embed([text for _, text in chunk])
                self._db.executemany(
                    "UPDATE items SET vector = ? WHERE rowid = ?",
                    [(np.asarray(v, dtype=np.float32).tobytes(), r) for (r, _), v in zip(chunk, vectors, strict=True)],
                )
                if bar:
                    bar.update(len(chunk))
            self._db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", [("embedder", embedder.name), ("dim", str(embedder.dim))]
            )
            self._bump(r[0] for r in self._db.execute("SELECT DISTINCT task FROM items"))
        if bar:
            bar.close()
        self.embedder = embedder
        self._changed()
        return len(rows)

    def sync_batch(self, batch: str, items: list[KnowledgeItem], *, progress: bool = False) -> tuple[int, int, int]:
        """Make ``batch`` hold exactly ``items``: embed only new texts, update the rest in place.

        Returns (added, updated, removed). Cheap when a policy edit changes a few items.
        """
        existing = {
            r[0]: r[1:]
            for r in self._db.execute(f"SELECT uid, {', '.join(_META_COLUMNS)} FROM items WHERE batch = ?", (batch,))
        }
        wanted = {it.uid: it for it in items}
        fresh = [it for uid, it in wanted.items() if uid not in existing]
        kept = [it for uid, it in wanted.items() if uid in existing and existing[uid] != _meta_fields(it)]
        with self._db:
            self._bump(it.task for it in kept)  # a policy or category feeds training: the task's detector is stale
            self._db.executemany(
                "UPDATE items SET category=?, counterpart=?, policy=?, principle=?, provenance=? WHERE uid=?",
                [
                    (
                        it.category,
                        it.counterpart,
                        it.policy,
                        it.principle,
                        json.dumps(it.provenance, sort_keys=True),
                        it.uid,
                    )
                    for it in kept
                ],
            )
        if kept:
            self._changed()
        removed = self.remove(uids=set(existing) - set(wanted))
        if fresh:
            self.add([it.model_copy(update={"batch": batch}) for it in fresh], progress=progress)
        return len(fresh), len(wanted) - len(fresh), removed

    def remove(self, *, uids: Iterable[str] = (), batch: str | None = None) -> int:
        """Delete items by uid or a whole batch. Returns how many were removed."""
        n, tasks = 0, set()
        with self._db:
            for uid in uids:
                tasks.update(r[0] for r in self._db.execute("SELECT task FROM items WHERE uid = ?", (uid,)))
                n += self._db.execute("DELETE FROM items WHERE uid = ?", (uid,)).rowcount
            if batch is not None:
                tasks.update(
                    r[0] for r in self._db.execute("SELECT DISTINCT task FROM items WHERE batch = ?", (batch,))
                )
                n += self._db.execute("DELETE FROM items WHERE batch = ?", (batch,)).rowcount
            self._bump(tasks)
        if n:  # nothing removed: no task version moved, detectors stay valid
            self._changed()
        return n

    def _changed(self) -> None:
        """Forget what was read from the items (the edit itself bumped the versions of the tasks it touched)."""
        self._index = None
        self._cache.clear()
        if self._ann is not None:
            self._ann.clear()

    # -- reading --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    def items(self, task: str | None = None) -> Iterator[KnowledgeItem]:
        sql = f"SELECT {_COLUMNS} FROM items" + (" WHERE task = ?" if task else "") + " ORDER BY rowid"
        for row in self._db.execute(sql, (task,) if task else ()):
            yield _item(row)

    def vectors(self, task: str | None = None) -> tuple[list[KnowledgeItem], np.ndarray]:
        """All items of a task with their vectors (for training detectors)."""
        idx = self.index()
        mask = idx.mask(task=task)
        rows = np.nonzero(mask)[0]
        return [self.item_at(int(idx.rowids[r])) for r in rows], idx.matrix[rows]

    def stats(self) -> dict[str, Any]:
        rows = self._db.execute("SELECT task, label, category, batch FROM items").fetchall()
        by_task: dict[str, Counter[str]] = {}
        for task, label, _category, _batch in rows:
            by_task.setdefault(task, Counter())[label] += 1
        return {
            "path": str(self.path),
            "items": len(rows),
            "embedder": self.meta().get("embedder"),
            "by_task": {t: dict(c) for t, c in sorted(by_task.items())},
            "categories": len({(r[0], r[2]) for r in rows}),
            "batches": dict(Counter(r[3] for r in rows)),
        }

    def index(self) -> _Index:
        index = self._index
        if index is not None:
            return index
        with self._index_lock:
            if self._index is None:
                own = not self._db.in_transaction
                if own:  # one read transaction: the versions belong to the rows loaded
                    self._db.execute("BEGIN")
                try:
                    meta = self.meta()
                    loaded = _Index.load(self._db, meta)
                finally:
                    if own:
                        self._db.execute("COMMIT")
                self._index, self._versions = loaded, versions_from_meta(meta)
            return self._index

    def search(
        self,
        query: np.ndarray,
        k: int = 3,
        *,
        task: str | None = None,
        label: str | None = None,
        category: str | None = None,
        exclude_label: str | None = None,
    ) -> list[Hit]:
        """Exact cosine top-k among items matching the filters."""
        found = self.index().search(query, k, task=task, label=label, category=category, exclude_label=exclude_label)
        return [Hit(self.item_at(r), s) for r, s in found]

    # -- approximate search ---------------------------------------------------------------------
    def configure_ann(self, *, expansion: int | None = None, min_rows: int | None = None) -> None:
        """Settings of ``search_ann``: candidates kept (``kb_ann_expansion``) and the smallest partition
        given an index (``kb_ann_min_rows``; smaller ones are searched exactly)."""
        ann = self._ann_indexes()
        if expansion is not None:
            ann.expansion = int(expansion)
        if min_rows is not None:
            ann.min_rows = int(min_rows)

    def _ann_indexes(self) -> AnnIndexes:
        ann = self._ann
        if ann is None:  # saved beside a local file; a shared base's snapshot keeps them in memory
            directory = self.path.with_name(self.path.name + ".ann") if isinstance(self.path, Path) else None
            ann = self._ann = AnnIndexes(directory)
        return ann

    def ann_partition(self, task: str, label: str) -> PartitionIndex | None:
        """The approximate index of (task, label), built or loaded now if needed; None for a small partition."""
        idx = self.index()
        return self._ann_indexes().partition_index(idx, task, label, self._versions.get(task, 0))

    def search_ann(
        self,
        query: np.ndarray,
        k: int = 3,
        *,
        task: str | None = None,
        label: str | None = None,
        category: str | None = None,
        exclude_label: str | None = None,
        expansion: int | None = None,
    ) -> list[tuple[str, float]]:
        """Approximate top-k (uid, similarity) from the HNSW index of the (task, label) partition.

        The index is built on first use (and saved beside the file); an edit invalidates it. Similarities
        are exact (candidates are re-scored on the matrix). ``expansion`` (default: the ``kb_ann_expansion``
        setting) is how many candidates the graph search keeps: more is slower and closer to exact.
        Exact search answers when no index applies: without both a task and a label, with a category or
        ``exclude_label`` filter, or in a partition smaller than ``kb_ann_min_rows``.
        """
        idx = self.index()
        part = None
        if task is not None and label is not None and category is None and exclude_label is None:
            part = self._ann_indexes().partition_index(idx, task, label, self._versions.get(task, 0))
        if part is not None:
            found = self._ann_indexes().search(idx, part, query, k, expansion)
        else:
            found = idx.search(query, k, task=task, label=label, category=category, exclude_label=exclude_label)
        return [(self.shared_item_at(r).uid, s) for r, s in found]

    def item_at(self, rowid: int) -> KnowledgeItem:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM items WHERE rowid = ?", (rowid,)).fetchone()
        return _item(row)

    def shared_item_at(self, rowid: int) -> KnowledgeItem:
        """``item_at`` from a read cache (cleared by every write): the caller must not modify the item."""
        item = self._cache.get(rowid)
        if item is None:
            if len(self._cache) >= ITEM_CACHE_SIZE:
                self._cache.clear()
            item = self._cache[rowid] = self.item_at(rowid)
        return item

    # -- import / export ------------------------------------------------------------------------
    def export_jsonl(self, path: Path, task: str | None = None) -> int:
        n = 0
        with path.open("w", encoding="utf-8") as f:
            for it in self.items(task):
                f.write(it.model_dump_json() + "\n")
                n += 1
        return n

    def close(self) -> None:
        self._db.close()


class _Index:
    """The in-memory search matrix plus per-row filter columns (task, label, category), rows grouped by
    (task, label)."""

    def __init__(self, rowids: np.ndarray, matrix: np.ndarray, columns: dict[str, list[str]]) -> None:
        # Filter columns as small integer codes, so a mask over a million rows costs a few ms.
        self.codes: dict[str, tuple[dict[str, int], np.ndarray]] = {}
        for name, values in columns.items():
            vocab: dict[str, int] = {}
            codes = np.fromiter((vocab.setdefault(v, len(vocab)) for v in values), dtype=np.int32, count=len(values))
            self.codes[name] = (vocab, codes)
        n_labels = max(len(self.codes["label"][0]), 1)
        key = self.codes["task"][1].astype(np.int64) * n_labels + self.codes["label"][1]
        if not (_contiguous(key) and _contiguous(key // n_labels)):  # not in PARTITION_ORDER: group (a copy)
            order = np.argsort(key, kind="stable")
            rowids, matrix, key = rowids[order], matrix[order], key[order]
            self.codes = {name: (vocab, codes[order]) for name, (vocab, codes) in self.codes.items()}
        self.rowids = rowids
        self.matrix = matrix
        self._ranges = _ranges(key, n_labels)

    def partition(self, task: str | None = None, label: str | None = None) -> tuple[int, int]:
        """The contiguous row range [lo, hi) holding ``task`` (and ``label``); all rows without a task."""
        if task is None:
            return 0, len(self.rowids)
        t = self.codes["task"][0].get(task, -1)
        l_ = None if label is None else self.codes["label"][0].get(label, -1)
        return self._ranges.get((t, l_), (0, 0))

    def partitions(self) -> list[tuple[str, str]]:
        """Every (task, label) that holds rows."""
        tasks = {code: name for name, code in self.codes["task"][0].items()}
        labels = {code: name for name, code in self.codes["label"][0].items()}
        return [(tasks[t], labels[lab]) for t, lab in self._ranges if lab is not None]

    @classmethod
    def load(cls, db: sqlite3.Connection, meta: dict[str, str]) -> _Index:
        """Read vectors in chunks into one preallocated matrix (peak memory stays near the matrix size)."""
        dim = int(meta.get("dim", "0") or 0)
        n = int(db.execute("SELECT COUNT(*) FROM items").fetchone()[0])
        matrix = np.empty((n, dim), dtype=np.float32)
        rowids = np.empty(n, dtype=np.int64)
        cols: dict[str, list[str]] = {"task": [], "label": [], "category": []}
        cur = db.execute(f"SELECT rowid, task, label, category, vector FROM items ORDER BY {PARTITION_ORDER}")
        i = 0
        while chunk := cur.fetchmany(LOAD_CHUNK):
            m = len(chunk)
            matrix[i : i + m] = np.frombuffer(b"".join(r[4] for r in chunk), dtype=np.float32).reshape(m, dim)
            rowids[i : i + m] = [r[0] for r in chunk]
            for j, name in ((1, "task"), (2, "label"), (3, "category")):
                cols[name].extend(r[j] for r in chunk)
            i += m
        return cls(rowids[:i], matrix[:i], cols)

    def mask(
        self,
        *,
        task: str | None = None,
        label: str | None = None,
        category: str | None = None,
        exclude_label: str | None = None,
    ) -> np.ndarray:
        m = np.ones(len(self.rowids), dtype=bool)
        for name, value in (("task", task), ("label", label), ("category", category)):
            if value is not None:
                vocab, codes = self.codes[name]
                m &= codes == vocab.get(value, -1)
        if exclude_label is not None:
            vocab, codes = self.codes["label"]
            m &= codes != vocab.get(exclude_label, -1)
        return m

    def search(
        self,
        query: np.ndarray,
        k: int,
        *,
        task: str | None = None,
        label: str | None = None,
        category: str | None = None,
        exclude_label: str | None = None,
    ) -> list[tuple[int, float]]:
        """Exact top-k (rowid, similarity) within the task/label partition, masked by the other filters."""
        lo, hi = self.partition(task, label)
        mask = None
        if category is not None or exclude_label is not None or (task is None and label is not None):
            mask = self.mask(task=task, label=label, category=category, exclude_label=exclude_label)[lo:hi]
        return _top_k(self.matrix[lo:hi], self.rowids[lo:hi], query, k, mask)

    def top_k(self, query: np.ndarray, k: int, mask: np.ndarray) -> list[tuple[int, float]]:
        """Exact top-k over the whole matrix restricted by ``mask``."""
        return _top_k(self.matrix, self.rowids, query, k, mask)


def _contiguous(values: np.ndarray) -> bool:
    """Whether equal values sit in one run each."""
    runs = 1 + int(np.count_nonzero(values[1:] != values[:-1])) if len(values) else 0
    return runs == len(np.unique(values))


def _ranges(key: np.ndarray, n_labels: int) -> dict[tuple[int, int | None], tuple[int, int]]:
    """Row ranges of each (task, label) partition and each task, from the sorted partition key."""
    if not len(key):
        return {}
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], len(key)]
    out: dict[tuple[int, int | None], tuple[int, int]] = {}
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        task, label = divmod(int(key[lo]), max(n_labels, 1))
        out[(task, label)] = (lo, hi)
        first, _ = out.get((task, None), (lo, hi))
        out[(task, None)] = (first, hi)
    return out


def _top_k(
    matrix: np.ndarray, rowids: np.ndarray, query: np.ndarray, k: int, mask: np.ndarray | None
) -> list[tuple[int, float]]:
    n = len(rowids) if mask is None else int(mask.sum())
    if n == 0 or k <= 0:
        return []
    sims = matrix @ np.asarray(query, dtype=np.float32).reshape(-1)
    if mask is not None:
        sims = np.where(mask, sims, -np.inf)
    k = min(k, n)
    top = np.argpartition(-sims, k - 1)[:k]
    top = top[np.argsort(-sims[top], kind="stable")]
    return [(int(rowids[i]), float(sims[i])) for i in top]


def item_fields(it: KnowledgeItem) -> tuple[Any, ...]:
    """An item's stored columns, in schema order (both backends)."""
    return (
        it.uid,
        it.task,
        it.label,
        it.category,
        it.text,
        it.counterpart,
        it.policy,
        it.principle,
        provenance_json(it),
        it.batch,
    )


def versions_from_meta(meta: dict[str, str]) -> dict[str, int]:
    """The task item versions recorded in a base's metadata."""
    return {k[len(TASK_VERSION) :]: int(v) for k, v in meta.items() if k.startswith(TASK_VERSION)}


def _meta_fields(it: KnowledgeItem) -> tuple[Any, ...]:
    """The columns sync_batch may update in place, as stored."""
    return (it.category, it.counterpart, it.policy, it.principle, provenance_json(it))


def provenance_json(it: KnowledgeItem) -> str:
    return json.dumps(it.provenance, sort_keys=True)


def _row(it: KnowledgeItem, vec: np.ndarray) -> tuple[Any, ...]:
    return (*item_fields(it), np.asarray(vec, dtype=np.float32).tobytes())


def _item(row: tuple[Any, ...]) -> KnowledgeItem:
    uid, task, label, category, text, counterpart, policy, principle, prov, batch = row
    return KnowledgeItem(
        uid=uid,
        task=task,
        label=label,
        category=category,
        text=text,
        counterpart=counterpart,
        policy=policy,
        principle=principle,
        provenance=json.loads(prov),
        batch=batch,
    )
