"""Near-duplicate removal by embedding cosine similarity."""

from __future__ import annotations

import numpy as np

NEAR_DUPLICATE = 0.95


def keep_distinct(vectors: np.ndarray, threshold: float = NEAR_DUPLICATE, block: int = 1024) -> list[int]:
    """Indices to keep, in order: an item is dropped when its cosine to an earlier kept item is >= ``threshold``.

    Vectors must be L2-normalised (the product's embedders return unit vectors).
    """
    vecs = np.asarray(vectors, dtype=np.float32)
    kept: list[int] = []
    kept_mat = np.empty((0, vecs.shape[1] if vecs.ndim == 2 else 0), dtype=np.float32)
    for start in range(0, len(vecs), block):
        chunk = vecs[start : start + block]
        # Against items kept in earlier blocks, then greedily within the block.
        prior = (chunk @ kept_mat.T).max(axis=1) if len(kept_mat) else np.full(len(chunk), -1.0)
        inner = chunk @ chunk.T
        local: list[int] = []
        for j in range(len(chunk)):
            if prior[j] >= threshold or (local and float(inner[j, local].max()) >= threshold):
                continue
            local.append(j)
        kept += [start + j for j in local]
        kept_mat = np.concatenate([kept_mat, chunk[local]]) if local else kept_mat
    return kept


def near_duplicate_rate(vectors: np.ndarray, threshold: float = NEAR_DUPLICATE) -> float:
    """Share of items that are near-duplicates of an earlier item (what :func:`keep_distinct` would drop)."""
    n = len(vectors)
    return 1.0 - len(keep_distinct(vectors, threshold)) / n if n else 0.0
