"""`bluecode check`: screen prompts for bias, malicious intent and prompt injection."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import click

from bluecodeagent.agent import BlueCodeAgent
from bluecodeagent.cli import EXIT_OK, EXIT_UNSAFE, EXIT_USAGE
from bluecodeagent.cli.options import FAIL_ON, build_settings, io_options, llm_options, settings_options
from bluecodeagent.errors import InputError
from bluecodeagent.formats.text import render_verdict
from bluecodeagent.llm.accounting import BudgetExceeded
from bluecodeagent.llm.backend import LLMError
from bluecodeagent.subject import decode_bytes, read_text_file
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
    "--context", "-c", help="Material the assistant would read (for injection): a file path or the text itself."
)
@io_options("{id, text, context?}", ["text", "json", "jsonl"], "text for one prompt, jsonl for --input")
@click.option(
    "--fail-on", type=FAIL_ON, default="warn", show_default=True, help="Exit 1 when any decision reaches this level."
)
@click.option("--verbose", "-v", is_flag=True, help="Show the full constitution, neighbours and signals.")
@click.option(
    "--resume",
    is_flag=True,
    help="Batch: keep the records already in --output FILE, screen only the rest and append them.",
)
@settings_options
@llm_options
def check(
    text: str | None,
    task: str,
    context: str | None,
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
      bluecode check -t injection -c page.md "summarise this page"
      echo "sort a list" | bluecode check -
      bluecode check -t malicious -i prompts.jsonl -f jsonl -o verdicts.jsonl

    Batch records need "id" and "text" (and optionally "context"); every input line yields one
    output line, in order; a record that cannot be screened gets an "error" field and the run exits 2
    at the end. Exit codes: 0 all allowed, 1 a decision reached --fail-on, 2 usage or input error.
    """
    agent = BlueCodeAgent(settings=build_settings(config_file, **flags))
    tasks = list(PROMPT_TASKS) if task == "all" else [task]
    if resume and input_file is None:
        raise click.UsageError("--resume needs --input and --output FILE")
    if input_file is not None:
        if text is not None:
            raise click.UsageError("give either TEXT or --input, not both")
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
    ctx = _context(context, limit)
    verdicts = agent.check_all(text, ctx) if task == "all" else [agent.check(text, task, ctx)]
    if verbose and agent.settings.engine != "offline":
        click.echo(run_summary(agent.engine), err=True)
    fmt = fmt or "text"
    if fmt == "text":
        colour = output.isatty() if hasattr(output, "isatty") else False
        output.write("\n".join(render_verdict(v, verbose=verbose, colour=colour) for v in verdicts) + "\n")
    elif fmt == "json":
        payload = [v.model_dump(mode="json") for v in verdicts]
        output.write(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2) + "\n")
    else:
        for v in verdicts:
            output.write(json.dumps(v.summary()) + "\n")
    worst = max(_SEVERITY[v.decision] for v in verdicts)
    raise click.exceptions.Exit(EXIT_UNSAFE if worst >= _FAIL_LEVEL[fail_on] else EXIT_OK)


