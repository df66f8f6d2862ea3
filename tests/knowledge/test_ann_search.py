"""KnowledgeBase.search_ann: the usearch index per (task, label) partition against exact search."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bluecodeagent.bench.kb_scale import SyntheticEmbedder
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.knowledge.store import KnowledgeBase, _Index

DIM = 384
N = 4000
TASK, LABEL = "malicious", "unsafe"


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


class Clusters:
    """Reproducible clustered unit vectors: 40 centres, points at cosine ~0.6 from theirs (like embeddings)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.centres = _unit(self.rng.standard_normal((40, DIM)))

    def draw(self, n: int) -> np.ndarray:
        noise = 0.068 * self.rng.standard_normal((n, DIM))
        return _unit(self.centres[self.rng.integers(0, len(self.centres), n)] + noise)


def _items(start: int, n: int) -> list[KnowledgeItem]:
    """Three in four items in the queried partition, the rest in the same task's other label and another task."""
    kinds = [(TASK, LABEL), (TASK, LABEL), (TASK, "safe"), ("bias", LABEL)]
    return [
        KnowledgeItem(
            uid=f"a{i}", task=kinds[i % 4][0], label=kinds[i % 4][1], category=f"c{i % 5}", text=f"x {i}", batch="ann"
        )
        for i in range(start, start + n)
    ]


@pytest.fixture
def filled(tmp_path: Path):
    """A base of N clustered items whose partition (TASK, LABEL) gets an index (threshold 100 rows)."""
    source = Clusters(seed=11)
    items, vectors = _items(0, N), source.draw(N)
    kb = KnowledgeBase(tmp_path / "kb.sqlite", SyntheticEmbedder(), create=True)
    kb.add_vectors(items, vectors)
    kb.configure_ann(min_rows=100)
    yield kb, items, vectors, source
    kb.close()


def _exact_uids(items: list[KnowledgeItem], vectors: np.ndarray, query: np.ndarray, k: int, **filters) -> list[str]:
    """Brute-force top-k uids among the items matching ``filters``, independent of the knowledge base."""
    keep = np.array([all(getattr(it, f) == v for f, v in filters.items()) for it in items])
    sims = np.where(keep, vectors @ query, -np.inf)
    return [items[i].uid for i in np.argsort(-sims, kind="stable")[:k] if np.isfinite(sims[i])]


