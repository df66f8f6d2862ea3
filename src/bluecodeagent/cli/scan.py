"""`bluecode scan`: find CWE vulnerabilities in code, confirm them in the sandbox, gate CI on them."""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from bluecodeagent import baseline as baselines
from bluecodeagent import batch
from bluecodeagent.batch.files import discover
from bluecodeagent.cli import EXIT_OK, EXIT_UNSAFE, EXIT_USAGE
from bluecodeagent.cli.options import build_settings, io_options, llm_options, ray_option, settings_options
from bluecodeagent.errors import InputError
from bluecodeagent.formats.base import ReportOptions, formats, render
from bluecodeagent.formats.json_report import code_record
from bluecodeagent.formats.text_report import scan_summary
from bluecodeagent.verdict import Status, Verdict

if TYPE_CHECKING:
    from bluecodeagent.code.llm.engine import LLMRoute
    from bluecodeagent.config import Settings

_RANK = {"low": 1, "medium": 2, "high": 3, "never": 99}


@click.command()
@click.argument("paths", nargs=-1)
@io_options("{id, code, language?}", [f.name for f in formats("code")], "text, or jsonl for --input")
@click.option("--language", "-l", default=None, help="Force a language (default: from the file extension).")
@click.option(
    "--fail-on",
    type=click.Choice(["low", "medium", "high", "never"]),
    default="low",
    show_default=True,
    help="Exit 1 when a reported finding has at least this severity.",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Report only findings not in this baseline file.",
)
@click.option(
    "--write-baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every current finding to this baseline file.",
)
@click.option("--no-dynamic", is_flag=True, help="Static analysis only (no sandboxed tests).")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True, help="Parallel workers.")
@click.option(
    "--resume",
    is_flag=True,
    help="Batch (--input): keep the records already in --output FILE, scan only the rest and append them.",
)
@ray_option
@settings_options
@llm_options
def scan(
    paths: tuple[str, ...],
    input_file: Path | None,
    output: TextIO,
    fmt: str | None,
    language: str | None,
    fail_on: str,
    baseline: Path | None,
    write_baseline: Path | None,
    no_dynamic: bool,
    jobs: int,
    resume: bool,
    config_file: Path | None,
    **flags: Any,
) -> None:
    """Scan code for CWE vulnerabilities: PATH... (files, directories, '-' for stdin) or --input FILE.jsonl.

    \b
    Suspected weaknesses are attacked in a sandbox; what the attack proves is reported CONFIRMED,
    what the code refuses is dropped (kept in --format json evidence).
    \b
    Examples:
      bluecode scan src/                          # walks .py files, honours .gitignore
      bluecode scan -f sarif -o results.sarif .    # for CI code scanning
      bluecode scan --write-baseline .bluecode-baseline.json .
      bluecode scan --baseline .bluecode-baseline.json --fail-on high .
      bluecode scan -i snippets.jsonl -f jsonl     # {id, code, language?} per line
      cat app.py | bluecode scan -
      bluecode scan --engine llm --llm-base-url http://127.0.0.1:8000/v1 --llm-model m app.py

    \b
    --engine llm: retrieval, an LLM-written constitution, LLM review, LLM-written tests run in the
    sandbox against the unchanged code, and an LLM judge. --engine hybrid: the offline scan first,
    the LLM only for uncertain verdicts.

    Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 usage or input error.
    """
    dynamic = not no_dynamic
    settings = build_settings(config_file, **flags)
    if write_baseline is not None:
        baselines.check_writable(write_baseline)  # before the scan, not after it
    route = _llm_route(settings, dynamic)
    opts = _Options(fmt, language, fail_on, baseline, write_baseline, dynamic, jobs, settings.max_input_bytes)
    opts.resume = resume
    try:
        _run(paths, input_file, output, opts, route, settings if settings.ray_address else None)
    finally:
        if route is not None:
            click.echo(_llm_summary(route), err=True)


class _Options:
    """What one scan run was asked to do."""

    def __init__(
        self,
        fmt: str | None,
        language: str | None,
        fail_on: str,
        baseline: Path | None,
        write_baseline: Path | None,
        dynamic: bool,
        jobs: int,
        max_bytes: int,
    ) -> None:
        self.fmt, self.language, self.fail_on = fmt, language, fail_on
        self.baseline, self.write_baseline = baseline, write_baseline
        self.dynamic, self.jobs, self.max_bytes = dynamic, jobs, max_bytes
        self.resume = False


