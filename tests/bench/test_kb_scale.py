from __future__ import annotations

from pathlib import Path

from bluecodeagent.bench.kb_scale import measure, scale_table


def test_small_scale_measures(tmp_path: Path) -> None:
    seen: list[int] = []
    r, whole, ann = measure(
        1200, tmp_path, vectors="clustered", distribution="skewed", queries=5, batch=500, progress=seen.append
    )
    assert seen == [500, 500, 200]
    assert r.size == 1200 and r.insert_s > 0 and r.query_p50_ms > 0 and r.storage_mb > 0
    assert 1200 * 0.35 < r.partition < 1200 * 0.55  # skewed: 90 % in the queried task, half of it unsafe
    assert r.recall_at_3 == 1.0  # the partition search is exact
    assert r.query_p95_ms >= r.query_p50_ms
    assert not list(tmp_path.glob("*.sqlite"))
    assert whole.method == "exact, whole matrix" and whole.recall_at_3 == 1.0
    assert "1200" in scale_table([r, whole])
    # the partition is under search_ann's threshold: its row is exact search, and no index was built
    assert ann.backend == "sqlite-ann" and ann.method == "exact (small part.)" and ann.recall_at_3 == 1.0
    assert ann.build_s == 0.0 and ann.index_disk_mb == 0.0


def test_sqlite_ann_rows_per_expansion(tmp_path: Path) -> None:
    rows = measure(1500, tmp_path, vectors="clustered", queries=5, ef_search=(8, 300), ann_min_rows=0)
    ann = [r for r in rows if r.backend == "sqlite-ann"]
    assert [r.method for r in ann] == ["usearch ef=8", "usearch ef=300"]
    assert all(r.build_s > 0 and r.index_mb > 0 and r.index_disk_mb > 0 for r in ann)  # built, saved, reloaded
    assert all(0.0 <= r.recall_at_3 <= 1.0 and r.partition == rows[0].partition for r in ann)
    assert ann[0].open_load_s >= rows[0].open_load_s  # plus verifying and loading the saved index
    assert "sqlite-ann" in scale_table(rows) and "usearch ef=300" in scale_table(rows)
    assert not list(tmp_path.iterdir())  # the base and its index directory are gone


def test_postgres_rows_per_ef_search(tmp_path: Path, pg_url: str) -> None:
    rows = measure(400, tmp_path, backend="postgres", where=pg_url, queries=5, ef_search=(10, 200))
    assert [r.method for r in rows] == ["hnsw ef_search=10", "hnsw ef_search=200"]  # the partition's index
    assert all(r.backend == "postgres" and 0.0 <= r.recall_at_3 <= 1.0 and r.storage_mb > 0 for r in rows)
    assert rows[0].partition == rows[1].partition and 40 < rows[0].partition < 100  # even: about 1/6
