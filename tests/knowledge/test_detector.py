"""The detector's combiner: monotone in every signal."""

from __future__ import annotations

import numpy as np

from bluecodeagent.knowledge.detector import _fit_monotone
from bluecodeagent.knowledge.logistic import fit_logistic


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 600).astype(float)
    strong = 3 * (y - 0.5) + rng.normal(0, 1, 600)
    echo = strong + rng.normal(0, 0.1, 600)  # nearly a copy of the strong signal
    weak = 0.5 * (y - 0.5) + rng.normal(0, 1, 600)
    return np.stack([strong, echo - 1.2 * strong + 0.3 * weak, weak], axis=1), y


def test_a_signal_the_free_fit_weighs_negatively_is_dropped():
    feats, y = _data()
    free, _ = fit_logistic(feats, y, l2=1.0)
    assert free.min() < 0  # the premise: collinearity makes a plain fit use a signal backwards
    mono, _ = _fit_monotone(feats, y)
    assert (mono >= 0).all() and mono[int(np.argmin(free))] == 0
    assert mono[0] > 0  # the strong signal is kept


def test_without_negative_weights_the_fit_is_the_plain_one():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400).astype(float)
    feats = np.stack([2 * (y - 0.5) + rng.normal(0, 1, 400), (y - 0.5) + rng.normal(0, 1, 400)], axis=1)
    free, fb = fit_logistic(feats, y, l2=1.0)
    assert (free > 0).all()
    mono, mb = _fit_monotone(feats, y)
    assert np.allclose(mono, free) and np.isclose(mb, fb)
