"""Retrieve the nearest vulnerable and secure examples, and have the model summarise a constitution.

The constitution is a handful of checkable principles (per CWE: the unsafe pattern, the guard the
secure version uses) distilled from the retrieved neighbours and the CWE cards of their categories.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, field_validator

from bluecodeagent.code.llm.calls import Caller, normalise_cwe
from bluecodeagent.code.llm.templates import load_prompt
from bluecodeagent.knowledge.cards import get_card
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.knowledge.store import KnowledgeBase
from bluecodeagent.verdict import Neighbour, Principle

TASK = "vulnerability"
MAX_EXAMPLE_CHARS = 1500
MAX_PRINCIPLES = 6


class Retrieved(BaseModel):
    """The top-k vulnerable and secure neighbours of a subject, with their similarities."""

    vulnerable: list[KnowledgeItem] = Field(default_factory=list)
    safe: list[KnowledgeItem] = Field(default_factory=list)
    vulnerable_sim: list[float] = Field(default_factory=list)
    safe_sim: list[float] = Field(default_factory=list)

    def neighbours(self, label: str) -> list[Neighbour]:
        items, sims = (self.vulnerable, self.vulnerable_sim) if label == "vulnerable" else (self.safe, self.safe_sim)
        return [
            Neighbour(
                uid=it.uid,
                label=it.label,
                category=it.category,
                similarity=round(s, 4),
                text=it.text[:300],
                policy=it.policy,
            )
            for it, s in zip(items, sims, strict=True)
        ]

    def cwes(self) -> list[str]:
        return sorted({it.category for it in self.vulnerable + self.safe if it.category})


def retrieve(kb: KnowledgeBase, code: str, k: int = 3) -> Retrieved:
    """Top-``k`` vulnerable and top-``k`` secure code examples nearest to ``code``."""
    vec = np.asarray(kb.require_embedder().embed([code]))[0]
    vuln = kb.search(vec, k, task=TASK, label="vulnerable")
    safe = kb.search(vec, k, task=TASK, label="safe")
    return Retrieved(
        vulnerable=[h.item for h in vuln],
        safe=[h.item for h in safe],
        vulnerable_sim=[float(h.similarity) for h in vuln],
        safe_sim=[float(h.similarity) for h in safe],
    )


def render_examples(items: list[KnowledgeItem]) -> str:
    """Examples as fenced code blocks headed by their CWE."""
    if not items:
        return "(none)"
    return "\n\n".join(
        f"Example {i} ({it.category or 'unknown CWE'}):\n```python\n{it.text[:MAX_EXAMPLE_CHARS].strip()}\n```"
        for i, it in enumerate(items, 1)
    )


def render_cards(cwes: list[str]) -> str:
    lines = []
    for cwe in cwes:
        card = get_card(cwe)
        if card is not None:
            lines.append(f"- {card.id} {card.name}: {card.what_goes_wrong} Guard: {card.guard}")
    return "\n".join(lines) or "(none)"


class _PrincipleOut(BaseModel):
    cwe: str | None = None
    kind: Literal["unsafe", "safe"] = "unsafe"
    text: str = Field(min_length=1)

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, v: Any) -> str:
        return "safe" if str(v).lower().startswith("safe") or str(v).lower() == "secure" else "unsafe"


class ConstitutionOut(BaseModel):
    """The summariser's answer."""

    reasoning: str = ""
    principles: list[_PrincipleOut] = Field(min_length=1)


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string"},
        "principles": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "cwe": {"type": "string"},
                    "kind": {"type": "string", "enum": ["unsafe", "safe"]},
                    "text": {"type": "string"},
                },
                "required": ["cwe", "kind", "text"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["reasoning", "principles"],
    "additionalProperties": False,
}


def summarise(caller: Caller, code: str, retrieved: Retrieved) -> list[Principle]:
    """The model's constitution for ``code`` from its neighbours (principles as the Verdict stores them)."""
    prompt = load_prompt("constitution")
    out = caller.ask(
        "code-constitution",
        prompt,
        {
            "cards": render_cards(retrieved.cwes()),
            "vulnerable_examples": render_examples(retrieved.vulnerable),
            "secure_examples": render_examples(retrieved.safe),
            "code": code,
            "max_principles": str(MAX_PRINCIPLES),
        },
        SCHEMA,
        ConstitutionOut,
    )
    return [
        Principle(text=p.text.strip(), kind=p.kind, source=normalise_cwe(p.cwe) or "llm")
        for p in out.principles[:MAX_PRINCIPLES]
    ]


def render_constitution(principles: list[Principle]) -> str:
    """The constitution as a prompt block (empty when there is none)."""
    if not principles:
        return ""
    kinds = {"unsafe": "sign of risk", "safe": "secure pattern"}
    lines = [f"- [{p.source}] ({kinds.get(p.kind, p.kind)}) {p.text}" for p in principles]
    return "Principles that separate vulnerable from secure code (the constitution):\n" + "\n".join(lines) + "\n\n"
