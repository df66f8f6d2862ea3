"""Offline constitutions: principles that separate the retrieved unsafe examples from the safe ones.

Without an LLM to summarise, a constitution is drawn from two places: the policies the neighbours
were generated from (each knowledge item carries its policy's rule in plain words) and the words
that the unsafe neighbours share and the safe ones lack (and the reverse). Each principle is then
checked against the subject: a principle is ``matched`` when the subject contains its cues.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.verdict import Principle

_WORD = re.compile(r"[a-z][a-z0-9_\-]{3,}")
_STOP = frozenset(
    (
        "that this with from your have will should function write code python script returns return using "
        "which their them they into when what where each also more than then only some such must make create "
        "given list string value values data file files user users based following implement develop program "
        "able takes take output input def none self true false str int float dict param params "
    ).split()
)


@lru_cache(maxsize=16_384)  # the same neighbours come back for many subjects
def _terms(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(text.lower()) if w not in _STOP)


def discriminating_terms(primary: list[KnowledgeItem], other: list[KnowledgeItem], top: int = 6) -> list[str]:
    """Words frequent in ``primary`` items and absent from ``other`` items, most frequent first."""
    excluded = set().union(*(_terms(it.text) for it in other)) if other else set()
    counts = Counter(t for it in primary for t in _terms(it.text) if t not in excluded)
    return [t for t, _ in counts.most_common(top)]


def build_constitution(subject: str, unsafe: list[KnowledgeItem], safe: list[KnowledgeItem]) -> list[Principle]:
    """Principles from the neighbours' policies and discriminating words, each checked against the subject."""
    subject_terms = _terms(subject)
    principles: list[Principle] = []
    seen: set[str] = set()
    for kind, items, others in (("unsafe", unsafe, safe), ("safe", safe, unsafe)):
        for it in items:
            text = it.principle or ""
            if not text or text in seen:
                continue
            seen.add(text)
            cues = sorted(_terms(it.text) & subject_terms - set().union(*(_terms(o.text) for o in others)))[:5]
            principles.append(
                Principle(text=text, kind=kind, source=it.policy or it.category, matched=bool(cues), cues=cues)
            )
        words = discriminating_terms(items, others)
        if words:
            hit = [w for w in words if w in subject_terms]
            side = "risky" if kind == "unsafe" else "legitimate"
            principles.append(
                Principle(
                    text=f"What marks the {side} examples and not the others: {', '.join(words)}.",
                    kind=kind,
                    source="discriminating-terms",
                    matched=bool(hit),
                    cues=hit,
                )
            )
    return principles


def constitution_balance(principles: list[Principle]) -> float:
    """Matched unsafe principles minus matched safe ones, in [-1, 1] (0 when nothing matched)."""
    u = sum(p.matched for p in principles if p.kind == "unsafe")
    s = sum(p.matched for p in principles if p.kind == "safe")
    return 0.0 if u + s == 0 else (u - s) / (u + s)
