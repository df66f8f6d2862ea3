"""How knowledge-base search scales, on both backends side by side.

For each size, vector kind and task distribution: insert synthetic items (384-dim unit vectors)
through the backend's own ``add_vectors``, reopen the base, and time the engines' query (top-3
within one task and label) against exact search over every vector:

- ``sqlite``: the embedded base, exact search over the (task, label) partition in memory;
- ``sqlite-ann``: the same base's approximate search (``search_ann``: a usearch HNSW index of the
  partition, built on first use and saved beside the file), one row per expansion (the ``ef_search``
  values); partitions under ``ann_min_rows`` are searched exactly, as in the product;
- ``postgres``: PostgreSQL + pgvector's HNSW index (``search_hnsw``), one row per ``ef_search``.

Vector kinds: ``random`` (uniform on the sphere: no structure, the worst case for graph indexes) and
``clustered`` (a Gaussian mixture: 1,000 centres, neighbours at cosine ~0.6 like real embeddings).
Distributions: ``even`` (items spread over three tasks and two labels: the queried partition holds
1/6 of the base) and ``skewed`` (90 % of the items in the queried task: it holds 45 %).
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from bluecodeagent.bench.metrics import percentile
from bluecodeagent.errors import KnowledgeError
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.knowledge.store import KnowledgeBase

DIM = 384
K = 3
TASKS = ("malicious", "bias", "injection")
LABELS = ("unsafe", "safe")
QUERY_TASK, QUERY_LABEL = "malicious", "unsafe"
TASK_SHARES = {"even": (1 / 3, 1 / 3, 1 / 3), "skewed": (0.9, 0.05, 0.05)}
CENTRES = 1_000
CLUSTER_NOISE = 0.068  # per dimension: a point sits at cosine ~0.6 from its centre
BACKENDS = ("sqlite", "postgres")
VECTOR_KINDS = ("random", "clustered")
# The options of ``bluecode bench --kb-scale`` and ``benchmarks/kb_scale.py`` (comma lists), with their defaults.
DEFAULT_SIZES = "10000,100000,1000000"
DEFAULT_VECTORS = "random"
DEFAULT_SPREAD = "even,skewed"
DEFAULT_EF_SEARCH = "100"
DEFAULT_QUERIES = 100
OPTION_HELP = {
    "sizes": "item counts to measure, e.g. 10000,100000",
    "backends": f"which of {', '.join(BACKENDS)} (default: both, or SQLite alone without the postgres extra)",
    "vectors": "random (uniform on the sphere, the worst case for HNSW) and/or clustered (like real embeddings)",
    "spread": "how items spread over tasks: even (the queried partition holds 1/6) and/or skewed (45 %)",
    "ef_search": "candidates an HNSW search keeps, one row per value: pgvector hnsw.ef_search and the "
    "sqlite-ann rows' usearch expansion",
    "queries": "queries timed per row",
    "ann_min_rows": "smallest partition sqlite-ann indexes (default: the product's kb_ann_min_rows)",
}


class SyntheticEmbedder:
    """Stands in for a real embedder so the base records a name and dimension; never embeds text."""

    name = "synthetic-random"
    dim = DIM

    def embed(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError("the scale bench inserts precomputed vectors")


class ScaleResult(BaseModel):
    """One backend at one size, vector kind and distribution."""

    backend: str
    size: int
    vectors: str
    distribution: str
    partition: int  # rows in the queried (task, label) partition
    method: str
    insert_s: float
    open_load_s: float
    query_p50_ms: float
    query_p95_ms: float
    recall_at_3: float
    rss_delta_mb: float
    storage_mb: float
    build_s: float = 0.0  # building the partition indexes (sqlite-ann: the queried one, on first search)
    index_mb: float = 0.0  # sqlite-ann: the index in memory
    index_disk_mb: float = 0.0  # the queried partition's index on disk (sqlite-ann: its saved file)


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def random_unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    return _unit(rng.standard_normal((n, dim), dtype=np.float32))


class VectorSource:
    """Reproducible item vectors and queries of one kind (``random`` or ``clustered``)."""

    def __init__(self, kind: str, seed: int = 0) -> None:
        if kind not in ("random", "clustered"):
            raise ValueError(f"unknown vector kind {kind!r} (random or clustered)")
        self.kind = kind
        self.rng = np.random.default_rng(seed)
        self.centres = random_unit(self.rng, CENTRES)

    def draw(self, n: int) -> np.ndarray:
        if self.kind == "random":
            return random_unit(self.rng, n)
        noise = CLUSTER_NOISE * self.rng.standard_normal((n, DIM), dtype=np.float32)
        return _unit(self.centres[self.rng.integers(0, CENTRES, n)] + noise)


def synthetic_items(start: int, n: int, distribution: str, rng: np.random.Generator) -> list[KnowledgeItem]:
    """Items ``start .. start+n`` with tasks drawn by ``distribution`` and labels alternating."""
    tasks = rng.choice(len(TASKS), size=n, p=TASK_SHARES[distribution])
    return [
        KnowledgeItem(
            uid=f"s{i}",
            task=TASKS[t],
            label=LABELS[i % 2],
            category=f"c{i % 17}",
            text=f"synthetic item {i}",
            batch="scale",
        )
        for i, t in zip(range(start, start + n), tasks.tolist(), strict=True)
    ]


def available_backends() -> list[str]:
    """Both backends, or only SQLite when the postgres extra (pgserver, psycopg, pgvector) is missing."""
    try:
        import pgserver  # noqa: F401

        from bluecodeagent.knowledge.pg_store import _psycopg

        _psycopg()
    except (ImportError, KnowledgeError) as e:
        print(f"kb-scale: measuring SQLite only (PostgreSQL needs the postgres extra: {e})", file=sys.stderr)
        return ["sqlite"]
    return list(BACKENDS)


@contextmanager
def _postgres(workdir: Path, wanted: bool) -> Iterator[str | None]:
    """A throwaway PostgreSQL with pgvector (pgserver), yielding its URL (None when not ``wanted``)."""
    if not wanted:
        yield None
        return
    import pgserver

    server = pgserver.get_server(str(workdir / "pg"), cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@contextmanager
def _watch_builds(url: str | None, every_s: float = 60.0) -> Iterator[None]:
    """While the body runs, print PostgreSQL's index-build progress to stderr every ``every_s`` seconds."""
    if url is None:
        yield
        return
    from bluecodeagent.knowledge.pg_store import connect

    done = threading.Event()

    def watch() -> None:
        with connect(url) as conn:
            while not done.wait(every_s):
                for phase, total, tuples in conn.execute(
                    "SELECT phase, tuples_total, tuples_done FROM pg_stat_progress_create_index"
                ).fetchall():
                    of = f" of {total}" if total else ""  # pgvector's HNSW build does not report a total
                    _say(f"index build, {phase}: {tuples}{of} rows")

    watcher = threading.Thread(target=watch, name="kb-scale-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join(timeout=5)


def _say(message: str) -> None:
    print(f"kb-scale: {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def _open(backend: str, where: Any, *, create: bool = False) -> KnowledgeBase:
    if backend == "sqlite":
        return KnowledgeBase(where, SyntheticEmbedder(), create=create)
    from bluecodeagent.knowledge.pg_store import PgKnowledgeBase

    return PgKnowledgeBase(where, SyntheticEmbedder())


def _storage_mb(backend: str, kb: KnowledgeBase) -> float:
    if backend == "sqlite":
        return kb.path.stat().st_size / 2**20
    return kb._q("SELECT pg_database_size(current_database())")[0][0] / 2**20  # type: ignore[attr-defined]


def _timed(fn: Callable[[np.ndarray], list[str]], queries: np.ndarray, exact: list[set[str]]) -> tuple[list, float]:
    fn(queries[0])  # warm caches
    times, found = [], 0
    for q, truth in zip(queries, exact, strict=True):
        t = time.perf_counter()
        uids = fn(q)
        times.append((time.perf_counter() - t) * 1000)
        found += len(set(uids) & truth)
    return times, found / max(sum(len(t) for t in exact), 1)


def measure(
    size: int,
    workdir: Path,
    *,
    backend: str = "sqlite",
    vectors: str = "random",
    distribution: str = "even",
    queries: int = 100,
    batch: int = 50_000,
    seed: int = 0,
    ef_search: Sequence[int] = (100,),
    where: Any = None,
    progress: Callable[[int], None] | None = None,
    ann_min_rows: int | None = None,
) -> list[ScaleResult]:
    """Build a base of ``size`` synthetic items and time insert, load and filtered top-3 queries.

    ``where`` is the PostgreSQL URL for ``backend="postgres"`` (its ``kb_*`` tables are dropped first).
    On SQLite the approximate search is measured too (``sqlite-ann``; ``ann_min_rows``: the smallest
    partition given an index, default the product's).
    """
    rng = np.random.default_rng(seed)
    source = VectorSource(vectors, seed)
    location = workdir / f"scale-{size}.sqlite" if backend == "sqlite" else where
    if backend == "sqlite":
        location.unlink(missing_ok=True)
    else:
        _drop_tables(where)
    kb = _open(backend, location, create=True)
    all_vectors = np.empty((size, DIM), dtype=np.float32)
    in_partition = np.zeros(size, dtype=bool)
    t0 = time.perf_counter()
    _say(f"{backend}: inserting {size} items")
    for start in range(0, size, batch):
        n = min(batch, size - start)
        items = synthetic_items(start, n, distribution, rng)
        vecs = source.draw(n)
        all_vectors[start : start + n] = vecs
        in_partition[start : start + n] = [it.task == QUERY_TASK and it.label == QUERY_LABEL for it in items]
        kb.add_vectors(items, vecs)
        if progress:
            progress(n)
    insert_s = time.perf_counter() - t0
    pg_build_s = getattr(kb, "index_build_s", 0.0)  # PostgreSQL: the part of insert_s spent building indexes
    _say(f"{backend}: inserted in {insert_s:.0f} s (of which building indexes {pg_build_s:.0f} s)")
    kb.close()
    del kb
    gc.collect()

    qs = source.draw(queries)
    part_rows = np.flatnonzero(in_partition)
    sims = qs @ all_vectors[part_rows].T  # the truth: exact search over every vector of the partition
    exact = [{f"s{part_rows[j]}" for j in np.argsort(-row)[:K]} for row in sims]
    del sims

    rss0 = _rss_mb()
    t0 = time.perf_counter()
    kb = _open(backend, location)
    kb.index()
    open_s = time.perf_counter() - t0
    _say(f"{backend}: reopened and loaded in {open_s:.1f} s")
    rss_delta = _rss_mb() - rss0
    common = {
        "backend": backend,
        "size": size,
        "vectors": vectors,
        "distribution": distribution,
        "partition": len(part_rows),
        "insert_s": insert_s,
        "open_load_s": open_s,
        "rss_delta_mb": rss_delta,
        "storage_mb": _storage_mb(backend, kb),
    }
    results = []
    if backend == "sqlite":

        def search(q: np.ndarray) -> list[str]:
            return [h.item.uid for h in kb.search(q, K, task=QUERY_TASK, label=QUERY_LABEL)]

        def whole_matrix(q: np.ndarray) -> list[str]:  # the search before partitions: every row, masked
            idx = kb.index()
            return [kb.item_at(r).uid for r, _ in idx.top_k(q, K, idx.mask(task=QUERY_TASK, label=QUERY_LABEL))]

        results.append(_result(common, "exact, partition", *_timed(search, qs, exact)))
        results.append(_result(common, "exact, whole matrix", *_timed(whole_matrix, qs, exact)))
        results += _measure_ann(kb, common, qs, exact, ef_search, ann_min_rows)
    else:
        kb._q("ANALYZE kb_items")  # type: ignore[attr-defined]  # the statistics autovacuum would gather
        plan = _plan(kb, qs[0])
        common |= {"build_s": pg_build_s, "index_disk_mb": _pg_index_mb(kb)}
        for ef in ef_search:

            def search(q: np.ndarray, ef: int = ef) -> list[str]:
                return [u for u, _ in kb.search_hnsw(q, K, task=QUERY_TASK, label=QUERY_LABEL, ef_search=ef)]  # type: ignore[attr-defined]

            results.append(_result(common, f"{plan} ef_search={ef}", *_timed(search, qs, exact)))
    kb.close()
    if backend == "sqlite":
        location.unlink(missing_ok=True)
        shutil.rmtree(location.with_name(location.name + ".ann"), ignore_errors=True)
    return results


def _measure_ann(
    kb: KnowledgeBase,
    common: dict[str, Any],
    qs: np.ndarray,
    exact: list[set[str]],
    ef_search: Sequence[int],
    min_rows: int | None,
) -> list[ScaleResult]:
    """``search_ann`` rows: the index built (timed), then reloaded from disk as a restarted process would."""
    kb.configure_ann(min_rows=min_rows)
    built = kb.ann_partition(QUERY_TASK, QUERY_LABEL)
    row = {**common, "backend": "sqlite-ann"}
    if built is not None:
        kb._ann_indexes().clear()  # forget it in memory: the next search verifies and loads the saved file
        loaded = kb.ann_partition(QUERY_TASK, QUERY_LABEL)
        assert loaded is not None
        row |= {
            "open_load_s": common["open_load_s"] + (loaded.seconds if loaded.source == "loaded" else 0.0),
            "build_s": built.seconds,
            "index_mb": loaded.memory_bytes / 2**20,
            "index_disk_mb": loaded.disk_bytes / 2**20,
        }
    results = []
    for ef in ef_search:

        def search(q: np.ndarray, ef: int = ef) -> list[str]:
            return [u for u, _ in kb.search_ann(q, K, task=QUERY_TASK, label=QUERY_LABEL, expansion=ef)]

        method = f"usearch ef={ef}" if built is not None else "exact (small part.)"
        results.append(_result(row, method, *_timed(search, qs, exact)))
        if built is None:
            break
    return results


def _plan(kb: Any, query: np.ndarray) -> str:
    """Which path PostgreSQL takes for the filtered query: the HNSW index, or the task index and a sort."""
    rows = kb._q(
        "EXPLAIN SELECT uid FROM kb_items WHERE task = %s AND label = %s ORDER BY vector <#> %s LIMIT 3",
        (QUERY_TASK, QUERY_LABEL, query),
    )
    return "hnsw" if any("kb_hnsw_" in r[0] for r in rows) else "btree+sort"  # partition_index_name()


def _pg_index_mb(kb: Any) -> float:
    """The size of the queried partition's HNSW index in PostgreSQL (0 when it has none)."""
    from bluecodeagent.knowledge.pg_store import partition_index_name

    rows = kb._q("SELECT pg_relation_size(to_regclass(%s))", (partition_index_name(QUERY_TASK, QUERY_LABEL),))
    return (rows[0][0] or 0) / 2**20


def _result(common: dict[str, Any], method: str, times: list[float], recall: float) -> ScaleResult:
    return ScaleResult(
        **common,
        method=method,
        query_p50_ms=percentile(times, 50) or 0.0,
        query_p95_ms=percentile(times, 95) or 0.0,
        recall_at_3=recall,
    )


def _drop_tables(url: str) -> None:
    from bluecodeagent.knowledge.pg_store import connect

    with connect(url) as conn:
        for table in ("kb_items", "kb_meta", "kb_blobs", "kb_schema"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def run_scale(
    sizes: Sequence[int],
    workdir: Path | None = None,
    *,
    backends: Sequence[str] | None = None,
    vectors: Sequence[str] = ("random",),
    distributions: Sequence[str] = ("even", "skewed"),
    ef_search: Sequence[int] = (100,),
    queries: int = 100,
    progress: Callable[[int], Callable[[int], None]] | None = None,
    ann_min_rows: int | None = None,
) -> list[ScaleResult]:
    """Measure every combination in turn (temporary files and a temporary PostgreSQL, deleted afterwards).

    ``backends`` defaults to both, or to SQLite alone (said on stderr) without the postgres extra.
    """
    if backends is None:
        backends = available_backends()
    runs = [(b, v, d, n) for v in vectors for d in distributions for n in sizes for b in backends]
    update = progress(sum(r[3] for r in runs)) if progress else None
    results: list[ScaleResult] = []
    with (
        tempfile.TemporaryDirectory(prefix="bluecode-kb-scale-", dir=workdir) as tmp,
        _postgres(Path(tmp), "postgres" in backends) as url,
    ):
        for backend, kind, dist, n in runs:
            _say(f"{backend} {n} items, {kind} vectors, {dist} tasks")
            one = {"backend": backend, "vectors": kind, "distribution": dist, "where": url}
            # PostgreSQL takes a whole batch in one transaction, which builds each partition's index once
            chunk = n if backend == "postgres" else 50_000
            with _watch_builds(url if backend == "postgres" else None):
                rows = measure(
                    n, Path(tmp), queries=queries, ef_search=ef_search, batch=chunk, progress=update,
                    ann_min_rows=ann_min_rows, **one,
                )  # fmt: skip
            print(scale_table(rows), file=sys.stderr, flush=True)  # kept in the log if a later run is cut short
            results += rows
    return results


def _choices(value: str, allowed: Sequence[str], what: str) -> list[str]:
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    if not chosen or any(v not in allowed for v in chosen):
        raise ValueError(f"{what}: expected a comma list of {', '.join(allowed)}, got {value!r}")
    return chosen


def _positive_ints(value: str, what: str) -> list[int]:
    try:
        numbers = [int(v.strip().replace("_", "")) for v in value.split(",") if v.strip()]
    except ValueError:
        numbers = []
    if not numbers or min(numbers) < 1:
        raise ValueError(f"{what}: expected a comma list of positive integers, got {value!r}")
    return numbers


def run_scale_options(
    *,
    sizes: str = DEFAULT_SIZES,
    backends: str | None = None,
    vectors: str = DEFAULT_VECTORS,
    spread: str = DEFAULT_SPREAD,
    ef_search: str = DEFAULT_EF_SEARCH,
    queries: int = DEFAULT_QUERIES,
    ann_min_rows: int | None = None,
    progress: Callable[[int], Callable[[int], None]] | None = None,
) -> list[ScaleResult]:
    """``run_scale`` from the options as the command line gives them (see ``OPTION_HELP``).

    Raises ValueError, naming the option, on a value it cannot use.
    """
    if queries < 1:
        raise ValueError(f"queries: expected a positive integer, got {queries}")
    if ann_min_rows is not None and ann_min_rows < 0:
        raise ValueError(f"ann-min-rows: expected 0 or more, got {ann_min_rows}")
    return run_scale(
        _positive_ints(sizes, "sizes"),
        backends=_choices(backends, BACKENDS, "backends") if backends else None,
        vectors=_choices(vectors, VECTOR_KINDS, "vectors"),
        distributions=_choices(spread, tuple(TASK_SHARES), "spread"),
        ef_search=_positive_ints(ef_search, "ef-search"),
        queries=queries,
        progress=progress,
        ann_min_rows=ann_min_rows,
    )


def scale_table(results: Sequence[ScaleResult]) -> str:
    """A fixed-width table of the scale results, both backends side by side."""
    head = (
        f"{'backend':<10}  {'items':>8}  {'vectors':<9}  {'tasks':<6}  {'partition':>9}  {'method':<20}  "
        f"{'insert s':>8}  {'load s':>7}  {'p50 ms':>7}  {'p95 ms':>7}  {'recall@3':>8}  {'RSS +MB':>8}  "
        f"{'disk MB':>8}  {'build s':>7}  {'index MB':>8}  {'idx disk':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        ann = f"{r.build_s:>7.1f}  {r.index_mb:>8.0f}  {r.index_disk_mb:>8.0f}" if r.build_s else " " * 29
        lines.append(
            f"{r.backend:<10}  {r.size:>8}  {r.vectors:<9}  {r.distribution:<6}  {r.partition:>9}  {r.method:<20}  "
            f"{r.insert_s:>8.1f}  {r.open_load_s:>7.2f}  {r.query_p50_ms:>7.2f}  {r.query_p95_ms:>7.2f}  "
            f"{r.recall_at_3:>8.3f}  {r.rss_delta_mb:>8.0f}  {r.storage_mb:>8.0f}  "
            f"{ann}"
        )
    lines.append(
        f"top-3 within task {QUERY_TASK!r}, label {QUERY_LABEL!r}; recall against exact search over every vector; "
        f"load = reopen + read the search matrix (sqlite-ann: + verify and load the saved index); "
        f"sqlite-ann ef = usearch expansion_search; build s: postgres = every partition's HNSW build (part of "
        f"insert s), sqlite-ann = the queried partition's index; idx disk: the queried partition's index; "
        f"BLAS threads: "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )
    return "\n".join(lines)
