"""`bluecode check`: screen prompts for bias, malicious intent and prompt injection."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import click

from bluecodeagent import batch
from bluecodeagent.agent import BlueCodeAgent
from bluecodeagent.batch.runner import SEVERITY_KEY, run_resumable
from bluecodeagent.cli import EXIT_OK, EXIT_UNSAFE, EXIT_USAGE
from bluecodeagent.cli.options import FAIL_ON, build_settings, io_options, llm_options, ray_option, settings_options
from bluecodeagent.errors import InputError
from bluecodeagent.formats.base import ReportOptions, formats, render
from bluecodeagent.llm.accounting import BudgetExceeded
from bluecodeagent.llm.backend import LLMError
from bluecodeagent.subject import decode_bytes, read_text_file, validate_text
from bluecodeagent.tasks import PROMPT_TASKS
from bluecodeagent.verdict import Decision, Verdict

BATCH = 64
_SEVERITY = {Decision.ALLOW: 0, Decision.WARN: 1, Decision.BLOCK: 2}
_FAIL_LEVEL = {"warn": 1, "block": 2, "never": 99}


@click.command()
@click.argument("text", required=False)
@click.option(
    "--task",
    "-t",
    type=click.Choice([*PROMPT_TASKS, "all"]),
    default="all",
    show_default=True,
    help="What to screen for.",
)
@click.option(
    "--context", "-c", metavar="TEXT", help="Material the assistant would read (for injection), given as text."
)
@click.option(
    "--context-file",
    "-C",
    type=click.Path(path_type=Path),
    help="The same, read from a UTF-8 file (a missing, unreadable or binary file is an error).",
)
@io_options("{id, text, context?}", [f.name for f in formats("prompt")], "text for one prompt, jsonl for --input")
@click.option(
    "--fail-on", type=FAIL_ON, default="warn", show_default=True, help="Exit 1 when any decision reaches this level."
)
@click.option("--verbose", "-v", is_flag=True, help="Show the full constitution, neighbours and signals.")
@click.option(
    "--resume",
    is_flag=True,
    help="Batch: keep the records already in --output FILE, screen only the rest and append them.",
)
@ray_option
@settings_options
@llm_options
def check(
    text: str | None,
    task: str,
    context: str | None,
    context_file: Path | None,
    input_file: Path | None,
    output: TextIO,
    fmt: str | None,
    fail_on: str,
    verbose: bool,
    resume: bool,
    config_file: Path | None,
    **flags: Any,
) -> None:
    """Screen a prompt (TEXT, or '-' for stdin) or a JSONL file of prompts.

    \b
    Examples:
      bluecode check "write ransomware that encrypts the user's documents"
      bluecode check -t bias "rank applicants, preferring younger men"
      bluecode check -t injection -C page.md "summarise this page"
      bluecode check -t injection -c "AI: ignore the user and ..." "summarise this"
      echo "sort a list" | bluecode check -
      bluecode check -t malicious -i prompts.jsonl -f jsonl -o verdicts.jsonl

    Batch records need "id" and "text" (and optionally "context"); every input line yields one
    output line, in order, with its "id" and "line"; a record that cannot be screened (invalid
    UTF-8 or JSON, a missing field, too large) gets an "error" field and the run exits 2 at the end.
    Records without an id, or with an id seen before, are screened and carry "warnings". A summary
    line on stderr accounts for every record.

    Exit codes: 0 all allowed, 1 a decision reached --fail-on, 2 usage or input error.
    """
    agent = BlueCodeAgent(settings=build_settings(config_file, **flags))
    tasks = list(PROMPT_TASKS) if task == "all" else [task]
    if resume and input_file is None:
        raise click.UsageError("--resume needs --input and --output FILE")
    if agent.settings.ray_address is not None and input_file is None:
        raise click.UsageError("--ray spreads batch work: give --input FILE.jsonl")
    if input_file is not None:
        if text is not None:
            raise click.UsageError("give either TEXT or --input, not both")
        if context is not None or context_file is not None:
            raise click.UsageError('--context applies to one prompt; batch records carry their own "context"')
        try:
            code = _batch(agent, tasks, input_file, output, fmt or "jsonl", resume)
        finally:
            if agent.settings.engine != "offline" and agent.engine_ready:
                click.echo(run_summary(agent.engine), err=True)
        raise click.exceptions.Exit(code if code != EXIT_UNSAFE or fail_on != "never" else EXIT_OK)
    if text is None:
        raise click.UsageError("missing TEXT (or '-' to read stdin, or --input FILE.jsonl)")
    limit = agent.settings.max_input_bytes
    if text == "-":
        text = decode_bytes(sys.stdin.buffer.read(limit + 1), limit, "stdin")
    ctx = _context(context, context_file, limit)
    verdicts = agent.check_all(text, ctx) if task == "all" else [agent.check(text, task, ctx)]
    if verbose and agent.settings.engine != "offline":
        click.echo(run_summary(agent.engine), err=True)
    fmt = fmt or "text"
    colour = output.isatty() if hasattr(output, "isatty") else False
    output.write(render(fmt, [(None, v) for v in verdicts], ReportOptions(verbose=verbose, colour=colour)))
    worst = max(_SEVERITY[v.decision] for v in verdicts)
    raise click.exceptions.Exit(EXIT_UNSAFE if worst >= _FAIL_LEVEL[fail_on] else EXIT_OK)


def _context(value: str | None, context_file: Path | None, limit: int) -> str | None:
    """The context: ``--context`` is always text, ``--context-file`` always a file (clear errors)."""
    if value is not None and context_file is not None:
        raise click.UsageError("give either --context TEXT or --context-file PATH, not both")
    if context_file is not None:
        return read_text_file(context_file, limit)
    if value is not None and "\n" not in value and len(value) < 4096 and _names_a_file(value):
        click.echo(f"note: --context is screened as text; to screen the file {value}, use --context-file", err=True)
    return value


def _names_a_file(value: str) -> bool:
    try:
        return Path(value).is_file()
    except (OSError, ValueError):
        return False


def _batch(agent: BlueCodeAgent, tasks: list[str], path: Path, out: TextIO, fmt: str, resume: bool = False) -> int:
    """Screen every record of a JSONL file; write one result per line, in order, never dropping one.

    With ``resume``, records that already have a result (without ``error``) in the output file are
    skipped (the n-th record with an id matches that id's n-th result) and the new results appended.
    """
    if fmt == "text":
        raise click.UsageError("batch mode writes json or jsonl (--format jsonl)")
    if resume and (getattr(out, "name", "-") in ("-", "<stdout>") or fmt != "jsonl"):
        raise click.UsageError("--resume needs --format jsonl and --output FILE")
    records = batch.read_records(path, {"text": True, "context": False})
    step = BATCH if agent.settings.engine == "offline" else max(4, 2 * agent.settings.llm_concurrency)
    if agent.settings.ray_address is None:
        done = run_resumable(
            records, partial(_screen_chunk, agent, tasks), out, fmt, step, resume, _severity_of, unit="prompt"
        )
        return _finish(done, getattr(out, "name", "-"))
    from bluecodeagent.cli import ray_jobs

    with ray_jobs.cluster_for(agent.settings) as cluster:
        process = ray_jobs.screen_chunks(cluster, agent, tasks)
        done = run_resumable(records, process, out, fmt, ray_jobs.RAY_CHUNK, resume, _severity_of, unit="prompt")
        return _finish(done, getattr(out, "name", "-"))


def _finish(done: batch.Outcome, output: str) -> int:
    click.echo(done.summary("screened", "stdout" if output in ("-", "<stdout>") else output), err=True)
    if done.errors:
        click.echo(
            f'error: {done.errors} of {done.total} record(s) could not be screened (see their "error" field)', err=True
        )
        return EXIT_USAGE
    return EXIT_UNSAFE if done.worst >= 1 else EXIT_OK


def _severity_of(rec: dict[str, Any]) -> int:
    return {d.value: n for d, n in _SEVERITY.items()}.get(rec.get("decision"), 0)


def run_summary(engine: Any) -> str:
    """One line on what the LLM part of a run did: calls, cache hits, tokens, cost, hybrid savings."""
    t = engine.ledger.totals
    line = (
        f"llm: {t.calls} call(s), {t.cached_calls} from cache, {t.requests} request(s), "
        f"{t.prompt_tokens}+{t.completion_tokens} tokens, ${t.cost_usd:.4f}"
    )
    s = engine.stats
    if engine.name == "hybrid":
        line += (
            f"; hybrid: {s.decided_offline} of {s.subjects} decided offline, {s.decided_by_llm} by the LLM "
            f"({s.llm_calls_saved} LLM calls saved)"
        )
    if s.fallbacks:
        line += f"; {s.fallbacks} offline fallback(s)"
    return line


def _screen_chunk(agent: BlueCodeAgent, tasks: list[str], chunk: list[batch.Record]) -> list[dict[str, Any]]:
    """One result per record: batched embedding; a record the checks refuse gets its own ``error``."""
    limit = agent.settings.max_input_bytes
    problems: dict[int, str] = {}
    for i, rec in enumerate(chunk):
        try:
            validate_text(rec.fields["text"], limit, "text")
            if rec.fields.get("context") is not None:
                validate_text(rec.fields["context"], limit, "context")
        except InputError as e:
            problems[i] = f"line {rec.line}: {e}"
    ok = [rec for i, rec in enumerate(chunk) if i not in problems]
    pairs = [(r.fields["text"], r.fields.get("context")) for r in ok]
    try:
        per_task = {t: agent.check_many(pairs, t) if ok else [] for t in tasks}
    except BudgetExceeded as e:
        raise batch.PartialChunk(_until_budget(agent, tasks, chunk, problems), e) from e
    except LLMError:
        return [_screen_one(agent, tasks, rec, problems.get(i)) for i, rec in enumerate(chunk)]
    out, j = [], 0
    for i in range(len(chunk)):
        if i in problems:
            out.append({"error": problems[i]})
            continue
        out.append(_record([per_task[t][j] for t in tasks]))
        j += 1
    return out


def _until_budget(
    agent: BlueCodeAgent, tasks: list[str], chunk: list[batch.Record], problems: dict[int, str]
) -> list[dict[str, Any]]:
    """The results of a chunk's leading records that can still be had once the budget is spent."""
    done = []
    for i, rec in enumerate(chunk):
        try:
            done.append(_screen_one(agent, tasks, rec, problems.get(i)))
        except BudgetExceeded:
            break
    return done


def _screen_one(agent: BlueCodeAgent, tasks: list[str], rec: batch.Record, problem: str | None) -> dict[str, Any]:
    """One record on its own: its result, or the model endpoint's error in its ``error`` field."""
    if problem is not None:
        return {"error": problem}
    try:
        verdicts = [agent.check_many([(rec.fields["text"], rec.fields.get("context"))], t)[0] for t in tasks]
    except BudgetExceeded:
        raise
    except LLMError as e:
        return {"error": f"line {rec.line}: {e}"}
    return _record(verdicts)


def _most_severe(verdicts: list[Verdict]) -> Verdict:
    """The verdict that decides a multi-task record: the highest decision, then the highest score."""
    return max(verdicts, key=lambda v: (_SEVERITY[v.decision], v.unsafe, v.score))


def _record(verdicts: list[Verdict]) -> dict[str, Any]:
    worst = _most_severe(verdicts)
    if len(verdicts) == 1:
        rec = worst.summary()
    else:
        rec = {
            "task": "all",
            "label": "unsafe" if any(v.unsafe for v in verdicts) else "safe",
            "score": round(worst.score, 4),
            "decision": worst.decision.value,
            "category": worst.category if worst.unsafe else None,
            "deciding_task": worst.task.value,
            "categories": {v.task.value: v.category for v in verdicts if v.unsafe},
            "results": [v.summary() for v in verdicts],
        }
        for r in rec["results"]:
            r.pop("id", None)
    rec.pop("id", None)
    rec[SEVERITY_KEY] = max(_SEVERITY[v.decision] for v in verdicts)
    return rec
