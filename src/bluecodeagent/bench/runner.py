"""Run the prompt-task bench: the agent and its baselines, under two knowledge configurations.

- ``shipped``: the knowledge base the product ships; no benchmark item is in it, so every
  risk group is *unseen*.
- ``split``: per task, half the unsafe groups (seeded) are *seen*: half of their split units go
  into a temporary copy of the knowledge base (batch ``bench-dev-split``); the rest is scored,
  reported as ``seen`` (held-out items of seen groups) and ``unseen`` (groups absent from the KB).

A scored sample is never in the knowledge base that scores it: this is checked by text hash
against every item of the task in the KB, and a violation by the split raises :class:`LeakError`.
"""

from __future__ import annotations

import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from bluecodeagent.bench import baselines
from bluecodeagent.bench.datasets import PROMPT_TASKS, Sample, load_task, text_hash
from bluecodeagent.bench.hardcases import AllTasksSafe, HardcaseRun, available, run_all_tasks_on_safe, run_hardcases
from bluecodeagent.bench.metrics import Metrics, compute_metrics
from bluecodeagent.errors import BlueCodeError
from bluecodeagent.knowledge.item import KnowledgeItem

SPLIT_BATCH = "bench-dev-split"
CONFIGS = ("shipped", "split")
SYSTEMS = ("bluecode", "knn", "keyword")


class LeakError(BlueCodeError):
    """A scored sample is in the knowledge base used to score it."""


class AgentLike(Protocol):
    """What the bench needs from an agent (``BlueCodeAgent`` or a test double)."""

    @property
    def kb(self) -> Any: ...

    def check(self, text: str, task: str, context: str | None = None) -> Any: ...

    def check_many(self, records: list[tuple[str, str | None]], task: str) -> list[Any]: ...

    def check_all(self, text: str, context: str | None = None) -> list[Any]: ...


AgentFactory = Callable[[Path | None], AgentLike]
Progress = Callable[[int], None]


class BenchOptions(BaseModel):
    """What to run."""

    tasks: list[str] = Field(default_factory=lambda: list(PROMPT_TASKS))
    data_dir: Path
    limit: int | None = Field(default=None, ge=1, description="Samples per task (seeded, stratified).")
    configs: list[str] = Field(default_factory=lambda: list(CONFIGS))
    seed: int = 0
    knn_k: int = Field(default=5, ge=1)
    latency_samples: int = Field(default=50, ge=0, description="Single-shot checks timed per run.")
    batch_size: int = Field(default=32, ge=1)
    seen_fraction: float = Field(default=0.5, gt=0, lt=1)
    kb_fraction: float = Field(default=0.5, gt=0, lt=1)
    hardcases: bool = Field(default=True, description="Also score hardcases/<task>.jsonl when the data dir has it.")


class Prediction(BaseModel):
    """One system's decision on one sample."""

    id: str
    task: str
    config: str
    system: str
    subset: str = Field(description="seen | unseen | benign")
    label: str
    pred: str
    score: float | None = None
    group: str
    source: str
    category: str | None = None


class RunResult(BaseModel):
    """One task under one configuration: metrics per system and subset."""

    task: str
    config: str
    n_scored: int
    kb_items_task: int
    kb_added: int = 0
    seen_groups: list[str] = Field(default_factory=list)
    unseen_groups: list[str] = Field(default_factory=list)
    excluded_in_kb: list[str] = Field(default_factory=list, description="Samples dropped: the shipped KB holds them.")
    systems: dict[str, dict[str, Metrics]] = Field(default_factory=dict)
    runtime_s: float = 0.0


class BenchResult(BaseModel):
    """Everything one bench run measured."""

    started: str
    runtime_s: float
    options: BenchOptions
    kb_path: str | None = None
    kb_stats: dict[str, Any] = Field(default_factory=dict)
    environment: dict[str, Any] = Field(default_factory=dict, description="Machine and load, to read timings by.")
    runs: list[RunResult] = Field(default_factory=list)
    hardcases: list[HardcaseRun] = Field(default_factory=list, description="Hard cases per task and kind (shipped KB).")
    all_tasks_safe: list[AllTasksSafe] = Field(
        default_factory=list, description="Safe hard cases checked with every task (plain `check`), per kind."
    )


class Split(BaseModel):
    """A by-group knowledge split of one task's samples."""

    seen_groups: list[str]
    unseen_groups: list[str]
    kb: list[Sample]
    test: list[Sample]


def split_by_group(samples: Sequence[Sample], seed: int, seen_fraction: float = 0.5, kb_fraction: float = 0.5) -> Split:
    """Choose seen groups among the unsafe groups, then put part of their units into the KB."""
    rng = random.Random(f"split-{seed}")
    groups = sorted({s.group for s in samples if s.label == "unsafe"})
    n_seen = min(len(groups), max(1, round(len(groups) * seen_fraction))) if groups else 0
    seen = sorted(rng.sample(groups, n_seen))
    kb_units: set[str] = set()
    for g in seen:
        units = sorted({s.unit for s in samples if s.group == g and s.label == "unsafe"})
        n = max(1, round(len(units) * kb_fraction))
        if len(units) > 1:
            n = min(n, len(units) - 1)  # keep something of every seen group to score
        kb_units.update(rng.sample(units, n))
    kb = [s for s in samples if s.unit in kb_units]
    test = [s for s in samples if s.unit not in kb_units]
    return Split(seen_groups=seen, unseen_groups=[g for g in groups if g not in seen], kb=kb, test=test)


