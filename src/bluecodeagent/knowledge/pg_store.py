"""The knowledge base on PostgreSQL with pgvector: one database shared by every guard replica.

The same interface and the same search as the SQLite base: the items and their vectors are read in
one consistent snapshot into the in-memory matrix that ``KnowledgeBase`` searches exactly, so both
backends give the same hits on the same items, and a replica keeps answering from its snapshot when
the database goes away. Every edit runs in one transaction that also bumps a generation counter and
sends ``NOTIFY bluecode_kb`` (delivered only on commit), so other replicas reload a whole batch or
nothing; it also bumps the item version of each task it touched, read in the same snapshot, so a
trained detector (keyed by its task's version) survives edits of other tasks. ``search_hnsw`` asks
the database's HNSW index instead (for bases too big to hold).

Needs the ``postgres`` extra: ``pip install 'bluecodeagent[postgres]'``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from bluecodeagent.config import KB_URL_SCHEMES as URL_SCHEMES
from bluecodeagent.errors import KnowledgeError
from bluecodeagent.knowledge.embedders.base import Embedder
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.knowledge.store import (
    LOAD_CHUNK,
    PARTITION_ORDER,
    SCHEMA_VERSION,
    TASK_VERSION,
    KnowledgeBase,
    _Index,
    _item,
    _meta_fields,
    item_fields,
    provenance_json,
    versions_from_meta,
)

CHANNEL = "bluecode_kb"
_ITEM_COLUMNS = "uid, task, label, category, text, counterpart, policy, principle, provenance, batch"
HNSW_EF_SEARCH = 100  # candidates pgvector's HNSW scan keeps (its default is 40)
HNSW_BUILD_MEMORY_MB = 4096  # at most this maintenance_work_mem while a partition's index is built
HNSW_M = 32  # neighbours per graph node (pgvector's m; its default 16 was too sparse for 450k clustered rows)
HNSW_EF_CONSTRUCTION = 128  # candidates kept while building (pgvector's ef_construction; its default is 64)
# Bytes a graph element takes in a build besides its vector: headers, plus neighbour lists that grow with m
# (2m slots on the ground layer). pgvector 0.6.2, 384 dims, measured by where a build spills out of 8 MB:
# m=16 after 3,731 rows (2,248 bytes each), m=32 after 3,039 (2,760): 1,536 for the vector, 200 + 32 m besides.
HNSW_ELEMENT_BYTES = 256
HNSW_NEIGHBOUR_BYTES = 32  # per unit of m
_LOCK_PARTITION_INDEX = 0x686E7377  # advisory-lock key of partition-index creation ("hnsw")
_LOCK_MIGRATE = 0x626C7565  # advisory-lock key of schema migrations ("blue")
_REBUILT = "_rebuilt"  # suffix of a partition index while schema 4 builds its replacement
REWRITES = "rewrites"  # kb_meta key bumped by every in-place update of stored rows (a snapshot then reloads whole)

# Versioned migrations: (version, statements); {dim} is the embedder's dimension. Applied in order,
# each in its own transaction, recorded in kb_schema; never edit one that has shipped, add the next.
MIGRATIONS: list[tuple[int, tuple[str, ...]]] = [
    (
        1,
        (
            "CREATE EXTENSION IF NOT EXISTS vector",
            "CREATE TABLE kb_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """CREATE TABLE kb_items (
                rowid BIGSERIAL PRIMARY KEY,
                uid TEXT UNIQUE NOT NULL,
                task TEXT NOT NULL,
                label TEXT NOT NULL,
                category TEXT NOT NULL DEFAULT '',
                text TEXT NOT NULL,
                counterpart TEXT,
                policy TEXT NOT NULL DEFAULT '',
                principle TEXT NOT NULL DEFAULT '',
                provenance TEXT NOT NULL DEFAULT '{{}}',
                batch TEXT NOT NULL DEFAULT 'builtin',
                vector vector({dim}) NOT NULL
            )""",
            "CREATE INDEX kb_items_task ON kb_items (task, label)",
            "CREATE INDEX kb_items_batch ON kb_items (batch)",
            "CREATE TABLE kb_blobs (key TEXT PRIMARY KEY, value BYTEA NOT NULL, generation BIGINT NOT NULL)",
        ),
    ),
    # Vectors are unit length, so inner product ranks like cosine.
    (2, ("CREATE INDEX kb_items_hnsw ON kb_items USING hnsw (vector vector_ip_ops)",)),
    # One HNSW index per (task, label) partition instead (made by _index_partitions): pgvector filters a
    # whole-table index's candidates after the scan, which lost most of a filtered query's neighbours.
    (3, ("DROP INDEX IF EXISTS kb_items_hnsw",)),
    # Partition indexes with the configured graph (m, ef_construction) instead of pgvector's 16/64, which
    # stopped at recall 0.95 on a 450k-row partition: _migrate rebuilds the existing ones (_rebuild_partitions).
    (4, ()),
]
LATEST = MIGRATIONS[-1][0]


def is_kb_url(location: object) -> bool:
    """Whether a knowledge-base location names a PostgreSQL database rather than a file."""
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _psycopg() -> Any:
    try:
        import psycopg
        from pgvector.psycopg import register_vector
    except ImportError as e:
        raise KnowledgeError(
            "a postgresql:// knowledge base needs the postgres extra: pip install 'bluecodeagent[postgres]'"
        ) from e
    return psycopg, register_vector


def connect(url: str) -> Any:
    """An autocommit connection (a clear KnowledgeError when the database cannot be reached)."""
    psycopg, _ = _psycopg()
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.Error as e:
        raise KnowledgeError(f"cannot reach the knowledge base at {redact(url)}: {_first_line(e)}") from e


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


class PgKnowledgeBase(KnowledgeBase):
    """``KnowledgeBase`` over a PostgreSQL database (tables ``kb_*``)."""

    def __init__(
        self,
        url: str,
        embedder: Embedder | None = None,
        *,
        create: bool = False,
        ef_search: int = HNSW_EF_SEARCH,
        build_memory_mb: int = HNSW_BUILD_MEMORY_MB,
        m: int = HNSW_M,
        ef_construction: int = HNSW_EF_CONSTRUCTION,
    ) -> None:
        self.path = redact(url)  # type: ignore[assignment]  # shown by stats() and messages
        self.url = url
        self.ef_search = ef_search
        self.build_memory_mb = build_memory_mb
        self.m, self.ef_construction = check_graph(m, ef_construction)  # of the partition indexes this handle builds
        self.index_build_s = 0.0  # spent building partition indexes in the last change (0: none was missing)
        self.embedder = embedder
        self._lock = threading.RLock()
        self._index: _Index | None = None
        self._cache: dict[int, KnowledgeItem] = {}
        self._snapshot: dict[int, KnowledgeItem] = {}
        self._versions: dict[str, int] = {}
        self._meta: dict[str, str] = {}  # read with the snapshot
        self._stats: dict[str, Any] | None = None  # of the snapshot, computed on first use
        self._previous: tuple[str, _Index, dict[int, KnowledgeItem]] | None = None  # see reuse()
        self.generation = -1  # of the snapshot in memory; -1 before the first load
        self._conn = self._open()
        with self._db_errors("open"):
            self._migrate(embedder, create)

    # -- connection -----------------------------------------------------------------------------
    def _open(self) -> Any:
        conn = connect(self.url)
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            _psycopg()[1](conn)
        except Exception as e:
            conn.close()
            raise KnowledgeError(f"{self.path}: the pgvector extension is not available: {_first_line(e)}") from e
        return conn

    @contextmanager
    def _db_errors(self, doing: str) -> Iterator[None]:
        """Database failures as KnowledgeError; a lost connection is reopened on the next call."""
        psycopg, _ = _psycopg()
        with self._lock:
            if self._conn.closed or self._conn.broken:
                self._conn = self._open()
            try:
                yield
            except psycopg.Error as e:
                raise KnowledgeError(f"knowledge base {self.path}: {doing} failed: {_first_line(e)}") from e

    def _q(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self._conn.execute(sql, tuple(params))
        return cur.fetchall() if cur.description else []

    # -- schema ---------------------------------------------------------------------------------
    def _migrate(self, embedder: Embedder | None, create: bool) -> None:
        with self._conn.transaction():
            self._q("SELECT pg_advisory_xact_lock(%s)", (_LOCK_MIGRATE,))
            self._q("CREATE TABLE IF NOT EXISTS kb_schema (version INT PRIMARY KEY, applied TIMESTAMPTZ DEFAULT now())")
            done = {r[0] for r in self._q("SELECT version FROM kb_schema")}
            if not done:
                if embedder is None:
                    raise KnowledgeError(f"{self.path} holds no BlueCodeAgent knowledge base (build it first)")
                dim = embedder.dim
            else:
                if max(done) > LATEST:
                    raise KnowledgeError(f"{self.path} has schema {max(done)}, newer than this version ({LATEST})")
                dim = int(dict(self._q("SELECT key, value FROM kb_meta")).get("dim", "0"))
            for version, statements in MIGRATIONS:
                if version in done:
                    continue
                for sql in statements:
                    self._q(sql.format(dim=dim))
                if version == 1:
                    self._q(
                        "INSERT INTO kb_meta VALUES ('schema', %s), ('embedder', %s), ('dim', %s), ('generation', '0')",
                        (str(SCHEMA_VERSION), embedder.name if embedder else "", str(dim)),
                    )
                if version == 4:
                    self._rebuild_partitions()
                self._q("INSERT INTO kb_schema (version) VALUES (%s)", (version,))
        del create  # a database is created by its administrator; the tables are made on first use
        built_with = self.meta().get("embedder")
        if embedder is not None and built_with != embedder.name:
            raise KnowledgeError(
                f"{self.path} was built with embedder {built_with!r}, not {embedder.name!r}; rebuild it"
            )

    def schema_versions(self) -> list[int]:
        with self._db_errors("reading the schema"):
            return [r[0] for r in self._q("SELECT version FROM kb_schema ORDER BY version")]

    # -- metadata and blobs ---------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        with self._db_errors("reading metadata"):
            return dict(self._q("SELECT key, value FROM kb_meta"))  # type: ignore[arg-type]

    def set_meta(self, key: str, value: str) -> None:
        with self._db_errors("writing metadata"):
            self._q(
                "INSERT INTO kb_meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (key, value),
            )

    def current_generation(self) -> int:
        """The database's generation (bumped by every committed change)."""
        with self._db_errors("reading the generation"):
            return int(self._q("SELECT value FROM kb_meta WHERE key = 'generation'")[0][0])

    def put_blob(self, key: str, value: bytes) -> None:
        """Store a derived artefact, tagged with the generation of the snapshot it was made from (for the record:
        what a blob is valid for is in its key, e.g. a detector's task item version)."""
        with self._db_errors("storing a blob"):
            self._q(
                "INSERT INTO kb_blobs VALUES (%s, %s, %s) ON CONFLICT (key) DO UPDATE "
                "SET value = EXCLUDED.value, generation = EXCLUDED.generation",
                (key, value, self.generation),
            )

    def get_blob(self, key: str) -> bytes | None:
        with self._db_errors("reading a blob"):
            rows = self._q("SELECT value FROM kb_blobs WHERE key = %s", (key,))
        return bytes(rows[0][0]) if rows else None

    def delete_blobs(self, prefix: str) -> None:
        with self._db_errors("deleting blobs"):
            self._q("DELETE FROM kb_blobs WHERE starts_with(key, %s)", (prefix,))

    def blob_keys(self, prefix: str) -> list[str]:
        with self._db_errors("listing blobs"):
            return [
                r[0] for r in self._q("SELECT key FROM kb_blobs WHERE starts_with(key, %s) ORDER BY key", (prefix,))
            ]

    def delete_blob(self, key: str) -> None:
        with self._db_errors("deleting a blob"):
            self._q("DELETE FROM kb_blobs WHERE key = %s", (key,))

    def compact(self) -> None:
        """Nothing to do: PostgreSQL's autovacuum reclaims deleted rows."""

    def task_versions(self) -> dict[str, int]:
        """Each task's item version in the snapshot this replica holds (read with its items)."""
        self.index()
        return dict(self._versions)

    @contextmanager
    def exclusive(self, key: str) -> Iterator[None]:
        """Hold a database-wide lock named ``key``: replicas train a detector once and share it.

        The lock lives on a connection of its own, so this handle keeps serving (and storing) while it is
        held; it is released at the end, or by PostgreSQL when the holder dies.
        """
        psycopg, _ = _psycopg()
        conn = connect(self.url)  # not under self._lock: a wait for the lock must not stall this handle
        try:
            try:
                conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
            except psycopg.Error as e:
                raise KnowledgeError(f"knowledge base {self.path}: locking failed: {_first_line(e)}") from e
            yield
        finally:
            conn.close()  # ends the session: the lock is released

    # -- writing --------------------------------------------------------------------------------
    @contextmanager
    def _change(self, doing: str) -> Iterator[set[str]]:
        """One transaction that bumps the generation and the item version of every task the body adds to the
        set it is given, then notifies replicas (on commit). Detectors of other tasks stay valid."""
        touched: set[str] = set()
        with self._db_errors(doing), self._conn.transaction():
            yield touched
            self._index_partitions()
            gen = self._q(
                "UPDATE kb_meta SET value = (value::bigint + 1)::text WHERE key = 'generation' RETURNING value"
            )[0][0]
            with self._conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO kb_meta VALUES (%s, '1') ON CONFLICT (key) DO UPDATE "
                    "SET value = (kb_meta.value::bigint + 1)::text",
                    [(TASK_VERSION + t,) for t in sorted(touched)],
                )
            self._q("SELECT pg_notify(%s, %s)", (CHANNEL, gen))
        self._index = None
        self._cache.clear()

    def _bump_rewrites(self) -> None:
        """Record an in-place update of stored rows (inside a change): replicas then read their next snapshot whole."""
        self._q(
            "INSERT INTO kb_meta VALUES (%s, '1') ON CONFLICT (key) DO UPDATE "
            "SET value = (kb_meta.value::bigint + 1)::text",
            (REWRITES,),
        )

    def _index_partitions(self) -> None:
        """Give every (task, label) partition its own partial HNSW index (built once, then kept by PostgreSQL).

        The first write that brings a partition builds its index from all its rows at once (far faster than
        growing it row by row); later inserts and deletes update it, and MVCC never returns a removed row.
        Each build gets the ``maintenance_work_mem`` its graph needs (``hnsw_build_memory_mb``, at most
        ``build_memory_mb``): a graph that does not fit is finished on disk, many times slower.
        """
        have = {r[0] for r in self._q("SELECT indexname FROM pg_indexes WHERE tablename = 'kb_items'")}
        wanted = self._partitions()
        missing = sorted(set(wanted) - have)
        self.index_build_s = 0.0
        if not missing:
            return
        t0 = time.perf_counter()
        self._q("SELECT pg_advisory_xact_lock(%s)", (_LOCK_PARTITION_INDEX,))
        for name in missing:
            self._build_partition_index(name, *wanted[name])
        self._q("ANALYZE kb_items")  # fresh statistics, so the planner picks the new index at once
        self.index_build_s = time.perf_counter() - t0

    def _partitions(self) -> dict[str, tuple[str, str, int]]:
        """Every (task, label) partition's index name -> (task, label, rows)."""
        return {
            partition_index_name(t, lab): (t, lab, n)
            for t, lab, n in self._q("SELECT task, label, COUNT(*) FROM kb_items GROUP BY task, label")
        }

    def _build_partition_index(self, name: str, task: str, label: str, rows: int) -> None:
        """``CREATE INDEX`` of one partition with this handle's graph and the memory its build needs."""
        sql = _psycopg()[0].sql
        dim = int(self._q("SELECT value FROM kb_meta WHERE key = 'dim'")[0][0])
        memory = hnsw_build_memory_mb(rows, dim, self.build_memory_mb, m=self.m)
        self._q(f"SET LOCAL maintenance_work_mem = '{memory}MB'")
        self._conn.execute(
            sql.SQL(
                "CREATE INDEX IF NOT EXISTS {} ON kb_items USING hnsw (vector vector_ip_ops) "
                "WITH (m = {}, ef_construction = {}) WHERE task = {} AND label = {}"
            ).format(
                sql.Identifier(name),
                sql.Literal(self.m),
                sql.Literal(self.ef_construction),
                sql.Literal(task),
                sql.Literal(label),
            )
        )

    def _rebuild_partitions(self) -> None:
        """Schema 4: rebuild the partition indexes made with pgvector's default graph (inside the migration).

        Each new index is built beside the old one under a temporary name (reads go on meanwhile: a build
        blocks writes only); the old ones are dropped and the new renamed at the end, so the table is locked
        against readers only for that moment before the commit.
        """
        sql = _psycopg()[0].sql
        self._q("SELECT pg_advisory_xact_lock(%s)", (_LOCK_PARTITION_INDEX,))  # no other handle builds meanwhile
        wanted = self._partitions()
        have = {r[0] for r in self._q("SELECT indexname FROM pg_indexes WHERE tablename = 'kb_items'")}
        for name in sorted(wanted):
            self._build_partition_index(name + _REBUILT, *wanted[name])
        for name in sorted(wanted):
            if name in have:
                self._conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
            self._conn.execute(
                sql.SQL("ALTER INDEX {} RENAME TO {}").format(sql.Identifier(name + _REBUILT), sql.Identifier(name))
            )
        self._q("ANALYZE kb_items")

    def _insert(self, items: list[KnowledgeItem], vectors: np.ndarray) -> set[str]:
        """Replace-or-insert like SQLite's INSERT OR REPLACE: a replaced item moves to the end.

        Returns the tasks touched (the items' own, and those of the items they replace).
        """
        last: dict[str, tuple[KnowledgeItem, np.ndarray]] = {}
        for it, v in zip(items, vectors, strict=True):
            last.pop(it.uid, None)
            last[it.uid] = (it, v)
        replaced = self._q("DELETE FROM kb_items WHERE uid = ANY(%s) RETURNING task", (list(last),))
        with self._conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO kb_items ({_ITEM_COLUMNS}, vector) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                [(*item_fields(it), np.asarray(v, dtype=np.float32)) for it, v in last.values()],
            )
        return {it.task for it, _ in last.values()} | {r[0] for r in replaced}

    def add(self, items: Iterable[KnowledgeItem], *, batch_size: int = 256, progress: bool = False) -> int:
        """Embed, then insert every item in one transaction (replicas see all of them or none)."""
        items = list(items)
        vectors = self._embed_all(self.require_embedder(), [it.text for it in items], batch_size, progress)
        return self.add_vectors(items, vectors)

    def add_vectors(self, items: list[KnowledgeItem], vectors: np.ndarray) -> int:
        with self._change("adding items") as touched:
            for start in range(0, len(items), LOAD_CHUNK):
                touched |= self._insert(items[start : start + LOAD_CHUNK], vectors[start : start + LOAD_CHUNK])
        return len(items)

    @staticmethod
    def _embed_all(embedder: Embedder, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        from tqdm import tqdm

        out = np.empty((len(texts), embedder.dim), dtype=np.float32)
        with tqdm(total=len(texts), desc="embedding", unit="item", disable=not progress or None) as bar:
            for start in range(0, len(texts), batch_size):
                out[start : start + batch_size] = embedder.embed(texts[start : start + batch_size])
                bar.update(len(texts[start : start + batch_size]))
        return out

    def reembed(self, embedder: Embedder, *, batch_size: int = 256, progress: bool = False) -> int:
        with self._db_errors("reading items"):
            rows = self._q("SELECT rowid, text FROM kb_items ORDER BY rowid")
        vectors = self._embed_all(embedder, [t for _, t in rows], batch_size, progress)
        with self._change("re-embedding") as touched:
            touched |= {r[0] for r in self._q("SELECT DISTINCT task FROM kb_items")}
            self._bump_rewrites()
            with self._conn.cursor() as cur:
                cur.executemany(
                    "UPDATE kb_items SET vector = %s WHERE rowid = %s",
                    [(v, r) for (r, _), v in zip(rows, vectors, strict=True)],
                )
            self._q("UPDATE kb_meta SET value = %s WHERE key = 'embedder'", (embedder.name,))
        self.embedder = embedder
        return len(rows)

    def sync_batch(self, batch: str, items: list[KnowledgeItem], *, progress: bool = False) -> tuple[int, int, int]:
        """Make ``batch`` hold exactly ``items`` in one transaction; only new texts are embedded."""
        with self._db_errors("reading a batch"):
            existing = {
                r[0]: tuple(r[1:])
                for r in self._q(
                    "SELECT uid, category, counterpart, policy, principle, provenance FROM kb_items WHERE batch = %s",
                    (batch,),
                )
            }
        wanted = {it.uid: it.model_copy(update={"batch": batch}) for it in items}
        fresh = [it for uid, it in wanted.items() if uid not in existing]
        kept = [it for uid, it in wanted.items() if uid in existing and existing[uid] != _meta_fields(it)]
        vectors = self._embed_all(self.require_embedder(), [it.text for it in fresh], 256, progress)
        gone = sorted(set(existing) - set(wanted))
        if not (fresh or kept or gone):  # nothing to change: no new generation, no replica reloads
            return 0, len(wanted), 0
        with self._change("syncing a batch") as touched:
            touched |= {it.task for it in kept}
            if kept:
                self._bump_rewrites()
            with self._conn.cursor() as cur:
                cur.executemany(
                    "UPDATE kb_items SET category=%s, counterpart=%s, policy=%s, principle=%s, provenance=%s "
                    "WHERE uid=%s",
                    [
                        (it.category, it.counterpart, it.policy, it.principle, provenance_json(it), it.uid)
                        for it in kept
                    ],
                )
            touched |= {r[0] for r in self._q("DELETE FROM kb_items WHERE uid = ANY(%s) RETURNING task", (gone,))}
            if fresh:
                touched |= self._insert(fresh, vectors)
        return len(fresh), len(wanted) - len(fresh), len(gone)

    def remove(self, *, uids: Iterable[str] = (), batch: str | None = None) -> int:
        uids = list(uids)
        with self._db_errors("reading items"):  # nothing to remove: no new generation, no replica reloads
            found = self._q("SELECT 1 FROM kb_items WHERE uid = ANY(%s) OR batch = %s LIMIT 1", (uids, batch))
        if not found:
            return 0
        with self._change("removing items") as touched:
            gone = self._q("DELETE FROM kb_items WHERE uid = ANY(%s) OR batch = %s RETURNING task", (uids, batch))
            touched |= {r[0] for r in gone}
        return len(gone)

    # -- reading --------------------------------------------------------------------------------
    def __len__(self) -> int:
        with self._db_errors("counting items"):
            return int(self._q("SELECT COUNT(*) FROM kb_items")[0][0])

    def items(self, task: str | None = None) -> Iterator[KnowledgeItem]:
        sql = f"SELECT {_ITEM_COLUMNS} FROM kb_items" + (" WHERE task = %s" if task else "") + " ORDER BY rowid"
        with self._db_errors("reading items"):
            rows = self._q(sql, (task,) if task else ())
        for row in rows:
            yield _item(row)

    def stats(self) -> dict[str, Any]:
        """Counts per task, label and batch: of the snapshot this handle serves once one is loaded (so a replica
        reports what it enforces, also while the database is away), else read from the database."""
        if self._index is not None:
            if self._stats is None:
                self._stats = _snapshot_stats(self.path, self._snapshot, self._meta.get("embedder"))
            return self._stats
        with self._db_errors("reading statistics"):
            rows = self._q("SELECT task, label, category, batch, COUNT(*) FROM kb_items GROUP BY 1, 2, 3, 4")
        by_task: dict[str, Counter[str]] = {}
        batches: Counter[str] = Counter()
        for task, label, _category, batch, n in rows:
            by_task.setdefault(task, Counter())[label] += n
            batches[batch] += n
        return {
            "path": self.path,
            "items": sum(batches.values()),
            "embedder": self.meta().get("embedder"),
            "by_task": {t: dict(c) for t, c in sorted(by_task.items())},
            "categories": len({(r[0], r[2]) for r in rows}),
            "batches": dict(batches),
        }

    def index(self) -> _Index:
        """The search matrix, read with every item in one snapshot (and its generation)."""
        if self._index is None:
            with self._db_errors("loading the index"):
                outermost = self._conn.info.transaction_status == _psycopg()[0].pq.TransactionStatus.IDLE
                with self._conn.transaction():
                    if outermost:
                        self._q("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    meta, index, snapshot = self._read_snapshot()
            self._index, self._snapshot, self._meta, self._stats = index, snapshot, meta, None
            self.generation, self._versions = int(meta["generation"]), versions_from_meta(meta)
        return self._index

    def reuse(self, previous: KnowledgeBase) -> None:
        """Let the next snapshot load copy the rows it shares with ``previous`` (a handle on the same database
        holding a snapshot) instead of reading them again: only rows added since are read. Rows are never
        updated in place by an add or a remove (a replaced item gets a new row); a change that does update
        in place (a metadata sync, a re-embedding) bumps ``rewrites``, and the snapshot is then read whole."""
        if isinstance(previous, PgKnowledgeBase) and previous.url == self.url and previous._index is not None:
            self._previous = (previous._meta.get(REWRITES, "0"), previous._index, previous._snapshot)

    def _read_snapshot(self) -> tuple[dict[str, str], _Index, dict[int, KnowledgeItem]]:
        meta: dict[str, str] = dict(self._q("SELECT key, value FROM kb_meta"))  # type: ignore[arg-type]
        previous, self._previous = self._previous, None
        if previous is not None and previous[0] == meta.get(REWRITES, "0"):
            return meta, *_load_since(self._conn, int(meta["dim"]), previous[1], previous[2])
        return meta, *_load(self._conn, int(meta["dim"]))

    def item_at(self, rowid: int) -> KnowledgeItem:
        """From the snapshot in memory: searches keep working while the database is away."""
        self.index()
        return self._snapshot[rowid]

    def shared_item_at(self, rowid: int) -> KnowledgeItem:
        return self.item_at(rowid)

    def search_hnsw(
        self,
        query: np.ndarray,
        k: int = 3,
        *,
        task: str | None = None,
        label: str | None = None,
        ef_search: int | None = None,
    ) -> list[tuple[str, float]]:
        """Approximate top-k (uid, similarity) from the HNSW index of the (task, label) partition.

        Nothing is held in memory. ``ef_search`` (default ``self.ef_search``, the ``kb_hnsw_ef_search``
        setting) is how many candidates the scan keeps: more is slower and closer to exact. Without
        both a task and a label no partition index applies and PostgreSQL scans every row (exact).
        """
        vec = np.asarray(query, dtype=np.float32).reshape(-1)
        filters = [(col, v) for col, v in (("task", task), ("label", label)) if v is not None]
        where = ("WHERE " + " AND ".join(f"{col} = %s" for col, _ in filters)) if filters else ""
        params = [v for _, v in filters]
        sql = f"SELECT uid, -(vector <#> %s) FROM kb_items {where} ORDER BY vector <#> %s LIMIT %s"
        with self._db_errors("searching"), self._conn.transaction():
            self._q(f"SET LOCAL hnsw.ef_search = {int(ef_search or self.ef_search)}")
            rows = self._q(sql, (vec, *params, vec, k))
        return [(uid, float(s)) for uid, s in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def hnsw_build_memory_mb(rows: int, dim: int, cap_mb: int = HNSW_BUILD_MEMORY_MB, *, m: int = HNSW_M) -> int:
    """``maintenance_work_mem`` (MB) that holds the HNSW graph (``m``) of ``rows`` vectors of ``dim`` while it is
    built: the measured size per element plus a quarter, at least PostgreSQL's default 64 MB, at most ``cap_mb``."""
    need = rows * (4 * dim + HNSW_ELEMENT_BYTES + HNSW_NEIGHBOUR_BYTES * m) * 1.25 / 2**20
    return max(64, min(int(need) + 1, int(cap_mb)))


def check_graph(m: int, ef_construction: int) -> tuple[int, int]:
    """``(m, ef_construction)`` if pgvector accepts them (m 2..100, ef_construction 4..1000 and >= 2 m)."""
    if not 2 <= m <= 100:
        raise ValueError(f"HNSW m must be 2..100, not {m}")
    if not 4 <= ef_construction <= 1000 or ef_construction < 2 * m:
        raise ValueError(f"HNSW ef_construction must be 4..1000 and at least 2 x m ({2 * m}), not {ef_construction}")
    return m, ef_construction


def partition_index_name(task: str, label: str) -> str:
    """The name of the HNSW index of one (task, label) partition (any text maps to a valid identifier)."""
    return "kb_hnsw_" + hashlib.sha256(f"{task}\0{label}".encode()).hexdigest()[:16]


def _snapshot_stats(path: str, snapshot: dict[int, KnowledgeItem], embedder: str | None) -> dict[str, Any]:
    """``stats()`` of the items of a snapshot held in memory."""
    by_task: dict[str, Counter[str]] = {}
    for it in snapshot.values():
        by_task.setdefault(it.task, Counter())[it.label] += 1
    return {
        "path": path,
        "items": len(snapshot),
        "embedder": embedder,
        "by_task": {t: dict(c) for t, c in sorted(by_task.items())},
        "categories": len({(it.task, it.category) for it in snapshot.values()}),
        "batches": dict(Counter(it.batch for it in snapshot.values())),
    }


def _load(conn: Any, dim: int) -> tuple[_Index, dict[int, KnowledgeItem]]:
    n = int(conn.execute("SELECT COUNT(*) FROM kb_items").fetchone()[0])
    matrix = np.empty((n, dim), dtype=np.float32)
    rowids = np.empty(n, dtype=np.int64)
    snapshot: dict[int, KnowledgeItem] = {}
    cols: dict[str, list[str]] = {"task": [], "label": [], "category": []}
    i = 0
    with conn.cursor(binary=True) as cur:
        cur.execute(f"SELECT rowid, vector, {_ITEM_COLUMNS} FROM kb_items ORDER BY {PARTITION_ORDER}")
        while chunk := cur.fetchmany(LOAD_CHUNK):
            for row in chunk:
                item = _item(row[2:])
                matrix[i], rowids[i], snapshot[row[0]] = _array(row[1]), row[0], item
                cols["task"].append(item.task)
                cols["label"].append(item.label)
                cols["category"].append(item.category)
                i += 1
    return _Index(rowids[:i], matrix[:i], cols), snapshot


def _load_since(
    conn: Any, dim: int, before: _Index, items: dict[int, KnowledgeItem]
) -> tuple[_Index, dict[int, KnowledgeItem]]:
    """``_load``, copying the rows a previous snapshot (``before``, ``items``) already holds; only new rows are read."""
    rowids = np.array(
        [r[0] for r in conn.execute(f"SELECT rowid FROM kb_items ORDER BY {PARTITION_ORDER}")], dtype=np.int64
    )
    order = np.argsort(before.rowids)
    pos = np.clip(np.searchsorted(before.rowids[order], rowids), 0, max(len(order) - 1, 0))
    known = before.rowids[order][pos] == rowids if len(order) else np.zeros(len(rowids), dtype=bool)
    matrix = np.empty((len(rowids), dim), dtype=np.float32)
    matrix[known] = before.matrix[order[pos[known]]]
    snapshot = {int(r): items[int(r)] for r in rowids[known]}
    new = rowids[~known]
    if len(new):
        at = {int(r): i for i, r in enumerate(rowids) if not known[i]}
        with conn.cursor(binary=True) as cur:
            cur.execute(f"SELECT rowid, vector, {_ITEM_COLUMNS} FROM kb_items WHERE rowid = ANY(%s)", (new.tolist(),))
            for row in cur:
                matrix[at[row[0]]], snapshot[row[0]] = _array(row[1]), _item(row[2:])
    in_order = [snapshot[int(r)] for r in rowids]
    cols = {name: [getattr(it, name) for it in in_order] for name in ("task", "label", "category")}
    return _Index(rowids, matrix, cols), snapshot


def _array(vector: Any) -> np.ndarray:
    """A pgvector value (binary: ``Vector``; text: ndarray) as float32."""
    return np.asarray(vector.to_numpy() if hasattr(vector, "to_numpy") else vector, dtype=np.float32)
