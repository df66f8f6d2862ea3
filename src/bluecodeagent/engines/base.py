"""The engine interface (decide one subject for one prompt task) and the engine registry.

Engines are plug-ins: a module of :mod:`bluecodeagent.engines` (or an entry point of the group
``bluecodeagent.engines``) registers ``build(kb, settings) -> Engine`` with :func:`register_engine`;
the setting ``engine`` picks one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bluecodeagent.errors import ConfigError
from bluecodeagent.verdict import Decision, Verdict

if TYPE_CHECKING:
    from bluecodeagent.config import Settings
    from bluecodeagent.knowledge.store import KnowledgeBase


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


EngineFactory = Callable[["KnowledgeBase", "Settings"], Engine]


@dataclass(frozen=True)
class EngineSpec:
    name: str
    build: EngineFactory
    description: str


ENGINES: dict[str, EngineSpec] = {}


def register_engine(name: str) -> Callable[[EngineFactory], EngineFactory]:
    """Register ``build(kb, settings) -> Engine`` as the engine ``name``; its docstring is its description."""

    def decorate(fn: EngineFactory) -> EngineFactory:
        old = ENGINES.get(name)
        if old is not None and (old.build.__module__, old.build.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ValueError(f"engine {name!r} is already registered")
        doc = inspect.getdoc(fn) or ""
        if not doc:
            raise ValueError(f"engine {name!r} needs a docstring (its description)")
        ENGINES[name] = EngineSpec(name, fn, doc.splitlines()[0])
        return fn

    return decorate


def engines() -> list[EngineSpec]:
    """Every registered engine, by name."""
    from bluecodeagent.plugins import discover

    discover("bluecodeagent.engines", "engines")
    return [e for _, e in sorted(ENGINES.items())]


def get_engine(name: str) -> EngineSpec:
    """The engine called ``name``; an unknown name is a :class:`ConfigError` naming the choices."""
    known = {e.name: e for e in engines()}
    if name not in known:
        raise ConfigError(f"unknown engine {name!r} (choose {', '.join(known)})")
    return known[name]