def subset_of(sample: Sample, seen_groups: Iterable[str]) -> str:
    if sample.label == "safe":
        return "benign"
    return "seen" if sample.group in set(seen_groups) else "unseen"


def to_items(samples: Iterable[Sample]) -> list[KnowledgeItem]:
    """Knowledge items for the dev split (the injected instruction for injection samples)."""
    items: dict[str, KnowledgeItem] = {}
    for s in samples:
        it = KnowledgeItem(
            task=s.task,
            label=s.label,
            category=s.group.split(":", 1)[-1],
            text=s.knowledge_text,
            policy=f"bench:{s.group}",
            provenance={"dataset": s.source, "sample": s.id},
            batch=SPLIT_BATCH,
        )
        items[it.uid] = it
    return list(items.values())


def kb_hashes(kb: Any, task: str) -> dict[str, str]:
    """Text hash -> batch for every item of ``task`` in the knowledge base."""
    return {text_hash(it.text): it.batch for it in kb.items(task)}


def assert_no_leak(test: Sequence[Sample], hashes: dict[str, str]) -> None:
    """Raise :class:`LeakError` if any scored sample's text, context or payload is in the KB."""
    for s in test:
        if s.hashes & hashes.keys():
            raise LeakError(f"sample {s.id} is in the knowledge base used to score it")


def copy_kb(src: Path, dst: Path) -> Path:
    """A consistent copy of a SQLite knowledge base (the backup API, safe while it is open)."""
    with sqlite3.connect(str(src)) as a, sqlite3.connect(str(dst)) as b:
        a.backup(b)
    a.close()
    b.close()
    return dst


def default_factory(settings: Any = None) -> AgentFactory:
    """Build real agents: ``None`` opens the shipped knowledge base, a path opens that file."""

    def make(kb_path: Path | None) -> AgentLike:
        from bluecodeagent.agent import BlueCodeAgent

        return BlueCodeAgent(kb_path=kb_path, settings=settings)

    return make


def _score_agent(
    agent: AgentLike, samples: Sequence[Sample], task: str, opts: BenchOptions, progress: Progress | None
) -> tuple[list[Any], list[float], float]:
    """Batched verdicts (throughput) plus single-shot timings on a seeded subset (latency)."""
    agent.check("warm up", task)
    verdicts: list[Any] = []
    started = time.perf_counter()
    for i in range(0, len(samples), opts.batch_size):
        chunk = samples[i : i + opts.batch_size]
        verdicts.extend(agent.check_many([(s.text, s.context) for s in chunk], task))
        if progress:
            progress(len(chunk))
    elapsed = time.perf_counter() - started
    throughput = len(samples) / elapsed if elapsed > 0 else 0.0
    timed = random.Random(f"latency-{opts.seed}").sample(list(samples), min(opts.latency_samples, len(samples)))
    latencies = []
    for s in timed:
        t0 = time.perf_counter()
        agent.check(s.text, task, s.context)
        latencies.append((time.perf_counter() - t0) * 1000)
    return verdicts, latencies, throughput


def _subsets(samples: Sequence[Sample], config: str, seen: list[str]) -> dict[str, list[int]]:
    idx = {"all": list(range(len(samples)))}
    if config == "split":
        kinds = [subset_of(s, seen) for s in samples]
        idx["seen"] = [i for i, k in enumerate(kinds) if k in ("seen", "benign")]
        idx["unseen"] = [i for i, k in enumerate(kinds) if k in ("unseen", "benign")]
    return idx


