"""The engine interface: decide one subject for one prompt task."""

from __future__ import annotations

from typing import Protocol

from bluecodeagent.verdict import Decision, Verdict


class Engine(Protocol):
    name: str

    def check(self, text: str, task: str, context: str | None = None) -> Verdict: ...

    def check_many(self, records: list[tuple[str, str | None]], task: str) -> list[Verdict]: ...

    def check_all(self, text: str, context: str | None = None) -> list[Verdict]: ...


def decide(score: float, warn: float, block: float) -> Decision:
    """Map a score to allow / warn / block with the configured thresholds."""
    if score >= block:
        return Decision.BLOCK
    if score >= warn:
        return Decision.WARN
    return Decision.ALLOW
