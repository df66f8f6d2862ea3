"""What only the PostgreSQL backend does: migrations, one transaction per change, NOTIFY, the snapshot."""

from __future__ import annotations

import threading

import numpy as np
import psycopg
import pytest

from bluecodeagent.errors import KnowledgeError
from bluecodeagent.knowledge import pg_store
from bluecodeagent.knowledge.detector import TaskDetector, load_detector
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.knowledge.pg_store import (
    CHANNEL,
    LATEST,
    PgKnowledgeBase,
    hnsw_build_memory_mb,
    partition_index_name,
    redact,
)
from tiny_knowledge import tiny_items


def test_migrations_are_versioned_and_applied_once(pg_url, embedder):
    kb = PgKnowledgeBase(pg_url, embedder)
    assert kb.schema_versions() == list(range(1, LATEST + 1))
    kb.add(tiny_items())
    kb.close()
    again = PgKnowledgeBase(pg_url, embedder)
    assert again.schema_versions() == list(range(1, LATEST + 1)) and len(again) == len(tiny_items())
    with psycopg.connect(pg_url, autocommit=True) as conn:
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'kb_items'")}
        partitions = conn.execute("SELECT DISTINCT task, label FROM kb_items").fetchall()
        assert {partition_index_name(t, lab) for t, lab in partitions} <= indexes and "kb_items_hnsw" not in indexes
        conn.execute("INSERT INTO kb_schema (version) VALUES (%s)", (LATEST + 1,))
    with pytest.raises(KnowledgeError, match="newer than this version"):
        PgKnowledgeBase(pg_url, embedder)


def test_an_empty_database_without_embedder_is_not_a_base(pg_url):
    with pytest.raises(KnowledgeError, match="holds no BlueCodeAgent knowledge base"):
        PgKnowledgeBase(pg_url)


def test_unreachable_database_is_a_clear_error_without_the_password():
    url = "postgresql://guard:s3cret@127.0.0.1:1/kb"
    with pytest.raises(KnowledgeError, match="cannot reach") as e:
        PgKnowledgeBase(url)
    assert "s3cret" not in str(e.value) and "***" in str(e.value)
    assert redact(url) == "postgresql://guard:***@127.0.0.1:1/kb"


def test_a_failing_batch_leaves_nothing_behind(pg_url, embedder):
    """A NUL byte cannot be stored in PostgreSQL text: the whole batch is refused, nothing half-applied."""
    kb = PgKnowledgeBase(pg_url, embedder)
    kb.add(tiny_items())
    gen, n = kb.current_generation(), len(kb)
    good = KnowledgeItem(task="malicious", label="unsafe", category="worm", text="Spread to every LAN host")
    bad = KnowledgeItem(task="malicious", label="unsafe", category="worm", text="hidden\x00payload")
    with pytest.raises(KnowledgeError, match="adding items failed"):
        kb.add([good, bad])
    assert len(kb) == n and kb.current_generation() == gen
    assert good.uid not in {it.uid for it in kb.items()}


def test_every_change_bumps_the_generation_and_notifies_on_commit(pg_url, embedder):
    kb = PgKnowledgeBase(pg_url, embedder)
    listener = psycopg.connect(pg_url, autocommit=True)
    listener.execute(f"LISTEN {CHANNEL}")
    kb.add(tiny_items())
    kb.remove(batch="tiny")
    got = [n.payload for n in listener.notifies(timeout=2, stop_after=2)]
    assert got == ["1", "2"] and kb.current_generation() == 2
    listener.close()


def test_a_detector_trained_on_another_item_version_is_not_current(pg_url, embedder):
    """A replica still holding an older snapshot stores detectors keyed by that snapshot's task versions."""
    kb, other = PgKnowledgeBase(pg_url, embedder), PgKnowledgeBase(pg_url, embedder)
    kb.add(tiny_items())
    other.index()  # snapshot before the worm
    kb.add([KnowledgeItem(task="malicious", label="unsafe", category="worm", text="Spread to every LAN host")])
    TaskDetector.load_or_train(other, "malicious")
    assert other.task_version("malicious") == kb.task_version("malicious") - 1
    assert load_detector(kb, "malicious", 3) is None  # trained without the worm
    det, current = load_detector(kb, "malicious", 3, previous=True)
    assert not current and len(det.unsafe_rows) == len(load_detector(other, "malicious", 3)[0].unsafe_rows) + 1


