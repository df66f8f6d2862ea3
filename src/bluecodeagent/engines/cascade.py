"""The prompt cascade: the first reader reads every piece, MiniLM embeds only the pieces it cannot clear.

A piece is cleared (scored by the first reader alone, MiniLM not run) only when all of these hold:
it is longer than ``ALWAYS_EMBED`` word pieces, the first reader's highest span score is below its
cut (``knowledge/first_reader.py``), no rule of the task fired on the subject (a wrapper rule
included), and no unsafe cue principle matched the piece. Every other piece is embedded by MiniLM and
scored exactly as without the cascade.

Short pieces are always embedded: MiniLM reads one in a few milliseconds, and a short request is where
averaged word pieces lose the most (its meaning sits in how a few words combine: "route claims from
customers who changed their gender marker to fraud review" has no alarming word). The cascade's gain
is on long pieces, where MiniLM's cost grows and a harmless text has many harmless words.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from bluecodeagent.knowledge import first_reader as fr
from bluecodeagent.knowledge.detector import Scored

ALWAYS_EMBED = 96  # word pieces: a piece this short always goes to MiniLM (about 400 characters of prose)


@dataclass
class FirstRead:
    """The first reader's signals for each whole piece, its highest span score, and the cleared pieces."""

    scored: Scored
    score: np.ndarray
    cleared: np.ndarray  # bool per piece
    cut: float


def first_read(
    reader: fr.FirstReader, pieces: list[str], rules: np.ndarray, cues: np.ndarray, ruled: np.ndarray
) -> FirstRead:
    """Read ``pieces`` (with their subject's rule weight, cue balance, and whether any rule fired)."""
    tokens = fr.tokenizer().ids(pieces)
    long = np.array([len(t) > ALWAYS_EMBED for t in tokens], dtype=bool)
    # Only long pieces are read by the first reader; a short one goes to MiniLM whatever it would say.
    spans: list[np.ndarray] = []
    owner: list[int] = []
    for i, ids in enumerate(tokens):
        for s in reader.spans(ids) if long[i] else [ids[:ALWAYS_EMBED]]:
            spans.append(s)
            owner.append(i)
    own = np.asarray(owner)
    scored = reader.detector.score(reader.vectors(fr.table(), spans), rules[own], cues[own])
    score = np.zeros(len(pieces))
    np.maximum.at(score, own, scored.probability)
    first = np.searchsorted(own, np.arange(len(pieces)))  # each piece's first span is the whole piece
    cleared = long & (score < reader.cut) & ~ruled & (cues <= 0)
    return FirstRead(_take(scored, first), score, cleared, reader.cut)


def merge(read: FirstRead, full: Scored, embedded: np.ndarray) -> Scored:
    """Per piece, MiniLM's signals where it embedded the piece (``full``: those rows only), else the first reader's."""
    out = _take(read.scored, np.arange(len(read.cleared)))
    for f in fields(Scored):
        getattr(out, f.name)[embedded] = getattr(full, f.name)
    return out


def _take(s: Scored, rows: np.ndarray) -> Scored:
    return Scored(*(np.array(getattr(s, f.name)[rows]) for f in fields(Scored)))
