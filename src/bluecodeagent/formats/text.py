"""Human-readable rendering of verdicts for the terminal."""

from __future__ import annotations

import click

from bluecodeagent.verdict import Decision, Verdict

_COLOURS = {Decision.ALLOW: "green", Decision.WARN: "yellow", Decision.BLOCK: "red"}


def render_verdict(v: Verdict, *, verbose: bool = False, colour: bool = False) -> str:
    """A few lines per verdict: decision, score, category, then why (neighbours and constitution)."""
    head = f"{v.task.value:<10} {v.decision.value.upper():<5} {v.label:<7} score={v.score:.2f}"
    if v.category:
        head += f"  category={v.category}"
    head += f"  ({v.latency_ms:.0f} ms)"
    lines = [click.style(head, fg=_COLOURS[v.decision]) if colour else head]
    lines.extend(f"  note: {note}" for note in v.evidence.notes)
    for f in v.findings:
        lines.append(f"  ! {f.rule_id}: {f.message}" + (f" — {f.snippet!r}" if f.snippet else ""))
    matched = [p for p in v.evidence.constitution if p.matched]
    for p in v.evidence.constitution if verbose else matched[:3]:
        mark = "✓" if p.matched else " "
        cues = f" [{', '.join(p.cues)}]" if p.cues else ""
        lines.append(f"  {mark} ({p.kind}) {p.text}{cues}")
    if verbose:
        for n in v.evidence.unsafe_neighbours + v.evidence.safe_neighbours:
            lines.append(f"    ~ {n.label:<6} {n.similarity:.2f} {n.category:<18} {n.text[:90]!r}")
        if v.evidence.signals:
            lines.append("    signals: " + ", ".join(f"{k}={val:g}" for k, val in v.evidence.signals.items()))
    return "\n".join(lines)
