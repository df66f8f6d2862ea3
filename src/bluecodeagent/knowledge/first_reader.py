"""The cheap first reader of the prompt cascade: every word piece read, no transformer run.

A piece of a subject is read through the static word-piece table distilled from the pinned MiniLM
(``embedders/static_table.py``): a text is the idf-weighted mean of its word pieces' rows, and a
linear map fitted on the knowledge base (ridge regression from those means to the items' MiniLM
vectors) turns it into an *approximate* MiniLM vector. The map is fitted on the other prompt tasks'
items too: text about none of the task's risks then maps near such text, not towards the middle of the
task's knowledge (a long harmless prompt is cleared for bias as it is for malicious code). The task's
own detector scores that vector with every signal it uses (classifier, neighbours, rules, cues). The
piece is scored whole and in every run of ``SPAN`` word pieces (half-overlapping), so one harmful
sentence in a long harmless text is not averaged away; the highest of those scores is the piece's first-reader score.

A piece is *cleared* (MiniLM does not embed it) when that score is below ``cut``. The cut comes from
knowledge held out by policy: maps fitted on folds that never saw an item's policy give its
approximate vector, its neighbours exclude its own policy, and the cut is the ``MISS_RATE`` quantile
of the held-out *unsafe* items' scores (never above ``MAX_CUT``), so at most that share of unsafe
knowledge from a policy the map never saw would be cleared. Whether rules and cue principles also
keep a piece from being cleared is the engine's decision.

Training takes a few seconds; the reader is cached in the knowledge base next to the task's detector
(``detector:`` blobs are dropped whenever the items change), keyed by the detector and the table.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from bluecodeagent.knowledge.classifiers import LinearClassifier, fit_linear
from bluecodeagent.knowledge.detector import (
    MARGIN_SCALE,
    TaskDetector,
    _fit_monotone,
    _held_out_logits,
    _held_out_margins,
    stored_key,
)
from bluecodeagent.knowledge.logistic import sigmoid
from bluecodeagent.knowledge.store import KnowledgeBase

READER_VERSION = "4"
FOLDS = 5
MISS_RATE = 0.005  # share of held-out unsafe knowledge items the cut may clear
MAX_CUT = 0.2  # a piece is cleared only far below the warning threshold, whatever the held-out items say
SPAN = 48  # word pieces per sub-window (stride SPAN // 2) scored besides the whole piece
RIDGE = 1.0
MIN_ITEMS = 200  # fewer items: no reader, every piece goes to MiniLM


@dataclass
class FirstReader:
    """idf weights of the vocabulary, the map to MiniLM space, a detector over mapped vectors, and the cut."""

    task: str
    weight: np.ndarray  # (vocab,) idf weight of each word piece in a mean
    proj: np.ndarray  # (dim + 1, dim): mean row (and 1) -> approximate MiniLM vector
    detector: TaskDetector  # the task's items as mapped vectors, same rows as the MiniLM detector
    cut: float
    held_out: dict[str, float] = field(default_factory=dict)  # rates measured on held-out knowledge

    def spans(self, ids: np.ndarray) -> list[np.ndarray]:
        """The whole piece and its half-overlapping runs of ``SPAN`` word pieces (all of it is read)."""
        if len(ids) <= SPAN:
            return [ids]
        step = SPAN // 2
        starts = list(range(0, len(ids) - SPAN + 1, step))
        if starts[-1] + SPAN < len(ids):
            starts.append(len(ids) - SPAN)
        return [ids, *(ids[s : s + SPAN] for s in starts)]

    def vectors(self, table: np.ndarray, ids: list[np.ndarray]) -> np.ndarray:
        """Approximate unit MiniLM vectors of word-piece sequences."""
        means = np.stack([_mean_row(table, self.weight, t) for t in ids]) if ids else np.zeros((0, table.shape[1]))
        return _unit(_apply(self.proj, means))

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        keys = sorted(self.held_out)
        d = self.detector
        assert isinstance(d.classifier, LinearClassifier)  # the reader's own detector is linear (train)
        np.savez(
            buf,
            version=READER_VERSION,
            weight=self.weight,
            proj=self.proj,
            cut=self.cut,
            held_keys=np.array(keys),
            held_vals=np.array([self.held_out[k] for k in keys], dtype=np.float64),
            unsafe=d._unsafe_t.T.astype(np.float16),
            safe=d._safe_t.T.astype(np.float16),
            clf=d.classifier.weights,
            clf_bias=d.classifier.bias,
            combiner=d.combiner,
            combiner_bias=d.combiner_bias,
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, det: TaskDetector, blob: bytes) -> FirstReader | None:
        """The stored reader of ``det``'s task (None when stored by another version or for other rows)."""
        data = np.load(io.BytesIO(blob))
        if (
            str(data["version"]) != READER_VERSION
            or len(data["unsafe"]) != len(det.unsafe_rows)
            or len(data["safe"]) != len(det.safe_rows)
        ):
            return None
        held = dict(zip((str(k) for k in data["held_keys"]), (float(v) for v in data["held_vals"]), strict=True))
        approx = TaskDetector(
            det.task,
            det.k,
            det.unsafe_rows,
            data["unsafe"].astype(np.float32),
            det.safe_rows,
            data["safe"].astype(np.float32),
            LinearClassifier(data["clf"], float(data["clf_bias"])),
            data["combiner"],
            float(data["combiner_bias"]),
        )
        return cls(det.task, data["weight"], _flush(data["proj"]), approx, float(data["cut"]), held)