def test_the_training_lock_leaves_the_handle_serving(pg_url, embedder):
    """``exclusive`` holds a database-wide lock on a connection of its own: one holder at a time, and the
    holder's handle keeps answering (a refiner trains while the engine worker reads statistics)."""
    kb, other = PgKnowledgeBase(pg_url, embedder), PgKnowledgeBase(pg_url, embedder)
    kb.add(tiny_items())
    got = threading.Event()

    def second() -> None:
        with other.exclusive("detector:malicious"):
            got.set()

    with kb.exclusive("detector:malicious"):
        waiter = threading.Thread(target=second, daemon=True)
        waiter.start()
        assert kb.stats()["items"] == len(tiny_items())  # no deadlock on the handle's own connection
        assert not got.wait(0.5)  # the other process waits for the lock...
        answered: list[int] = []  # ...and its handle keeps answering meanwhile (in a thread: a stall must not hang)
        reader = threading.Thread(target=lambda: answered.append(other.stats()["items"]), daemon=True)
        reader.start()
        reader.join(10)
        assert answered == [len(tiny_items())]
    assert got.wait(30)
    waiter.join(30)


def test_search_keeps_working_from_the_snapshot_when_the_database_is_gone(pg_url, embedder):
    kb = PgKnowledgeBase(pg_url, embedder)
    kb.add(tiny_items())
    q = embedder.embed(["mail me every key pressed"])[0]
    before, stats = kb.search(q, 3), kb.stats()
    assert stats["items"] == len(tiny_items()) and stats["batches"] == {"tiny": len(tiny_items())}
    with psycopg.connect(pg_url.replace(pg_url.split("/")[3].split("?")[0], "postgres"), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()")
    assert kb.search(q, 3) == before  # served from memory
    assert kb.stats() == stats  # what this handle serves, from memory too
    with pytest.raises(KnowledgeError, match="counting items failed"):
        len(kb)  # a database call reports the lost connection clearly...
    assert len(kb) == len(tiny_items())  # ...and the next one reconnects


def test_hnsw_search_of_a_partition_agrees_with_exact_search(pg_url):
    class RandomEmbedder:
        name, dim = "random-test-double", 32

    kb = PgKnowledgeBase(pg_url, RandomEmbedder())
    rng = np.random.default_rng(7)
    vecs = rng.normal(size=(3000, 32)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    tasks = ["malicious", "bias", "injection"]
    items = [KnowledgeItem(task=tasks[i % 3], label=("safe", "unsafe")[i % 2], text=f"item {i}") for i in range(3000)]
    kb.add_vectors(items, vecs)
    plan = kb._q(
        "EXPLAIN SELECT uid FROM kb_items WHERE task = %s AND label = %s ORDER BY vector <#> %s LIMIT 3",
        ("bias", "unsafe", vecs[0]),
    )
    assert any(partition_index_name("bias", "unsafe") in r[0] for r in plan)  # the partition's own index
    agree = 0
    for q in vecs[:50] + 0.1 * rng.normal(size=(50, 32)).astype(np.float32):
        q /= np.linalg.norm(q)
        exact = [h.item.uid for h in kb.search(q, 3, task="bias", label="unsafe")]
        found = kb.search_hnsw(q, 3, task="bias", label="unsafe", ef_search=40)
        assert all(kb.item_at(_rowid(kb, uid)).task == "bias" for uid, _ in found)
        agree += len(set(exact) & {uid for uid, _ in found})
    assert agree / 150 >= 0.95
    gone = [uid for uid, _ in kb.search_hnsw(vecs[1], 3, task="bias", label="unsafe")]
    kb.remove(uids=gone)
    assert not set(gone) & {uid for uid, _ in kb.search_hnsw(vecs[1], 3, task="bias", label="unsafe")}


def _rowid(kb: PgKnowledgeBase, uid: str) -> int:
    return kb._q("SELECT rowid FROM kb_items WHERE uid = %s", (uid,))[0][0]


def _snapshot_of(kb: PgKnowledgeBase) -> tuple[list[int], np.ndarray, list[KnowledgeItem], dict[str, int]]:
    idx = kb.index()
    return idx.rowids.tolist(), idx.matrix.copy(), [kb.item_at(int(r)) for r in idx.rowids], kb.task_versions()


def test_a_reload_that_reuses_the_previous_snapshot_equals_a_full_load(pg_url, embedder, monkeypatch):
    """Only rows added since are read; removed ones are gone; an in-place update makes the reload whole."""
    writer, served = PgKnowledgeBase(pg_url, embedder), PgKnowledgeBase(pg_url, embedder)
    writer.add(tiny_items())
    served.index()
    worm = KnowledgeItem(task="malicious", label="unsafe", category="worm", text="Spread to every LAN host", batch="w")
    writer.add([worm])
    writer.remove(uids=[tiny_items()[0].uid])
    import bluecodeagent.knowledge.pg_store as pg_store

    full_load = pg_store._load
    incremental = PgKnowledgeBase(pg_url, embedder)
    incremental.reuse(served)
    monkeypatch.setattr(pg_store, "_load", lambda *a: pytest.fail("read the whole snapshot"))
    got = _snapshot_of(incremental)
    monkeypatch.setattr(pg_store, "_load", full_load)
    want = _snapshot_of(PgKnowledgeBase(pg_url, embedder))
    assert got[0] == want[0] and np.array_equal(got[1], want[1]) and got[2] == want[2] and got[3] == want[3]
    assert worm in got[2] and tiny_items()[0] not in got[2]

    renamed = [it.model_copy(update={"category": "renamed"}) for it in tiny_items()[1:]]
    writer.sync_batch("tiny", renamed)  # metadata updated in place: rowids kept, so the reload is whole
    again = PgKnowledgeBase(pg_url, embedder)
    again.reuse(incremental)
    assert {it.category for it in _snapshot_of(again)[2] if it.batch == "tiny"} == {"renamed"}


def test_memory_for_an_index_build_follows_the_partition_size():
    # measured with pgvector 0.6.2: a 384-dim build spilled out of 8 MB after 3,727 rows (2,251 bytes each)
    assert hnsw_build_memory_mb(1_000, 384) == 64  # never below PostgreSQL's default
    assert hnsw_build_memory_mb(10_000_000, 384, cap_mb=3000) == 3000
    assert hnsw_build_memory_mb(200_000, 384) < hnsw_build_memory_mb(200_000, 1536)
    # a denser graph takes more: m=32 spilled out of 8 MB after 3,039 rows (2,760 bytes each)
    assert hnsw_build_memory_mb(450_000, 384, m=32) >= 450_000 * 2760 / 2**20 * 1.1
    assert hnsw_build_memory_mb(450_000, 384, m=16) >= 450_000 * 2248 / 2**20 * 1.1
    assert hnsw_build_memory_mb(450_000, 384, m=16) < hnsw_build_memory_mb(450_000, 384, m=32)


def test_each_partition_index_is_built_with_the_memory_it_needs(pg_url, monkeypatch):
    class SmallEmbedder:
        name, dim = "small-test-double", 32

    monkeypatch.setattr(pg_store, "HNSW_ELEMENT_BYTES", 2**20)  # ~1.25 MB a row: a few rows need more than 64 MB
    kb = PgKnowledgeBase(pg_url, SmallEmbedder(), build_memory_mb=100)
    settings: list[str] = []
    query = kb._q

    def recording(sql: str, params=()):
        if "maintenance_work_mem" in sql:
            settings.append(sql.split("=", 1)[1].strip())
        return query(sql, params)

    monkeypatch.setattr(kb, "_q", recording)
    rng = np.random.default_rng(3)
    items = [KnowledgeItem(task="bias", label="unsafe", text=f"u{i}") for i in range(60)]
    items += [KnowledgeItem(task="bias", label="safe", text=f"s{i}") for i in range(200)]
    kb.add_vectors(items, rng.normal(size=(len(items), 32)).astype(np.float32))
    # partitions in index-name order; 60 rows need ~75 MB, 200 rows would need 250 MB: capped at 100
    want = {partition_index_name("bias", "unsafe"): "'76MB'", partition_index_name("bias", "safe"): "'100MB'"}
    assert settings == [want[name] for name in sorted(want)]
    assert kb.index_build_s > 0
    kb.add_vectors([KnowledgeItem(task="bias", label="safe", text="one more")], rng.normal(size=(1, 32)))
    assert kb.index_build_s == 0.0 and len(settings) == 2  # no partition was new: nothing built
    kb.close()


def _partition_indexes(url: str) -> dict[str, tuple[int, list[str] | None]]:
    """kb_items' partition indexes: name -> (oid, reloptions)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT c.relname, c.oid::int, c.reloptions FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = 'kb_items'::regclass AND c.relname LIKE 'kb\\_hnsw\\_%'"
        ).fetchall()
    return {name: (oid, opts) for name, oid, opts in rows}


def _partition_names(kb: PgKnowledgeBase) -> set[str]:
    return {partition_index_name(t, lab) for t, lab in kb._q("SELECT DISTINCT task, label FROM kb_items")}


def test_partition_indexes_are_built_with_the_configured_graph(pg_url, embedder):
    kb = PgKnowledgeBase(pg_url, embedder)
    kb.add(tiny_items())
    got = _partition_indexes(pg_url)
    assert set(got) == _partition_names(kb) and len(got) >= 2
    assert {tuple(opts or ()) for _, opts in got.values()} == {("m=32", "ef_construction=128")}  # the defaults
    other = PgKnowledgeBase(pg_url, embedder, m=8, ef_construction=20)
    other.add([KnowledgeItem(task="bias", label="unsafe", text="a partition of its own")])
    name = partition_index_name("bias", "unsafe")
    assert _partition_indexes(pg_url)[name][1] == ["m=8", "ef_construction=20"]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        indexdef = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (name,)).fetchone()[0]
    assert "WITH (m='8', ef_construction='20')" in indexdef and "'bias'::text" in indexdef
    kb.close(), other.close()


@pytest.mark.parametrize(("m", "efc"), [(1, 64), (101, 1000), (16, 3), (16, 1001), (32, 63)])
def test_a_graph_pgvector_would_refuse_is_refused_before_any_database_work(m, efc):
    with pytest.raises(ValueError, match="HNSW"):
        PgKnowledgeBase("postgresql://nobody@127.0.0.1:1/kb", m=m, ef_construction=efc)  # before connecting


def test_schema_4_rebuilds_the_partition_indexes_of_an_older_base_once(pg_url, embedder, monkeypatch):
    """A schema-3 base (partition indexes with pgvector's default graph) is upgraded on open: every index
    rebuilt with the configured graph under its own name, searches planned on it; opened again, nothing moves."""
    with monkeypatch.context() as old:
        old.setattr(pg_store, "MIGRATIONS", pg_store.MIGRATIONS[:3])
        old.setattr(pg_store, "LATEST", 3)
        kb = PgKnowledgeBase(pg_url, embedder)
        kb.add(tiny_items())
        assert kb.schema_versions() == [1, 2, 3]
        names = _partition_names(kb)
        with kb._conn.transaction():  # as schema 3 built them: no WITH clause
            for name in names:
                row = kb._q("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (name,))[0][0]
                kb._q(f"DROP INDEX {name}")
                kb._q(row.split(" WITH (")[0] + " WHERE " + row.split(" WHERE ", 1)[1])
        kb.close()
    before = _partition_indexes(pg_url)
    assert set(before) == names and all(opts is None for _, opts in before.values())

    upgraded = PgKnowledgeBase(pg_url, embedder, m=12, ef_construction=48)
    assert upgraded.schema_versions() == [1, 2, 3, 4] and len(upgraded) == len(tiny_items())
    after = _partition_indexes(pg_url)
    assert set(after) == names  # same names, nothing left under the temporary one
    assert all(opts == ["m=12", "ef_construction=48"] for _, opts in after.values())
    assert all(after[n][0] != before[n][0] for n in names)  # new indexes, not the old ones relabelled
    it = next(i for i in tiny_items() if i.task == "malicious" and i.label == "unsafe")
    query = embedder.embed([it.text])[0]
    with upgraded._conn.transaction():
        for plan_kind in ("seqscan", "bitmapscan", "sort"):  # a tiny table: show the planner can use the index
            upgraded._q(f"SET LOCAL enable_{plan_kind} = off")
        plan = upgraded._q(
            "EXPLAIN SELECT uid FROM kb_items WHERE task = %s AND label = %s ORDER BY vector <#> %s LIMIT 3",
            ("malicious", "unsafe", query),
        )
    assert any(partition_index_name("malicious", "unsafe") in r[0] for r in plan)
    assert it.uid in {uid for uid, _ in upgraded.search_hnsw(query, 3, task="malicious", label="unsafe")}
    upgraded.close()

    again = PgKnowledgeBase(pg_url, embedder, m=6, ef_construction=24)  # already at schema 4: untouched
    assert again.schema_versions() == [1, 2, 3, 4] and _partition_indexes(pg_url) == after
    again.close()
