"""Bench output: a text table, and a report directory (results.json, report.md, report.html with an
inline SVG chart, predictions.jsonl)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bluecodeagent.bench.hardcases import all_tasks_table
from bluecodeagent.bench.hardcases import table as hardcase_table
from bluecodeagent.bench.metrics import Metrics
from bluecodeagent.bench.runner import BenchResult, Prediction, RunResult

HEADERS = (
    "task",
    "config",
    "system",
    "subset",
    "n",
    "unsafe",
    "prec",
    "recall",
    "F1",
    "acc",
    "FPR",
    "FPR-mbpp",
    "p50ms",
    "p95ms",
    "items/s",
)
COLOURS = {"bluecode": "#1f5fbf", "knn": "#8c8c8c", "keyword": "#d98c1f"}


def _f(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _defined(v: float, denominator: int) -> str:
    """A rate, or ``n/a`` when nothing it divides by exists (F1 of a subset with no unsafe items)."""
    return _f(v) if denominator else "n/a"


def rows(result: BenchResult) -> list[list[str]]:
    """One row per task, configuration, system and subset."""
    out = []
    for run in result.runs:
        for system, subsets in run.systems.items():
            for subset, m in subsets.items():
                out.append(
                    [
                        run.task,
                        run.config,
                        system,
                        subset,
                        str(m.n),
                        str(m.tp + m.fn),
                        _defined(m.precision, m.tp + m.fp),
                        _defined(m.recall, m.tp + m.fn),
                        _defined(m.f1, m.tp + m.fn),
                        _f(m.accuracy),
                        _defined(m.fpr, m.fp + m.tn),
                        _f(m.fpr_mbpp),
                        _f(m.latency_p50_ms, 1),
                        _f(m.latency_p95_ms, 1),
                        _f(m.throughput_per_s, 1),
                    ]
                )
    return out


def text_table(result: BenchResult) -> str:
    """A fixed-width table of every row, plus the knowledge splits used."""
    body = rows(result)
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(HEADERS)]
    line = "  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True))
    out = [line, "-" * len(line)]
    prev: tuple[str, str] | None = None
    for r in body:
        if prev and prev != (r[0], r[1]):
            out.append("")
        prev = (r[0], r[1])
        cells = zip(r, widths, strict=True)
        out.append("  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(cells)))
    out.append("")
    out.extend(_split_notes(result.runs))
    if result.hardcases:
        out += ["", hardcase_table(result.hardcases), ""]
    if result.all_tasks_safe:
        out += [all_tasks_table(result.all_tasks_safe), ""]
    env = result.environment
    out.append(
        f"runtime {result.runtime_s:.1f} s; knowledge base {result.kb_path}; "
        f"{env.get('cpus')} CPUs, load {env.get('loadavg_1m_at_start')} at start"
    )
    return "\n".join(out)


def _split_notes(runs: Iterable[RunResult]) -> list[str]:
    notes = []
    for run in runs:
        if run.config == "split":
            notes.append(
                f"{run.task}/split: +{run.kb_added} dev items; seen groups: {', '.join(run.seen_groups)}; "
                f"unseen: {', '.join(run.unseen_groups)}; the seen and unseen subsets each hold every benign "
                "item, so their unsafe counts (not n) add up to the whole"
            )
        if run.excluded_in_kb:
            notes.append(f"{run.task}/{run.config}: {len(run.excluded_in_kb)} samples excluded (shipped KB holds them)")
    return notes


def markdown(result: BenchResult) -> str:
    """The report as Markdown: summary table, split notes, per-group rates of the agent."""
    o = result.options
    lines = [
        "# BlueCodeAgent bench",
        "",
        f"Started {result.started}, runtime {result.runtime_s:.1f} s. Data: `{o.data_dir}`, limit {o.limit}, "
        f"seed {o.seed}, kNN k={o.knn_k}. Knowledge base: `{result.kb_path}` ({result.kb_stats.get('items')} items). "
        f"Machine: {result.environment}.",
        "",
        "Subsets: `all` = every scored sample; `seen`/`unseen` = unsafe samples of groups with/without "
        "dev items in the knowledge base, plus every benign sample. Under `shipped` every group is unseen. "
        "Latency: single-shot `check`; items/s: batched `check_many`.",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "---|" * len(HEADERS),
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows(result)]
    lines += ["", *[f"- {n}" for n in _split_notes(result.runs)], ""]
    if result.hardcases:
        lines += ["## Hard cases", "", "```", hardcase_table(result.hardcases), "```", ""]
    if result.all_tasks_safe:
        lines += ["```", all_tasks_table(result.all_tasks_safe), "```", ""]
    lines += ["## Per group (bluecode)", ""]
    for run in result.runs:
        m = run.systems.get("bluecode", {}).get("all")
        if not m:
            continue
        lines.append(
            f"**{run.task} / {run.config}**: "
            + "; ".join(
                f"{g} {'recall' if gm.kind == 'unsafe' else 'FPR'} {gm.rate:.2f} (n={gm.n})"
                for g, gm in m.groups.items()
            )
        )
        lines.append("")
    return "\n".join(lines)


def svg_chart(result: BenchResult) -> str:
    """A grouped bar chart of F1 and FPR (subset ``all``) per task, configuration and system."""
    bars: list[tuple[str, str, Metrics]] = [
        (f"{run.task}/{run.config}", system, subsets["all"])
        for run in result.runs
        for system, subsets in run.systems.items()
        if "all" in subsets
    ]
    bar_w, gap, top, height, left = 14, 26, 30, 200, 40
    groups: dict[str, list[tuple[str, Metrics]]] = {}
    for label, system, m in bars:
        groups.setdefault(label, []).append((system, m))
    group_w = max((len(v) for v in groups.values()), default=1) * 2 * bar_w + gap
    width = left + group_w * max(1, len(groups)) + 20
    total_h = top + height + 70
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total_h}" '
        f'viewBox="0 0 {width} {total_h}" font-family="sans-serif" font-size="10" role="img" '
        f'aria-label="F1 and FPR per task, configuration and system">',
        f'<text x="{left}" y="14" font-size="12">F1 (solid) and FPR (hatched) per task/config and system</text>',
        '<defs><pattern id="hatch" width="4" height="4" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="2" height="4" fill="#c0392b"/></pattern></defs>',
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = top + height * (1 - tick)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end">{tick:.2f}</text>'
        )
    for gi, (label, items) in enumerate(groups.items()):
        x0 = left + gi * group_w + gap / 2
        for si, (system, m) in enumerate(items):
            for j, (name, value) in enumerate((("F1", m.f1), ("FPR", m.fpr))):
                x = x0 + (2 * si + j) * bar_w
                h = height * max(0.0, min(1.0, value))
                fill = COLOURS.get(system, "#555") if j == 0 else "url(#hatch)"
                parts.append(
                    f'<rect x="{x:.1f}" y="{top + height - h:.1f}" width="{bar_w - 2}" height="{h:.1f}" '
                    f'fill="{fill}" stroke="{COLOURS.get(system, "#555")}">'
                    f"<title>{html.escape(f'{label} {system} {name} {value:.3f}')}</title></rect>"
                )
        parts.append(
            f'<text x="{x0 + (group_w - gap) / 2:.1f}" y="{top + height + 14}" text-anchor="middle">'
            f"{html.escape(label)}</text>"
        )
    for i, (system, colour) in enumerate(COLOURS.items()):
        x = left + i * 110
        parts.append(
            f'<rect x="{x}" y="{total_h - 22}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{total_h - 13}">{system}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def html_report(result: BenchResult) -> str:
    """A self-contained HTML page: the chart and the table."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
    body = "\n".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows(result))
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in _split_notes(result.runs))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>BlueCodeAgent bench {html.escape(result.started)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}td:nth-child(-n+4){{text-align:left}}</style>
</head><body>
<h1>BlueCodeAgent bench</h1>
<p>Started {html.escape(result.started)}, runtime {result.runtime_s:.1f} s, data
<code>{html.escape(str(result.options.data_dir))}</code>, limit {result.options.limit}, seed {result.options.seed}.</p>
{svg_chart(result)}
<table><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table>
<ul>{notes}</ul>
</body></html>
"""


def write_report(result: BenchResult, predictions: Sequence[Prediction], out: Path | None = None) -> Path:
    """Write the report directory (default ``reports/bench-<timestamp>``) and return its path."""
    if out is None:
        out = Path("reports") / f"bench-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(result.model_dump_json(indent=2), encoding="utf-8")
    (out / "report.md").write_text(markdown(result), encoding="utf-8")
    (out / "report.html").write_text(html_report(result), encoding="utf-8")
    with (out / "predictions.jsonl").open("w", encoding="utf-8") as f:
        for p in predictions:
            f.write(p.model_dump_json() + "\n")
    return out