class PieceTokenizer:
    """MiniLM's own tokenizer (verified), without truncation: every word piece of a text."""

    def __init__(self) -> None:
        from tokenizers import Tokenizer

        from bluecodeagent.knowledge.embedders.minilm_onnx import TOKENIZER_SHA256, model_files, verify

        path = model_files()[1]
        verify(path, TOKENIZER_SHA256)
        self._tok = Tokenizer.from_file(str(path))
        self._tok.no_truncation()
        self._tok.no_padding()

    def ids(self, texts: list[str]) -> list[np.ndarray]:
        enc = self._tok.encode_batch(texts, add_special_tokens=False)
        return [np.asarray(e.ids, dtype=np.int64) for e in enc]


@cache
def tokenizer() -> PieceTokenizer:
    return PieceTokenizer()


@cache
def table() -> np.ndarray:
    """The static word-piece table (float16), once per process."""
    from bluecodeagent.knowledge.embedders.static_table import static_table

    return static_table()


def reader_key(kb: KnowledgeBase, task: str, k: int) -> str:
    """Stored next to the task's detector, keyed by the items it was trained on (new items mean a new reader)."""
    from bluecodeagent.knowledge.embedders.static_table import table_digest

    return f"{stored_key(kb, task, k)}:first-reader:v{READER_VERSION}:{table_digest()[:12]}"


def load_or_train(kb: KnowledgeBase, det: TaskDetector) -> FirstReader | None:
    """The first reader of ``det``'s task, from the knowledge base, trained and stored when missing."""
    key = reader_key(kb, det.task, det.k)
    kb.index()
    with kb.exclusive(key):
        blob = kb.get_blob(key)
        if blob is not None and (reader := FirstReader.from_bytes(det, blob)) is not None:
            return reader
        reader = train(kb, det)
        if reader is not None:
            kb.put_blob(key, reader.to_bytes())
        return reader


