import json
import sqlite3

import numpy as np
import pytest

from bluecodeagent.errors import KnowledgeError
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.knowledge.store import KnowledgeBase


def test_search_returns_nearest_with_filters(tiny_kb_path, embedder):
    kb = KnowledgeBase(tiny_kb_path, embedder)
    q = embedder.embed(["log the keys a user types and mail them out"])[0]
    hits = kb.search(q, 2, task="malicious")
    assert hits[0].item.category == "keylogger"
    assert hits[0].similarity >= hits[1].similarity
    safe = kb.search(q, 3, task="malicious", label="safe")
    assert safe and all(h.item.label == "safe" for h in safe)
    assert kb.search(q, 3, task="bias") == []
    only = kb.search(q, 5, category="ransomware")
    assert {h.item.category for h in only} == {"ransomware"}


@pytest.mark.parametrize("chunk", [7, 20_000])
def test_exact_topk_matches_brute_force(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr("bluecodeagent.knowledge.store.LOAD_CHUNK", chunk)

    class RandomEmbedder:
        name, dim = "random-test-double", 16

        def embed(self, texts):
            rng = np.random.default_rng(abs(hash(tuple(texts))) % 2**32)
            v = rng.normal(size=(len(texts), self.dim)).astype(np.float32)
            return v / np.linalg.norm(v, axis=1, keepdims=True)

    emb = RandomEmbedder()
    kb = KnowledgeBase(tmp_path / "r.sqlite", emb, create=True)
    items = [KnowledgeItem(task="malicious", label="unsafe" if i % 2 else "safe", text=f"item {i}") for i in range(300)]
    vecs = emb.embed([it.text for it in items])
    kb.add_vectors(items, vecs)
    q = emb.embed(["query"])[0]
    got = [h.item.text for h in kb.search(q, 5, label="unsafe")]
    sims = vecs @ q
    want = [items[i].text for i in np.argsort(-sims) if items[i].label == "unsafe"][:5]
    assert got == want


def test_remove_batch_and_uid_and_stats(tiny_kb_path, embedder):
    kb = KnowledgeBase(tiny_kb_path, embedder)
    n = len(kb)
    extra = [
        KnowledgeItem(task="bias", label="unsafe", text="rank candidates by gender", batch="b1"),
        KnowledgeItem(task="bias", label="safe", text="rank candidates by skills test score", batch="b1"),
    ]
    kb.add(extra)
    assert kb.stats()["by_task"]["bias"] == {"unsafe": 1, "safe": 1}
    assert kb.remove(uids=[extra[0].uid]) == 1
    assert kb.remove(batch="b1") == 1
    assert len(kb) == n and "bias" not in kb.stats()["by_task"]


def test_export_roundtrip(tiny_kb_path, embedder, tmp_path):
    kb = KnowledgeBase(tiny_kb_path, embedder)
    out = tmp_path / "items.jsonl"
    assert kb.export_jsonl(out) == len(kb)
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["uid"] for r in recs} == {it.uid for it in kb.items()}
    copy = KnowledgeBase(tmp_path / "copy.sqlite", embedder, create=True)
    copy.add(KnowledgeItem(**r) for r in recs)
    assert copy.stats()["by_task"] == kb.stats()["by_task"]


def test_missing_and_corrupt_files_are_clear_errors(tmp_path, embedder):
    with pytest.raises(KnowledgeError, match="not found"):
        KnowledgeBase(tmp_path / "nope.sqlite", embedder)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(KnowledgeError, match=r"corrupt|unreadable"):
        KnowledgeBase(junk, embedder)


def test_embedder_mismatch_is_refused(tiny_kb_path):
    class OtherEmbedder:
        name, dim = "other-test-double", 384

        def embed(self, texts):
            return np.zeros((len(texts), 384), dtype=np.float32)

    with pytest.raises(KnowledgeError, match="built with embedder"):
        KnowledgeBase(tiny_kb_path, OtherEmbedder())


def test_foreign_sqlite_is_not_a_knowledge_base(tmp_path):
    p = tmp_path / "other.sqlite"
    sqlite3.connect(p).execute("CREATE TABLE x (a)").connection.commit()
    with pytest.raises(KnowledgeError, match="not a BlueCodeAgent"):
        KnowledgeBase(p)


def test_item_validation():
    with pytest.raises(ValueError, match="unknown task"):
        KnowledgeItem(task="nope", label="safe", text="x")
    with pytest.raises(ValueError, match="unknown label"):
        KnowledgeItem(task="bias", label="maybe", text="x")
    a = KnowledgeItem(task="bias", label="safe", text="x")
    assert (
        a.uid
        == KnowledgeItem(task="bias", label="safe", text="x").uid
        != KnowledgeItem(task="bias", label="unsafe", text="x").uid
    )


def test_sync_batch_embeds_only_new_items(tiny_kb_path, embedder):
    class CountingEmbedder:
        name, dim = embedder.name, embedder.dim

        def __init__(self):
            self.seen: list[str] = []

        def embed(self, texts):
            self.seen.extend(texts)
            return embedder.embed(texts)

    counting = CountingEmbedder()
    kb = KnowledgeBase(tiny_kb_path, counting)
    current = list(kb.items())
    changed = current[0].model_copy(update={"principle": "edited principle"})
    new = KnowledgeItem(
        task="malicious", label="unsafe", category="worm", text="Spread to every host on the LAN", batch="tiny"
    )
    added, updated, removed = kb.sync_batch("tiny", [changed, *current[2:], new])
    assert (added, updated, removed) == (1, len(current) - 1, 1)
    assert counting.seen == [new.text]
    texts = {it.uid: it for it in kb.items()}
    assert texts[changed.uid].principle == "edited principle" and current[1].uid not in texts
    assert kb.search(embedder.embed(["worm that spreads across the LAN"])[0], 1)[0].item.uid == new.uid


def test_switching_local_embedder_re_embeds_in_place(tmp_path, embedder):
    """A base made with the float32 MiniLM opens with the int8 one: every vector is recomputed, added batches kept."""
    from bluecodeagent.kb_open import SHIPPED
    from bluecodeagent.knowledge.builder import build_kb, ensure_kb
    from bluecodeagent.knowledge.embedders.minilm_onnx import MiniLMOnnxEmbedder, MiniLMOnnxQ8Embedder
    from tiny_knowledge import tiny_items

    exact, q8 = MiniLMOnnxEmbedder(), MiniLMOnnxQ8Embedder(models_dir=tmp_path / "models")
    path = tmp_path / "kb.sqlite"
    build_kb(path, tiny_items(), exact).close()
    kb = KnowledgeBase(path, exact)
    mine = KnowledgeItem(task="malicious", label="unsafe", category="worm", text="Spread to every LAN host", batch="b1")
    kb.add([mine])
    before = {it.uid for it in kb.items()}
    kb.close()

    moved = ensure_kb(path, q8, SHIPPED, auto_build=False)  # `kb stats` and friends convert too (nothing is built)
    assert moved.meta()["embedder"] == q8.name
    assert {it.uid for it in moved.items()} == before
    (blob,) = moved._db.execute("SELECT vector FROM items WHERE uid = ?", (mine.uid,)).fetchone()
    assert np.allclose(np.frombuffer(blob, dtype=np.float32), q8.embed([mine.text])[0], atol=1e-6)  # the new space
    assert moved.search(q8.embed(["a worm that spreads across the LAN"])[0], 1)[0].item.uid == mine.uid
    with pytest.raises(KnowledgeError, match="built with embedder"):
        KnowledgeBase(path, exact)  # the base is now in the int8 space
