"""The final LLM judge: weighs the static claim, the constitution and the executed tests."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator

from bluecodeagent.code.llm.calls import Caller, CweClaim, numbered
from bluecodeagent.code.llm.harness import TestRun
from bluecodeagent.code.llm.review import Review
from bluecodeagent.code.llm.templates import load_prompt

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string"},
        "verdict": {"type": "string", "enum": ["vulnerable", "safe"]},
        "cwe": {"type": ["string", "null"]},
        "confidence": {"type": "number"},
    },
    "required": ["reasoning", "verdict", "cwe", "confidence"],
    "additionalProperties": False,
}


class Judgement(CweClaim):
    reasoning: str = ""
    verdict: Literal["vulnerable", "safe"]
    cwe: str | None = None
    confidence: float = 0.5

    @field_validator("verdict", mode="before")
    @classmethod
    def _verdict(cls, v: Any) -> str:
        s = str(v).strip().lower()
        if s.startswith(("vuln", "unsafe", "insecure")):
            return "vulnerable"
        return "safe" if s in ("safe", "secure", "not vulnerable") else s


def render_tests(runs: list[TestRun]) -> str:
    if not runs:
        return "(no test was run)"
    parts = []
    for r in runs:
        result = f"outcome: {r.outcome}" + (f"; observed: {r.evidence}" if r.evidence else "")
        if r.error and r.outcome != "vulnerable":
            result += f"; error: {r.error.strip()[-400:]}"
        parts.append(f"Attempt {r.attempt}:\n```python\n{r.test_code.strip()[:2500]}\n```\n{result}")
    return "\n\n".join(parts)


def judge(caller: Caller, code: str, claim: Review, runs: list[TestRun], constitution: str = "") -> Judgement:
    """The final verdict on ``code``."""
    c = f"{claim.cwe or 'unknown CWE'} in {claim.function or 'an unnamed function'} (confidence {claim.confidence:.2f})"
    return caller.ask(
        "code-judge",
        load_prompt("judge"),
        {
            "constitution": constitution,
            "code": numbered(code),
            "claim": c,
            "reasoning": claim.reasoning[:2000],
            "tests": render_tests(runs),
        },
        SCHEMA,
        Judgement,
    )
