"""The one result schema every engine produces and every output format reads."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class Task(StrEnum):
    """What a subject is screened for."""

    BIAS = "bias"
    MALICIOUS = "malicious"
    INJECTION = "injection"
    VULNERABILITY = "vulnerability"

    @classmethod
    def prompt_tasks(cls) -> list[Task]:
        return [cls.BIAS, cls.MALICIOUS, cls.INJECTION]


class Decision(StrEnum):
    ALLOW = "allow"
    WARN = "warn"
    BLOCK = "block"


class Status(StrEnum):
    """Whether a subject was actually analysed. A verdict on code that could not be read is no verdict."""

    ANALYSED = "analysed"
    NOT_ANALYSED = "not_analysed"


class Neighbour(BaseModel):
    """A knowledge item retrieved for a subject, with its cosine similarity."""

    uid: str
    label: str
    category: str
    similarity: float
    text: str = Field(description="Truncated text of the item, for display.")
    policy: str = ""


class Principle(BaseModel):
    """One line of a constitution and whether the subject matched it."""

    text: str
    kind: str = Field(description="'unsafe' (a sign of risk) or 'safe' (a sign of legitimate use).")
    source: str = Field(default="", description="Policy or feature the principle was drawn from.")
    matched: bool = False
    cues: list[str] = Field(default_factory=list, description="What in the subject matched.")
    contradicts: bool = Field(default=False, description="Matched, but points the other way than the decision.")


class Finding(BaseModel):
    """A single issue found in a subject (a rule hit, a confirmed weakness, an injected span)."""

    rule_id: str
    message: str
    cwe: str | None = None
    severity: str = "medium"
    confidence: float = 0.5
    line: int | None = None
    end_line: int | None = None
    path: str | None = None
    snippet: str | None = None
    confirmed: bool = False
    source: str = Field(default="static", description="static | knowledge | dynamic | rule | llm")
    details: dict[str, Any] = Field(default_factory=dict)


class Evidence(BaseModel):
    """Why a verdict was reached."""

    unsafe_neighbours: list[Neighbour] = Field(default_factory=list)
    safe_neighbours: list[Neighbour] = Field(default_factory=list)
    constitution: list[Principle] = Field(default_factory=list)
    signals: dict[str, float] = Field(default_factory=dict, description="Named scores that were combined.")
    notes: list[str] = Field(default_factory=list)
    static: list[dict[str, Any]] = Field(default_factory=list)
    dynamic: list[dict[str, Any]] = Field(default_factory=list)
    deciding_piece: str | None = Field(default=None, description="The piece of the subject that decided (truncated).")
    deciding_index: int | None = Field(default=None, description="Its index among the pieces scored (0-based).")


class Verdict(BaseModel):
    """The decision about one subject for one task."""

    task: Task
    label: str = Field(description="safe/unsafe for prompts; safe/vulnerable for code.")
    score: float = Field(ge=0.0, le=1.0, description="Probability-like risk score.")
    decision: Decision
    category: str | None = Field(default=None, description="Attribute, malware family, injected goal or CWE.")
    findings: list[Finding] = Field(default_factory=list)
    evidence: Evidence = Field(default_factory=Evidence)
    engine: str = "offline"
    latency_ms: float = 0.0
    id: str | None = None
    trace_id: str | None = Field(default=None, description="Id of this verdict's records in the LLM trace file.")
    status: Status = Field(default=Status.ANALYSED, description="not_analysed: the subject could not be analysed.")
    status_reason: str | None = Field(default=None, description="Why the subject was not analysed.")

    @property
    def unsafe(self) -> bool:
        return self.label != "safe"

    def summary(self) -> dict[str, Any]:
        """The compact record batch outputs write."""
        return {
            "id": self.id,
            "task": self.task.value,
            "label": self.label,
            "score": round(self.score, 4),
            "decision": self.decision.value,
            "category": self.category,
            "latency_ms": round(self.latency_ms, 2),
            **(
                {"status": self.status.value, "status_reason": self.status_reason}
                if self.status != Status.ANALYSED
                else {}
            ),
        }
