"""The red-to-blue loop: attack the offline detectors, add what got through, measure again.

1. optimise the seeds against the offline engine over the knowledge base (attack success rate before);
2. turn the evasions into unsafe items plus their safe counterparts (a named batch, with provenance);
3. review: ``skip`` adds them at once; ``require`` writes a review file and stops there;
4. re-measure on a fresh engine (detectors retrain on the changed base): how many of the found
   evasions are now caught, and the success rate of a new optimisation run from the same seeds.
``undo`` (:func:`bluecodeagent.redteam.provenance.undo_batch`) removes a batch again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from bluecodeagent.config import Settings
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.knowledge.store import KnowledgeBase
from bluecodeagent.redteam.optimize import (
    DetectorTarget,
    OptimizeReport,
    Seed,
    finding_records,
    optimize,
    summarize,
)
from bluecodeagent.redteam.provenance import check_batch_name, items_from_findings, only_new, record_batch
from bluecodeagent.redteam.review import write_review

Review = Literal["skip", "require"]


class LoopReport(BaseModel):
    """What one turn of the loop found and what changed."""

    batch: str
    task: str
    before: OptimizeReport
    items: int
    added: int
    review_file: str | None = None
    evasions: int = 0
    evasions_caught_after: int | None = None
    after: OptimizeReport | None = None


def _target(kb: KnowledgeBase, settings: Settings) -> DetectorTarget:
    from bluecodeagent.engines.offline import OfflineEngine

    return DetectorTarget(OfflineEngine(kb, settings))


def run_loop(
    kb: KnowledgeBase,
    settings: Settings,
    seeds: Sequence[Seed],
    *,
    batch: str,
    review: Review = "skip",
    review_path: Path | None = None,
    budget: int = 40,
    run_seed: int = 0,
    extra_items: Sequence[KnowledgeItem] = (),
    seeds_source: str = "",
    progress: Callable[[int], None] | None = None,
) -> LoopReport:
    """One turn of the loop on ``kb`` (changed in place unless the review is required)."""
    check_batch_name(batch)
    task = seeds[0].task
    target = _target(kb, settings)
    results = optimize(seeds, target, budget=budget, run_seed=run_seed, progress=progress)
    before = summarize(results, target.name)
    records = finding_records(results, target.name, run_seed)
    stamped = [
        it.model_copy(update={"batch": batch, "provenance": {**it.provenance, "batch": batch}}) for it in extra_items
    ]
    items = only_new(kb, items_from_findings(records, batch) + stamped)
    evasions = [r["text"] for r in records if r["success"]]
    report = LoopReport(batch=batch, task=task, before=before, items=len(items), added=0, evasions=len(evasions))
    if review == "require":
        path = review_path or Path(f"{batch}.review.jsonl")
        write_review(path, items)
        report.review_file = str(path)
        return report
    if not items:
        return report
    report.added = kb.add(items)
    fresh = _target(kb, settings)
    if evasions:
        report.evasions_caught_after = sum(not j.success for j in fresh.judge(evasions, task))
    after = optimize(seeds, fresh, budget=budget, run_seed=run_seed + 1, progress=progress)
    report.after = summarize(after, fresh.name)
    record_batch(
        kb,
        batch,
        {
            "command": "redteam loop",
            "task": task,
            "seeds": seeds_source,
            "items": report.added,
            "asr_before": round(before.asr, 4),
            "asr_after_same_seeds": round(report.after.asr, 4),
        },
    )
    return report
