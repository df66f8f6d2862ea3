"""The KnowledgeBase contract, run over both backends: SQLite (the default) and PostgreSQL + pgvector."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bluecodeagent.errors import KnowledgeError
from bluecodeagent.knowledge.detector import TaskDetector, detector_key, load_detector, stored_key
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.knowledge.store import KnowledgeBase
from tiny_knowledge import tiny_bias_items, tiny_items


class RandomEmbedder:
    """Test double: reproducible random unit vectors per text."""

    name, dim = "random-test-double", 16

    def embed(self, texts):
        out = []
        for t in texts:
            rng = np.random.default_rng(int.from_bytes(t.encode()[:8].ljust(8, b"\0"), "little") ^ len(t))
            out.append(rng.normal(size=self.dim))
        v = np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture(params=["sqlite", "postgres"])
def open_kb(request, tmp_path):
    """``open_kb(embedder)`` opens (creating on first call) one base of the parametrised backend."""
    where = tmp_path / "kb.sqlite" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    opened: list[KnowledgeBase] = []

    def open_(embedder=None, create=True):
        if request.param == "sqlite":
            kb = KnowledgeBase(where, embedder, create=create)
        else:
            from bluecodeagent.knowledge.pg_store import PgKnowledgeBase

            kb = PgKnowledgeBase(where, embedder, create=create)
        opened.append(kb)
        return kb

    open_.backend = request.param
    yield open_
    for kb in opened:
        kb.close()


def test_search_with_filters(open_kb, embedder):
    kb = open_kb(embedder)
    kb.add(tiny_items())
    q = embedder.embed(["log the keys a user types and mail them out"])[0]
    hits = kb.search(q, 2, task="malicious")
    assert hits[0].item.category == "keylogger" and hits[0].similarity >= hits[1].similarity
    assert all(h.item.label == "safe" for h in kb.search(q, 3, task="malicious", label="safe"))
    assert kb.search(q, 3, task="bias") == []
    assert {h.item.category for h in kb.search(q, 5, category="ransomware")} == {"ransomware"}
    assert all(h.item.label != "unsafe" for h in kb.search(q, 9, exclude_label="unsafe"))


def test_exact_top_k_matches_brute_force(open_kb):
    emb = RandomEmbedder()
    kb = open_kb(emb)
    items = [KnowledgeItem(task="malicious", label="unsafe" if i % 2 else "safe", text=f"item {i}") for i in range(300)]
    vecs = emb.embed([it.text for it in items])
    kb.add_vectors(items, vecs)
    q = emb.embed(["query"])[0]
    sims = vecs @ q
    want = [items[i].text for i in np.argsort(-sims) if items[i].label == "unsafe"][:5]
    assert [h.item.text for h in kb.search(q, 5, label="unsafe")] == want


def test_remove_by_uid_and_batch_and_stats(open_kb, embedder):
    kb = open_kb(embedder)
    kb.add(tiny_items())
    n = len(kb)
    extra = [
        KnowledgeItem(task="bias", label="unsafe", text="rank candidates by gender", batch="b1"),
        KnowledgeItem(task="bias", label="safe", text="rank candidates by skills test score", batch="b1"),
    ]
    kb.add(extra)
    st = kb.stats()
    assert st["by_task"]["bias"] == {"unsafe": 1, "safe": 1} and st["batches"]["b1"] == 2 and st["items"] == n + 2
    assert kb.remove(uids=[extra[0].uid]) == 1
    assert kb.remove(batch="b1") == 1
    assert kb.remove(batch="no-such-batch") == 0
    assert len(kb) == n and "bias" not in kb.stats()["by_task"]


def test_replacing_an_item_keeps_one_copy_in_the_same_order(open_kb, embedder):
    kb = open_kb(embedder)
    items = tiny_items()
    kb.add(items)
    edited = items[0].model_copy(update={"principle": "replaced"})
    kb.add([edited, edited])  # the same uid twice in one call
    got = list(kb.items())
    assert len(got) == len(items)
    assert [it.uid for it in got] == [it.uid for it in items[1:]] + [items[0].uid]
    assert got[-1].principle == "replaced"


def test_export_roundtrip(open_kb, embedder, tmp_path):
    kb = open_kb(embedder)
    kb.add(tiny_items())
    out = tmp_path / "items.jsonl"
    assert kb.export_jsonl(out) == len(kb)
    recs = [KnowledgeItem(**json.loads(line)) for line in out.read_text().splitlines()]
    assert recs == list(kb.items())


def test_sync_batch_embeds_only_new_items(open_kb, embedder):
    class CountingEmbedder:
        name, dim = embedder.name, embedder.dim

        def __init__(self):
            self.seen: list[str] = []

        def embed(self, texts):
            self.seen.extend(texts)
            return embedder.embed(texts)

    counting = CountingEmbedder()
    kb = open_kb(counting)
    kb.add(tiny_items())
    counting.seen.clear()
    current = list(kb.items())
    changed = current[0].model_copy(update={"principle": "edited principle"})
    new = KnowledgeItem(task="malicious", label="unsafe", category="worm", text="Spread to every LAN host", batch="x")
    assert kb.sync_batch("tiny", [changed, *current[2:], new]) == (1, len(current) - 1, 1)
    assert counting.seen == [new.text]
    by_uid = {it.uid: it for it in kb.items()}
    assert by_uid[changed.uid].principle == "edited principle" and current[1].uid not in by_uid
    assert by_uid[new.uid].batch == "tiny"
    assert kb.search(embedder.embed(["a worm that spreads across the LAN"])[0], 1)[0].item.uid == new.uid


def test_blobs_and_meta(open_kb, embedder):
    kb = open_kb(embedder)
    assert kb.get_blob("detector:x") is None
    kb.put_blob("detector:x", b"\x00\x01binary")
    kb.put_blob("other:y", b"kept")
    kb.put_blob("detector:x", b"second")
    assert kb.get_blob("detector:x") == b"second"
    kb.put_blob("detector:x@1", b"one")
    kb.put_blob("detector_x", b"an underscore is not a wildcard")
    assert kb.blob_keys("detector:") == ["detector:x", "detector:x@1"]
    kb.delete_blob("detector:x@1")
    kb.delete_blobs("detector:")
    assert kb.get_blob("detector:x") is None and kb.get_blob("other:y") == b"kept"
    assert kb.blob_keys("") == ["detector_x", "other:y"]
    kb.set_meta("knowledge_version", "custom")
    kb.set_meta("knowledge_version", "abc")
    assert kb.meta()["knowledge_version"] == "abc" and kb.meta()["embedder"] == embedder.name


def two_tasks() -> list[KnowledgeItem]:
    """The tiny malicious items plus a few bias ones: two tasks whose detectors must not disturb each other."""
    bias = tiny_bias_items()
    return [*tiny_items(), *bias]


def trained(kb, monkeypatch) -> list[str]:
    """Count the detector trainings from now on (the tasks trained, in order)."""
    calls: list[str] = []
    real = TaskDetector.train.__func__

    def counting(cls, kb_, task, k=3, seed=0):
        calls.append(task)
        return real(cls, kb_, task, k, seed)

    monkeypatch.setattr(TaskDetector, "train", classmethod(counting))
    return calls


def test_an_edit_invalidates_only_the_detectors_of_the_tasks_it_touched(open_kb, embedder, monkeypatch):
    kb = open_kb(embedder)
    kb.add(two_tasks())
    calls = trained(kb, monkeypatch)
    TaskDetector.load_or_train(kb, "malicious")
    bias_before = TaskDetector.load_or_train(kb, "bias")
    versions = kb.task_versions()
    worm = KnowledgeItem(task="malicious", label="unsafe", category="worm", text="Spread to every LAN host", batch="w")
    kb.add([worm])
    assert kb.task_versions() == {**versions, "malicious": versions["malicious"] + 1}
    assert load_detector(kb, "malicious", 3) is None  # trained on other items: not current
    bias_now, current = load_detector(kb, "bias", 3)
    assert current and np.allclose(bias_now.classifier.params(), bias_before.classifier.params())
    TaskDetector.load_or_train(kb, "bias")
    TaskDetector.load_or_train(kb, "malicious")
    assert calls == ["malicious", "bias", "malicious"]  # the bias detector survived the malicious edit
    kb.remove(batch="w")  # a remove touches only the removed items' tasks too
    assert load_detector(kb, "bias", 3)[1] and load_detector(kb, "malicious", 3) is None


def test_previous_weights_serve_the_new_neighbours_at_once(open_kb, embedder):
    """Before the retrain, the previous classifier weights run over the task's items as they are now."""
    kb = open_kb(embedder)
    kb.add(two_tasks())
    old = TaskDetector.load_or_train(kb, "malicious")
    worm = KnowledgeItem(task="malicious", label="unsafe", category="worm", text="Spread to every LAN host", batch="w")
    kb.add([worm])
    det, current = load_detector(kb, "malicious", 3, previous=True)
    assert (
        not current
        and np.allclose(det.classifier.params(), old.classifier.params())
        and det.combiner_bias == old.combiner_bias
    )
    worm_row = next(int(r) for r in det.unsafe_rows if kb.item_at(int(r)).uid == worm.uid)
    scored = det.score(embedder.embed(["Spread itself to every host on the LAN"]))
    assert int(det.unsafe_rows[scored.unsafe_top[0][0]]) == worm_row  # the added item decides at once
    kb.remove(batch="w")
    det, current = load_detector(kb, "malicious", 3, previous=True)
    assert not current and all(kb.item_at(int(r)).uid != worm.uid for r in det.unsafe_rows)  # never evidence again
    assert load_detector(kb, "malicious", 3) is None


