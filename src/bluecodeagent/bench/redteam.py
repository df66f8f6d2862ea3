"""The red-to-blue benchmark: diversity of generation, hardening by optimisation, validated CWE pairs.

(a) Diversity: per prompt task, ``n`` generated unsafe items with their safe counterparts; the
    near-duplicate rate (cosine >= 0.95) among the rendered candidates and in the emitted set.
(b) Adversarial: attack success rate (ASR) of the optimiser against the offline engine on seed set
    A and on a disjoint seed set B; the evasions found from A (plus safe counterparts) go into a
    *copy* of the knowledge base; a fresh run from B measures the ASR after hardening; F1 and
    false-positive rate on a fixed sample of the dev prompt benchmark before and after.
    Seeds are the product's own (shipped seed files and policy-generated requests), never data.
(c) Vulnerable code: pairs from the CWE cards validated in the sandbox; a copy of the knowledge
    base without code knowledge gets the validated pairs of half the CWEs (seen); static +
    knowledge F1 on SecCodePLT dev is reported for seen and unseen CWEs before and after.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from bluecodeagent.bench.datasets import load_task
from bluecodeagent.bench.metrics import compute_metrics
from bluecodeagent.bench.runner import copy_kb, kb_hashes
from bluecodeagent.config import Settings
from bluecodeagent.knowledge.embedders.base import Embedder
from bluecodeagent.knowledge.store import KnowledgeBase
from bluecodeagent.redteam.dedup import NEAR_DUPLICATE, near_duplicate_rate
from bluecodeagent.redteam.optimize import (
    DetectorTarget,
    OptimizeReport,
    Seed,
    finding_records,
    optimize,
    summarize,
)
from bluecodeagent.redteam.provenance import items_from_findings, only_new

HARDEN_BATCH = "bench-redteam-hardening"
PAIRS_BATCH = "bench-redteam-pairs"
KEEP_ALL = 100
Progress = Callable[[int], None] | None


# -- (a) diversity -------------------------------------------------------------------------------------


class DiversityRow(BaseModel):
    task: str
    unsafe: int
    safe: int
    candidates: int
    candidate_near_dup_rate: float
    final_near_dup_rate: float
    categories: int
    categories_with_safe: int
    seconds: float


def diversity(tasks: list[str], n: int, seed: int, embedder: Embedder) -> list[DiversityRow]:
    """Generate ``n`` unsafe items per task (plus counterparts) and measure their near-duplicates."""
    from bluecodeagent.redteam.diversify import generate

    rows = []
    for task in tasks:
        t0 = time.perf_counter()
        res = generate(task, n=n, seed=seed, batch="bench-diversity", embedder=embedder)
        unsafe = [it for it in res.items if it.label != "safe"]
        safe = [it for it in res.items if it.label == "safe"]
        final = max(
            near_duplicate_rate(embedder.embed([it.text for it in group]), NEAR_DUPLICATE) if group else 0.0
            for group in (unsafe, safe)
        )
        cats = {it.category for it in unsafe}
        rows.append(
            DiversityRow(
                task=task,
                unsafe=len(unsafe),
                safe=len(safe),
                candidates=res.candidates,
                candidate_near_dup_rate=res.near_duplicates / res.candidates if res.candidates else 0.0,
                final_near_dup_rate=final,
                categories=len(cats),
                categories_with_safe=len(cats & {it.category for it in safe}),
                seconds=time.perf_counter() - t0,
            )
        )
    return rows


# -- (b) adversarial optimisation and hardening -------------------------------------------------------


def policy_seeds(task: str, seed: int, n: int, exclude: set[str]) -> list[Seed]:
    """``n`` unsafe requests with safe counterparts rendered from the shipped policies, spread over categories."""
    from bluecodeagent.redteam.generate import generate_items

    items = generate_items(task, seed=seed)
    safe_texts = {it.text for it in items if it.label == "safe"}
    by_cat: dict[str, list[Any]] = {}
    for it in items:
        if it.label != "safe" and it.counterpart in safe_texts and it.text not in exclude and "\n" not in it.text:
            by_cat.setdefault(it.category, []).append(it)
    rng = random.Random(f"seeds:{task}:{seed}")
    for v in by_cat.values():
        rng.shuffle(v)
    out: list[Seed] = []
    while len(out) < n and any(by_cat.values()):
        for cat in sorted(by_cat):
            if by_cat[cat] and len(out) < n:
                it = by_cat[cat].pop()
                out.append(
                    Seed(
                        id=f"gen{seed}-{len(out)}",
                        task=task,
                        text=it.text,
                        category=cat,
                        counterpart=it.counterpart,
                        policy=it.policy,
                    )
                )
    return out


class DevMetrics(BaseModel):
    n: int
    precision: float
    recall: float
    f1: float
    fpr: float
    fpr_mbpp: float | None


class AdversarialRow(BaseModel):
    task: str
    seeds_a: int
    seeds_b: int
    rounds: int
    budget: int
    asr_a_before: float
    asr_b_before: float
    asr_b_after: float
    relative_drop: float
    items_added: int
    dev_before: DevMetrics | None = None
    dev_after: DevMetrics | None = None
    report_b_before: OptimizeReport
    report_b_after: OptimizeReport
    seconds: float


def _dev(kb_path: Path, settings: Settings, task: str, data_dir: Path, limit: int, exclude: set[str]) -> DevMetrics:
    from bluecodeagent.agent import BlueCodeAgent

    agent = BlueCodeAgent(kb_path=kb_path, settings=settings)
    samples = [s for s in load_task(task, data_dir, seed=0, limit=limit) if not (s.hashes & exclude)]
    verdicts = []
    for i in range(0, len(samples), 32):
        chunk = samples[i : i + 32]
        verdicts += agent.check_many([(s.text, s.context) for s in chunk], task)
    m = compute_metrics(
        [s.label for s in samples],
        ["unsafe" if v.label != "safe" else "safe" for v in verdicts],
        [s.group for s in samples],
    )
    return DevMetrics(n=m.n, precision=m.precision, recall=m.recall, f1=m.f1, fpr=m.fpr, fpr_mbpp=m.fpr_mbpp)


def _run(
    kb: KnowledgeBase,
    settings: Settings,
    seeds: list[Seed],
    budget: int,
    run_seed: int,
    progress: Progress,
    keep: int = 3,
) -> tuple[list[Any], OptimizeReport]:
    from bluecodeagent.engines.offline import OfflineEngine

    target = DetectorTarget(OfflineEngine(kb, settings))
    results = optimize(seeds, target, budget=budget, run_seed=run_seed, keep=keep, progress=progress)
    return results, summarize(results, target.name)


def adversarial(
    base_kb: Path,
    workdir: Path,
    task: str,
    settings: Settings,
    *,
    n_seeds: int = 40,
    budget: int = 30,
    rounds: int = 2,
    data_dir: Path | None = None,
    dev_limit: int = 200,
    progress: Progress = None,
) -> AdversarialRow:
    """ASR on seeds A and B, hardening a copy with A's evasions for ``rounds`` rounds, ASR on B after."""
    from bluecodeagent.kb_open import settings_embedder
    from bluecodeagent.redteam.seeds import load_seeds

    t0 = time.perf_counter()
    kb_path = copy_kb(base_kb, workdir / f"hardened-{task}.sqlite")
    kb = KnowledgeBase(kb_path, settings_embedder(settings))
    known = {it.text for it in kb.items(task)}
    seeds_a = load_seeds("shipped", task) + policy_seeds(task, 1001, n_seeds, known)
    seeds_b = policy_seeds(task, 2002, n_seeds, known | {s.text for s in seeds_a})
    base_hashes = set(kb_hashes(kb, task))
    dev_before = _dev(base_kb, settings, task, data_dir, dev_limit, base_hashes) if data_dir else None
    # Hardening keeps every evasion of the winning level (not only the best few), so each trick is learnt.
    results, rep_a = _run(kb, settings, seeds_a, budget, 0, progress, keep=KEEP_ALL)
    _, rep_b_before = _run(kb, settings, seeds_b, budget, 7, progress)
    added = 0
    for r in range(rounds):
        if r:  # later rounds attack the hardened copy again from the same seeds A
            results, _ = _run(kb, settings, seeds_a, budget, 100 + r, progress, keep=KEEP_ALL)
        items = only_new(kb, items_from_findings(finding_records(results, "offline", r), HARDEN_BATCH))
        if not items:
            break
        added += kb.add(items)
    _, rep_b_after = _run(kb, settings, seeds_b, budget, 7, progress)
    dev_after = _dev(kb_path, settings, task, data_dir, dev_limit, base_hashes) if data_dir else None
    kb.close()
    before, after = rep_b_before.asr, rep_b_after.asr
    return AdversarialRow(
        task=task,
        seeds_a=len(seeds_a),
        seeds_b=len(seeds_b),
        rounds=rounds,
        budget=budget,
        asr_a_before=rep_a.asr,
        asr_b_before=before,
        asr_b_after=after,
        relative_drop=(before - after) / before if before else 0.0,
        items_added=added,
        dev_before=dev_before,
        dev_after=dev_after,
        report_b_before=rep_b_before,
        report_b_after=rep_b_after,
        seconds=time.perf_counter() - t0,
    )


