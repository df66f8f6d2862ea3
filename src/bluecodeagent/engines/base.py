"""The engine interface (decide one subject for one prompt task) and the engine registry.

Engines are plug-ins: a module of :mod:`bluecodeagent.engines` (or an entry point of the group
``bluecodeagent.engines``) registers ``build(kb, settings) -> Engine`` with :func:`register_engine`;
the setting ``engine`` picks one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from bluecodeagent.plugins import Registry, Spec
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
EngineSpec = Spec[EngineFactory]

_REGISTRY: Registry[EngineFactory] = Registry("engine", "bluecodeagent.engines", "engines")
ENGINES = _REGISTRY.specs
register_engine = _REGISTRY.register  # ``@register_engine(name)`` over ``build(kb, settings) -> Engine``
engines = _REGISTRY.all  # every registered engine, by name
get_engine = _REGISTRY.get  # the engine called ``name``; unknown: a ConfigError naming the choices
