"""``bluecode bench``: measure the prompt screens on public data, against baselines."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bluecodeagent.bench.datasets import PROMPT_TASKS, resolve_data_dir
from bluecodeagent.bench.kb_scale import (
    DEFAULT_EF_SEARCH,
    DEFAULT_QUERIES,
    DEFAULT_SIZES,
    DEFAULT_SPREAD,
    DEFAULT_VECTORS,
)
from bluecodeagent.bench.kb_scale import OPTION_HELP as SCALE_HELP
from bluecodeagent.cli.options import (
    CONFIG_HELP,
    build_settings,
    config_option,
    engine_option,
    kb_option,
    llm_options,
    ray_option,
)
from bluecodeagent.errors import BlueCodeError

EXIT_USAGE = 2


def _bar(desc: str, unit: str) -> Callable[[int], Callable[[int], None]]:
    """A progress factory: total -> update callback, drawing a tqdm bar on stderr."""

    def start(total: int) -> Callable[[int], None]:
        from tqdm import tqdm

        bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=None, leave=False)
        return bar.update

    return start


@click.command()
@click.option(
    "--task",
    type=click.Choice([*PROMPT_TASKS, "vulnerability", "all"]),
    default="all",
    show_default=True,
    help="Which task to measure (vulnerability: with --compare only).",
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
    type=click.Choice(["shipped", "split", "both", "hardcases"]),
    default="both",
    show_default=True,
    help="Knowledge: shipped only, shipped + a by-group dev split, or both (hardcases: only the hard cases).",
)
@click.option(
    "--hardcases/--no-hardcases",
    default=True,
    show_default=True,
    help="Also score the hand-written hard cases (hardcases/<task>.jsonl) per kind, when the data dir has them.",
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
@click.option("--sizes", default=None, help=f"With --kb-scale: {SCALE_HELP['sizes']} [default: {DEFAULT_SIZES}].")
@click.option("--backends", default=None, help=f"With --kb-scale: {SCALE_HELP['backends']}.")
@click.option("--vectors", default=None, help=f"With --kb-scale: {SCALE_HELP['vectors']} [default: {DEFAULT_VECTORS}].")
@click.option("--spread", default=None, help=f"With --kb-scale: {SCALE_HELP['spread']} [default: {DEFAULT_SPREAD}].")
@click.option(
    "--ef-search", default=None, help=f"With --kb-scale: {SCALE_HELP['ef_search']} [default: {DEFAULT_EF_SEARCH}]."
)
@click.option(
    "--queries",
    type=click.IntRange(min=1),
    default=None,
    help=f"With --kb-scale: {SCALE_HELP['queries']} [default: {DEFAULT_QUERIES}].",
)
@click.option(
    "--ann-min-rows", type=click.IntRange(min=0), default=None, help=f"With --kb-scale: {SCALE_HELP['ann_min_rows']}."
)
@kb_option("Knowledge base to measure: a file or postgresql:// URL (default: the shipped one, built on first run).")
@config_option("--config-file", help=CONFIG_HELP.replace("TOML config", "TOML settings"))
@engine_option("Engine to measure (default offline); --compare needs llm.")
@click.option("--compare", is_flag=True, help="With --engine llm: compare the research variants per item.")
@click.option(
    "--variants",
    default=None,
    help="With --compare: only these comma-separated variants (e.g. direct,constitution,plain,dynamic).",
)
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="With --compare: items at once.")
@ray_option
@llm_options
@click.pass_context
def bench(
    ctx: click.Context,
    task: str,
    data_dir: Path | None,
    limit: int | None,
    kb_config: str,
    hardcases: bool,
    seed: int,
    knn_k: int,
    out: Path | None,
    fmt: str,
    kb_scale: bool,
    sizes: str | None,
    backends: str | None,
    vectors: str | None,
    spread: str | None,
    ef_search: str | None,
    queries: int | None,
    ann_min_rows: int | None,
    kb_path: Path | None,
    config_file: Path | None,
    engine: str | None,
    compare: bool,
    variants: str | None,
    jobs: int,
    ray_address: str | None = None,
    **llm_flags: Any,
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
      hardcases/<task>.jsonl                                      hand-written hard cases, per kind

    \b
    Writes results.json, report.md, report.html (with a chart) and predictions.jsonl.

    \b
    --engine llm --compare: the comparisons of the research, per item, on any OpenAI-compatible model:
      text tasks  direct, general (safety reminder), fine_grained (risk categories), constitution
      code        plain, examples, constitution, constitution_dynamic, dynamic (SecCodePLT dev:
                  seccodeplt/data_dev.json; vulnerable and patched versions are separate items)
    Writes items.jsonl (one record per item and variant), results.json and report.md; re-running
    with the same --out resumes (finished records are reused).

    \b
    Examples:
      bluecode bench --limit 100                      # quick look, every task
      bluecode bench --task injection --config split  # one task, seen vs unseen
      bluecode bench --task malicious --config hardcases  # the hard cases only, per kind
      bluecode bench --kb-scale --sizes 10000,100000  # search speed at scale
      bluecode bench --kb-scale --sizes 1000000 --backends postgres --vectors clustered --ef-search 40,100,400
    """
    scale = {
        "sizes": sizes,
        "backends": backends,
        "vectors": vectors,
        "spread": spread,
        "ef_search": ef_search,
        "queries": queries,
        "ann_min_rows": ann_min_rows,
    }
    if not kb_scale and (given := [k for k, v in scale.items() if v is not None]):
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise click.UsageError(f"{flags}: only with --kb-scale")
    if compare or engine not in (None, "offline") or task == "vulnerability":
        _llm_bench(ctx, task, data_dir, limit, seed, out, fmt, kb_path, config_file, engine, compare, variants, jobs,
                   llm_flags)  # fmt: skip
        return
    if kb_scale:
        from bluecodeagent.bench.kb_scale import run_scale_options, scale_table

        try:
            results = run_scale_options(
                **{k: v for k, v in scale.items() if v is not None}, progress=_bar("kb-scale", "item")
            )
        except ValueError as e:
            raise click.BadParameter(str(e)) from e
        if fmt == "json":
            click.echo(json.dumps([r.model_dump() for r in results], indent=2))
        else:
            click.echo(scale_table(results))
        return

    from bluecodeagent.bench.report import text_table, write_report
    from bluecodeagent.bench.runner import CONFIGS, BenchOptions, default_factory, run_bench

    try:
        settings = build_settings(config_file, kb_path=kb_path, ray_address=ray_address)
        resolved = resolve_data_dir(data_dir or settings.data_dir)
        opts = BenchOptions(
            tasks=list(PROMPT_TASKS) if task == "all" else [task],
            data_dir=resolved,
            limit=limit,
            configs=list(CONFIGS) if kb_config == "both" else [] if kb_config == "hardcases" else [kb_config],
            seed=seed,
            knn_k=knn_k,
            hardcases=hardcases or kb_config == "hardcases",
        )
        if settings.ray_address is not None:  # the agent's batched checks on Ray (see cli/ray_jobs.py)
            from bluecodeagent.cli import ray_jobs

            with ray_jobs.cluster_for(settings) as cluster:
                factory = ray_jobs.ray_factory(default_factory(settings), cluster)
                result, predictions = run_bench(opts, factory, progress=_bar("bench", "sample"))
        else:
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


