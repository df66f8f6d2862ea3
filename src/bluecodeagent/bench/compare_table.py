"""The comparison table: per-item records, metrics per (task, variant), the text table and report.md.

The table is computed from the records alone (``items.jsonl``), so anyone can recompute it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from bluecodeagent.bench.compare_text import TEXT_VARIANTS
from bluecodeagent.bench.datasets import PROMPT_TASKS
from bluecodeagent.bench.metrics import Metrics, compute_metrics
from bluecodeagent.code.llm.pipeline import VARIANTS as CODE_STEPS
from bluecodeagent.llm.accounting import Spend

if TYPE_CHECKING:
    from bluecodeagent.bench.compare import CompareResult

CODE_TASK = "vulnerability"
COMPARE_TASKS = (*PROMPT_TASKS, CODE_TASK)
CODE_VARIANTS = tuple(CODE_STEPS)
NAMES = {
    "direct": "direct prompting",
    "general": "general safety reminder",
    "fine_grained": "fine-grained reminder (risk categories)",
    "constitution": "constitution (retrieval + principles)",
    "plain": "plain analysis",
    "examples": "analysis + retrieved examples",
    "constitution_dynamic": "constitution + dynamic testing",
    "dynamic": "dynamic testing, no constitution",
}


class Item(Spend):
    """One benchmark item under one variant: the record written to items.jsonl."""

    task: str
    variant: str
    id: str
    label: str
    group: str
    pred: str | None = None
    error: str | None = None
    sandbox_runs: int = 0
    detail: dict[str, Any] = Field(default_factory=dict)


class Row(BaseModel):
    """One variant's line of the table."""

    task: str
    variant: str
    n: int
    errors: int
    metrics: Metrics | None
    pair_accuracy: float | None = None
    calls: int
    tokens: int
    cost_usd: float
    seconds_per_item: float


def pair_accuracy(items: Iterable[Item]) -> float | None:
    """Code: share of tasks whose vulnerable version is flagged and patched version is not."""
    pairs: dict[str, dict[str, str | None]] = defaultdict(dict)
    for it in items:
        base, _, kind = it.id.rpartition("-")
        pairs[base][kind] = it.pred
    full = [p for p in pairs.values() if p.get("vulnerable") is not None and p.get("patched") is not None]
    if not full:
        return None
    return sum(p["vulnerable"] != "safe" and p["patched"] == "safe" for p in full) / len(full)


def table_rows(items: Iterable[Item]) -> list[Row]:
    """Metrics per (task, variant) over the records without errors; cost over all records."""
    by: dict[tuple[str, str], list[Item]] = defaultdict(list)
    for it in items:
        by[(it.task, it.variant)].append(it)
    order = {v: i for i, v in enumerate((*TEXT_VARIANTS, *CODE_VARIANTS))}
    rows = []
    for (task, variant), its in sorted(by.items(), key=lambda kv: (COMPARE_TASKS.index(kv[0][0]), order[kv[0][1]])):
        ok = [i for i in its if i.error is None and i.pred is not None]
        spent = Spend.total(its)
        m = (
            compute_metrics([i.label for i in ok], [i.pred or "safe" for i in ok], [i.group for i in ok])
            if ok
            else None
        )
        rows.append(
            Row(
                task=task,
                variant=variant,
                n=len(ok),
                errors=len(its) - len(ok),
                metrics=m,
                pair_accuracy=pair_accuracy(ok) if task == CODE_TASK else None,
                calls=spent.calls,
                tokens=spent.tokens,
                cost_usd=spent.cost_usd,
                seconds_per_item=spent.latency_s / len(its),
            )
        )
    return rows


CODE_NAMES = {"constitution": "analysis guided by the constitution"}
HEADERS = ("task", "variant", "n", "err", "prec", "recall", "F1", "FPR", "pair", "calls", "tokens", "cost $", "s/item")


def _f(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def cells(r: Row) -> list[str]:
    m = r.metrics
    return [
        r.task,
        r.variant,
        str(r.n),
        str(r.errors),
        _f(m.precision if m else None),
        _f(m.recall if m else None),
        _f(m.f1 if m else None),
        _f(m.fpr if m else None),
        _f(r.pair_accuracy),
        str(r.calls),
        str(r.tokens),
        f"{r.cost_usd:.4f}",
        _f(r.seconds_per_item, 2),
    ]


def text_table(result: CompareResult) -> str:
    """The comparison as an aligned plain-text table."""
    body = [list(HEADERS), *[cells(r) for r in result.rows]]
    widths = [max(len(row[i]) for row in body) for i in range(len(HEADERS))]
    lines = [
        "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in body
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    foot = [f"backend {result.backend}; {result.runtime_s:.1f} s"]
    if result.excluded_in_kb:
        foot.append(f"{len(result.excluded_in_kb)} item(s) not scored: their text is in the knowledge base")
    return "\n".join(lines + foot + result.notes)


def markdown(result: CompareResult) -> str:
    """The report: the table, what each variant does, and how to reproduce it."""
    o = result.options
    lines = [
        "# BlueCodeAgent: LLM variants compared",
        "",
        f"Started {result.started}, runtime {result.runtime_s:.1f} s, backend `{result.backend}`. "
        f"Data: `{o.data_dir}`, "
        f"limit {o.limit} per task, seed {o.seed}, top-k {o.k}. Per-item records: `items.jsonl`.",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "---|" * len(HEADERS),
        *["| " + " | ".join(cells(r)) + " |" for r in result.rows],
        "",
        "Variants of the text tasks: " + "; ".join(f"`{v}` {NAMES[v]}" for v in TEXT_VARIANTS) + ".",
        "",
        "Variants of vulnerable-code detection: "
        + "; ".join(f"`{v}` {CODE_NAMES.get(v, NAMES[v])}" for v in CODE_VARIANTS)
        + ".",
        "",
        "Metrics count only items that got an answer (`err` = endpoint or answer failures); `pair` = share of "
        "SecCodePLT tasks whose vulnerable version is flagged and patched version is not. Calls, tokens and cost "
        "count every answer an item got, also in items that failed later, and cached answers (at cost 0); a call "
        "that itself failed is not counted.",
        "",
        *[f"- {n}" for n in result.notes],
    ]
    if result.excluded_in_kb:
        lines.append(f"- {len(result.excluded_in_kb)} item(s) not scored because their text is in the knowledge base.")
    return "\n".join(lines) + "\n"


def load_items(path: Path) -> list[Item]:
    """The records of an items.jsonl, the last one per (task, variant, id) (to recompute the table elsewhere)."""
    last: dict[tuple[str, str, str], Item] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            it = Item.model_validate(json.loads(line))
            last.pop((it.task, it.variant, it.id), None)
            last[(it.task, it.variant, it.id)] = it
    return list(last.values())
