"""ScriptedBackend: an in-process test double of the model backend that replays scripted answers.

Each step (the schema name: code-review, code-testgen, bias-decision, ...) maps to an answer: a dict,
a function of the messages returning a dict, an exception to raise, or a list of those (one per call,
in order, the last repeating).
Every request is kept in ``requests`` so tests can check what the model was shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bluecodeagent.llm.backend import Completion, LLMError, Message, Usage

One = dict[str, Any] | Callable[[list[Message]], dict[str, Any]] | Exception
Answer = One | list[One]


class ScriptedBackend:
    """Answers from a script; 10 prompt and 5 completion tokens and $0.001 per call, for the accounting."""

    name = "scripted"

    def __init__(self, script: dict[str, Answer]) -> None:
        self.script = script
        self.requests: list[tuple[str, list[Message]]] = []
        self._turn: dict[str, int] = {}

    def complete(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        schema_name: str = "answer",
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        self.requests.append((schema_name, messages))
        if schema_name not in self.script:
            raise LLMError(f"scripted backend has no answer for step {schema_name!r}")
        answer = self.script[schema_name]
        if isinstance(answer, list):
            i = self._turn.get(schema_name, 0)
            self._turn[schema_name] = i + 1
            answer = answer[min(i, len(answer) - 1)]
        if isinstance(answer, Exception):
            raise answer
        data = answer(messages) if callable(answer) else answer
        return Completion(
            text=str(data),
            data=data,
            model="scripted",
            usage=Usage(prompt_tokens=10, completion_tokens=5),
            cost_usd=0.001,
        )

    def steps(self) -> list[str]:
        return [s for s, _ in self.requests]

    def user_text(self, step: str, n: int = 0) -> str:
        """The user message of the n-th request of ``step``."""
        return [m for s, m in self.requests if s == step][n][-1].content
