"""The detector's classifier over unit embeddings: linear, or an RBF-kernel support-vector machine.

A linear probe on MiniLM's mean-pooled vector mostly reads the topic: a request to *detect* a
keylogger lies on the same side of one hyperplane as a request to write one. An RBF kernel decides
from the knowledge items near the request, so the defensive twins of an attack family pull a
defensive request to their side where a hyperplane cannot. The machine is fitted by scikit-learn
(``SVC``, balanced classes) and scored here with numpy from its support vectors, so scoring needs
neither scikit-learn nor more than one matrix product per batch of pieces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from bluecodeagent.knowledge.logistic import fit_logistic

GAMMA = 1.0  # scikit-learn's "scale" for unit vectors of dimension d is 1 / (d * var) ~ 1
C = 1.0


class Classifier(Protocol):
    """A decision value per row: > 0 leans unsafe (a logit for the linear model, a margin for the SVM)."""

    def decision(self, vectors: np.ndarray) -> np.ndarray: ...

    def params(self) -> np.ndarray:
        """Every fitted number, flat (two classifiers with equal params decide alike)."""
        ...


@dataclass(frozen=True)
class LinearClassifier:
    weights: np.ndarray
    bias: float

    def decision(self, vectors: np.ndarray) -> np.ndarray:
        return np.asarray(vectors, dtype=np.float32) @ self.weights + self.bias

    def params(self) -> np.ndarray:
        return np.append(np.asarray(self.weights, dtype=np.float64), self.bias)


@dataclass(frozen=True)
class KernelClassifier:
    """sum_i dual_i * exp(-gamma * |x - sv_i|^2) + bias over the support vectors ``support``."""

    support: np.ndarray  # (n, dim) float32
    dual: np.ndarray  # (n,) signed dual coefficients
    bias: float
    gamma: float = GAMMA

    def __post_init__(self) -> None:
        object.__setattr__(self, "_support_t", np.ascontiguousarray(self.support.T, dtype=np.float32))
        object.__setattr__(self, "_sq", (self.support.astype(np.float32) ** 2).sum(axis=1))

    def decision(self, vectors: np.ndarray) -> np.ndarray:
        v = np.asarray(vectors, dtype=np.float32)
        if not len(self.dual):
            return np.full(len(v), self.bias)
        dist = (v * v).sum(axis=1)[:, None] + self._sq[None, :] - 2.0 * (v @ self._support_t)
        return np.exp(-self.gamma * np.maximum(dist, 0.0)) @ self.dual + self.bias

    def params(self) -> np.ndarray:
        return np.concatenate([self.support.ravel(), self.dual, [self.bias, self.gamma]]).astype(np.float64)


def fit_linear(vecs: np.ndarray, y: np.ndarray) -> LinearClassifier:
    w, b = fit_logistic(vecs, y)
    return LinearClassifier(w, b)


def fit_kernel(vecs: np.ndarray, y: np.ndarray, *, c: float = C, gamma: float = GAMMA) -> KernelClassifier:
    """An SVM with balanced class weights (unsafe items are the minority in every task's knowledge)."""
    from sklearn.svm import SVC

    svm = SVC(C=c, kernel="rbf", gamma=gamma, class_weight="balanced")
    svm.fit(np.asarray(vecs, dtype=np.float64), np.asarray(y, dtype=np.int64))
    # scikit-learn orders classes [0, 1]: a positive decision value is class 1 (unsafe).
    return KernelClassifier(
        svm.support_vectors_.astype(np.float32), svm.dual_coef_[0].astype(np.float64), float(svm.intercept_[0]), gamma
    )