def _llm_route(settings: Settings, dynamic: bool) -> LLMRoute | None:
    """The LLM route for --engine llm/hybrid (None offline); --no-dynamic also turns off generated tests."""
    if settings.engine == "offline":
        return None
    from bluecodeagent.code.llm.engine import route_from_settings

    route = route_from_settings(settings)
    if not dynamic:
        route.scanner.steps = route.scanner.steps.model_copy(update={"dynamic": False})
    return route


def _llm_summary(route: LLMRoute) -> str:
    ledger = getattr(route.scanner.backend, "ledger", None)
    line = "llm: no accounting available"
    if ledger is not None:
        t = ledger.totals
        line = (
            f"llm: {t.calls} call(s) ({t.cached_calls} cached), {t.prompt_tokens + t.completion_tokens} tokens, "
            f"${t.cost_usd:.4f}, {t.errors} error(s)"
        )
    more = route.stats.summary(route.options.engine)
    return f"{line}; {more}" if more else line


def _run(
    paths: tuple[str, ...],
    input_file: Path | None,
    output: TextIO,
    o: _Options,
    route: LLMRoute | None,
    ray: Settings | None = None,
) -> None:
    """The scan; with ``ray`` (settings naming a cluster), files and records are scanned on Ray."""
    from bluecodeagent.code import scanner

    if input_file is not None:
        if paths:
            raise click.UsageError("give either PATH... or --input, not both")
        if o.fmt not in (None, "jsonl", "json"):
            raise click.UsageError("batch mode writes jsonl or json (--format jsonl)")
        if o.baseline or o.write_baseline:
            raise click.UsageError("baselines apply to files (PATH...), not to --input records")
        raise click.exceptions.Exit(_batch(input_file, output, o, route, ray))
    if o.resume:
        raise click.UsageError("--resume applies to --input batches")
    if not paths:
        raise click.UsageError("missing PATH (or '-' for stdin, or --input FILE.jsonl)")
    fmt = o.fmt or "text"
    started = time.monotonic()
    items: list[tuple[str | None, Verdict]] = []
    errors: list[str] = []
    if paths == ("-",):
        text = scanner.decode_bytes(sys.stdin.buffer.read(o.max_bytes + 1), o.max_bytes, "stdin")
        if not text.strip():
            raise InputError("stdin is empty")
        verdict = scanner.scan_code(
            text, o.language or "python", None, o.dynamic, id="stdin", llm=route, max_bytes=o.max_bytes
        )
        items.append((None, verdict))
    else:
        found = discover(list(paths), lambda p: scanner.language_for(p) is not None)
        errors.extend(found.problems)
        files = found.files
        if not found.files and not found.problems:
            raise InputError("no supported source files found under " + ", ".join(paths))
        from tqdm import tqdm

        bar = tqdm(total=len(files), desc="scanning", unit="file", file=sys.stderr, disable=None)
        if ray is not None:
            results = _scan_on_ray(ray, files, o, lambda r: bar.update(1))
        else:
            results = scanner.scan_paths(
                files,
                o.language,
                o.dynamic,
                jobs=o.jobs,
                progress=lambda r: bar.update(1),
                llm=route,
                max_bytes=o.max_bytes,
            )
        bar.close()
        for r in results:
            if r.error:
                errors.append(r.error)
            elif r.verdict is not None:
                items.append((r.path, r.verdict))
    errors.extend(f"{p or 'stdin'}: not analysed: {v.status_reason}" for p, v in items if v.status != Status.ANALYSED)
    if o.write_baseline:
        n = baselines.write(o.write_baseline, items)
        click.echo(f"baseline: wrote {n} finding fingerprint(s) to {o.write_baseline}", err=True)
    if o.baseline:
        baselines.apply(items, baselines.load(o.baseline))
    _emit(items, output, fmt, errors)
    for e in errors:
        click.echo(f"error: {e}", err=True)
    if fmt != "text" or not _is_stdout(output):
        click.echo(scan_summary(items, len(errors), time.monotonic() - started), err=True)
    if errors:
        raise click.exceptions.Exit(EXIT_USAGE)
    if o.write_baseline:  # recording a baseline accepts today's findings: nothing to gate on
        raise click.exceptions.Exit(EXIT_OK)
    worst = max((_RANK.get(f.severity, 1) for _, v in items for f in v.findings), default=0)
    raise click.exceptions.Exit(EXIT_UNSAFE if worst >= _RANK[o.fail_on] else EXIT_OK)


