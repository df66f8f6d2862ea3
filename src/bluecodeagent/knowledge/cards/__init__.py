"""CWE knowledge cards: what goes wrong, what the secure version does, and markers to check code against.

Each ``cwe-<n>.toml`` holds one card, written for the product: scenarios, the weakness, the guard,
principle sentences, regex ``secure_markers`` / ``risky_markers`` (code idioms), and ``pairs`` of
vulnerable/secure code templates that :mod:`bluecodeagent.redteam.vulns` renders into examples.
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from importlib import resources

from pydantic import BaseModel, Field, field_validator


class PairTemplate(BaseModel):
    """A scenario rendered as a vulnerable function and its secure twin (``string.Template`` syntax)."""

    scenario: str
    vulnerable: str = Field(min_length=1)
    secure: str = Field(min_length=1)


class Card(BaseModel):
    """One CWE knowledge card."""

    id: str = Field(pattern=r"^CWE-\d+$")
    name: str
    scenarios: list[str] = Field(min_length=1)
    what_goes_wrong: str
    guard: str
    principles: list[str] = Field(min_length=1)
    secure_markers: list[str] = Field(min_length=1)
    risky_markers: list[str] = Field(min_length=1)
    pairs: list[PairTemplate] = Field(default_factory=list)

    @field_validator("secure_markers", "risky_markers")
    @classmethod
    def _compiles(cls, v: list[str]) -> list[str]:
        for m in v:
            re.compile(m, re.M)
        return v

    @property
    def principle(self) -> str:
        """The card's principles as one sentence block."""
        return " ".join(self.principles)

    def secure_hits(self, code: str) -> list[str]:
        """Secure markers present in ``code``."""
        return [m for m in self.secure_markers if re.search(m, code, re.M)]

    def risky_hits(self, code: str) -> list[str]:
        """Risky markers present in ``code``."""
        return [m for m in self.risky_markers if re.search(m, code, re.M)]


@lru_cache(maxsize=1)
def _all_cards() -> dict[str, Card]:
    out: dict[str, Card] = {}
    for entry in resources.files(__name__).iterdir():
        if entry.name.startswith("cwe-") and entry.name.endswith(".toml"):
            card = Card.model_validate(tomllib.loads(entry.read_text(encoding="utf-8")))
            out[card.id] = card
    return dict(sorted(out.items(), key=lambda kv: int(kv[0][4:])))


def load_cards(cwes: list[str] | None = None) -> list[Card]:
    """Every shipped card (or those of ``cwes``, as 'CWE-22' or '22'), ordered by CWE number."""
    cards = _all_cards()
    if cwes is None:
        return list(cards.values())
    wanted = [c if c.startswith("CWE-") else f"CWE-{c}" for c in cwes]
    return [cards[c] for c in wanted if c in cards]


def get_card(cwe: str) -> Card | None:
    """The card for one CWE, if shipped."""
    return _all_cards().get(cwe if cwe.startswith("CWE-") else f"CWE-{cwe}")
