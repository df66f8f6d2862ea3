from __future__ import annotations

import pytest

from bluecodeagent.bench.metrics import compute_metrics, confusion, percentile


def test_hand_computed_example() -> None:
    labels = ["unsafe", "unsafe", "unsafe", "unsafe", "safe", "safe", "safe", "safe", "safe"]
    preds = ["unsafe", "unsafe", "unsafe", "safe", "unsafe", "safe", "safe", "unsafe", "safe"]
    groups = ["a", "a", "b", "b", "mbpp", "mbpp", "mbpp", "clean", "clean"]
    m = compute_metrics(labels, preds, groups, latencies_ms=[1, 2, 3, 4, 100])
    assert (m.tp, m.fn, m.fp, m.tn) == (3, 1, 2, 3)
    assert m.precision == pytest.approx(3 / 5)
    assert m.recall == pytest.approx(3 / 4)
    assert m.f1 == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    assert m.accuracy == pytest.approx(6 / 9)
    assert m.fpr == pytest.approx(2 / 5)
    assert m.fpr_mbpp == pytest.approx(1 / 3)
    assert m.groups["a"].rate == 1.0 and m.groups["b"].rate == 0.5 and m.groups["b"].kind == "unsafe"
    assert m.groups["clean"].kind == "safe" and m.groups["clean"].rate == 0.5
    assert m.latency_p50_ms == 3 and m.latency_p95_ms == pytest.approx(4 + 0.8 * 96)


def test_degenerate_cases() -> None:
    c = confusion(["safe", "safe"], ["safe", "safe"])
    assert c.precision == 0.0 and c.recall == 0.0 and c.f1 == 0.0 and c.fpr == 0.0 and c.accuracy == 1.0
    assert compute_metrics(["safe"], ["safe"], ["x"]).fpr_mbpp is None
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        confusion(["safe"], [])
