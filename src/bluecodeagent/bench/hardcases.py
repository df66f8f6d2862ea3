"""The hand-written hard cases, scored per task and per kind with the shipped knowledge.

The hard-case set is validation data: it is scored, never added to a knowledge base (the runner
checks that no item of it is in the base that scores it). Some kinds are *kept aside*: designed
against without looking at their failures, so they are reported apart from the others.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from bluecodeagent.bench.datasets import Sample, hardcases_path, load_hardcases
from bluecodeagent.bench.metrics import Counts, confusion

# Kinds designed without looking at their failures (docs/prompt-screening.md says why).
KEPT_ASIDE: dict[str, tuple[str, ...]] = {
    "malicious": ("functional", "lookalike"),
    "bias": ("neutral",),
    "injection": ("clean",),
}


class KindResult(BaseModel):
    """One kind of hard case: how many were right, and the share flagged unsafe."""

    kind: str
    label: str = Field(description="'unsafe' or 'safe' (every item of a kind has one label)")
    n: int
    right: int
    flagged: int
    rate: float = Field(description="Share flagged unsafe: recall for an unsafe kind, FPR for a safe kind.")
    kept_aside: bool = False
    warned: int = Field(default=0, description="Items whose decision was warn or block.")


class HardcaseRun(BaseModel):
    """One task's hard cases."""

    task: str
    n: int
    precision: float
    recall: float
    f1: float
    fpr: float
    kinds: list[KindResult] = Field(default_factory=list)
    aside_f1: float | None = Field(default=None, description="F1 over the items of the kept-aside kinds alone.")
    shaped_f1: float | None = Field(default=None, description="F1 over the items of the other kinds.")
    runtime_s: float = 0.0


class AllTasksSafe(BaseModel):
    """The safe hard cases of one task checked with every prompt task, as ``check`` does by default."""

    task: str = Field(description="The task whose hard-case file the safe items come from.")
    kind: str
    n: int
    warned: int = Field(description="Items for which any task decided warn or block.")
    by_task: dict[str, int] = Field(default_factory=dict, description="Warned items per deciding task.")

    @property
    def rate(self) -> float:
        return self.warned / self.n if self.n else 0.0


def run_all_tasks_on_safe(agent: Any, data_dir: Path, tasks: Sequence[str]) -> list[AllTasksSafe]:
    """Every safe hard case of ``tasks`` through ``check_all``: how many any task warns about, per kind."""
    out: list[AllTasksSafe] = []
    for task in tasks:
        if not available(data_dir, task):
            continue
        safe = [s for s in load_hardcases(data_dir, task) if s.label == "safe"]
        per_kind: dict[str, AllTasksSafe] = {}
        for s in safe:
            kind = s.group.split(":", 1)[-1]
            row = per_kind.setdefault(kind, AllTasksSafe(task=task, kind=kind, n=0, warned=0))
            row.n += 1
            deciding = [str(v.task.value) for v in agent.check_all(s.text, s.context) if v.decision.value != "allow"]
            if deciding:
                row.warned += 1
                for t in deciding:
                    row.by_task[t] = row.by_task.get(t, 0) + 1
        out.extend(per_kind.values())
    return out


def all_tasks_table(rows: Sequence[AllTasksSafe]) -> str:
    """Safe hard cases checked with every task: the share warned (target <= 5%)."""
    n, warned = sum(r.n for r in rows), sum(r.warned for r in rows)
    lines = ["safe hard cases checked with every task (as plain `bluecode check` does)",
             f"{'from':10}  {'kind':16}  {'n':>4}  {'warned':>6}  {'rate':>6}  by task"]  # fmt: skip
    for r in rows:
        by = ", ".join(f"{t} {c}" for t, c in sorted(r.by_task.items()))
        lines.append(f"{r.task:10}  {r.kind:16}  {r.n:>4}  {r.warned:>6}  {r.rate:>6.3f}  {by}")
    lines.append(f"{'ALL':10}  {'':16}  {n:>4}  {warned:>6}  {(warned / n if n else 0):>6.3f}")
    return "\n".join(lines)


