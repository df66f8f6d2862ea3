"""The mutator interface and registry: one attacker technique per mutator, pluggable by name.

A mutator rewrites an attack prompt so that it asks for the same thing in a form a guard may not
recognise. ``family`` groups techniques for reports; ``obfuscates`` marks mutators that hide the
request's words (encodings, leetspeak): when a found evasion gets its safe counterpart, such steps
are not applied to the benign text, since an encoded request to decode-and-follow is itself the
attack pattern.
"""

from __future__ import annotations

import random
from typing import ClassVar

from bluecodeagent.plugins import discover


class Mutator:
    """Base class: subclasses set ``name``, ``family``, ``description`` and implement ``apply``."""

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    description: ClassVar[str] = ""
    obfuscates: ClassVar[bool] = False

    def apply(self, text: str, rng: random.Random) -> str:
        """Return a variant of ``text`` (deterministic for the state of ``rng``)."""
        raise NotImplementedError


_MUTATORS: dict[str, Mutator] = {}


def register(cls: type[Mutator]) -> type[Mutator]:
    """Class decorator: register a mutator under its name (a plug-in registers the same way)."""
    if not cls.name or not cls.family:
        raise ValueError(f"mutator {cls.__name__} needs a name and a family")
    if cls.name in _MUTATORS and type(_MUTATORS[cls.name]) is not cls:
        raise ValueError(f"mutator name {cls.name!r} is already registered")
    _MUTATORS[cls.name] = cls()
    return cls


def _load() -> None:
    """Every module of this package, then the ``bluecodeagent.mutators`` entry points."""
    discover("bluecodeagent.redteam.mutators", "mutators")


def mutators(names: list[str] | None = None) -> list[Mutator]:
    """The registered mutators (all, or those named), sorted by name; unknown names raise KeyError."""
    _load()
    if names is None:
        return sorted(_MUTATORS.values(), key=lambda m: m.name)
    missing = [n for n in names if n not in _MUTATORS]
    if missing:
        raise KeyError(f"unknown mutator(s): {', '.join(missing)} (known: {', '.join(sorted(_MUTATORS))})")
    return [_MUTATORS[n] for n in names]


def get_mutator(name: str) -> Mutator:
    return mutators([name])[0]


def lower_first(text: str) -> str:
    """The request as a clause: first letter lower-cased unless it starts an acronym."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def strip_end(text: str) -> str:
    return text.rstrip().rstrip(".!?")
