"""Knowledge for code: nearest vulnerable and secure examples plus an offline constitution from CWE cards.

For a subject (the functions static analysis suspects, or the whole snippet) this retrieves the top-k
nearest vulnerable and secure examples (task "vulnerability"), builds principles from the cards of the
CWEs involved (suspected CWEs plus the neighbours' categories) — including the guards the secure
neighbours use and the vulnerable ones lack — and checks the subject against each card: a secure
marker present means the principle is satisfied (the guard is there); risky markers without any secure
marker mean it is violated. The outcome becomes :class:`KnowledgeSignal` nudges for the judge.

The nudge is proportional to the evidence, so that more validated pairs in the base can sharpen a
finding but never silence it on weak grounds. For a suspected CWE with a satisfied or violated check:

- margin: ``m = sv - ss``, the cosine similarity of the function to the nearest *vulnerable* example of
  that CWE minus that to the nearest *secure* one (positive: it looks like the vulnerable examples);
- the neighbours must agree with the check (satisfied needs ``m < 0``, violated ``m > 0``); when they
  disagree or tie there is no nudge at all;
- strength ``min(1, |m| / FULL_MARGIN)``: a margin of :data:`FULL_MARGIN` cosine counts as decisive,
  smaller margins (the usual case when both neighbours are twins of one pair) count proportionally less;
- satisfied: ``delta = -MAX_DOWN * strength * reliability``, where the card's secure-marker
  reliability is how well the marker separates the base's own secure examples of that CWE from its
  vulnerable ones (share of secure examples with the marker minus share of vulnerable examples with it,
  floored at 0): a marker the vulnerable examples carry too is no evidence of a guard;
- violated: ``delta = +MAX_UP * strength`` (a close vulnerable neighbour lifts a weak finding).

At full strength a satisfied, reliable check drops any static finding below the report threshold.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from bluecodeagent.code.judge import KnowledgeSignal
from bluecodeagent.knowledge.cards import Card, get_card
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.knowledge.store import Hit, KnowledgeBase
from bluecodeagent.verdict import Finding, Neighbour, Principle

TASK = "vulnerability"
Status = Literal["satisfied", "violated", "unknown"]
# Largest nudges (see the module docstring): down is enough to drop any static finding (<= 0.85) below
# the report threshold (0.4); up lifts a weak finding a little.
MAX_DOWN = 0.5
MAX_UP = 0.15
# Similarity margin (cosine, nearest vulnerable minus nearest secure) at which the neighbours decide fully.
FULL_MARGIN = 0.2


def knowledge_delta(status: Status, sv: float, ss: float, reliability: float = 1.0) -> float:
    """Confidence nudge for one check: proportional to the neighbours' margin, zero when they disagree."""
    margin = sv - ss
    strength = min(1.0, abs(margin) / FULL_MARGIN)
    if status == "satisfied" and margin < 0:
        return -MAX_DOWN * strength * max(0.0, min(1.0, reliability))
    if status == "violated" and margin > 0:
        return MAX_UP * strength
    return 0.0


def marker_reliability(card: Card, items: Sequence[KnowledgeItem]) -> float:
    """How well the card's secure markers separate the secure examples of its CWE from the vulnerable ones."""
    safe = [bool(card.secure_hits(it.text)) for it in items if it.category == card.id and it.label == "safe"]
    vuln = [bool(card.secure_hits(it.text)) for it in items if it.category == card.id and it.label != "safe"]
    if not safe or not vuln:
        return 1.0
    return max(0.0, sum(safe) / len(safe) - sum(vuln) / len(vuln))


class PrincipleCheck(BaseModel):
    """A card's principle checked against the subject."""

    cwe: str
    status: Status
    secure_cues: list[str] = Field(default_factory=list)
    risky_cues: list[str] = Field(default_factory=list)


class CodeKnowledge(BaseModel):
    """What knowledge says about one subject: signals for the judge plus the evidence behind them."""

    signals: list[KnowledgeSignal] = Field(default_factory=list)
    constitution: list[Principle] = Field(default_factory=list)
    vulnerable_neighbours: list[Neighbour] = Field(default_factory=list)
    safe_neighbours: list[Neighbour] = Field(default_factory=list)
    checks: list[PrincipleCheck] = Field(default_factory=list)


def check_principle(card: Card, code: str) -> PrincipleCheck:
    """Satisfied when a secure marker is present; violated when only risky markers are; else unknown."""
    secure, risky = card.secure_hits(code), card.risky_hits(code)
    status: Status = "satisfied" if secure else "violated" if risky else "unknown"
    return PrincipleCheck(cwe=card.id, status=status, secure_cues=secure, risky_cues=risky)


def function_source(code: str, name: str | None) -> str:
    """The source of function ``name`` in ``code`` (the whole code if absent or unparsable)."""
    if not name:
        return code
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return ast.get_source_segment(code, node) or code
    return code


