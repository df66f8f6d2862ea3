"""`bluecode scan`: find CWE vulnerabilities in code, confirm them in the sandbox, gate CI on them."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from bluecodeagent.cli import EXIT_OK, EXIT_UNSAFE, EXIT_USAGE
from bluecodeagent.cli.options import build_settings, io_options, llm_options, settings_options
from bluecodeagent.errors import InputError
from bluecodeagent.verdict import Finding, Verdict

if TYPE_CHECKING:
    from bluecodeagent.code.llm.engine import LLMRoute
    from bluecodeagent.config import Settings

_RANK = {"low": 1, "medium": 2, "high": 3, "never": 99}


def fingerprint(path: str | None, f: Finding) -> str:
    """A baseline key that survives line moves: file, rule, CWE and the flagged code text."""
    text = "|".join([(path or "").replace("\\", "/"), f.rule_id, f.cwe or "", (f.snippet or "").strip()])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _finding_record(f: Finding) -> dict[str, Any]:
    dyn = f.details.get("dynamic") or {}
    rec = {
        "cwe": f.cwe,
        "line": f.line,
        "confirmed": f.confirmed,
        "severity": f.severity,
        "confidence": f.confidence,
        "message": f.message,
        "rule_id": f.rule_id,
    }
    if dyn:
        rec["dynamic"] = dyn.get("outcome")
        if dyn.get("evidence"):
            rec["evidence"] = dyn["evidence"]
    return rec


def _record(rid: Any, v: Verdict) -> dict[str, Any]:
    return {
        "id": rid,
        "label": v.label,
        "score": round(v.score, 4),
        "findings": [_finding_record(f) for f in v.findings],
        "notes": v.evidence.notes,
        "latency_ms": round(v.latency_ms, 1),
    }


def _apply_baseline(items: list[tuple[str | None, Verdict]], baseline: set[str]) -> None:
    for path, v in items:
        kept = [f for f in v.findings if fingerprint(path, f) not in baseline]
        if len(kept) != len(v.findings):
            v.evidence.notes.append(f"{len(v.findings) - len(kept)} finding(s) hidden by the baseline")
            v.findings = kept
            if not kept:
                v.label = "safe"


def _load_baseline(path: Path) -> set[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read baseline {path}: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("fingerprints"), list):
        raise InputError(f'{path} is not a bluecode baseline (expected {{"fingerprints": [...]}})')
    return {str(x) for x in data["fingerprints"]}


def _write_baseline(path: Path, items: Iterable[tuple[str | None, Verdict]]) -> None:
    prints = sorted({fingerprint(p, f) for p, v in items for f in v.findings})
    path.write_text(json.dumps({"version": 1, "fingerprints": prints}, indent=1) + "\n", encoding="utf-8")


def _render_text(path: str | None, v: Verdict) -> str:
    head = f"{path or 'stdin'}: {v.label.upper()} score={v.score:.2f} ({v.latency_ms:.0f} ms)"
    lines = [head]
    for f in v.findings:
        mark = "CONFIRMED" if f.confirmed else "suspected"
        lines.append(
            f"  {f.path or path or 'stdin'}:{f.line or '?'} [{f.severity}] {f.cwe} {f.rule_id} ({mark}, "
            f"confidence {f.confidence:.2f}): {f.message}"
        )
        dyn = f.details.get("dynamic") or {}
        if f.confirmed and dyn.get("evidence"):
            lines.append(f"      sandbox: {dyn['evidence']}")
    for note in v.evidence.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


@click.command()
@click.argument("paths", nargs=-1)
@io_options("{id, code, language?}", ["text", "json", "jsonl", "sarif"], "text, or jsonl for --input")
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
    route = _llm_route(build_settings(config_file, **flags), dynamic)
    try:
        _run(paths, input_file, output, fmt, language, fail_on, baseline, write_baseline, dynamic, jobs, route)
    finally:
        if route is not None:
            click.echo(_llm_summary(route), err=True)


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
    fmt: str | None,
    language: str | None,
    fail_on: str,
    baseline: Path | None,
    write_baseline: Path | None,
    dynamic: bool,
    jobs: int,
    route: LLMRoute | None,
) -> None:
    from tqdm import tqdm

    from bluecodeagent.code import scanner

    if input_file is not None:
        if paths:
            raise click.UsageError("give either PATH... or --input, not both")
        if fmt not in (None, "jsonl", "json"):
            raise click.UsageError("batch mode writes jsonl or json (--format jsonl)")
        code = _batch(input_file, output, fmt or "jsonl", language, dynamic, jobs, fail_on, route)
        raise click.exceptions.Exit(code)
    if not paths:
        raise click.UsageError("missing PATH (or '-' for stdin, or --input FILE.jsonl)")
    fmt = fmt or "text"
    items: list[tuple[str | None, Verdict]] = []
    errors: list[str] = []
    if paths == ("-",):
        text = scanner.decode_bytes(sys.stdin.buffer.read(scanner.MAX_FILE_BYTES + 1), scanner.MAX_FILE_BYTES, "stdin")
        if not text.strip():
            raise InputError("stdin is empty")
        items.append((None, scanner.scan_code(text, language or "python", None, dynamic, id="stdin", llm=route)))
    else:
        for p in paths:
            if not Path(p).exists():
                raise InputError(f"{p}: no such file or directory")
        files = list(scanner.iter_files(paths))
        if not files:
            raise InputError("no supported source files found under " + ", ".join(paths))
        bar = tqdm(total=len(files), desc="scanning", unit="file", file=sys.stderr, disable=None)
        results = scanner.scan_paths(files, language, dynamic, jobs=jobs, progress=lambda r: bar.update(1), llm=route)
        bar.close()
        for r in results:
            if r.error:
                errors.append(r.error)
            elif r.verdict is not None:
                items.append((r.path, r.verdict))
    if write_baseline:
        _write_baseline(write_baseline, items)
    if baseline:
        _apply_baseline(items, _load_baseline(baseline))
    _emit(items, output, fmt)
    for e in errors:
        click.echo(f"error: {e}", err=True)
    if errors and len(paths) == 1 and len(items) == 0:
        raise click.exceptions.Exit(EXIT_USAGE)
    worst = max((_RANK.get(f.severity, 1) for _, v in items for f in v.findings), default=0)
    if errors:
        raise click.exceptions.Exit(EXIT_USAGE)
    raise click.exceptions.Exit(EXIT_UNSAFE if worst >= _RANK[fail_on] else EXIT_OK)


def _emit(items: list[tuple[str | None, Verdict]], out: TextIO, fmt: str) -> None:
    if fmt == "text":
        out.write("\n".join(_render_text(p, v) for p, v in items) + "\n" if items else "")
        flagged = sum(v.label != "safe" for _, v in items)
        confirmed = sum(f.confirmed for _, v in items for f in v.findings)
        out.write(f"{len(items)} file(s) scanned, {flagged} vulnerable, {confirmed} finding(s) confirmed\n")
    elif fmt == "json":
        out.write(json.dumps([{"path": p, **v.model_dump(mode="json")} for p, v in items], indent=2) + "\n")
    elif fmt == "jsonl":
        for p, v in items:
            out.write(json.dumps(_record(p or "stdin", v), ensure_ascii=False) + "\n")
    else:
        from importlib.metadata import PackageNotFoundError, version

        from bluecodeagent.formats.sarif import to_sarif

        try:
            ver = version("bluecodeagent")
        except PackageNotFoundError:
            ver = "0"
        out.write(json.dumps(to_sarif(items, ver), indent=2) + "\n")


def _parse(lineno: int, line: str, language: str | None) -> dict[str, Any]:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as e:
        return {"id": None, "error": f"line {lineno}: malformed JSON ({e.msg})"}
    if not isinstance(rec, dict):
        return {"id": None, "error": f"line {lineno}: a record must be a JSON object"}
    rid = rec.get("id", lineno)
    code, lang = rec.get("code"), rec.get("language") or language or "python"
    if not isinstance(code, str):
        return {"id": rid, "error": f"line {lineno}: 'code' must be a string"}
    if not isinstance(lang, str):
        return {"id": rid, "error": f"line {lineno}: 'language' must be a string"}
    return {"id": rid, "code": code, "language": lang, "line": lineno}


def _scan_record(rec: dict[str, Any], dynamic: bool, route: LLMRoute | None = None) -> dict[str, Any]:
    from bluecodeagent.code.scanner import scan_code
    from bluecodeagent.llm.backend import LLMError

    if "error" in rec:
        return {"id": rec["id"], "error": rec["error"]}
    try:
        return _record(rec["id"], scan_code(rec["code"], rec["language"], None, dynamic, id=str(rec["id"]), llm=route))
    except LLMError:
        raise
    except InputError as e:
        return {"id": rec["id"], "error": f"line {rec['line']}: {e}"}
    except Exception as e:  # never drop a record
        return {"id": rec["id"], "error": f"line {rec['line']}: internal error: {type(e).__name__}: {e}"}


def _batch(
    path: Path,
    out: TextIO,
    fmt: str,
    language: str | None,
    dynamic: bool,
    jobs: int,
    fail_on: str,
    route: LLMRoute | None = None,
) -> int:
    """One output record per input record, in order; bad records get "error" and exit 2 at the end."""
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    from bluecodeagent.cli.check import _read_lines

    lines = _read_lines(path)
    recs = [_parse(n, line, language) for n, line in lines]
    bar = tqdm(total=len(recs), desc="scanning", unit="record", file=sys.stderr, disable=None)
    errors, worst, collected = 0, 0, []
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        for res in pool.map(lambda r: _scan_record(r, dynamic, route), recs):
            bar.update(1)
            errors += "error" in res
            worst = max([worst, *(_RANK.get(f["severity"], 1) for f in res.get("findings", []))])
            if fmt == "jsonl":
                out.write(json.dumps(res, ensure_ascii=False) + "\n")
                out.flush()
            else:
                collected.append(res)
    bar.close()
    if fmt == "json":
        out.write(json.dumps(collected, indent=2, ensure_ascii=False) + "\n")
    if errors:
        click.echo(f'error: {errors} of {len(recs)} record(s) could not be scanned (see their "error" field)', err=True)
        return EXIT_USAGE
    return EXIT_UNSAFE if worst >= _RANK[fail_on] else EXIT_OK
