from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bluecodeagent.bench.report import text_table, write_report
from bluecodeagent.bench.runner import BenchOptions, run_bench
from bluecodeagent.cli import cli


def test_report_files_and_svg(data_dir: Path, fake_factory: Any, tmp_path: Path) -> None:
    result, preds = run_bench(BenchOptions(data_dir=data_dir, tasks=["malicious"], latency_samples=2), fake_factory)
    out = write_report(result, preds, tmp_path / "rep")
    assert {p.name for p in out.iterdir()} == {"results.json", "report.md", "report.html", "predictions.jsonl"}
    page = (out / "report.html").read_text()
    assert "<svg" in page and "</svg>" in page and page.count("<rect") > 6
    data = json.loads((out / "results.json").read_text())
    assert [r["config"] for r in data["runs"]] == ["shipped", "split"]
    lines = (out / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == 3 * sum(r.n_scored for r in result.runs)
    table = text_table(result)
    assert "keyword" in table and "knn" in table and "unseen" in table
    assert "| malicious | split | bluecode | seen |" in (out / "report.md").read_text()


def test_cli_missing_data_dir_exits_2(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["bench", "--data-dir", str(tmp_path / "missing")])
    assert r.exit_code == 2
    assert "data directory not found" in r.output and len(r.output.strip().splitlines()) == 1


def test_cli_runs_with_a_test_double(data_dir: Path, fake_factory: Any, tmp_path: Path, monkeypatch: Any) -> None:
    import bluecodeagent.bench.runner as runner

    monkeypatch.setattr(runner, "default_factory", lambda settings=None: fake_factory)
    r = CliRunner().invoke(
        cli,
        [
            "bench",
            "--data-dir",
            str(data_dir),
            "--task",
            "bias",
            "--config",
            "split",
            "--out",
            str(tmp_path / "o"),
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout[: r.stdout.rindex("}") + 1])["runs"][0]["task"] == "bias"
    assert (tmp_path / "o" / "report.html").is_file()


def test_cli_help_teaches() -> None:
    r = CliRunner().invoke(cli, ["bench", "--help"])
    assert r.exit_code == 0 and "--kb-scale" in r.output and "MBPP" in r.output
