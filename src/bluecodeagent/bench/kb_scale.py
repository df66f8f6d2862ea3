"""How the knowledge base scales: insert, open/load and filtered exact top-3 query time on random
unit vectors (384-dim) at growing sizes, in a temporary SQLite knowledge base."""

from __future__ import annotations

import gc
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from bluecodeagent.bench.metrics import percentile
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.knowledge.store import KnowledgeBase

DIM = 384
TASKS = ("bias", "malicious", "injection")
LABELS = ("unsafe", "safe")


class SyntheticEmbedder:
    """Stands in for a real embedder so the base records a name and dimension; never embeds text."""

    name = "synthetic-random"
    dim = DIM

    def embed(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError("the scale bench inserts precomputed vectors")


class ScaleResult(BaseModel):
    """Timings and memory for one size."""

    size: int
    insert_s: float
    insert_rows_per_s: float
    open_load_s: float
    query_p50_ms: float
    query_p95_ms: float
    query_unfiltered_p50_ms: float
    file_mb: float
    rss_delta_mb: float
    matrix_mb: float


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


def random_unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    v = rng.standard_normal((n, dim), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def measure(
    size: int,
    workdir: Path,
    *,
    queries: int = 100,
    batch: int = 50_000,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> ScaleResult:
    """Build a base of ``size`` random items in ``workdir`` and time insert, load and queries."""
    rng = np.random.default_rng(seed)
    path = workdir / f"scale-{size}.sqlite"
    path.unlink(missing_ok=True)
    kb = KnowledgeBase(path, SyntheticEmbedder(), create=True)
    t0 = time.perf_counter()
    for start in range(0, size, batch):
        n = min(batch, size - start)
        items = [
            KnowledgeItem(
                uid=f"s{i}",
                task=TASKS[i % 3],
                label=LABELS[(i // 3) % 2],
                category=f"c{i % 17}",
                text=f"synthetic item {i}",
                batch="scale",
            )
            for i in range(start, start + n)
        ]
        kb.add_vectors(items, random_unit(rng, n))
        if progress:
            progress(n)
    insert_s = time.perf_counter() - t0
    kb.close()
    del kb
    gc.collect()

    rss0 = _rss_mb()
    t0 = time.perf_counter()
    kb = KnowledgeBase(path, SyntheticEmbedder())
    idx = kb.index()
    open_s = time.perf_counter() - t0
    rss_delta = _rss_mb() - rss0
    qs = random_unit(rng, queries)
    kb.search(qs[0], 3, task="malicious", label="unsafe")  # first query builds nothing more; warm caches
    filtered, plain = [], []
    for q in qs:
        t = time.perf_counter()
        hits = kb.search(q, 3, task="malicious", label="unsafe")
        filtered.append((time.perf_counter() - t) * 1000)
        assert all(h.item.task == "malicious" and h.item.label == "unsafe" for h in hits)
        t = time.perf_counter()
        kb.search(q, 3)
        plain.append((time.perf_counter() - t) * 1000)
    result = ScaleResult(
        size=size,
        insert_s=insert_s,
        insert_rows_per_s=size / insert_s if insert_s else 0.0,
        open_load_s=open_s,
        query_p50_ms=percentile(filtered, 50) or 0.0,
        query_p95_ms=percentile(filtered, 95) or 0.0,
        query_unfiltered_p50_ms=percentile(plain, 50) or 0.0,
        file_mb=path.stat().st_size / 2**20,
        rss_delta_mb=rss_delta,
        matrix_mb=idx.matrix.nbytes / 2**20,
    )
    kb.close()
    path.unlink(missing_ok=True)
    return result


def run_scale(
    sizes: Sequence[int],
    workdir: Path | None = None,
    *,
    queries: int = 100,
    progress: Callable[[int], Callable[[int], None]] | None = None,
) -> list[ScaleResult]:
    """Measure every size in turn (each in its own temporary file, deleted afterwards)."""
    update = progress(sum(sizes)) if progress else None
    with tempfile.TemporaryDirectory(prefix="bluecode-kb-scale-", dir=workdir) as tmp:
        return [measure(n, Path(tmp), queries=queries, progress=update) for n in sizes]


def scale_table(results: Sequence[ScaleResult]) -> str:
    """A fixed-width table of the scale results."""
    head = (
        f"{'items':>9}  {'insert s':>9}  {'rows/s':>9}  {'open+load s':>11}  {'q p50 ms':>9}  {'q p95 ms':>9}  "
        f"{'nofilt p50':>10}  {'file MB':>8}  {'RSS +MB':>8}  {'matrix MB':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.size:>9}  {r.insert_s:>9.2f}  {r.insert_rows_per_s:>9.0f}  {r.open_load_s:>11.2f}  "
            f"{r.query_p50_ms:>9.2f}  {r.query_p95_ms:>9.2f}  {r.query_unfiltered_p50_ms:>10.2f}  "
            f"{r.file_mb:>8.1f}  {r.rss_delta_mb:>8.1f}  {r.matrix_mb:>9.1f}"
        )
    lines.append(
        "exact cosine top-3; filtered = task 'malicious' and label 'unsafe' (1/6 of rows); "
        f"BLAS threads: OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )
    return "\n".join(lines)
