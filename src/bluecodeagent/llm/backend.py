"""The one interface every model backend implements, and the records it exchanges.

A backend turns a list of chat messages into a :class:`Completion`. When a JSON schema is given the
backend must return parsed ``data`` that validates against it (or raise :class:`LLMError`), whatever
the server supports: JSON-schema response formats, ``json_object`` mode, or plain text plus repair.

Backends are plug-ins: a module of :mod:`bluecodeagent.llm` (or an entry point of the group
``bluecodeagent.backends``) registers ``build(settings)`` with :func:`register_backend`; the setting
``llm_backend`` picks one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, Field

from bluecodeagent.errors import BlueCodeError
from bluecodeagent.plugins import Registry, Spec

if TYPE_CHECKING:
    from bluecodeagent.config import Settings


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


# -- the registry: a backend module registers a factory that builds its backend from the settings ----

BackendFactory = Callable[["Settings"], Backend]
BackendSpec = Spec[BackendFactory]

_REGISTRY: Registry[BackendFactory] = Registry("LLM backend", "bluecodeagent.llm", "backends")
BACKENDS = _REGISTRY.specs
register_backend = _REGISTRY.register  # ``@register_backend(name)`` over ``build(settings) -> Backend``
backends = _REGISTRY.all  # every registered backend, by name
get_backend = _REGISTRY.get  # the backend called ``name``; unknown: a ConfigError naming the choices
