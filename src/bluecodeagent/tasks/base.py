"""What every prompt task defines: how a subject is cut into pieces to embed, and exact rules.

Rules are for patterns that are unambiguous on their own (they add evidence; they never hide a
subject from the learned detector). Cues name the features a constitution principle can be
checked against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    """An exact pattern with the evidence it adds (a logit bonus) and the category it implies."""

    id: str
    pattern: re.Pattern[str]
    weight: float
    category: str = ""
    message: str = ""
    floor: float = 0.0  # the least score a subject gets when this rule fires (0: evidence only)


@dataclass(frozen=True)
class RuleHit:
    rule: Rule
    match: str
    start: int


@dataclass
class TaskSpec:
    """A prompt task: its labels, exact rules and how to pick the text to embed."""

    name: str
    description: str
    rules: list[Rule] = field(default_factory=list)
    unsafe_label: str = "unsafe"

    def segments(self, text: str, context: str | None) -> list[str]:
        """The pieces of the subject to embed and score (the maximum-risk piece decides)."""
        return [text if not context else f"{text}\n{context}"]

    def fingerprint(self) -> str:
        """Changes whenever a rule changes, so detectors trained with the old rules are retrained."""
        import hashlib

        text = "|".join(f"{r.id}:{r.pattern.pattern}:{r.weight}" for r in self.rules)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def apply_rules(self, text: str, context: str | None = None) -> list[RuleHit]:
        hay = text if not context else f"{text}\n{context}"
        hits = []
        for rule in self.rules:
            if m := rule.pattern.search(hay):
                hits.append(RuleHit(rule, m.group(0)[:120], m.start()))
        return hits


def rx(pattern: str) -> re.Pattern[str]:
    """Compile a case-insensitive, verbose-free pattern."""
    return re.compile(pattern, re.IGNORECASE | re.DOTALL)
