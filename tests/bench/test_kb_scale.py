from __future__ import annotations

from pathlib import Path

from bluecodeagent.bench.kb_scale import measure, scale_table


def test_small_scale_measures(tmp_path: Path) -> None:
    seen: list[int] = []
    r, whole = measure(
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


def test_postgres_rows_per_ef_search(tmp_path: Path, pg_url: str) -> None:
    rows = measure(400, tmp_path, backend="postgres", where=pg_url, queries=5, ef_search=(10, 200))
    assert [r.method for r in rows] == ["hnsw ef_search=10", "hnsw ef_search=200"]  # the partition's index
    assert all(r.backend == "postgres" and 0.0 <= r.recall_at_3 <= 1.0 and r.storage_mb > 0 for r in rows)
    assert rows[0].partition == rows[1].partition and 40 < rows[0].partition < 100  # even: about 1/6
