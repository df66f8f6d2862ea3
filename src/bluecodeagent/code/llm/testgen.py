"""The model writes a test that tries to trigger the claimed weakness; it runs in the sandbox.

Up to ``attempts`` tries: when the test itself is broken (syntax error, wrong import or function
name, no result reported, tampering with the code under test) the error is fed back and the model
writes a new test. The code under test is never changed: every run hashes what executed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from bluecodeagent.code.llm.calls import Caller
from bluecodeagent.code.llm.harness import TestRun, run_test
from bluecodeagent.code.llm.review import Review
from bluecodeagent.code.llm.templates import Prompt, load_prompt
from bluecodeagent.code.sandbox import Sandbox
from bluecodeagent.llm.accounting import BudgetExceeded
from bluecodeagent.llm.backend import LLMError

MAX_ATTEMPTS = 3
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"reasoning": {"type": "string"}, "test_code": {"type": "string"}},
    "required": ["reasoning", "test_code"],
    "additionalProperties": False,
}


class TestOut(BaseModel):
    reasoning: str = ""
    test_code: str = Field(min_length=1)


def _feedback(runs: list[TestRun]) -> str:
    if not runs:
        return ""
    last = runs[-1]
    return (
        f"\nYour previous test (attempt {last.attempt}) could not run as a test:\n```python\n"
        f"{last.test_code.strip()}\n```\nError:\n```\n{last.error.strip()}\n```\n"
        "Fix the test (not the code under test) and return the whole corrected test.\n"
    )


def strip_fences(text: str) -> str:
    """Test code without surrounding markdown fences, which models add despite the JSON format."""
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else ""
        t = t.rsplit("```", 1)[0]
    return t.strip() + "\n"


def generate_and_run(
    caller: Caller, sandbox: Sandbox, code: str, claim: Review, attempts: int = MAX_ATTEMPTS
) -> tuple[list[TestRun], str | None]:
    """Every attempt with its sandbox result, stopping at the first test that ran (whatever it found),
    and why test generation stopped early when the model's answer was unusable (else None).

    An unusable answer (truncated or off-schema JSON) ends testing, not the verdict: the judge decides
    without tests. Endpoint failures surface on the judge's call; the budget stops at once.
    """
    prompt = load_prompt("testgen")
    runs: list[TestRun] = []
    for attempt in range(1, attempts + 1):
        try:
            out = _ask(caller, prompt, code, claim, runs, attempt)
        except BudgetExceeded:
            raise
        except LLMError as e:
            return runs, f"test generation stopped at attempt {attempt}: {e}"
        run = run_test(sandbox, code, strip_fences(out.test_code), attempt, out.reasoning)
        caller.event("sandbox", step="code-testgen", **run.model_dump(mode="json"))
        runs.append(run)
        if not run.retry:
            break
    return runs, None


def _ask(caller: Caller, prompt: Prompt, code: str, claim: Review, runs: list[TestRun], attempt: int) -> TestOut:
    return caller.ask(
        "code-testgen",
        prompt,
        {
            "cwe": claim.cwe or "unknown CWE",
            "function": claim.function or "(not named)",
            "reasoning": claim.reasoning[:2000],
            "code": code,
            "feedback": _feedback(runs),
        },
        SCHEMA,
        TestOut,
        attempt=attempt,
    )
