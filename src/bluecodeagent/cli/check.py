"""`bluecode check`: screen prompts for bias, malicious intent and prompt injection."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

import click

from bluecodeagent.agent import BlueCodeAgent
from bluecodeagent.cli import EXIT_OK, EXIT_UNSAFE, EXIT_USAGE
from bluecodeagent.cli.options import FAIL_ON, build_settings, io_options, settings_options
from bluecodeagent.errors import InputError
from bluecodeagent.formats.text import render_verdict
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
@settings_options
def check(
    text: str | None,
    task: str,
    context: str | None,
    input_file: Path | None,
    output: TextIO,
    fmt: str | None,
    fail_on: str,
    verbose: bool,
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
    if input_file is not None:
        if text is not None:
            raise click.UsageError("give either TEXT or --input, not both")
        code = _batch(agent, tasks, input_file, output, fmt or "jsonl")
        raise click.exceptions.Exit(code if code != EXIT_UNSAFE or fail_on != "never" else EXIT_OK)
    if text is None:
        raise click.UsageError("missing TEXT (or '-' to read stdin, or --input FILE.jsonl)")
    limit = agent.settings.max_input_bytes
    if text == "-":
        text = decode_bytes(sys.stdin.buffer.read(limit + 1), limit, "stdin")
    ctx = _context(context, limit)
    verdicts = agent.check_all(text, ctx) if task == "all" else [agent.check(text, task, ctx)]
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


def _batch(agent: BlueCodeAgent, tasks: list[str], path: Path, out: TextIO, fmt: str) -> int:
    """Screen every record of a JSONL file; write one result per line, in order, never dropping one."""
    from tqdm import tqdm

    if fmt == "text":
        raise click.UsageError("batch mode writes json or jsonl (--format jsonl)")
    lines = _read_lines(path)
    worst, errors = 0, 0
    bar = tqdm(total=len(lines), desc="screening", unit="prompt", file=sys.stderr, disable=None)
    results: list[dict[str, Any]] = []
    for start in range(0, len(lines), BATCH):
        chunk = [_parse(n, line, agent.settings.max_input_bytes) for n, line in lines[start : start + BATCH]]
        outputs = _screen_chunk(agent, tasks, chunk)
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
    per_task = {t: agent.check_many([(r["text"], r["context"]) for r in ok], t) if ok else [] for t in tasks}
    out, i = [], 0
    for rec in chunk:
        if "error" in rec:
            out.append({"id": rec["id"], "error": rec["error"]})
            continue
        verdicts = [per_task[t][i] for t in tasks]
        i += 1
        out.append(_record(rec["id"], verdicts))
    return out


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
