"""A subset with no unsafe items has no F1: the table says n/a, and shows the unsafe count that adds up."""

from __future__ import annotations

from types import SimpleNamespace

from bluecodeagent.bench.metrics import compute_metrics
from bluecodeagent.bench.report import HEADERS, rows


def test_undefined_rates_print_na_and_unsafe_counts_add_up():
    seen = compute_metrics(["safe"] * 5, ["safe"] * 4 + ["unsafe"], ["mbpp"] * 5)  # benign only
    unseen = compute_metrics(
        ["unsafe"] * 3 + ["safe"] * 5, ["unsafe", "safe", "safe"] + ["safe"] * 5, ["g"] * 3 + ["mbpp"] * 5
    )
    result = SimpleNamespace(
        runs=[SimpleNamespace(task="injection", config="split", systems={"bluecode": {"seen": seen, "unseen": unseen}})]
    )
    table = {r[3]: dict(zip(HEADERS, r, strict=True)) for r in rows(result)}
    assert table["seen"]["F1"] == "n/a" and table["seen"]["recall"] == "n/a" and table["seen"]["unsafe"] == "0"
    assert table["seen"]["FPR"] == "0.200"
    assert table["unseen"]["unsafe"] == "3" and table["unseen"]["F1"] == "0.500"
