"""The load benchmark in CI size: it starts the real service, drives every level and reports no errors."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[2] / "benchmarks" / "load_guard.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("load_guard", BENCH)
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_load_benchmark_small(tiny_kb_shared: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bench = _bench()
    argv = ["--kb", str(tiny_kb_shared), "--requests", "24", "--clients", "1,4", "--scans", "--max-seconds", "60"]
    argv += ["--generator", "python"]
    assert bench.main([*argv, "--proxy-overhead", "5", "--proxy-tasks", "malicious"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| check") or line.startswith("| scan")]
    assert len(rows) == 4 and all(line.split("|")[4].strip() == "0" for line in rows)  # errors column
    assert "96 requests, 0 errors" in out and "proxy overhead (5 allowed chat requests" in out


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_load_benchmark_with_wrk(tiny_kb_shared: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    argv = ["--kb", str(tiny_kb_shared), "--generator", "wrk", "--wrk-seconds", "1", "--clients", "2", "--scans"]
    assert _bench().main(argv) == 0
    out = capsys.readouterr().out
    assert "load generator: wrk" in out
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| check") or line.startswith("| scan")]
    assert len(rows) == 2 and all(int(r[3]) > 0 and r[4].strip() == "0" for r in rows)  # requests, errors