def train(kb: KnowledgeBase, det: TaskDetector, seed: int = 0) -> FirstReader | None:
    """Fit the map and a detector over mapped vectors; set the cut from items of policies held out."""
    from bluecodeagent.knowledge.constitution import cue_balance
    from bluecodeagent.tasks import get_task

    items, vecs = kb.vectors(det.task)
    y = np.array([it.label != "safe" for it in items], dtype=np.float64)
    if len(items) < MIN_ITEMS or y.sum() < FOLDS or (1 - y).sum() < FOLDS:
        return None
    tab = table()
    ids = tokenizer().ids([it.text for it in items])
    weight = _idf(ids, len(tab))
    means = np.stack([_mean_row(tab, weight, t) for t in ids])
    other_means, other_vecs = _other_tasks(kb, det.task, tab, weight, vecs.shape[1])
    proj = _ridge(np.concatenate([means, other_means]), np.concatenate([vecs, other_vecs]))
    approx = _unit(_apply(proj, means))
    names = np.array([it.policy or f"item:{i}" for i, it in enumerate(items)], dtype=object)
    groups = np.unique(names, return_inverse=True)[1]
    spec = get_task(det.task)
    rules = np.array([sum(h.rule.weight for h in spec.apply_rules(it.text)) for it in items], dtype=np.float64)
    cues = np.array([cue_balance(it.text, det.task) for it in items], dtype=np.float64)
    # Signals each item gets from knowledge of other policies only (as the MiniLM detector is trained).
    oof = _held_out_logits(approx, y, groups, seed)
    margin = _held_out_margins(approx, y, groups, det.k)
    feats = np.stack([oof, margin * MARGIN_SCALE, rules, cues], axis=1)
    combiner, combiner_bias = _fit_monotone(feats, y)
    held = sigmoid(feats @ combiner + combiner_bias)
    unsafe = y == 1
    cut = min(MAX_CUT, float(np.quantile(held[unsafe], MISS_RATE)))
    rates = {"unsafe_cleared": float((held[unsafe] < cut).mean()), "safe_cleared": float((held[~unsafe] < cut).mean())}
    scorer = TaskDetector(
        det.task,
        det.k,
        det.unsafe_rows,
        approx[unsafe],
        det.safe_rows,
        approx[~unsafe],
        fit_linear(approx, y),
        combiner.astype(np.float64),
        float(combiner_bias),
    )
    return FirstReader(det.task, weight.astype(np.float32), proj, scorer, cut, rates)


def _other_tasks(
    kb: KnowledgeBase, task: str, tab: np.ndarray, weight: np.ndarray, dim: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean rows and MiniLM vectors of the other prompt tasks' items (text this task has no opinion on)."""
    from bluecodeagent.tasks import PROMPT_TASKS

    means, vecs = [np.zeros((0, tab.shape[1]), dtype=np.float32)], [np.zeros((0, dim), dtype=np.float32)]
    for other in PROMPT_TASKS:
        if other == task:
            continue
        items, v = kb.vectors(other)
        if len(items):
            means.append(np.stack([_mean_row(tab, weight, t) for t in tokenizer().ids([it.text for it in items])]))
            vecs.append(v)
    return np.concatenate(means), np.concatenate(vecs)


def _ridge(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xb = np.hstack([x, np.ones((len(x), 1))]).astype(np.float64)
    reg = RIDGE * np.eye(xb.shape[1])
    reg[-1, -1] = 1e-6
    return _flush(np.linalg.solve(xb.T @ xb + reg, xb.T @ np.asarray(y, dtype=np.float64)).astype(np.float32))


def _flush(a: np.ndarray) -> np.ndarray:
    """Subnormal float32 entries set to 0: a matrix product with them runs many times slower on x86."""
    a = np.array(a, dtype=np.float32)
    a[np.abs(a) < np.finfo(np.float32).tiny] = 0.0
    return a


def _apply(proj: np.ndarray, means: np.ndarray) -> np.ndarray:
    return means.astype(np.float32) @ proj[:-1] + proj[-1]


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return (v / n).astype(np.float32)


def _idf(ids: list[np.ndarray], vocab: int) -> np.ndarray:
    df = np.zeros(vocab)
    for t in ids:
        df[np.unique(t)] += 1
    return np.log((len(ids) + 1) / (df + 1)) + 1.0


def _mean_row(table: np.ndarray, weight: np.ndarray, ids: np.ndarray) -> np.ndarray:
    if len(ids) == 0:
        return np.zeros(table.shape[1], dtype=np.float32)
    a = weight[ids].astype(np.float32)
    return (a @ table[ids].astype(np.float32)) / a.sum()


def describe(reader: FirstReader | None) -> dict[str, Any]:
    """What ``bluecode doctor`` or a benchmark can print about a reader."""
    if reader is None:
        return {"first_reader": None}
    return {"first_reader": reader.task, "cut": round(reader.cut, 4), **reader.held_out}
