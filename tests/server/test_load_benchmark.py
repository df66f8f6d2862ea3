"""The load benchmark in CI size: it starts the real service, drives every level and reports no errors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).parents[2] / "benchmarks" / "load_guard.py"


def test_load_benchmark_small(tiny_kb_shared: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("load_guard", BENCH)
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    argv = ["--kb", str(tiny_kb_shared), "--requests", "24", "--clients", "1,4", "--scans", "--max-seconds", "60"]
    assert bench.main([*argv, "--proxy-overhead", "5", "--proxy-tasks", "malicious"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| check") or line.startswith("| scan")]
    assert len(rows) == 4 and all(line.split("|")[4].strip() == "0" for line in rows)  # errors column
    assert "96 requests, 0 errors" in out and "proxy overhead (5 allowed chat requests" in out
