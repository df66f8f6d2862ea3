"""Search grouped by (task, label) partitions gives exactly what a masked search over every row gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bluecodeagent.bench.kb_scale import SyntheticEmbedder, VectorSource, synthetic_items
from bluecodeagent.knowledge.store import KnowledgeBase, _Index
from postgres_server import fresh_database

N = 3000


def _brute_force(vectors: np.ndarray, keep: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    """Exact top-k row numbers among ``keep``, computed independently of the knowledge base."""
    sims = np.where(keep, vectors @ query, -np.inf)
    order = np.argsort(-sims, kind="stable")[:k]
    return [int(i) for i in order if np.isfinite(sims[i])]


def _filled(backend: str, request: pytest.FixtureRequest, tmp_path: Path, n: int) -> tuple:
    """A base of ``backend`` holding ``n`` clustered items (tasks skewed), their vectors and a reopener."""
    items = synthetic_items(0, n, "skewed", np.random.default_rng(3))
    vectors = VectorSource("clustered", seed=3).draw(n)
    if backend == "sqlite":
        where = tmp_path / "kb.sqlite"
        opener = lambda create=False: KnowledgeBase(where, SyntheticEmbedder(), create=create)  # noqa: E731
    else:
        from bluecodeagent.knowledge.pg_store import PgKnowledgeBase

        url = fresh_database(request.getfixturevalue("pg_server"))
        opener = lambda create=False: PgKnowledgeBase(url, SyntheticEmbedder())  # noqa: E731
    kb = opener(create=True)
    kb.add_vectors(items, vectors)
    return kb, items, vectors, opener


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def base(request, tmp_path_factory):
    """Read-only: shared by the filter tests of one backend."""
    kb, *rest = _filled(request.param, request, tmp_path_factory.mktemp("kb"), N)
    yield kb, *rest
    kb.close()


@pytest.fixture(params=["sqlite", "postgres"])
def small_base(request, tmp_path):
    kb, *rest = _filled(request.param, request, tmp_path, 600)
    yield kb, *rest
    kb.close()


FILTERS = [
    {"task": "malicious", "label": "unsafe"},
    {"task": "bias", "label": "safe"},
    {"task": "injection"},
    {"label": "safe"},
    {"task": "malicious", "category": "c3"},
    {"task": "malicious", "exclude_label": "safe"},
    {},
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "none")
def test_every_filter_matches_brute_force(base, filters):
    kb, items, vectors, _ = base
    keep = np.array(
        [
            all(getattr(it, f) == v for f, v in filters.items() if f != "exclude_label")
            and it.label != filters.get("exclude_label")
            for it in items
        ]
    )
    queries = VectorSource("clustered", seed=9).draw(20)
    for q in queries:
        got = [h.item.uid for h in kb.search(q, 5, **filters)]
        assert got == [items[i].uid for i in _brute_force(vectors, keep, q, 5)]


def test_removed_items_never_come_back_and_a_restart_keeps_results(small_base):
    kb, items, vectors, reopen = small_base
    q = vectors[0]
    first = kb.search(q, 3, task=items[0].task, label=items[0].label)
    assert first[0].item.uid == items[0].uid
    kb.remove(uids=[h.item.uid for h in first])
    after = [h.item.uid for h in kb.search(q, 3, task=items[0].task, label=items[0].label)]
    assert not {h.item.uid for h in first} & set(after) and len(after) == 3
    again = reopen()
    try:
        assert [h.item.uid for h in again.search(q, 3, task=items[0].task, label=items[0].label)] == after
    finally:
        again.close()


def test_rows_not_in_partition_order_are_grouped():
    rng = np.random.default_rng(1)
    vectors = VectorSource("random", seed=1).draw(60)
    tasks = [("bias", "malicious")[i % 2] for i in range(60)]
    labels = [("safe", "unsafe")[(i // 2) % 2] for i in range(60)]
    idx = _Index(np.arange(100, 160), vectors, {"task": tasks, "label": labels, "category": [""] * 60})
    lo, hi = idx.partition("malicious", "unsafe")
    assert hi - lo == 15
    assert all(tasks[r] == "malicious" and labels[r] == "unsafe" for r in idx.rowids[lo:hi] - 100)
    t_lo, t_hi = idx.partition("malicious")
    assert t_hi - t_lo == 30 and all(tasks[r] == "malicious" for r in idx.rowids[t_lo:t_hi] - 100)
    q = rng.standard_normal(vectors.shape[1]).astype(np.float32)
    keep = np.array([t == "malicious" and lab == "unsafe" for t, lab in zip(tasks, labels, strict=True)])
    assert [r - 100 for r, _ in idx.search(q, 4, task="malicious", label="unsafe")] == _brute_force(vectors, keep, q, 4)
    assert idx.partition("vulnerability", "safe") == (0, 0) and idx.search(q, 3, task="vulnerability") == []
