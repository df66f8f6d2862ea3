"""``bluecode bench --engine llm --compare``: the research comparisons, per item, on any model endpoint.

Text tasks (bias, malicious, injection; MBPP as the benign set): direct prompting, a general safety
reminder, a fine-grained reminder listing the risk categories, the constitution. Vulnerable code
(SecCodePLT dev, vulnerable and patched versions as separate items): plain analysis, with retrieved
examples, with the constitution, with constitution and dynamic testing, dynamic testing alone.

Every item of every variant is one JSONL record (prediction, LLM calls, tokens, cost, error); the table
is computed from those records, so anyone can recompute it. Re-running into the same ``--out`` skips
the records already there (resume). A scored item is never in the knowledge base that scores it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from bluecodeagent.bench.compare_table import (
    CODE_TASK,
    CODE_VARIANTS,
    COMPARE_TASKS,
    Item,
    Row,
    load_items,
    markdown,
    table_rows,
    text_table,
)
from bluecodeagent.bench.compare_text import TEXT_VARIANTS, TallyBackend, TextSide
from bluecodeagent.bench.datasets import PROMPT_TASKS, Sample, load_task, text_hash
from bluecodeagent.bench.runner import kb_hashes
from bluecodeagent.code.llm.pipeline import VARIANTS as CODE_STEPS
from bluecodeagent.code.llm.pipeline import LLMCodeScanner
from bluecodeagent.code.sandbox import Sandbox
from bluecodeagent.config import Settings
from bluecodeagent.errors import BlueCodeError
from bluecodeagent.knowledge.store import KnowledgeBase
from bluecodeagent.llm.accounting import BudgetExceeded
from bluecodeagent.llm.backend import Backend, LLMError

__all__ = ["COMPARE_TASKS", "CompareOptions", "CompareResult", "load_items", "run_compare", "table_rows", "text_table"]
ABORT_AFTER = 3  # consecutive failures before anything succeeded: the endpoint is unusable


class CompareOptions(BaseModel):
    """What to compare."""

    data_dir: Path
    tasks: list[str] = Field(default_factory=lambda: list(COMPARE_TASKS))
    variants: list[str] | None = Field(default=None, description="Only these variants (default: all).")
    limit: int | None = Field(default=None, ge=1, description="Items per task (seeded; code: pairs of limit/2).")
    seed: int = 0
    k: int = Field(default=3, ge=1)
    jobs: int = Field(default=1, ge=1)


class CompareResult(BaseModel):
    started: str
    runtime_s: float
    backend: str
    options: CompareOptions
    rows: list[Row]
    excluded_in_kb: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class Subject(BaseModel):
    """A scored item: text sample or code sample."""

    id: str
    task: str
    label: str
    group: str
    sample: Sample | None = None
    code: str | None = None


# -- loading ----------------------------------------------------------------------------------------------


def code_subjects(data_dir: Path, limit: int | None, seed: int) -> list[Subject]:
    """SecCodePLT dev: vulnerable and patched versions of ``limit/2`` seeded tasks (all without a limit)."""
    from bluecodeagent.bench.vuln import build_samples, load_tasks

    try:
        tasks = load_tasks(data_dir)
    except OSError as e:
        from bluecodeagent.bench.datasets import DataDirError

        raise DataDirError(f"SecCodePLT data not found under {data_dir}/seccodeplt ({e.strerror or e})") from e
    if limit is not None:
        tasks = random.Random(f"compare-{seed}").sample(tasks, min(len(tasks), max(1, (limit + 1) // 2)))
    out = []
    for t in tasks:
        vuln, patched = build_samples(t)
        group = f"CWE-{t['CWE_ID']}"
        for kind, label, code in (("vulnerable", "vulnerable", vuln), ("patched", "safe", patched)):
            out.append(
                Subject(id=f"seccodeplt-{t['index']}-{kind}", task=CODE_TASK, label=label, group=group, code=code)
            )
    return out


def text_subjects(task: str, data_dir: Path, limit: int | None, seed: int) -> list[Subject]:
    return [
        Subject(id=s.id, task=task, label=s.label, group=s.group, sample=s)
        for s in load_task(task, data_dir, seed=seed, limit=limit)
    ]


def drop_known(subjects: list[Subject], kb: KnowledgeBase | None) -> tuple[list[Subject], list[str]]:
    """Subjects whose text is in the knowledge base are not scored (their ids are returned)."""
    if kb is None:
        return subjects, []
    hashes: dict[str, dict[str, str]] = {}
    keep: list[Subject] = []
    dropped: list[str] = []
    for s in subjects:
        known = hashes.setdefault(s.task, kb_hashes(kb, s.task))
        mine = s.sample.hashes if s.sample is not None else {text_hash(s.code or "")}
        if mine & known.keys():
            dropped.append(s.id)
        else:
            keep.append(s)
    return keep, dropped


# -- running ----------------------------------------------------------------------------------------------


def run_item(
    subject: Subject,
    variant: str,
    backend: Backend,
    kb: KnowledgeBase | None,
    sandbox: Sandbox | None,
    k: int,
    text: TextSide | None = None,
) -> Item:
    """Score one subject with one variant; endpoint and answer errors become the record's ``error``."""
    rec = Item(task=subject.task, variant=variant, id=subject.id, label=subject.label, group=subject.group)
    start = time.perf_counter()
    tally = TallyBackend(backend)  # counts the answers an item got, even when a later step fails
    try:
        if subject.task == CODE_TASK:
            steps = CODE_STEPS[variant]
            scanner = LLMCodeScanner(tally, kb if steps.constitution or steps.examples else None, steps=steps,
                                     sandbox=sandbox, k=k)  # fmt: skip
            a = scanner.analyze(subject.code or "", subject.id)
            rec.sandbox_runs = a.log.sandbox_runs
            rec.pred = "vulnerable" if a.vulnerable else "safe"
            rec.detail = {
                "cwe": a.cwe,
                "confidence": a.confidence,
                "confirmed": a.confirmed,
                "tests": [t.outcome for t in a.tests],
                "test_errors": [t.error[-300:] for t in a.tests if t.error],
                "notes": a.notes,
            }
        else:
            if text is None or subject.sample is None:
                raise BlueCodeError("text variants need a knowledge base")
            rec.pred, rec.detail = text.decide(tally, variant, subject.sample)
    except BudgetExceeded:
        raise
    except BlueCodeError as e:
        rec.error = str(e)[:500]
    rec.merge(tally.log)
    rec.latency_s = round(time.perf_counter() - start, 3)  # the item's wall time, not only its answers'

    return rec