def _context(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    if len(value) < 4096 and "\n" not in value and Path(value).is_file():
        return read_text_file(value, limit)
    return value


def _batch(agent: BlueCodeAgent, tasks: list[str], path: Path, out: TextIO, fmt: str, resume: bool = False) -> int:
    """Screen every record of a JSONL file; write one result per line, in order, never dropping one.

    With ``resume``, records whose id already has a result (without ``error``) in the output file
    are skipped and the new results are appended to that file.
    """
    if fmt == "text":
        raise click.UsageError("batch mode writes json or jsonl (--format jsonl)")
    lines = _read_lines(path)
    worst = 0
    if resume:
        finished, worst = _finished(out, fmt)
        parsed = [_parse(n, line, agent.settings.max_input_bytes) for n, line in lines]
        lines = [(n, line) for (n, line), rec in zip(lines, parsed, strict=True) if _key(rec.get("id")) not in finished]
        click.echo(
            f"resume: {len(parsed) - len(lines)} record(s) already in {out.name}, {len(lines)} to screen", err=True
        )
        with _append(Path(out.name)) as appended:  # never truncate what is already there
            return _screen_lines(agent, tasks, lines, appended, fmt, worst)
    return _screen_lines(agent, tasks, lines, out, fmt, worst)


def _screen_lines(
    agent: BlueCodeAgent, tasks: list[str], lines: list[tuple[int, str]], out: TextIO, fmt: str, worst: int
) -> int:
    from tqdm import tqdm

    errors = 0
    bar = tqdm(total=len(lines), desc="screening", unit="prompt", file=sys.stderr, disable=None)
    results: list[dict[str, Any]] = []
    step = BATCH if agent.settings.engine == "offline" else max(4, 2 * agent.settings.llm_concurrency)
    for start in range(0, len(lines), step):
        chunk = [_parse(n, line, agent.settings.max_input_bytes) for n, line in lines[start : start + step]]
        try:
            outputs = _screen_chunk(agent, tasks, chunk)
        except BudgetExceeded:
            if fmt == "jsonl":  # keep what was paid for: those answers are in the cache, so this is free
                for rec in _until_budget(agent, tasks, chunk):
                    rec.pop("_severity", None)
                    out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                out.flush()
            raise
        for rec in outputs:
            errors += "error" in rec
            worst = max(worst, rec.pop("_severity", 0))
            if fmt == "jsonl":
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            else:
                results.append(rec)
        out.flush()
        bar.update(len(chunk))
    bar.close()
    if fmt == "json":
        out.write(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    if errors:
        click.echo(
            f'error: {errors} of {len(lines)} record(s) could not be screened (see their "error" field)', err=True
        )
        return EXIT_USAGE
    return EXIT_UNSAFE if worst >= 1 else EXIT_OK


def _until_budget(agent: BlueCodeAgent, tasks: list[str], chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The results of a chunk's leading records that can still be had once the budget is spent."""
    done = []
    for rec in chunk:
        try:
            done.append(_screen_one(agent, tasks, rec))
        except BudgetExceeded:
            break
    return done


def _key(rid: Any) -> str:
    return json.dumps(rid)


@contextmanager
def _append(path: Path) -> Iterator[TextIO]:
    """The output file opened for appending, first ending a line an interrupted run left unfinished."""
    try:
        fh = path.open("a+", encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot append to {path}: {e.strerror or e}") from e
    with fh:
        if fh.tell() > 0:
            fh.seek(fh.tell() - 1)
            if fh.read(1) != "\n":
                fh.write("\n")
        yield fh


def _finished(out: TextIO, fmt: str) -> tuple[set[str], int]:
    """Ids with a result in an earlier run's output file, and the worst decision among them."""
    name = getattr(out, "name", "-")
    if name in ("-", "<stdout>") or fmt != "jsonl":
        raise click.UsageError("--resume needs --format jsonl and --output FILE")
    path = Path(name)
    if not path.exists():
        return set(), 0
    done, worst = set(), 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut off when the earlier run was stopped: that record is screened again
        if isinstance(rec, dict) and "error" not in rec and "id" in rec:
            done.add(_key(rec["id"]))
            worst = max(worst, {d.value: n for d, n in _SEVERITY.items()}.get(rec.get("decision"), 0))
    return done, worst


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


def _read_lines(path: Path) -> list[tuple[int, str]]:
    try:
        raw = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from e
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{path} is not valid UTF-8 (byte {e.start})") from e
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise InputError(f"{path} has no records")
    return lines


def _parse(lineno: int, line: str, limit: int) -> dict[str, Any]:
    """A record ready to screen, or one carrying the error that stops it."""
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as e:
        return {"id": None, "line": lineno, "error": f"line {lineno}: malformed JSON ({e.msg})"}
    if not isinstance(rec, dict):
        return {"id": None, "line": lineno, "error": f"line {lineno}: a record must be a JSON object"}
    rid = rec.get("id", lineno)
    text, ctx = rec.get("text"), rec.get("context")
    if not isinstance(text, str) or (ctx is not None and not isinstance(ctx, str)):
        return {"id": rid, "line": lineno, "error": f"line {lineno}: 'text' (and 'context') must be strings"}
    return {"id": rid, "line": lineno, "text": text, "context": ctx}


def _screen_chunk(agent: BlueCodeAgent, tasks: list[str], chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from bluecodeagent.subject import validate_text

    limit = agent.settings.max_input_bytes
    for rec in chunk:
        if "error" in rec:
            continue
        try:
            validate_text(rec["text"], limit, "text")
            if rec["context"] is not None:
                validate_text(rec["context"], limit, "context")
        except InputError as e:
            rec["error"] = f"line {rec['line']}: {e}"
    ok = [r for r in chunk if "error" not in r]
    try:
        per_task = {t: agent.check_many([(r["text"], r["context"]) for r in ok], t) if ok else [] for t in tasks}
    except BudgetExceeded:
        raise
    except LLMError:
        return [_screen_one(agent, tasks, rec) for rec in chunk]  # find the records the endpoint failed on
    out, i = [], 0
    for rec in chunk:
        if "error" in rec:
            out.append({"id": rec["id"], "error": rec["error"]})
            continue
        verdicts = [per_task[t][i] for t in tasks]
        i += 1
        out.append(_record(rec["id"], verdicts))
    return out


def _screen_one(agent: BlueCodeAgent, tasks: list[str], rec: dict[str, Any]) -> dict[str, Any]:
    """One record on its own: its result, or the model endpoint's error in its ``error`` field."""
    if "error" in rec:
        return {"id": rec["id"], "error": rec["error"]}
    try:
        verdicts = [agent.check_many([(rec["text"], rec["context"])], t)[0] for t in tasks]
    except BudgetExceeded:
        raise
    except LLMError as e:
        return {"id": rec["id"], "error": f"line {rec['line']}: {e}"}
    return _record(rec["id"], verdicts)


def _record(rid: Any, verdicts: list[Verdict]) -> dict[str, Any]:
    worst = max(verdicts, key=lambda v: v.score)
    rec = (
        worst.summary()
        if len(verdicts) == 1
        else {
            "id": rid,
            "task": "all",
            "label": "unsafe" if any(v.unsafe for v in verdicts) else "safe",
            "score": round(worst.score, 4),
            "decision": worst.decision.value,
            "category": worst.category if worst.unsafe else None,
            "results": [v.summary() | {"id": rid} for v in verdicts],
        }
    )
    rec["id"] = rid
    rec["_severity"] = max(_SEVERITY[v.decision] for v in verdicts)
    return rec
