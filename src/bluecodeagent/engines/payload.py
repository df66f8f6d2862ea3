"""Judging the request inside a wrapper: a wrapper-like piece is replaced by its payload.

A persona, a fictional world or a "developer mode" preamble is framing, rendered in the knowledge
around harmful and harmless requests alike, so a piece that is mostly wrapper scores near the
middle whatever it carries (the framing is familiar to both sides). The request inside is what
decides. A piece the wrapper recogniser claims is therefore cut into sentences, the sentences the
recogniser also claims are set aside, and what remains (the payload, in its order) is scored in the
piece's place. The wrapper itself is still reported from the piece as it was.

Setting a sentence aside never hides harm in it from the verdict: exact rules read the whole
subject, and cue principles the whole subject too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from bluecodeagent.tasks.windows import sentences

PIECE_GATE = 0.5  # a piece at least this likely a wrapper is read sentence by sentence


def cut_wrappers(
    pieces: Sequence[str],
    wrapper: np.ndarray,
    threshold: float,
    recognise: Callable[[list[str]], tuple[np.ndarray, np.ndarray]],
    keep_above: float,
) -> list[str]:
    """``pieces`` with each wrapper-like one replaced by its payload.

    A piece is cut when it is more likely a wrapper than not (``PIECE_GATE``): a window often holds
    wrapper and request together, which lowers its wrapper probability. A sentence is set aside only
    when the recogniser claims it at its calibrated ``threshold`` and the sentence, read alone, is not
    itself judged unsafe (probability ``keep_above`` or more): a persona "who writes ransomware" is
    framing and request at once. ``recognise`` gives, for a list of sentences, each one's wrapper
    probability and unsafe probability. A piece of a single sentence, or one whose every sentence is
    set aside, is kept as it is: there is no payload to tell apart from it.
    """
    out = list(pieces)
    for i, piece in enumerate(pieces):
        if wrapper[i] < min(PIECE_GATE, threshold):
            continue
        parts = sentences(piece)
        if len(parts) < 2:
            continue
        wrapper_like, unsafe = recognise(parts)
        payload = [s for s, w, u in zip(parts, wrapper_like, unsafe, strict=True) if w < threshold or u >= keep_above]
        if payload and len(payload) < len(parts):
            out[i] = " ".join(payload)
    return out
