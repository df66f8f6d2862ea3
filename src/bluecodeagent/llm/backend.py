"""The one interface every model backend implements, and the records it exchanges.

A backend turns a list of chat messages into a :class:`Completion`. When a JSON schema is given the
backend must return parsed ``data`` that validates against it (or raise :class:`LLMError`), whatever
the server supports: JSON-schema response formats, ``json_object`` mode, or plain text plus repair.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from bluecodeagent.errors import BlueCodeError


class LLMError(BlueCodeError):
    """The model endpoint failed, refused, timed out or answered something unusable."""


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class Completion(BaseModel):
    """One model answer: raw text, parsed structured data (when a schema was asked for), accounting."""

    text: str
    data: dict[str, Any] | None = None
    model: str = ""
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float = 0.0
    cached: bool = False
    latency_s: float = 0.0
    attempts: int = 1


class Backend(Protocol):
    """A chat model. ``name`` identifies backend and model in traces and cache keys."""

    name: str

    def complete(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        schema_name: str = "answer",
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion: ...
