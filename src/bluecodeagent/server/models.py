"""Request and response models of the guard service's HTTP API (the OpenAPI document is built from them)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bluecodeagent.verdict import Decision, Verdict

RANK = {Decision.ALLOW: 0, Decision.WARN: 1, Decision.BLOCK: 2}
PromptTask = Literal["bias", "malicious", "injection"]


def worst(decisions: list[Decision]) -> Decision:
    """The strictest decision (allow when there is none)."""
    return max(decisions, key=RANK.__getitem__, default=Decision.ALLOW)


class CheckRequest(BaseModel):
    """A prompt to screen, with optional context (files or tool output the assistant will read)."""

    text: str = Field(min_length=1, description="The user's request.")
    task: Literal["bias", "malicious", "injection", "all"] = "all"
    context: str | None = Field(default=None, description="Material screened for injected instructions.")


class CheckResponse(BaseModel):
    decision: Decision = Field(description="The strictest decision over all verdicts.")
    unsafe: bool
    verdicts: list[Verdict]


class ScanRequest(BaseModel):
    """Source code to scan for CWE vulnerabilities."""

    code: str = Field(min_length=1)
    language: str = "python"
    dynamic: bool = Field(default=False, description="Confirm findings by running probes in the sandbox.")
    path: str | None = Field(default=None, description="Only used in findings' locations.")


class KbStats(BaseModel):
    items: int
    embedder: str | None = None
    by_task: dict[str, dict[str, int]] = Field(description="Items per task and label.")
    categories: int
    batches: dict[str, int] = Field(description="Items per batch ('builtin' is the shipped knowledge).")


class KbSearchRequest(BaseModel):
    """Find the knowledge items nearest to a text."""

    text: str = Field(min_length=1)
    task: Literal["bias", "malicious", "injection", "vulnerability"] | None = None
    label: Literal["unsafe", "safe", "vulnerable"] | None = None
    k: int = Field(default=5, ge=1, le=100)


class KbHit(BaseModel):
    uid: str
    task: str
    label: str
    category: str
    similarity: float
    text: str
    policy: str
    batch: str


class KbSearchResponse(BaseModel):
    hits: list[KbHit]


class KbItemIn(BaseModel):
    """A labelled example to add (the uid is derived from task, label and text)."""

    task: Literal["bias", "malicious", "injection", "vulnerability"]
    label: Literal["unsafe", "safe", "vulnerable"]
    text: str = Field(min_length=1, max_length=100_000)
    category: str = ""
    principle: str = Field(default="", description="The rule this example illustrates, in plain words.")
    counterpart: str | None = None


class KbAddRequest(BaseModel):
    """Items added under one batch name, so they can be removed together."""

    batch: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    items: list[KbItemIn] = Field(min_length=1, max_length=1000)


class KbChange(BaseModel):
    batch: str
    added: int = 0
    removed: int = 0
    items: int = Field(description="Items in the knowledge base after the change.")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    ready: bool
    detail: str = ""
    previous_weights: list[str] = Field(
        default_factory=list,
        description="Tasks served with the detector trained before the last knowledge change, while it retrains: "
        "their neighbours are current, their classifier not yet.",
    )


class ErrorBody(BaseModel):
    type: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    """Every error, in the shape OpenAI clients also understand."""

    error: ErrorBody


def error_response(
    status: int,
    type_: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(type=type_, message=message, details=details))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


class ServiceError(Exception):
    """An error with an HTTP status and a message safe to show the client."""

    def __init__(self, status: int, type_: str, message: str) -> None:
        super().__init__(message)
        self.status, self.type, self.message = status, type_, message