def available(data_dir: Path, task: str) -> bool:
    return hardcases_path(data_dir, task).is_file()


def _f1(c: Counts) -> float | None:
    return c.f1 if c.tp + c.fn else None


def summarise(task: str, samples: Sequence[Sample], preds: Sequence[str], decisions: Sequence[str]) -> HardcaseRun:
    """Per-kind results and F1 for the whole set, the kept-aside kinds and the rest."""
    aside = set(KEPT_ASIDE.get(task, ()))
    labels = [s.label for s in samples]
    kinds = [s.group.split(":", 1)[-1] for s in samples]
    c = confusion(labels, preds)
    out: list[KindResult] = []
    for kind in dict.fromkeys(kinds):
        idx = [i for i, k in enumerate(kinds) if k == kind]
        label = "unsafe" if any(labels[i] != "safe" for i in idx) else "safe"
        flagged = sum(preds[i] != "safe" for i in idx)
        right = sum((preds[i] != "safe") == (labels[i] != "safe") for i in idx)
        out.append(
            KindResult(
                kind=kind,
                label=label,
                n=len(idx),
                right=right,
                flagged=flagged,
                rate=flagged / len(idx),
                kept_aside=kind in aside,
                warned=sum(decisions[i] != "allow" for i in idx),
            )
        )

    def part(keep: bool) -> float | None:
        idx = [i for i, k in enumerate(kinds) if (k in aside) == keep]
        return _f1(confusion([labels[i] for i in idx], [preds[i] for i in idx])) if aside and idx else None

    return HardcaseRun(
        task=task,
        n=c.n,
        precision=c.precision,
        recall=c.recall,
        f1=c.f1,
        fpr=c.fpr,
        kinds=out,
        aside_f1=part(True),
        shaped_f1=part(False),
    )


def run_hardcases(
    agent: Any, data_dir: Path, task: str, batch_size: int = 32
) -> tuple[HardcaseRun, list[Sample], list[Any]]:
    """Score every hard case of ``task`` with ``agent``; returns the summary, the samples and the verdicts."""
    started = time.perf_counter()
    samples = load_hardcases(data_dir, task)
    verdicts: list[Any] = []
    for i in range(0, len(samples), batch_size):
        chunk = samples[i : i + batch_size]
        verdicts.extend(agent.check_many([(s.text, s.context) for s in chunk], task))
    preds = ["safe" if v.label == "safe" else "unsafe" for v in verdicts]
    decisions = [str(getattr(v.decision, "value", v.decision)) for v in verdicts]
    run = summarise(task, samples, preds, decisions)
    run.runtime_s = time.perf_counter() - started
    return run, samples, verdicts


HEADERS = ("task", "kind", "label", "n", "right", "flagged", "rate", "aside")


def table(runs: Sequence[HardcaseRun]) -> str:
    """Per task: one row per kind (rate = recall for unsafe kinds, FPR for safe ones), then F1."""
    body: list[list[str]] = []
    for run in runs:
        for k in run.kinds:
            body.append(
                [
                    run.task,
                    k.kind,
                    k.label,
                    str(k.n),
                    str(k.right),
                    str(k.flagged),
                    f"{k.rate:.3f}",
                    "yes" if k.kept_aside else "",
                ]
            )
        extra = (
            "" if run.aside_f1 is None else f"; kept aside F1 {run.aside_f1:.3f}, shaped F1 {run.shaped_f1 or 0:.3f}"
        )
        body.append([run.task, "ALL", "", str(run.n), "", "", f"F1 {run.f1:.3f}", f"P {run.precision:.3f} R "
                     f"{run.recall:.3f}{extra}"])  # fmt: skip
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(HEADERS[:-1])]
    lines = ["hard cases (shipped knowledge; rate = recall on unsafe kinds, FPR on safe kinds)"]
    head = "  ".join(h.ljust(w) for h, w in zip(HEADERS[:-1], widths, strict=True)) + "  aside"
    lines += [head, "-" * len(head)]
    for r in body:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1])
    return "\n".join(lines)
