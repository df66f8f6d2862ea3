"""The detector's classifiers: the kernel machine scored in numpy decides as scikit-learn's does."""

from __future__ import annotations

import numpy as np
import pytest

from bluecodeagent.knowledge.classifiers import KernelClassifier, fit_kernel, fit_linear


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _nested(seed: int = 0, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Unsafe items in a band around one direction, safe ones on both sides of it: no hyperplane separates them."""
    rng = np.random.default_rng(seed)
    x = _unit(rng.normal(0, 1, (n, 8)))
    y = (np.abs(x[:, 0]) < 0.3).astype(np.float64)
    return x, y


def test_numpy_scoring_matches_scikit_learn() -> None:
    from sklearn.svm import SVC

    x, y = _nested()
    ours = fit_kernel(x, y)
    theirs = SVC(C=1.0, kernel="rbf", gamma=1.0, class_weight="balanced").fit(x.astype(np.float64), y.astype(int))
    probe = _unit(np.random.default_rng(3).normal(0, 1, (50, 8)))
    assert np.allclose(ours.decision(probe), theirs.decision_function(probe.astype(np.float64)), atol=1e-4)


def test_a_class_nested_inside_the_other_is_separated_by_the_kernel_not_the_line() -> None:
    x, y = _nested(seed=1)
    test_x, test_y = _nested(seed=2)
    kernel = (fit_kernel(x, y).decision(test_x) > 0) == test_y.astype(bool)
    line = (fit_linear(x, y).decision(test_x) > 0) == test_y.astype(bool)
    assert kernel.mean() > 0.8 and kernel.mean() > line.mean() + 0.2


def test_far_from_every_support_vector_the_decision_is_the_intercept() -> None:
    clf = KernelClassifier(np.eye(4, dtype=np.float32)[:2], np.array([1.0, -1.0]), -0.7, gamma=50.0)
    assert clf.decision(np.eye(4, dtype=np.float32)[2:]) == pytest.approx([-0.7, -0.7])
    assert clf.decision(np.eye(4, dtype=np.float32)[:1])[0] == pytest.approx(0.3, abs=1e-6)