def run_task_config(
    task: str,
    config: str,
    samples: list[Sample],
    shipped: AgentLike,
    factory: AgentFactory,
    opts: BenchOptions,
    vectors: Any,
    workdir: Path,
    progress: Progress | None = None,
) -> tuple[RunResult, list[Prediction]]:
    """Score one task under one configuration; returns metrics and per-sample predictions."""
    started = time.perf_counter()
    seen: list[str] = []
    unseen = sorted({s.group for s in samples if s.label == "unsafe"})
    added = 0
    test_idx = list(range(len(samples)))
    agent = shipped
    if config == "split":
        split = split_by_group(samples, opts.seed, opts.seen_fraction, opts.kb_fraction)
        seen, unseen = split.seen_groups, split.unseen_groups
        kb_path = copy_kb(Path(shipped.kb.path), workdir / f"kb-{task}.sqlite")
        agent = factory(kb_path)
        added = agent.kb.add(to_items(split.kb))
        kb_ids = {s.id for s in split.kb}
        test_idx = [i for i, s in enumerate(samples) if s.id not in kb_ids]
    hashes = kb_hashes(agent.kb, task)
    # Shipped knowledge that equals a benchmark sample must not score it: drop and report those.
    excluded = [
        samples[i].id for i in test_idx if samples[i].hashes & {h for h, b in hashes.items() if b != SPLIT_BATCH}
    ]
    test_idx = [i for i in test_idx if samples[i].id not in set(excluded)]
    test = [samples[i] for i in test_idx]
    assert_no_leak(test, hashes)

    verdicts, latencies, throughput = _score_agent(agent, test, task, opts, progress)
    knn = baselines.knn_predict(agent.kb, vectors[test_idx], task, opts.knn_k)
    preds: dict[str, list[tuple[str, float | None, str | None]]] = {
        "bluecode": [(v.label if v.label == "safe" else "unsafe", float(v.score), v.category) for v in verdicts],
        "knn": [(label, share, None) for label, share in knn],
        "keyword": [(baselines.keyword_predict(s.text, s.context, task), None, None) for s in test],
    }
    result = RunResult(
        task=task,
        config=config,
        n_scored=len(test),
        kb_items_task=len(hashes),
        kb_added=added,
        seen_groups=seen,
        unseen_groups=unseen,
        excluded_in_kb=excluded,
    )
    labels = [s.label for s in test]
    groups = [s.group for s in test]
    predictions: list[Prediction] = []
    for system, rows in preds.items():
        result.systems[system] = {}
        for name, idx in _subsets(test, config, seen).items():
            result.systems[system][name] = compute_metrics(
                [labels[i] for i in idx],
                [rows[i][0] for i in idx],
                [groups[i] for i in idx],
                latencies_ms=latencies if system == "bluecode" and name == "all" else (),
                throughput_per_s=throughput if system == "bluecode" and name == "all" else None,
            )
        predictions.extend(
            Prediction(
                id=s.id,
                task=task,
                config=config,
                system=system,
                subset=subset_of(s, seen),
                label=s.label,
                pred=pred,
                score=score,
                group=s.group,
                source=s.source,
                category=cat,
            )
            for s, (pred, score, cat) in zip(test, rows, strict=True)
        )
    result.runtime_s = time.perf_counter() - started
    return result, predictions


def environment() -> dict[str, Any]:
    """Python, platform, CPU count and load average: timings mean little without them."""
    import os
    import platform

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_1m_at_start": round(load[0], 2) if load else None,
    }


def run_bench(
    opts: BenchOptions, factory: AgentFactory | None = None, progress: Callable[[int], Progress] | None = None
) -> tuple[BenchResult, list[Prediction]]:
    """Run every requested task and configuration. ``progress(total)`` returns an update callback."""
    factory = factory or default_factory()
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    t0 = time.perf_counter()
    shipped = factory(None)
    # With no configuration (``--config hardcases``) only the hard cases are scored.
    data = {t: load_task(t, opts.data_dir, seed=opts.seed, limit=opts.limit) for t in opts.tasks if opts.configs}
    total = sum(len(v) for v in data.values()) * len(opts.configs)
    update = progress(total) if progress else None
    result = BenchResult(
        started=started_at,
        runtime_s=0.0,
        options=opts,
        kb_path=str(shipped.kb.path),
        kb_stats=shipped.kb.stats(),
        environment=environment(),
    )
    predictions: list[Prediction] = []
    with tempfile.TemporaryDirectory(prefix="bluecode-bench-") as tmp:
        for task, samples in data.items():
            vectors = baselines.embed_queries(
                shipped.kb, [baselines.query_text(s.text, s.context, task) for s in samples]
            )
            for config in opts.configs:
                run, preds = run_task_config(task, config, samples, shipped, factory, opts, vectors, Path(tmp), update)
                result.runs.append(run)
                predictions.extend(preds)
        if opts.hardcases:
            for task in opts.tasks:
                if available(opts.data_dir, task):
                    run, preds = score_hardcases(shipped, opts.data_dir, task, opts.batch_size)
                    result.hardcases.append(run)
                    predictions.extend(preds)
            if set(PROMPT_TASKS) <= set(opts.tasks):
                result.all_tasks_safe = run_all_tasks_on_safe(shipped, opts.data_dir, PROMPT_TASKS)
    result.runtime_s = time.perf_counter() - t0
    return result, predictions


def score_hardcases(
    agent: AgentLike, data_dir: Path, task: str, batch_size: int
) -> tuple[HardcaseRun, list[Prediction]]:
    """The hard cases of ``task`` with the shipped knowledge (none of them may be in it)."""
    from bluecodeagent.bench.datasets import load_hardcases

    assert_no_leak(load_hardcases(data_dir, task), kb_hashes(agent.kb, task))
    run, samples, verdicts = run_hardcases(agent, data_dir, task, batch_size)
    preds = [
        Prediction(
            id=s.id,
            task=task,
            config="hardcases",
            system="bluecode",
            subset="benign" if s.label == "safe" else "unseen",
            label=s.label,
            pred="safe" if v.label == "safe" else "unsafe",
            score=float(v.score),
            group=s.group,
            source=s.source,
            category=v.category,
        )
        for s, v in zip(samples, verdicts, strict=True)
    ]
    return run, preds
