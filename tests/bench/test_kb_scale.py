from __future__ import annotations

from pathlib import Path

from bluecodeagent.bench.kb_scale import measure, scale_table


def test_small_scale_measures(tmp_path: Path) -> None:
    seen: list[int] = []
    r = measure(1200, tmp_path, queries=5, batch=500, progress=seen.append)
    assert seen == [500, 500, 200]
    assert r.size == 1200 and r.insert_s > 0 and r.query_p50_ms > 0 and r.matrix_mb > 0
    assert r.query_p95_ms >= r.query_p50_ms
    assert not list(tmp_path.glob("*.sqlite"))
    assert "1200" in scale_table([r])
