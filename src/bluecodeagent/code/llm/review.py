"""LLM static analysis: reasoning first, then vulnerable?, CWE, function, lines, confidence.

The guidance block is empty (plain analysis), retrieved examples, or the constitution.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from bluecodeagent.code.llm.calls import Caller, CweClaim, numbered
from bluecodeagent.code.llm.templates import load_prompt

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string"},
        "vulnerable": {"type": "boolean"},
        "cwe": {"type": ["string", "null"]},
        "function": {"type": ["string", "null"]},
        "lines": {"type": "array", "items": {"type": "integer"}},
        "confidence": {"type": "number"},
    },
    "required": ["reasoning", "vulnerable", "cwe", "function", "lines", "confidence"],
    "additionalProperties": False,
}


class Review(CweClaim):
    """The reviewer's claim about one subject."""

    reasoning: str = ""
    vulnerable: bool
    cwe: str | None = None
    function: str | None = None
    lines: list[int] = Field(default_factory=list)
    confidence: float = 0.5

    @field_validator("lines", mode="before")
    @classmethod
    def _lines(cls, v: Any) -> list[int]:
        if not isinstance(v, list):
            v = [v] if v is not None else []
        return [int(x) for x in v if isinstance(x, int | float) or (isinstance(x, str) and x.strip().isdigit())]


def review(caller: Caller, code: str, guidance: str = "") -> Review:
    """Ask the model whether ``code`` is vulnerable, with an optional guidance block before the code."""
    return caller.ask(
        "code-review", load_prompt("review"), {"guidance": guidance, "code": numbered(code)}, SCHEMA, Review
    )
