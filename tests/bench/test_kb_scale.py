from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bluecodeagent.bench.kb_scale import measure, scale_table
from bluecodeagent.cli import cli


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


def _bench(*args: str) -> Result:
    return CliRunner().invoke(cli, ["bench", *args])


def test_cli_kb_scale_options_reach_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    r = _bench(
        "--kb-scale", "--sizes", "600", "--backends", "sqlite", "--vectors", "clustered", "--spread", "skewed",
        "--ef-search", "7,9", "--queries", "4", "--ann-min-rows", "0", "--format", "json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert {(x["backend"], x["size"], x["vectors"], x["distribution"]) for x in rows} == {
        ("sqlite", 600, "clustered", "skewed"),
        ("sqlite-ann", 600, "clustered", "skewed"),
    }
    assert [x["method"] for x in rows if x["backend"] == "sqlite-ann"] == ["usearch ef=7", "usearch ef=9"]
    assert not list(tmp_path.iterdir())  # the run's temporary files are gone


def test_cli_kb_scale_table_shows_the_expansions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    r = _bench("--kb-scale", "--sizes", "300", "--backends", "sqlite", "--ef-search", "11", "--ann-min-rows", "0")
    assert r.exit_code == 0, r.output
    assert "usearch ef=11" in r.stdout and "random" in r.stdout and "clustered" not in r.stdout
    assert " even " in r.stdout and " skewed " in r.stdout  # the default spread: both


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backends", "sqlite,mysql"], "backends: expected a comma list of sqlite, postgres"),
        (["--vectors", "gaussian"], "vectors: expected a comma list of random, clustered"),
        (["--spread", "flat"], "spread: expected a comma list of even, skewed"),
        (["--ef-search", "40,x"], "ef-search: expected a comma list of positive integers"),
        (["--sizes", "0"], "sizes: expected a comma list of positive integers"),
    ],
)
def test_cli_kb_scale_rejects_bad_values(args: list[str], message: str) -> None:
    r = _bench("--kb-scale", *args)
    assert r.exit_code == 2 and message in r.output


def test_cli_scale_options_need_kb_scale() -> None:
    r = _bench("--ef-search", "40", "--spread", "even")
    assert r.exit_code == 2 and "--spread, --ef-search: only with --kb-scale" in r.output


def test_cli_help_explains_the_scale_options() -> None:
    out = _bench("--help").output
    for flag in ("--backends", "--vectors", "--spread", "--ef-search", "--queries", "--ann-min-rows"):
        assert flag in out
    assert "hnsw.ef_search" in out and "skewed" in out