def _no_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any exact partition search fail: what passes was answered by the index."""

    def refuse(*args, **kwargs):
        raise AssertionError("exact search was used")

    monkeypatch.setattr(_Index, "search", refuse)


def test_recall_against_exact_search_on_clustered_vectors(filled, monkeypatch):
    kb, items, vectors, source = filled
    part = kb.ann_partition(TASK, LABEL)
    assert part is not None and part.source == "built" and part.rows == N // 2
    _no_exact(monkeypatch)
    queries = source.draw(100)
    found = total = 0
    for q in queries:
        got = kb.search_ann(q, 3, task=TASK, label=LABEL)
        want = _exact_uids(items, vectors, q, 3, task=TASK, label=LABEL)
        assert len(got) == 3
        assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
        by_uid = {it.uid: i for i, it in enumerate(items)}
        for uid, sim in got:  # every hit is in the partition, with its exact similarity
            it = items[by_uid[uid]]
            assert (it.task, it.label) == (TASK, LABEL)
            assert sim == pytest.approx(float(vectors[by_uid[uid]] @ q), abs=1e-5)
        found += len({u for u, _ in got} & set(want))
        total += len(want)
    assert found / total >= 0.99


def test_new_item_is_found_and_removed_item_is_gone(filled, monkeypatch):
    kb, _, _, source = filled
    first = kb.ann_partition(TASK, LABEL)
    assert first is not None
    query = source.draw(1)[0]
    assert "fresh" not in {u for u, _ in kb.search_ann(query, 3, task=TASK, label=LABEL)}
    kb.add_vectors([KnowledgeItem(uid="fresh", task=TASK, label=LABEL, text="new one", batch="ann")], query[None, :])
    _no_exact(monkeypatch)
    hits = kb.search_ann(query, 3, task=TASK, label=LABEL)
    assert hits[0][0] == "fresh" and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    second = kb.ann_partition(TASK, LABEL)
    assert second is not None and second.source == "built" and second.rows == first.rows + 1
    assert second.fingerprint != first.fingerprint

    kb.remove(uids=["fresh"])
    assert "fresh" not in {u for u, _ in kb.search_ann(query, 3, task=TASK, label=LABEL)}
    assert kb.ann_partition(TASK, LABEL).rows == first.rows  # type: ignore[union-attr]


def test_filters_an_index_cannot_serve_fall_back_to_exact(filled):
    kb, items, vectors, source = filled
    q = source.draw(1)[0]
    got = kb.search_ann(q, 5, task=TASK, label=LABEL, category="c3")
    assert [u for u, _ in got] == _exact_uids(items, vectors, q, 5, task=TASK, label=LABEL, category="c3")
    got = kb.search_ann(q, 5, task=TASK, exclude_label=LABEL)
    assert [u for u, _ in got] == _exact_uids(items, vectors, q, 5, task=TASK, label="safe")
    got = kb.search_ann(q, 5, task=TASK)  # no label: no partition index
    assert [u for u, _ in got] == _exact_uids(items, vectors, q, 5, task=TASK)
    assert not (kb.path.parent / "kb.sqlite.ann").exists()  # none of them built an index


def test_small_partition_is_searched_exactly_without_an_index(filled):
    kb, items, vectors, source = filled
    kb.configure_ann(min_rows=N)  # the partition holds N / 2
    q = source.draw(1)[0]
    assert kb.ann_partition(TASK, LABEL) is None
    got = kb.search_ann(q, 4, task=TASK, label=LABEL)
    assert [u for u, _ in got] == _exact_uids(items, vectors, q, 4, task=TASK, label=LABEL)
    assert not (kb.path.parent / "kb.sqlite.ann").exists()


def _reopen(kb: KnowledgeBase) -> KnowledgeBase:
    again = KnowledgeBase(kb.path, SyntheticEmbedder())
    again.configure_ann(min_rows=100)
    return again


def _saved(kb: KnowledgeBase) -> tuple[Path, Path]:
    paths = kb._ann_indexes().paths(TASK, LABEL)
    assert paths is not None and paths[0].is_file() and paths[1].is_file()
    return paths


def test_saved_index_is_reused_by_the_next_handle(filled):
    kb, *_ = filled
    built = kb.ann_partition(TASK, LABEL)
    again = _reopen(kb)
    loaded = again.ann_partition(TASK, LABEL)
    assert loaded is not None and loaded.source == "loaded" and loaded.fingerprint == built.fingerprint  # type: ignore[union-attr]
    assert loaded.disk_bytes == _saved(kb)[0].stat().st_size
    again.close()


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "manifest"])
def test_corrupt_saved_index_is_rebuilt_not_trusted(filled, monkeypatch, damage):
    kb, items, vectors, source = filled
    kb.ann_partition(TASK, LABEL)
    index_path, manifest_path = _saved(kb)
    data = bytearray(index_path.read_bytes())
    if damage == "flip":  # one byte inside the vectors or graph: the header still parses
        data[len(data) // 2] ^= 0xFF
        index_path.write_bytes(bytes(data))
    elif damage == "truncate":
        index_path.write_bytes(bytes(data[: len(data) // 3]))
    elif damage == "garbage":
        index_path.write_bytes(b"\0not an index\0" * 64)
    else:
        manifest_path.write_text("{ not json", encoding="utf-8")
    again = _reopen(kb)
    part = again.ann_partition(TASK, LABEL)
    assert part is not None and part.source == "built"
    _no_exact(monkeypatch)
    q = source.draw(1)[0]
    assert [u for u, _ in again.search_ann(q, 1, task=TASK, label=LABEL)] == _exact_uids(
        items, vectors, q, 1, task=TASK, label=LABEL
    )
    assert json.loads(manifest_path.read_text(encoding="utf-8"))["fingerprint"] == part.fingerprint  # saved afresh
    again.close()


def test_stale_saved_index_is_rebuilt_even_when_the_version_did_not_move(filled, monkeypatch):
    """A vector changed behind the store's back (no version bump): the fingerprint covers the vectors."""
    kb, items, _, source = filled
    kb.ann_partition(TASK, LABEL)
    _saved(kb)
    query = source.draw(1)[0]
    target = next(it for it in items if (it.task, it.label) == (TASK, LABEL))
    db = sqlite3.connect(kb.path)
    with db:
        db.execute("UPDATE items SET vector = ? WHERE uid = ?", (query.astype(np.float32).tobytes(), target.uid))
    db.close()
    again = _reopen(kb)
    part = again.ann_partition(TASK, LABEL)
    assert part is not None and part.source == "built"
    _no_exact(monkeypatch)
    assert again.search_ann(query, 1, task=TASK, label=LABEL)[0][0] == target.uid
    again.close()


def test_edit_by_another_handle_invalidates_the_saved_index(filled):
    kb, _, _, source = filled
    kb.ann_partition(TASK, LABEL)
    query = source.draw(1)[0]
    other = KnowledgeBase(kb.path, SyntheticEmbedder())
    other.add_vectors([KnowledgeItem(uid="other", task=TASK, label=LABEL, text="from elsewhere")], query[None, :])
    other.close()
    again = _reopen(kb)
    assert again.ann_partition(TASK, LABEL).source == "built"  # type: ignore[union-attr]
    assert again.search_ann(query, 1, task=TASK, label=LABEL)[0][0] == "other"
    again.close()


def test_onnxruntime_still_imports_after_an_approximate_search(tmp_path):
    """usearch's wheel, loaded before onnxruntime, makes ``import onnxruntime`` crash: the store loads it after."""
    script = (
        "import numpy as np, sys\n"
        "from bluecodeagent.bench.kb_scale import SyntheticEmbedder\n"
        "from bluecodeagent.knowledge.item import KnowledgeItem\n"
        "from bluecodeagent.knowledge.store import KnowledgeBase\n"
        "assert 'onnxruntime' not in sys.modules\n"
        "kb = KnowledgeBase(sys.argv[1], SyntheticEmbedder(), create=True)\n"
        "v = np.eye(8, 384, dtype=np.float32)\n"
        "kb.add_vectors([KnowledgeItem(task='malicious', label='unsafe', text=f't{i}') for i in range(8)], v)\n"
        "kb.configure_ann(min_rows=1)\n"
        "assert kb.ann_partition('malicious', 'unsafe') is not None\n"
        "import onnxruntime\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "kb.sqlite")], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