# -- (c) validated vulnerable/secure pairs -------------------------------------------------------------


class ArmMetrics(BaseModel):
    n: int
    precision: float
    recall: float
    f1: float
    fpr: float


class VulnRow(BaseModel):
    pairs_total: int
    pairs_validated: int
    cwes_validated: list[str]
    seen_cwes: list[str]
    unseen_cwes: list[str] = Field(description="validated, but withheld from the knowledge base")
    no_pairs_cwes: list[str] = Field(description="benchmark CWEs without validated pairs")
    items_added: int
    metrics: dict[str, dict[str, ArmMetrics]] = Field(description="split -> config -> metrics")
    seconds: float


def _arm(samples: list[Any], arm: str) -> ArmMetrics:
    from bluecodeagent.bench.vuln import confusion

    m = confusion(samples, arm)
    return ArmMetrics(
        n=int(m["tp"] + m["fp"] + m["tn"] + m["fn"]),
        precision=m["precision"],
        recall=m["recall"],
        f1=m["f1"],
        fpr=m["fpr"],
    )


def vuln_pairs_effect(
    base_kb: Path,
    workdir: Path,
    data_dir: Path,
    *,
    jobs: int = 2,
    seed: int = 0,
    limit_per_cwe: int = 0,
    progress: bool = False,
) -> VulnRow:
    """Validate every card's pairs; add half the validated CWEs' pairs to a code-knowledge-free copy; F1 seen/unseen."""
    from bluecodeagent.bench.vuln import load_tasks, run
    from bluecodeagent.knowledge.embedders import get_embedder
    from bluecodeagent.redteam.vulns import sandbox_validate, validated_items, vulnerable_pairs

    t0 = time.perf_counter()
    # One sandbox at a time: as root every sandbox shares one uid's process budget.
    results = sandbox_validate(vulnerable_pairs(), jobs=1, progress=progress)
    ok_cwes = sorted({c.cwe for _, _, c in results if c.ok}, key=lambda c: int(c[4:]))
    tasks = load_tasks(data_dir)
    if limit_per_cwe:
        per: Counter[str] = Counter()
        kept = []
        for t in tasks:
            if per[t["CWE_ID"]] < limit_per_cwe:
                per[t["CWE_ID"]] += 1
                kept.append(t)
        tasks = kept
    bench_cwes = sorted({f"CWE-{t['CWE_ID']}" for t in tasks}, key=lambda c: int(c[4:]))
    candidates = [c for c in ok_cwes if c in bench_cwes]
    rng = random.Random(f"vuln-split:{seed}")
    seen = sorted(rng.sample(candidates, len(candidates) // 2), key=lambda c: int(c[4:]))
    unseen = [c for c in candidates if c not in seen]
    no_pairs = [c for c in bench_cwes if c not in ok_cwes]

    embedder = get_embedder()
    empty = copy_kb(base_kb, workdir / "code-empty.sqlite")
    kb = KnowledgeBase(empty, embedder)
    kb.remove(uids=[it.uid for it in kb.items("vulnerability")])
    kb.close()
    grown = copy_kb(empty, workdir / "code-seen.sqlite")
    kb = KnowledgeBase(grown, embedder)
    items = [it for it in validated_items(results, PAIRS_BATCH) if it.category in seen]
    added = kb.add(only_new(kb, items))
    kb.close()

    metrics: dict[str, dict[str, ArmMetrics]] = {}
    runs = {
        "without pairs": run(tasks, dynamic=False, bandit=False, jobs=jobs, kb_path=str(empty)),
        "with seen pairs": run(tasks, dynamic=False, bandit=False, jobs=jobs, kb_path=str(grown)),
    }
    for split, cwes in (("seen", seen), ("unseen", unseen), ("no pairs", no_pairs)):
        wanted = {c[4:] for c in cwes}
        metrics[split] = {}
        for name, samples in runs.items():
            part = [s for s in samples if s.cwe in wanted]
            if name == "without pairs":
                metrics[split]["static only"] = _arm(part, "static")
            metrics[split][f"+ knowledge ({name})"] = _arm(part, "knowledge")
    return VulnRow(
        pairs_total=len(results),
        pairs_validated=sum(c.ok for _, _, c in results),
        cwes_validated=ok_cwes,
        seen_cwes=seen,
        unseen_cwes=unseen,
        no_pairs_cwes=no_pairs,
        items_added=added,
        metrics=metrics,
        seconds=time.perf_counter() - t0,
    )


# -- the report -----------------------------------------------------------------------------------------


def render(div: list[DiversityRow], adv: list[AdversarialRow], vuln: VulnRow | None) -> str:
    """One markdown report for all three parts."""
    out = ["## (a) Diversity of policy-based generation", ""]
    out += [
        "| task | unsafe | safe | candidates | near-dup rate (candidates) | near-dup rate (emitted) "
        "| categories | with safe counterparts | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in div:
        out.append(
            f"| {r.task} | {r.unsafe} | {r.safe} | {r.candidates} | {r.candidate_near_dup_rate:.3f} "
            f"| {r.final_near_dup_rate:.3f} | {r.categories} | {r.categories_with_safe} | {r.seconds:.0f} |"
        )
    out += ["", "## (b) Adversarial optimisation against the offline engine, and hardening", ""]
    out += [
        "| task | seeds A / B | budget | ASR A before | ASR B before | ASR B after | relative drop "
        "| items added | dev F1 before → after | dev FPR before → after | s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in adv:
        f1 = fpr = "-"
        if r.dev_before and r.dev_after:
            f1 = f"{r.dev_before.f1:.3f} → {r.dev_after.f1:.3f} (n={r.dev_before.n})"
            fpr = f"{r.dev_before.fpr:.3f} → {r.dev_after.fpr:.3f}"
        out.append(
            f"| {r.task} | {r.seeds_a} / {r.seeds_b} | {r.budget} | {r.asr_a_before:.2f} | {r.asr_b_before:.2f} "
            f"| {r.asr_b_after:.2f} | {r.relative_drop:.0%} | {r.items_added} | {f1} | {fpr} | {r.seconds:.0f} |"
        )
    for r in adv:
        out += ["", f"Per operator on seeds B ({r.task}), ASR alone before → after:", ""]
        out += ["| operator | before | after |", "|---|---|---|"]
        after = r.report_b_after.per_operator
        for op, m in r.report_b_before.per_operator.items():
            a = after.get(op, {}).get("asr_alone")
            out.append(f"| {op} | {m['asr_alone']:.2f} | {'-' if a is None else f'{a:.2f}'} |")
    if vuln is not None:
        out += ["", "## (c) Vulnerable/secure pairs validated in the sandbox", ""]
        out.append(
            f"{vuln.pairs_validated} of {vuln.pairs_total} pairs validated for {len(vuln.cwes_validated)} CWEs: "
            f"{', '.join(vuln.cwes_validated)}."
        )
        out.append(
            f"Seen (pairs added, {vuln.items_added} items): {', '.join(vuln.seen_cwes)}. "
            f"Unseen (validated, withheld): {', '.join(vuln.unseen_cwes)}. "
            f"No validated pairs: {', '.join(vuln.no_pairs_cwes) or '-'}."
        )
        out += ["", "| CWEs | arm | n | precision | recall | F1 | FPR |", "|---|---|---|---|---|---|---|"]
        for split, arms in vuln.metrics.items():
            for arm, m in arms.items():
                out.append(
                    f"| {split} | {arm} | {m.n} | {m.precision:.3f} | {m.recall:.3f} | {m.f1:.3f} | {m.fpr:.3f} |"
                )
    return "\n".join(out)
