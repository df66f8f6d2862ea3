"""Test doubles for the red-team tests (named as such; never used by the product)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bluecodeagent.llm.backend import Completion, Message
from bluecodeagent.redteam.optimize import Judgement


class KeywordTargetDouble:
    """A deliberately weak target: stops any text containing one of its keywords."""

    name = "keyword-double"

    def __init__(self, keywords: tuple[str, ...] = ("keylogger", "ransomware")) -> None:
        self.keywords = keywords
        self.calls = 0

    def judge(self, texts: list[str], task: str) -> list[Judgement]:
        self.calls += len(texts)
        out = []
        for t in texts:
            hit = any(k in t.lower() for k in self.keywords)
            out.append(Judgement(score=1.0 if hit else 0.0, success=not hit))
        return out


class ScriptedBackendDouble:
    """A Backend double: answers from a function of the last user message."""

    name = "scripted-double"

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.requests: list[list[Message]] = []

    def complete(self, messages: list[Message], *, schema: Any = None, **_: Any) -> Completion:
        self.requests.append(messages)
        out = self.answer(messages[-1].content)
        if isinstance(out, dict):
            return Completion(text=json.dumps(out), data=out)
        return Completion(text=str(out))


@dataclass
class _Verdict:
    score: float


class KeywordDetectorDouble:
    """Stands in for the offline engine's ``check_many``: score 1 when a keyword occurs."""

    def __init__(self, keywords: tuple[str, ...]) -> None:
        self.keywords = keywords

    def check_many(self, records: list[tuple[str, str | None]], task: str) -> list[_Verdict]:
        return [_Verdict(1.0 if any(k in t.lower() for k in self.keywords) else 0.0) for t, _ in records]
