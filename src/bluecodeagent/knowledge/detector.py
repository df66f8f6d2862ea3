"""The learned part of the offline engine, trained from the knowledge base of one task.

Four signals per embedded piece of a subject, combined by a logistic regression:
  * ``classifier``: an RBF-kernel SVM over the embedding (unsafe vs safe items; ``classifiers.py``);
  * ``knn_margin``: mean similarity of the top-k unsafe neighbours minus that of the top-k safe ones;
  * ``rules``: the summed weight of exact rules that fired;
  * ``cues``: matched unsafe minus matched safe cue principles of the constitution (intent, target,
    consent), so "our own server" and "a competitor's server" weigh differently in the same words.
The combiner is fitted on signals each item gets from knowledge of *other* groups (its policy, the
unit the generators write in): classifier logits from folds that hold out whole groups, and kNN
margins that never count an item's own group. Template siblings are near-duplicates, so signals
measured with them in view are confident on every training item and the combiner would learn to
trust them far more than they deserve on a request of a kind the knowledge has never seen.
A fifth, separate output recognises a jailbreak or role-play *wrapper* (a logistic regression of
items rendered by the wrapper templates, around harmful and harmless payloads alike, against all
other items). It never moves the score: it only lets the verdict report the wrapper. Its threshold
is set so that at most ``WRAPPER_FALSE_RATE`` of the other items, scored by models that held their
template out, pass it.
Training takes a few seconds and is cached inside the knowledge base until its items change.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from bluecodeagent.errors import InputError, KnowledgeError
from bluecodeagent.knowledge.classifiers import Classifier, KernelClassifier, LinearClassifier, fit_kernel
from bluecodeagent.knowledge.constitution import cue_balance, cue_fingerprint
from bluecodeagent.knowledge.logistic import fit_logistic, sigmoid
from bluecodeagent.knowledge.store import KnowledgeBase
from bluecodeagent.tasks import get_task

FOLDS = 5
MARGIN_SCALE = 10.0
DETECTOR_VERSION = "6"
MIN_ITEMS_TO_FIT_COMBINER = 200
MIN_WRAPPER_ITEMS = 50
WRAPPER_FALSE_RATE = 0.02


@dataclass
class Scored:
    """Signals and the combined probability for each piece of a subject."""

    classifier: np.ndarray
    knn_margin: np.ndarray
    rules: np.ndarray
    probability: np.ndarray
    unsafe_top: np.ndarray  # (m, k) row indices into the task's unsafe rows
    unsafe_sims: np.ndarray
    safe_top: np.ndarray
    safe_sims: np.ndarray
    cues: np.ndarray
    wrapper: np.ndarray  # probability that the piece is a jailbreak / role-play wrapper (never in the score)

    def rows(self, start: int, stop: int) -> Scored:
        """The signals of pieces ``start:stop`` (one subject's pieces in a batch scored together)."""
        s = slice(start, stop)
        return Scored(*(getattr(self, f.name)[s] for f in fields(self)))


class TaskDetector:
    """Unsafe-vs-safe detector for one task over one knowledge base."""

    def __init__(
        self,
        task: str,
        k: int,
        unsafe_rows: np.ndarray,
        unsafe_vecs: np.ndarray,
        safe_rows: np.ndarray,
        safe_vecs: np.ndarray,
        classifier: Classifier,
        combiner: np.ndarray,
        combiner_bias: float,
        wrapper: tuple[np.ndarray, float, float] | None = None,
    ) -> None:
        self.task = task
        self.k = k
        self.unsafe_rows, self.safe_rows = unsafe_rows, safe_rows
        # Stored transposed: a row-major (dim, n) matrix multiplies about 4x faster than a transposed view.
        self._unsafe_t = np.ascontiguousarray(unsafe_vecs.T, dtype=np.float32)
        self._safe_t = np.ascontiguousarray(safe_vecs.T, dtype=np.float32)
        self.classifier = classifier
        self.combiner, self.combiner_bias = combiner, combiner_bias
        self.wrapper = wrapper  # (weights, bias, threshold) of the wrapper recogniser, or None

    # -- scoring ---------------------------------------------------------------------------------
    def score(
        self, vectors: np.ndarray, rule_weight: float | np.ndarray = 0.0, cue_balance: float | np.ndarray = 0.0
    ) -> Scored:
        """Signals of each row of ``vectors``; ``rule_weight`` and ``cue_balance``: one for all rows or one per row."""
        vectors = np.asarray(vectors, dtype=np.float32)
        logits = self.classifier.decision(vectors)
        u_top, u_sims = _top_k(vectors @ self._unsafe_t, self.k)
        s_top, s_sims = _top_k(vectors @ self._safe_t, self.k)
        margin = u_sims.mean(axis=1) - s_sims.mean(axis=1)
        rules = np.broadcast_to(np.asarray(rule_weight, dtype=np.float64), (len(vectors),))
        cues = np.broadcast_to(np.asarray(cue_balance, dtype=np.float64), (len(vectors),))
        z = self._combine(logits, margin, rules, cues)
        return Scored(logits, margin, rules, sigmoid(z), u_top, u_sims, s_top, s_sims, cues, self.wrapper_like(vectors))

    def wrapper_like(self, vectors: np.ndarray) -> np.ndarray:
        """Probability that each row is a jailbreak or role-play wrapper (all 0 without a recogniser)."""
        if self.wrapper is None:
            return np.zeros(len(vectors))
        return sigmoid(np.asarray(vectors, dtype=np.float32) @ self.wrapper[0] + self.wrapper[1])

    @property
    def wrapper_threshold(self) -> float:
        """The wrapper probability above which a piece is reported as a wrapper (1.0: no recogniser)."""
        return 1.0 if self.wrapper is None else self.wrapper[2]

    def _combine(self, logits: np.ndarray, margin: np.ndarray, rules: np.ndarray, cues: np.ndarray) -> np.ndarray:
        feats = np.stack([logits, margin * MARGIN_SCALE, rules, cues], axis=1)
        if len(self.combiner) == 3:  # a combiner from before the cue signal
            feats = feats[:, :3]
        return feats @ self.combiner + self.combiner_bias

    # -- training --------------------------------------------------------------------------------
    @classmethod
    def train(cls, kb: KnowledgeBase, task: str, k: int = 3, seed: int = 0) -> TaskDetector:
        spec = get_task(task)
        items, vecs = kb.vectors(task)
        if not items:
            raise KnowledgeError(f"the knowledge base has no items for task {task!r}; run: bluecode kb build")
        y = np.array([it.label != "safe" for it in items], dtype=np.float64)
        if y.sum() < k or (len(y) - y.sum()) < k:
            raise KnowledgeError(f"task {task!r} needs at least {k} unsafe and {k} safe items to train")
        rows = np.array([kb.index().rowids[i] for i in np.nonzero(kb.index().mask(task=task))[0]])
        rules = np.array([sum(h.rule.weight for h in spec.item_rules(it.text)) for it in items])
        cues = np.array([cue_balance(it.text, task) for it in items], dtype=np.float64)

        groups = _groups(items)
        oof = _held_out_logits(vecs, y, groups, seed, fit_kernel)
        margin = _held_out_margins(vecs, y, groups, k)
        if len(items) >= MIN_ITEMS_TO_FIT_COMBINER:
            feats = np.stack([oof, margin * MARGIN_SCALE, rules, cues], axis=1)
            combiner, combiner_bias = _fit_monotone(feats, y)
        else:  # too few items to learn how far to trust each signal: weigh them equally
            combiner, combiner_bias = np.array([1.0, 1.0, 1.0, 0.0]), 0.0
        classifier = fit_kernel(vecs, y)
        wrapper = _fit_wrapper(items, vecs, seed)
        uidx, sidx = np.nonzero(y == 1)[0], np.nonzero(y == 0)[0]
        return cls(
            task,
            k,
            rows[uidx],
            vecs[uidx],
            rows[sidx],
            vecs[sidx],
            classifier,
            combiner.astype(np.float64),
            combiner_bias,
            wrapper,
        )

    # -- persistence (inside the knowledge base) ------------------------------------------------
    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(
            buf,
            **_classifier_arrays(self.classifier),
            combiner=self.combiner,
            combiner_bias=self.combiner_bias,
            k=self.k,
            version=DETECTOR_VERSION,
            **(
                {}
                if self.wrapper is None
                else {
                    "wrapper_weights": self.wrapper[0],
                    "wrapper_bias": self.wrapper[1],
                    "wrapper_threshold": self.wrapper[2],
                }
            ),
        )
        return buf.getvalue()

    @classmethod
    def load_or_train(cls, kb: KnowledgeBase, task: str, k: int = 3) -> TaskDetector:
        """The detector trained on the task's items as ``kb`` holds them: stored, or trained once and stored.

        Replicas sharing a database train it once: the first takes ``kb.exclusive``, the others wait
        and load what it stored.
        """
        det = train_once(kb, task, k)
        assert det is not None  # always wanted
        return det


def train_once(kb: KnowledgeBase, task: str, k: int, wanted: Callable[[], bool] = lambda: True) -> TaskDetector | None:
    """``load_or_train``, except that once the lock is held ``wanted()`` is asked before training: when it
    says no (a newer snapshot is served by now), nothing is trained and None is returned."""
    found = load_detector(kb, task, k)
    if found is not None:
        return found[0]
    with kb.exclusive(detector_key(task, k)):
        found = load_detector(kb, task, k)  # stored by another process while this one waited
        if found is not None:
            return found[0]
        if not wanted():
            return None
        det = TaskDetector.train(kb, task, k)
        store_detector(kb, det)
        return det


def detector_key(task: str, k: int) -> str:
    """Where a task's trained detectors are stored: it changes with the task's rules and cue principles.

    Each stored detector's key adds the item version of the task it was trained on (``stored_key``).
    """
    return f"detector:{task}:k{k}:{get_task(task).fingerprint()}:{cue_fingerprint(task)}"


def stale_detector_keys(kb: KnowledgeBase) -> list[str]:
    """Stored detectors (and the first readers keyed by them) this code never loads: trained under other rules or
    cue principles, for a task that no longer exists, or in a form nothing reads (``bluecode kb prune``).

    Detectors of the current rules and cues, whatever ``k`` and item version, are kept (``store_detector`` drops
    older item versions itself); replicas that run older code and share the base would train theirs again.
    """
    stale = []
    for key in kb.blob_keys("detector:"):
        parts = key.split(":")
        task, k = (parts[1], parts[2]) if len(parts) > 3 else ("", "")
        try:
            current = detector_key(task, int(k.removeprefix("k")))
        except (ValueError, InputError):  # no k, or a task this version does not know
            stale.append(key)
            continue
        if not key.startswith(current + "@") and key != current and not key.startswith(current + ":"):
            stale.append(key)
    return stale


def stored_key(kb: KnowledgeBase, task: str, k: int) -> str:
    """The key of the detector trained on the task's items as ``kb`` holds them (version ``kb.task_version``)."""
    return f"{detector_key(task, k)}@{kb.task_version(task)}"


def _version_of(key: str) -> int:
    """The task item version a stored detector's key names (-1: a key from before versions)."""
    _, sep, version = key.rpartition("@")
    return int(version) if sep and version.isdigit() else -1


def load_detector(kb: KnowledgeBase, task: str, k: int, *, previous: bool = False) -> tuple[TaskDetector, bool] | None:
    """The stored detector of ``task`` for the items ``kb`` holds, and whether it was trained on exactly them.

    Only a detector trained on the task's current item version is returned, unless ``previous``: then,
    when there is none, the one trained on the latest other version is, with ``False``. Either way its
    neighbour sets (the kNN signal and the evidence) are the task's items in ``kb`` now; only the
    classifier, combiner and wrapper weights come from training. So with ``previous`` an added item is a
    neighbour at once and a removed one never is, while the classifier may still lean towards what it
    learnt (a removed item) and knows nothing yet of an added one, until the detector is retrained.
    """
    current = stored_key(kb, task, k)
    blob = kb.get_blob(current)
    if blob is not None and (det := _from_blob(kb, task, k, blob)) is not None:
        return det, True
    if not previous:
        return None
    mine = kb.task_version(task)
    others = sorted(
        (key for key in kb.blob_keys(detector_key(task, k) + "@") if _version_of(key) != mine),
        key=_version_of,
        reverse=True,
    )
    for key in others:
        blob = kb.get_blob(key)
        if blob is not None and (det := _from_blob(kb, task, k, blob)) is not None:
            return det, False
    return None


def store_detector(kb: KnowledgeBase, det: TaskDetector) -> None:
    """Store ``det`` under the task's current item version; drop those of older versions (and unversioned)."""
    key = stored_key(kb, det.task, det.k)
    kb.put_blob(key, det.to_bytes())
    base, version = detector_key(det.task, det.k), _version_of(key)
    for old in kb.blob_keys(base):
        if old != key and (old == base or (old.startswith(base + "@") and _version_of(old) < version)):
            kb.delete_blob(old)


def _from_blob(kb: KnowledgeBase, task: str, k: int, blob: bytes) -> TaskDetector | None:
    """A stored detector's weights over the task's items as ``kb`` holds them (None: another format version)."""
    data = np.load(io.BytesIO(blob))
    if str(data["version"]) != DETECTOR_VERSION:
        return None
    idx = kb.index()
    items_mask = idx.mask(task=task)
    labels_unsafe = idx.mask(task=task, exclude_label="safe")
    u = np.nonzero(labels_unsafe)[0]
    s = np.nonzero(items_mask & ~labels_unsafe)[0]
    if not len(u) or not len(s):
        return None
    return TaskDetector(
        task,
        k,
        idx.rowids[u],
        idx.matrix[u],
        idx.rowids[s],
        idx.matrix[s],
        _classifier_from(data),
        data["combiner"],
        float(data["combiner_bias"]),
        (data["wrapper_weights"], float(data["wrapper_bias"]), float(data["wrapper_threshold"]))
        if "wrapper_weights" in data
        else None,
    )


def _classifier_arrays(clf: Classifier) -> dict[str, np.ndarray | float]:
    if isinstance(clf, KernelClassifier):
        return {"support": clf.support, "dual": clf.dual, "bias": clf.bias, "gamma": clf.gamma}
    assert isinstance(clf, LinearClassifier)
    return {"weights": clf.weights, "bias": clf.bias}


def _classifier_from(data: Any) -> Classifier:
    if "support" in data:
        return KernelClassifier(data["support"], data["dual"], float(data["bias"]), float(data["gamma"]))
    return LinearClassifier(data["weights"], float(data["bias"]))


def _fit_wrapper(items: list, vecs: np.ndarray, seed: int) -> tuple[np.ndarray, float, float] | None:
    """The wrapper recogniser and its threshold, or None when the knowledge has too few wrapped items.

    The threshold is the ``1 - WRAPPER_FALSE_RATE`` quantile of the other items' probabilities from
    models that never saw their (template, policy) group, so it is not set on items the model learned.
    """
    from bluecodeagent.tasks.wrappers import is_wrapper_item

    y = np.array([is_wrapper_item(it) for it in items], dtype=np.float64)
    if y.sum() < MIN_WRAPPER_ITEMS or (len(y) - y.sum()) < MIN_WRAPPER_ITEMS:
        return None
    keys = [f"{(it.provenance or {}).get('template', '')}|{it.policy or i}" for i, it in enumerate(items)]
    groups = np.unique(np.array(keys, dtype=object), return_inverse=True)[1]
    held_out = sigmoid(_held_out_logits(vecs, y, groups, seed))
    threshold = float(np.quantile(held_out[y == 0], 1 - WRAPPER_FALSE_RATE))
    weights, bias = fit_logistic(vecs, y)
    return weights, float(bias), max(threshold, 0.5)


def _groups(items: list) -> np.ndarray:
    """Each item's group: the policy that generated it (items without one are a group of their own)."""
    names = [it.policy or f"item:{i}" for i, it in enumerate(items)]
    return np.unique(np.array(names, dtype=object), return_inverse=True)[1]


def _held_out_logits(
    vecs: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    seed: int,
    fit: Callable[[np.ndarray, np.ndarray], Classifier] | None = None,
) -> np.ndarray:
    """Classifier decisions for each item from a model fitted on folds that hold out its whole group
    (``fit``: how a fold's classifier is fitted; a logistic regression by default)."""
    rng = np.random.default_rng(seed)
    fold_of_group = rng.permutation(groups.max() + 1) % FOLDS
    folds = fold_of_group[groups]
    oof = np.zeros(len(y))
    for f in range(FOLDS):
        train, test = folds != f, folds == f
        if not test.any() or len(set(y[train])) < 2:
            continue
        if fit is None:
            w, b = fit_logistic(vecs[train], y[train])
            oof[test] = vecs[test] @ w + b
        else:
            oof[test] = fit(vecs[train], y[train]).decision(vecs[test])
    return oof


def _held_out_margins(vecs: np.ndarray, y: np.ndarray, groups: np.ndarray, k: int) -> np.ndarray:
    """kNN margin of each item over the items of other groups (never itself, never its siblings)."""
    unsafe = y == 1
    margin = np.zeros(len(y))
    for g in np.unique(groups):
        rows = np.nonzero(groups == g)[0]
        others = groups != g
        u, s = others & unsafe, others & ~unsafe
        if u.sum() < 1 or s.sum() < 1:
            continue
        block = vecs[rows]
        margin[rows] = _top_k(block @ vecs[u].T, k)[1].mean(axis=1) - _top_k(block @ vecs[s].T, k)[1].mean(axis=1)
    return margin


def _fit_monotone(feats: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """A combiner whose weights are all >= 0: more unsafe-looking evidence never lowers the score.

    A signal that the unconstrained fit weighs negatively (collinear with a stronger one on the
    training items) is dropped and the rest refitted, until every weight is non-negative.
    """
    keep = np.ones(feats.shape[1], dtype=bool)
    while True:
        w, b = fit_logistic(feats[:, keep], y, l2=1.0)
        if (w >= 0).all() or keep.sum() == 1:
            full = np.zeros(feats.shape[1])
            full[keep] = np.maximum(w, 0)
            return full, b
        idx = np.nonzero(keep)[0]
        keep[idx[np.argmin(w)]] = False


def _top_k(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the indices and values of the k largest entries, largest first."""
    k = min(k, sims.shape[1])
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(sims, top, axis=1)
    order = np.argsort(-vals, axis=1)
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(vals, order, axis=1)
