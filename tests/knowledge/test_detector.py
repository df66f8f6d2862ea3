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


def test_training_signals_never_see_the_items_own_group():
    """An item's held-out margin ignores its template siblings: a near-copy in the same group changes nothing."""
    from bluecodeagent.knowledge.detector import _held_out_margins

    rng = np.random.default_rng(2)
    base = rng.normal(size=(4, 8))
    vecs = np.vstack([base, base + 1e-3])  # items 4..7 are near-copies of 0..3
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    y = np.array([1, 0, 1, 0, 1, 0, 1, 0], dtype=float)
    apart = _held_out_margins(vecs, y, np.array([0, 1, 2, 3, 4, 5, 6, 7]), k=1)
    siblings = _held_out_margins(vecs, y, np.array([0, 1, 2, 3, 0, 1, 2, 3]), k=1)
    # Seen apart, each item's nearest same-label neighbour is its copy: a near-perfect margin.
    assert (apart[y == 1] > 0.5).all() and (apart[y == 0] < -0.5).all()
    # With its copy in its own group, the margin is measured on other items only: always less sure.
    assert (siblings[y == 1] < apart[y == 1] - 0.1).all() and (siblings[y == 0] > apart[y == 0] + 0.1).all()


def test_held_out_logits_come_from_folds_without_the_group():
    from bluecodeagent.knowledge.detector import FOLDS, _held_out_logits

    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(10), 30)
    # Each group has its own direction; the label is the sign along it, so only a model that saw the group knows it.
    dirs = rng.normal(size=(10, 16))
    x = rng.normal(size=(300, 16))
    y = (np.einsum("ij,ij->i", x, dirs[groups]) > 0).astype(float)
    oof = _held_out_logits(x, y, groups, seed=0)
    acc = ((oof > 0) == (y == 1)).mean()
    assert FOLDS > 1 and acc < 0.75  # held out by group: no memorised group directions