def _neighbour(h: Hit) -> Neighbour:
    it = h.item
    return Neighbour(
        uid=it.uid,
        label=it.label,
        category=it.category,
        similarity=round(float(h.similarity), 4),
        text=it.text[:300],
        policy=it.policy,
    )


def card_constitution(
    cards: Sequence[Card], code: str, vulnerable: Sequence[KnowledgeItem], safe: Sequence[KnowledgeItem]
) -> tuple[list[Principle], list[PrincipleCheck]]:
    """Principles from the cards, sharpened by the guards secure neighbours use and vulnerable ones lack."""
    principles: list[Principle] = []
    checks: list[PrincipleCheck] = []
    for card in cards:
        chk = check_principle(card, code)
        checks.append(chk)
        safe_guards = {m for it in safe if it.category == card.id for m in card.secure_hits(it.text)}
        vuln_guards = {m for it in vulnerable if it.category == card.id for m in card.secure_hits(it.text)}
        distinct = sorted(safe_guards - vuln_guards)
        text = card.principle + (
            f" The secure examples use {', '.join(distinct)}; the vulnerable ones do not." if distinct else ""
        )
        principles.append(
            Principle(text=text, kind="safe", source=card.id, matched=chk.status == "satisfied", cues=chk.secure_cues)
        )
        principles.append(
            Principle(
                text=f"{card.name}: {card.what_goes_wrong}",
                kind="unsafe",
                source=card.id,
                matched=chk.status == "violated",
                cues=chk.risky_cues,
            )
        )
    return principles, checks


class CodeKnowledgeEngine:
    """Retrieval and constitution over a knowledge base; only CWEs with items in the base use their card."""

    def __init__(self, kb: KnowledgeBase, k: int = 3) -> None:
        self.kb = kb
        self.k = k
        items = list(kb.items(TASK))
        self.known = {it.category for it in items}
        self.reliability = {
            cwe: marker_reliability(card, items) for cwe in self.known if (card := get_card(cwe)) is not None
        }

    def __call__(self, code: str, static: list[Finding]) -> CodeKnowledge:
        return self.analyze(code, static)

    def analyze(self, code: str, static: Sequence[Finding]) -> CodeKnowledge:
        """Signals per suspected CWE, the constitution and the neighbours, for one snippet."""
        if not self.known:
            return CodeKnowledge()
        groups: dict[str | None, set[str]] = {}
        for f in static:
            if f.cwe:
                groups.setdefault(f.details.get("function"), set()).add(f.cwe)
        subjects = {fn: function_source(code, fn) for fn in groups} or {None: code}
        embedder = self.kb.require_embedder()
        vectors = embedder.embed(list(subjects.values()))
        out = CodeKnowledge()
        seen_cwes: set[str] = set()
        for (fn, text), vec in zip(subjects.items(), np.asarray(vectors), strict=True):
            vuln = self.kb.search(vec, self.k, task=TASK, label="vulnerable")
            safe = self.kb.search(vec, self.k, task=TASK, label="safe")
            out.vulnerable_neighbours += [_neighbour(h) for h in vuln]
            out.safe_neighbours += [_neighbour(h) for h in safe]
            suspected = groups.get(fn, set())
            involved = sorted(suspected | {h.item.category for h in vuln[:1] + safe[:1]})
            cards = [c for cwe in involved if cwe in self.known and (c := get_card(cwe)) is not None]
            principles, checks = card_constitution(cards, text, [h.item for h in vuln], [h.item for h in safe])
            out.constitution += [p for p in principles if p.source not in seen_cwes]
            out.checks += checks
            seen_cwes |= {c.id for c in cards}
            for chk in checks:
                if chk.cwe not in suspected or chk.status == "unknown":
                    continue
                sv = self._best(vec, chk.cwe, "vulnerable")
                ss = self._best(vec, chk.cwe, "safe")
                delta = knowledge_delta(chk.status, sv, ss, self.reliability.get(chk.cwe, 1.0))
                cues = chk.secure_cues if chk.status == "satisfied" else chk.risky_cues
                out.signals.append(
                    KnowledgeSignal(
                        cwe=chk.cwe,
                        confidence_delta=delta,
                        note=(
                            f"knowledge: {chk.cwe} principle {chk.status} in {fn or 'the code'} "
                            f"(cues: {', '.join(cues[:3])}; nearest vulnerable {sv:.2f}, secure {ss:.2f}; "
                            f"nudge {delta:+.2f})"
                        ),
                    )
                )
        return out

    def _best(self, vec: np.ndarray, cwe: str, label: str) -> float:
        hits = self.kb.search(vec, 1, task=TASK, label=label, category=cwe)
        return float(hits[0].similarity) if hits else 0.0


def knowledge_hook(kb: KnowledgeBase, k: int = 3) -> CodeKnowledgeEngine:
    """A hook for ``scan_code(..., knowledge=...)`` backed by ``kb``."""
    return CodeKnowledgeEngine(kb, k)
