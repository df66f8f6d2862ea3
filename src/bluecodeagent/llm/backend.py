"""The one interface every model backend implements, and the records it exchanges.

A backend turns a list of chat messages into a :class:`Completion`. When a JSON schema is given the
backend must return parsed ``data`` that validates against it (or raise :class:`LLMError`), whatever
the server supports: JSON-schema response formats, ``json_object`` mode, or plain text plus repair.

Backends are plug-ins: a module of :mod:`bluecodeagent.llm` (or an entry point of the group
``bluecodeagent.backends``) registers ``build(settings)`` with :func:`register_backend`; the setting
``llm_backend`` picks one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, Field

from bluecodeagent.errors import BlueCodeError, ConfigError

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


@dataclass(frozen=True)
class BackendSpec:
    name: str
    build: BackendFactory
    description: str


BACKENDS: dict[str, BackendSpec] = {}


def register_backend(name: str) -> Callable[[BackendFactory], BackendFactory]:
    """Register ``build(settings) -> Backend`` as the backend ``name``; its docstring is its description."""

    def decorate(fn: BackendFactory) -> BackendFactory:
        old = BACKENDS.get(name)
        if old is not None and (old.build.__module__, old.build.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ValueError(f"backend {name!r} is already registered")
        doc = inspect.getdoc(fn) or ""
        if not doc:
            raise ValueError(f"backend {name!r} needs a docstring (its description)")
        BACKENDS[name] = BackendSpec(name, fn, doc.splitlines()[0])
        return fn

    return decorate


def backends() -> list[BackendSpec]:
    """Every registered backend (modules of ``bluecodeagent.llm`` and entry points of ``bluecodeagent.backends``)."""
    from bluecodeagent.plugins import discover

    discover("bluecodeagent.llm", "backends")
    return [b for _, b in sorted(BACKENDS.items())]


def get_backend(name: str) -> BackendSpec:
    """The backend called ``name``; an unknown name is a :class:`ConfigError` naming the choices."""
    known = {b.name: b for b in backends()}
    if name not in known:
        raise ConfigError(f"unknown LLM backend {name!r} (choose {', '.join(known)})")
    return known[name]