def test_storing_a_detector_drops_those_of_older_item_versions(open_kb, embedder):
    kb = open_kb(embedder)
    kb.add(two_tasks())
    TaskDetector.load_or_train(kb, "malicious")
    first = stored_key(kb, "malicious", 3)
    kb.put_blob(detector_key("malicious", 3), b"a detector from before item versions")
    kb.add([KnowledgeItem(task="malicious", label="unsafe", category="worm", text="Spread to every LAN host")])
    assert kb.get_blob(first) is not None  # kept as the previous weights until the retrain lands
    TaskDetector.load_or_train(kb, "malicious")
    assert kb.blob_keys(detector_key("malicious", 3)) == [stored_key(kb, "malicious", 3)] != [first]


def test_sync_batch_bumps_only_what_changed(open_kb, embedder):
    kb = open_kb(embedder)
    items = two_tasks()
    kb.sync_batch("team", items)
    versions = kb.task_versions()
    assert kb.sync_batch("team", items) == (0, len(items), 0) and kb.task_versions() == versions  # no change
    moved = [it.model_copy(update={"policy": "another-policy"}) if it.task == "bias" else it for it in items]
    kb.sync_batch("team", moved)  # a policy feeds training (held-out groups): the bias detector is stale
    assert kb.task_versions() == {**versions, "bias": versions["bias"] + 1}
    assert {it.policy for it in kb.items("bias")} == {"another-policy"}


