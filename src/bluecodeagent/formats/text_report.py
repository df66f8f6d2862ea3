"""The ``text`` format: what a person reads in a terminal (prompt verdicts and scan results)."""

from __future__ import annotations

from bluecodeagent.formats.base import Items, ReportOptions, register
from bluecodeagent.verdict import Status, Verdict


def render_file(path: str | None, v: Verdict) -> str:
    """A head line per file, one line per finding, then the notes."""
    where = path or "stdin"
    if v.status != Status.ANALYSED:
        return f"{where}: NOT ANALYSED ({v.status_reason or 'unknown reason'})"
    lines = [f"{where}: {v.label.upper()} score={v.score:.2f} ({v.latency_ms:.0f} ms)"]
    for f in v.findings:
        mark = "CONFIRMED" if f.confirmed else "suspected"
        lines.append(
            f"  {f.path or where}:{f.line or '?'} [{f.severity}] {f.cwe} {f.rule_id} ({mark}, "
            f"confidence {f.confidence:.2f}): {f.message}"
        )
        dyn = f.details.get("dynamic") or {}
        if f.confirmed and dyn.get("evidence"):
            lines.append(f"      sandbox: {dyn['evidence']}")
    lines.extend(f"  note: {note}" for note in v.evidence.notes)
    return "\n".join(lines)


def scan_summary(items: Items, errors: int, seconds: float | None = None) -> str:
    """One closing line that accounts for every file."""
    analysed = [v for _, v in items if v.status == Status.ANALYSED]
    flagged = sum(v.label != "safe" for v in analysed)
    confirmed = sum(f.confirmed for v in analysed for f in v.findings)
    line = f"{len(analysed)} file(s) scanned, {flagged} vulnerable, {confirmed} finding(s) confirmed"
    if skipped := len(items) - len(analysed):
        line += f", {skipped} not analysed"
    if errors:
        line += f", {errors} error(s)"
    return line + (f" in {seconds:.1f} s" if seconds is not None else "")


def render_scan(items: Items, errors: int = 0) -> str:
    """Every file, then the summary line."""
    body = "\n".join(render_file(p, v) for p, v in items)
    return (body + "\n" if body else "") + scan_summary(items, errors) + "\n"


@register("text")
def report_text(items: Items, options: ReportOptions) -> str:
    """For people: a few lines per verdict (prompts), or per file with a closing summary (code)."""
    if options.kind == "code":
        return render_scan(items, len(options.problems))
    from bluecodeagent.formats.text import render_verdict

    return "\n".join(render_verdict(v, verbose=options.verbose, colour=options.colour) for _, v in items) + "\n"
