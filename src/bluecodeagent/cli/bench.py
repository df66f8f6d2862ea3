"""``bluecode bench``: measure the prompt screens on public data, against baselines."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click

from bluecodeagent.bench.datasets import PROMPT_TASKS, resolve_data_dir
from bluecodeagent.cli.options import build_settings
from bluecodeagent.errors import BlueCodeError

EXIT_USAGE = 2


def _bar(desc: str, unit: str) -> Callable[[int], Callable[[int], None]]:
    """A progress factory: total -> update callback, drawing a tqdm bar on stderr."""

    def start(total: int) -> Callable[[int], None]:
        from tqdm import tqdm

        bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=None, leave=False)
        return bar.update

    return start


def _sizes(value: str) -> list[int]:
    try:
        sizes = [int(s.replace("_", "")) for s in value.split(",") if s.strip()]
    except ValueError as e:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from e
    if not sizes or any(s < 1 for s in sizes):
        raise click.BadParameter("sizes must be positive integers")
    return sizes


@click.command()
@click.option(
    "--task",
    type=click.Choice([*PROMPT_TASKS, "all"]),
    default="all",
    show_default=True,
    help="Which prompt task to measure.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Public benchmark data (default: $BLUECODE_DATA_DIR, else ../shared/datasets).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="At most N samples per task (seeded, stratified by group) for a quick run.",
)
@click.option(
    "--config",
    "kb_config",
    type=click.Choice(["shipped", "split", "both"]),
    default="both",
    show_default=True,
    help="Knowledge: shipped only, shipped + a by-group dev split, or both.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for sampling, splits and injections.")
@click.option(
    "--knn-k",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Neighbours for the nearest-neighbour vote baseline.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Report directory (default: reports/bench-<timestamp>).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="What to print on stdout: the table, or results.json.",
)
@click.option("--kb-scale", is_flag=True, help="Instead: time knowledge-base search at growing sizes.")
@click.option("--sizes", default="10000,100000,1000000", show_default=True, help="Item counts for --kb-scale.")
@click.option(
    "--kb",
    "kb_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Knowledge base to measure (default: the shipped one, built on first run).",
)
@click.option(
    "--config-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML settings file (default: $BLUECODE_CONFIG, ./bluecode.toml, ~/.config/bluecode/config.toml).",
)
@click.pass_context
def bench(
    ctx: click.Context,
    task: str,
    data_dir: Path | None,
    limit: int | None,
    kb_config: str,
    seed: int,
    knn_k: int,
    out: Path | None,
    fmt: str,
    kb_scale: bool,
    sizes: str,
    kb_path: Path | None,
    config_file: Path | None,
) -> None:
    """Measure bias, malicious and injection screening on public benchmark data.

    \b
    For each task the agent and two baselines are scored on the same samples:
      keyword   a short hand-written list of risky words per task
      knn       majority label of the top-k neighbours in the same knowledge base
    under two knowledge configurations:
      shipped   the product's own knowledge only: every benchmark group is unseen
      split     plus dev items of half the groups (seeded): reported as seen / unseen
    A scored sample is never in the knowledge base that scores it (checked by text hash).
    MBPP coding tasks are the benign set of every task (FPR-mbpp).

    \b
    Data (not shipped; point --data-dir at a folder holding):
      redcode_gen/<family>/*.py, cyberseceval/interpreter.json   malicious (RedCode-Gen, CyberSecEval)
      cbs/dataset.json                                            bias (CBS)
      bipia/code_train.jsonl, bipia/code_attack_train.json        injection (BIPIA)
      mbpp/sanitized-mbpp.json                                    benign (MBPP sanitized)

    \b
    Writes results.json, report.md, report.html (with a chart) and predictions.jsonl.

    \b
    Examples:
      bluecode bench --limit 100                      # quick look, every task
      bluecode bench --task injection --config split  # one task, seen vs unseen
      bluecode bench --kb-scale --sizes 10000,100000  # search speed at scale
    """
    if kb_scale:
        from bluecodeagent.bench.kb_scale import run_scale, scale_table

        results = run_scale(_sizes(sizes), progress=_bar("kb-scale", "item"))
        if fmt == "json":
            click.echo(json.dumps([r.model_dump() for r in results], indent=2))
        else:
            click.echo(scale_table(results))
        return

    from bluecodeagent.bench.report import text_table, write_report
    from bluecodeagent.bench.runner import CONFIGS, BenchOptions, default_factory, run_bench

    try:
        settings = build_settings(config_file, kb_path=kb_path)
        resolved = resolve_data_dir(data_dir or settings.data_dir)
        opts = BenchOptions(
            tasks=list(PROMPT_TASKS) if task == "all" else [task],
            data_dir=resolved,
            limit=limit,
            configs=list(CONFIGS) if kb_config == "both" else [kb_config],
            seed=seed,
            knn_k=knn_k,
        )
        result, predictions = run_bench(opts, default_factory(settings), progress=_bar("bench", "sample"))
    except BlueCodeError as e:  # DataDirError included: one line, exit 2
        click.echo(f"error: {e}", err=True)
        ctx.exit(EXIT_USAGE)
    report_dir = write_report(result, predictions, out)
    if fmt == "json":
        click.echo(result.model_dump_json(indent=2))
    else:
        click.echo(text_table(result))
        click.echo(f"report: {report_dir}/report.html")