def _llm_bench(
    ctx: click.Context,
    task: str,
    data_dir: Path | None,
    limit: int | None,
    seed: int,
    out: Path | None,
    fmt: str,
    kb_path: Path | None,
    config_file: Path | None,
    engine: str | None,
    compare: bool,
    variants: str | None,
    jobs: int,
    llm_flags: dict[str, Any],
) -> None:
    """``--engine llm --compare``: the variants table (other LLM bench modes are not offered)."""
    if not compare or engine != "llm":
        hint = " (offline: python benchmarks/vuln_seccodeplt.py)" if task == "vulnerability" else ""
        raise click.UsageError(f"with an LLM, bench runs the variant comparison: use --engine llm --compare{hint}")
    from datetime import UTC, datetime

    from bluecodeagent.bench.compare import COMPARE_TASKS, CompareOptions, run_compare, text_table
    from bluecodeagent.kb_open import open_kb
    from bluecodeagent.llm.factory import backend_from_settings

    try:
        settings = build_settings(config_file, kb_path=kb_path, engine="llm", **llm_flags)
        backend = backend_from_settings(settings)
        opts = CompareOptions(
            data_dir=resolve_data_dir(data_dir or settings.data_dir),
            tasks=list(COMPARE_TASKS) if task == "all" else [task],
            variants=[v.strip() for v in variants.split(",") if v.strip()] if variants else None,
            limit=limit,
            seed=seed,
            k=settings.top_k,
            jobs=jobs,
        )
        kb = open_kb(settings, auto_build=True)
        report_dir = out or Path("reports") / f"compare-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
        result = run_compare(opts, backend, kb, report_dir, settings=settings, progress=_bar("compare", "item"))
    except BlueCodeError as e:
        click.echo(f"error: {e}", err=True)
        ctx.exit(EXIT_USAGE)
    t = backend.ledger.totals
    if fmt == "json":
        click.echo(result.model_dump_json(indent=2))
    else:
        click.echo(text_table(result))
        click.echo(
            f"llm: {t.calls} call(s), {t.cached_calls} from cache, {t.prompt_tokens}+{t.completion_tokens} tokens, "
            f"${t.cost_usd:.4f}"
        )
        click.echo(f"report: {report_dir}/report.md (per item: {report_dir}/items.jsonl)")