def _scan_on_ray(ray: Settings, files: list[Path], o: _Options, progress: Any) -> list[Any]:
    from bluecodeagent.cli import ray_jobs

    spec = ray_jobs.SourceSpec(language=o.language, dynamic=o.dynamic, max_bytes=o.max_bytes)
    with ray_jobs.cluster_for(ray) as cluster:
        return ray_jobs.scan_files(cluster, files, spec, progress)


def _is_stdout(out: TextIO) -> bool:
    return getattr(out, "name", "-") in ("-", "<stdout>")


def _emit(items: list[tuple[str | None, Verdict]], out: TextIO, fmt: str, errors: list[str]) -> None:
    out.write(render(fmt, items, ReportOptions(kind="code", problems=errors, tool_version=_version())))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bluecodeagent")
    except PackageNotFoundError:
        return "0"


def _scan_chunk(o: _Options, route: LLMRoute | None, chunk: list[batch.Record]) -> list[dict[str, Any]]:
    """One result per record, ``o.jobs`` at a time; a record that cannot be scanned gets its ``error``."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max(1, o.jobs)) as pool:
        return list(pool.map(partial(_scan_record, o, route), chunk))


def _scan_record(o: _Options, route: LLMRoute | None, rec: batch.Record) -> dict[str, Any]:
    from bluecodeagent.code.scanner import scan_code
    from bluecodeagent.llm.backend import LLMError
    from bluecodeagent.subject import validate_text

    code, lang = rec.fields["code"], rec.fields.get("language") or o.language or "python"
    try:
        validate_text(code, o.max_bytes, "code")
        res = code_record(scan_code(code, lang, None, o.dynamic, id=str(rec.id), llm=route, max_bytes=o.max_bytes))
    except LLMError:
        raise
    except InputError as e:
        return {"error": f"line {rec.line}: {e}"}
    except Exception as e:  # never drop a record
        return {"error": f"line {rec.line}: internal error: {type(e).__name__}: {e}"}
    res[batch.runner.SEVERITY_KEY] = max((_RANK.get(f["severity"], 1) for f in res["findings"]), default=0)
    return res


def _severity_of(rec: dict[str, Any]) -> int:
    return max((_RANK.get(f.get("severity"), 1) for f in rec.get("findings") or []), default=0)


def _batch(path: Path, out: TextIO, o: _Options, route: LLMRoute | None, ray: Settings | None = None) -> int:
    """One output record per input record, in order; bad records get "error" and exit 2 at the end."""
    fmt = o.fmt or "jsonl"
    if o.resume and (_is_stdout(out) or fmt != "jsonl"):
        raise click.UsageError("--resume needs --format jsonl and --output FILE")
    records = batch.read_records(path, {"code": True, "language": False})
    run = partial(batch.runner.run_resumable, resume=o.resume, severity_of=_severity_of, desc="scanning", verb="scan")
    if ray is not None:
        from bluecodeagent.cli import ray_jobs

        with ray_jobs.cluster_for(ray) as cluster:
            done = run(records, ray_jobs.scan_chunks(cluster, o), out, fmt, ray_jobs.RAY_CHUNK)
    else:
        done = run(records, partial(_scan_chunk, o, route), out, fmt, max(8, 4 * o.jobs))
    click.echo(done.summary("scanned", "stdout" if _is_stdout(out) else out.name), err=True)
    if done.errors:
        click.echo(
            f'error: {done.errors} of {done.total} record(s) could not be scanned (see their "error" field)', err=True
        )
        return EXIT_USAGE
    return EXIT_UNSAFE if done.worst >= _RANK[o.fail_on] else EXIT_OK