def test_removing_nothing_is_no_edit(open_kb, embedder):
    """A remove that matches nothing (an unknown uid or batch) keeps trained detectors and the versions."""
    kb = open_kb(embedder)
    kb.add(tiny_items())
    TaskDetector.load_or_train(kb, "malicious")
    versions = kb.task_versions()
    assert kb.remove(uids=["no-such-uid"], batch="no-such-batch") == 0
    assert kb.task_versions() == versions and load_detector(kb, "malicious", 3)[1]
    assert kb.remove(uids=[tiny_items()[0].uid]) == 1
    assert load_detector(kb, "malicious", 3) is None


def test_reopening_keeps_everything_and_refuses_another_embedder(open_kb, embedder):
    kb = open_kb(embedder)
    kb.add(tiny_items())
    before = list(kb.items())
    kb.close()
    again = open_kb(embedder, create=False)
    assert list(again.items()) == before
    with pytest.raises(KnowledgeError, match="built with embedder"):
        open_kb(RandomEmbedder(), create=False)


def test_hostile_text_and_names_are_data_not_sql(open_kb, embedder):
    kb = open_kb(embedder)
    nasty = "x'); DROP TABLE items; DROP TABLE kb_items; --"
    item = KnowledgeItem(task="malicious", label="unsafe", category=nasty, text=nasty + " \u202eend", batch=nasty)
    kb.add([item])
    assert [it.text for it in kb.items()] == [item.text]
    assert kb.stats()["batches"] == {nasty: 1}
    assert kb.search(embedder.embed([item.text])[0], 1, category=nasty)[0].item.uid == item.uid
    assert kb.remove(batch=nasty) == 1 and len(kb) == 0


def test_both_backends_give_the_same_hits_and_detectors(tmp_path, pg_url, embedder):
    """Same items in, same search results and the same trained detector out."""
    from bluecodeagent.knowledge.pg_store import PgKnowledgeBase

    worm = KnowledgeItem(task="malicious", label="unsafe", category="worm", text="Spread to every LAN host", batch="b")
    items = [*tiny_items(), worm]
    lite, pg = KnowledgeBase(tmp_path / "a.sqlite", embedder, create=True), PgKnowledgeBase(pg_url, embedder)
    for kb in (lite, pg):
        kb.add(items)
    queries = ["mail me every key pressed", "sort names", "lock files until paid", "scan my lab hosts"]
    for q in embedder.embed(queries):
        for filters in ({}, {"label": "safe"}, {"category": "ransomware"}):
            a = [(h.item, round(h.similarity, 6)) for h in lite.search(q, 4, **filters)]
            b = [(h.item, round(h.similarity, 6)) for h in pg.search(q, 4, **filters)]
            assert a == b and a
    da, db = TaskDetector.load_or_train(lite, "malicious"), TaskDetector.load_or_train(pg, "malicious")
    assert np.allclose(da.classifier.params(), db.classifier.params())
    lite.close()
    pg.close()


def test_a_first_reader_is_keyed_by_the_items_it_read(open_kb, embedder):
    """A safe item added (the unsafe count unchanged) must not bring back the reader trained before it."""
    from bluecodeagent.knowledge import first_reader as fr

    kb = open_kb(embedder)
    kb.add(two_tasks())
    before = fr.reader_key(kb, "malicious", 3)
    kb.put_blob(before, b"a reader of the items as they were")
    kb.add([KnowledgeItem(task="malicious", label="safe", category="worm", text="Detect hosts that spread worms")])
    assert fr.reader_key(kb, "malicious", 3) != before
    assert kb.get_blob(fr.reader_key(kb, "malicious", 3)) is None
