"""Detection metrics: confusion counts, precision/recall/F1, false-positive rates, latency."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from bluecodeagent.bench.datasets import MBPP_GROUP


class Counts(BaseModel):
    """Confusion counts with ``unsafe`` as the positive class."""

    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def accuracy(self) -> float:
        return _ratio(self.tp + self.tn, self.n)

    @property
    def fpr(self) -> float:
        return _ratio(self.fp, self.fp + self.tn)


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def confusion(labels: Sequence[str], preds: Sequence[str]) -> Counts:
    """Count outcomes; any label other than ``safe`` counts as unsafe."""
    if len(labels) != len(preds):
        raise ValueError("labels and predictions differ in length")
    c = Counts()
    for y, p in zip(labels, preds, strict=True):
        pos, hit = y != "safe", p != "safe"
        if pos and hit:
            c.tp += 1
        elif pos:
            c.fn += 1
        elif hit:
            c.fp += 1
        else:
            c.tn += 1
    return c


class GroupMetrics(BaseModel):
    """Per-group outcome: recall for unsafe groups, false-positive rate for safe ones."""

    n: int
    flagged: int
    rate: float = Field(description="Share flagged unsafe: recall if the group is unsafe, FPR if safe.")
    kind: str = Field(description="'unsafe' or 'safe'")


class Metrics(BaseModel):
    """The summary of one system on one subset."""

    n: int
    tp: int
    fp: int
    tn: int
    fn: int
    precision: float
    recall: float
    f1: float
    accuracy: float
    fpr: float = Field(description="False-positive rate over every benign sample.")
    fpr_mbpp: float | None = Field(default=None, description="False-positive rate on MBPP only.")
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    throughput_per_s: float | None = None
    groups: dict[str, GroupMetrics] = Field(default_factory=dict)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (linear interpolation), ``None`` for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


def compute_metrics(
    labels: Sequence[str],
    preds: Sequence[str],
    groups: Sequence[str],
    *,
    latencies_ms: Sequence[float] = (),
    throughput_per_s: float | None = None,
) -> Metrics:
    """Metrics for aligned labels, predictions and groups (MBPP samples have group ``mbpp``)."""
    c = confusion(labels, preds)
    per: dict[str, list[tuple[str, str]]] = {}
    for y, p, g in zip(labels, preds, groups, strict=True):
        per.setdefault(g, []).append((y, p))
    group_metrics = {}
    for g, pairs in sorted(per.items()):
        flagged = sum(p != "safe" for _, p in pairs)
        kind = "safe" if all(y == "safe" for y, _ in pairs) else "unsafe"
        group_metrics[g] = GroupMetrics(n=len(pairs), flagged=flagged, rate=flagged / len(pairs), kind=kind)
    mbpp = group_metrics.get(MBPP_GROUP)
    return Metrics(
        n=c.n,
        tp=c.tp,
        fp=c.fp,
        tn=c.tn,
        fn=c.fn,
        precision=c.precision,
        recall=c.recall,
        f1=c.f1,
        accuracy=c.accuracy,
        fpr=c.fpr,
        fpr_mbpp=mbpp.rate if mbpp else None,
        latency_p50_ms=percentile(latencies_ms, 50),
        latency_p95_ms=percentile(latencies_ms, 95),
        throughput_per_s=throughput_per_s,
        groups=group_metrics,
    )
