"""KnowledgeBase.search_ann: the usearch index per (task, label) partition against exact search."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bluecodeagent.bench.kb_scale import SyntheticEmbedder
from bluecodeagent.knowledge import ann
from bluecodeagent.knowledge.ann import AnnIndexes
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


# -- threads ---------------------------------------------------------------------------------------


class _MeetingIndex:
    """Wraps a usearch index: every search first waits (up to 0.5 s) for a search of the other thread, then
    records the expansion in force. Searches that overlap thus see whatever expansion was set last."""

    def __init__(self, inner, seen: list[tuple[str, int]]) -> None:
        self._inner = inner
        self._seen = seen
        self._meet = threading.Barrier(2)

    @property
    def expansion_search(self) -> int:
        return self._inner.expansion_search

    @expansion_search.setter
    def expansion_search(self, value: int) -> None:
        self._inner.expansion_search = value

    def search(self, *args, **kwargs):
        with contextlib.suppress(threading.BrokenBarrierError):
            self._meet.wait(timeout=0.5)
        self._seen.append((threading.current_thread().name, self._inner.expansion_search))
        return self._inner.search(*args, **kwargs)


def _in_threads(work: dict[str, Callable[[], object]], timeout: float = 60.0) -> dict[str, object]:
    out: dict[str, object] = {}
    threads = [threading.Thread(target=lambda n=n, f=f: out.__setitem__(n, f()), name=n) for n, f in work.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert set(out) == set(work), "a thread did not finish"
    return out


def test_two_threads_with_different_expansions_each_search_with_their_own(filled):
    kb, _, _, source = filled
    part = kb.ann_partition(TASK, LABEL)
    assert part is not None
    seen: list[tuple[str, int]] = []
    part.index = _MeetingIndex(part.index, seen)
    queries = source.draw(4)

    def searching(expansion: int) -> Callable[[], object]:
        return lambda: [kb.search_ann(q, 3, task=TASK, label=LABEL, expansion=expansion) for q in queries]

    _in_threads({"low": searching(20), "high": searching(400)})
    assert sorted(seen) == [("high", 400)] * 4 + [("low", 20)] * 4


def test_concurrent_searches_answer_as_sequential_ones(filled):
    kb, _, _, source = filled
    queries = source.draw(60)

    def searching(expansion: int) -> list[list[tuple[str, float]]]:
        return [kb.search_ann(q, 3, task=TASK, label=LABEL, expansion=expansion) for q in queries]

    want = {e: searching(e) for e in (16, 24, 1000)}
    got = _in_threads({str(e): (lambda e=e: searching(e)) for e in want})
    assert all(got[str(e)] == want[e] for e in want)


def test_a_build_does_not_hold_up_another_partitions_build_or_search(filled, monkeypatch):
    kb, *_ = filled
    kb.ann_partition("bias", LABEL)  # built before: its searches must not wait either
    release, entered = threading.Event(), threading.Event()
    real_build = AnnIndexes._build

    def slow_build(self, vectors):
        if len(vectors) == N // 2:  # (TASK, LABEL): stalls until released
            entered.set()
            assert release.wait(60)
        return real_build(self, vectors)

    monkeypatch.setattr(AnnIndexes, "_build", slow_build)
    slow = threading.Thread(target=kb.ann_partition, args=(TASK, LABEL))
    slow.start()
    try:
        assert entered.wait(30)
        done = _in_threads(
            {
                "other": lambda: kb.ann_partition(TASK, "safe").source,  # type: ignore[union-attr]
                "search": lambda: len(kb.search_ann(np.eye(1, DIM)[0], 2, task="bias", label=LABEL)),
            },
            timeout=30,
        )
        assert done == {"other": "built", "search": 2}
    finally:
        release.set()
        slow.join(60)


def test_one_partition_is_built_once_by_threads_asking_together(filled, monkeypatch):
    kb, *_ = filled
    builds: list[int] = []
    real_build = AnnIndexes._build

    def counted(self, vectors):
        builds.append(len(vectors))
        time.sleep(0.2)  # long enough for the other threads to arrive
        return real_build(self, vectors)

    monkeypatch.setattr(AnnIndexes, "_build", counted)
    parts = _in_threads({f"t{i}": (lambda: kb.ann_partition(TASK, LABEL)) for i in range(3)})
    assert builds == [N // 2] and len({id(p) for p in parts.values()}) == 1


# -- files on disk ---------------------------------------------------------------------------------


def test_stale_files_are_deleted_even_when_the_new_index_cannot_be_saved(filled, monkeypatch):
    kb, _, _, source = filled
    kb.ann_partition(TASK, LABEL)
    index_path, manifest_path = _saved(kb)
    other = KnowledgeBase(kb.path, SyntheticEmbedder())
    other.add_vectors([KnowledgeItem(uid="late", task=TASK, label=LABEL, text="added later")], source.draw(1))
    other.close()
    monkeypatch.setattr(ann, "_save", lambda *args: 0)  # as if the directory had become read-only
    again = _reopen(kb)
    part = again.ann_partition(TASK, LABEL)
    assert part is not None and part.source == "built" and part.disk_bytes == 0
    assert not index_path.exists() and not manifest_path.exists()
    again.close()


def test_files_of_partitions_the_base_no_longer_holds_are_deleted(filled):
    kb, items, *_ = filled
    kb.ann_partition(TASK, LABEL)
    kb.ann_partition("bias", LABEL)
    kept = _saved(kb)
    gone = kb._ann_indexes().paths("bias", LABEL)
    assert gone is not None and all(p.is_file() for p in gone)
    kb.remove(uids=[it.uid for it in items if it.task == "bias"])
    assert kb.ann_partition(TASK, LABEL).source == "loaded"  # type: ignore[union-attr]  # its task did not change
    assert not any(p.exists() for p in gone) and all(p.is_file() for p in kept)


def test_temporary_files_of_a_dead_writer_are_deleted_fresh_ones_kept(filled):
    kb, *_ = filled
    kb.ann_partition(TASK, LABEL)
    directory = _saved(kb)[0].parent
    old, fresh = directory / "x.usearch.1.2.tmp", directory / "y.usearch.3.4.tmp"
    for path in (old, fresh):
        path.write_bytes(b"partial")
    hours_ago = time.time() - 2 * ann.TMP_MAX_AGE_S
    os.utime(old, (hours_ago, hours_ago))
    assert kb._ann_indexes().sweep(kb.index()) == 1
    assert not old.exists() and fresh.exists()