def _done(path: Path) -> dict[tuple[str, str, str], Item]:
    """Records already in ``path`` without an error (resume)."""
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            it = Item.model_validate_json(line)
        except ValueError:
            continue
        if it.error is None:
            out[(it.task, it.variant, it.id)] = it
    return out


def variants_for(task: str, wanted: Sequence[str] | None) -> list[str]:
    allv = CODE_VARIANTS if task == CODE_TASK else TEXT_VARIANTS
    return [v for v in allv if not wanted or v in wanted]


def run_compare(
    opts: CompareOptions,
    backend: Backend,
    kb: KnowledgeBase | None,
    out_dir: Path,
    *,
    sandbox: Sandbox | None = None,
    settings: Settings | None = None,
    progress: Callable[[int], Callable[[int], None]] | None = None,
) -> CompareResult:
    """Run every (item, variant), appending to ``out_dir/items.jsonl``; the table comes from those records."""
    started, t0 = datetime.now(UTC).isoformat(timespec="seconds"), time.perf_counter()
    unknown = set(opts.variants or []) - set(TEXT_VARIANTS) - set(CODE_VARIANTS)
    if unknown:
        raise BlueCodeError(f"unknown variant(s): {', '.join(sorted(unknown))}")
    subjects: list[Subject] = []
    for task in opts.tasks:
        if task == CODE_TASK:
            subjects += code_subjects(opts.data_dir, opts.limit, opts.seed)
        else:
            subjects += text_subjects(task, opts.data_dir, opts.limit, opts.seed)
    subjects, excluded = drop_known(subjects, kb)
    notes = []
    dynamic = any(CODE_STEPS[v].dynamic for v in variants_for(CODE_TASK, opts.variants))
    if CODE_TASK in opts.tasks and sandbox is None and dynamic:
        from bluecodeagent.code.scanner import default_sandbox

        try:
            sandbox = default_sandbox()
        except BlueCodeError as e:
            notes.append(f"dynamic variants ran without tests: {e}")
    text = TextSide(kb, settings) if kb is not None and set(opts.tasks) & set(PROMPT_TASKS) else None
    out_dir.mkdir(parents=True, exist_ok=True)
    items_path = out_dir / "items.jsonl"
    done = _done(items_path)
    todo = [(s, v) for s in subjects for v in variants_for(s.task, opts.variants) if (s.task, v, s.id) not in done]
    if done:
        notes.append(f"resumed: {len(done)} record(s) reused from {items_path}")
    update = progress(len(todo)) if progress else None
    records = dict(done)
    ok_seen, failures = bool(done), 0
    with items_path.open("a", encoding="utf-8") as fh, ThreadPoolExecutor(opts.jobs) as pool:
        try:
            for rec in pool.map(lambda sv: run_item(sv[0], sv[1], backend, kb, sandbox, opts.k, text), todo):
                fh.write(rec.model_dump_json() + "\n")
                fh.flush()
                records[(rec.task, rec.variant, rec.id)] = rec
                if update:
                    update(1)
                if rec.error is None:
                    ok_seen = True
                elif not ok_seen:
                    failures += 1
                    if failures >= ABORT_AFTER:
                        raise LLMError(f"stopped: the first {failures} items all failed: {rec.error}")
        except BudgetExceeded as e:  # the table covers what was paid for; re-run with a higher budget to resume
            notes.append(f"stopped early: {e}")
    wanted = {(s.task, v, s.id) for s in subjects for v in variants_for(s.task, opts.variants)}
    rows = table_rows([rec for key, rec in records.items() if key in wanted])  # file order: reproducible sums
    result = CompareResult(
        started=started,
        runtime_s=round(time.perf_counter() - t0, 2),
        backend=getattr(backend, "name", type(backend).__name__),
        options=opts,
        rows=rows,
        excluded_in_kb=excluded,
        notes=notes,
    )
    (out_dir / "results.json").write_text(result.model_dump_json(indent=2), encoding="utf-8")
    (out_dir / "report.md").write_text(markdown(result), encoding="utf-8")
    return result


# -- the table --------------------------------------------------------------------------------------------
