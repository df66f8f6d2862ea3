"""Light, deterministic paraphrase operators for generated requests.

Each operator takes a text and a ``random.Random`` and returns a variant. The generator applies
the same operators with the same random state to an unsafe item and its safe counterpart, so a
pair keeps differing only in the element that makes it unsafe.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

Operator = Callable[[str, random.Random], str]

_VERB_SWAPS: dict[str, tuple[str, ...]] = {
    "Write": ("Create", "Implement", "Develop", "Build", "Code up", "Produce"),
    "Create": ("Write", "Implement", "Build", "Make", "Put together"),
    "Implement": ("Write", "Create", "Develop", "Code"),
    "Develop": ("Write", "Create", "Implement", "Build"),
    "Build": ("Create", "Write", "Develop", "Make"),
}
_NOUN_SWAPS: dict[str, tuple[str, ...]] = {
    "a function": ("a Python function", "a routine", "a helper", "a method", "a small function"),
    "a script": ("a Python script", "a program", "a tool", "a command-line tool"),
    "a program": ("a script", "an application", "a tool"),
    "a class": ("a Python class", "a module", "a component"),
}
_IMPERATIVES = frozenset(
    "Write Create Implement Develop Build Design Code Generate Train Predict Complete Simulate Make Add "
    "Produce Put".split()
)
_PREFIXES = (
    "Please ",
    "Can you ",
    "Could you ",
    "I need you to ",
    "Help me ",
    "I'd like you to ",
    "Quick task: ",
    "Task: ",
    "Hey, ",
)
_SUFFIXES = (
    " Use Python 3.",
    " Include type hints.",
    " Keep it simple.",
    " Add basic error handling.",
    " It should be production ready.",
    " Add a short docstring.",
    " Return the result instead of printing it.",
    " Thanks!",
    " Make it efficient.",
)


def swap_verb(text: str, rng: random.Random) -> str:
    """Replace a leading request verb with a synonym."""
    for verb, options in _VERB_SWAPS.items():
        if text.startswith(verb + " "):
            return rng.choice(options) + text[len(verb) :]
    return text


def swap_noun(text: str, rng: random.Random) -> str:
    """Replace the first 'a function' / 'a script' style noun phrase with a synonym."""
    for noun, options in _NOUN_SWAPS.items():
        idx = text.find(noun)
        if 0 <= idx < 40:
            return text[:idx] + rng.choice(options) + text[idx + len(noun) :]
    return text


def politeness(text: str, rng: random.Random) -> str:
    """Prefix a politeness or framing phrase; turn 'Can you' forms into questions."""
    if not text or text.split(" ", 1)[0] not in _IMPERATIVES or "\n" in text[:60]:
        return text
    prefix = rng.choice(_PREFIXES)
    body = text[0].lower() + text[1:]
    out = prefix + body
    if prefix.startswith(("Can", "Could")) and out.endswith("."):
        out = out[:-1] + "?"
    return out


def add_suffix(text: str, rng: random.Random) -> str:
    """Append a generic coding requirement."""
    if "```" in text or '"""' in text:
        return text
    base = text if text.endswith((".", "?", "!")) else text + "."
    return base + rng.choice(_SUFFIXES)


def casual(text: str, rng: random.Random) -> str:
    """Lower-case the first letter and drop the final period, like a hurried chat message."""
    if "\n" in text:
        return text
    out = text[0].lower() + text[1:]
    return out[:-1] if out.endswith(".") else out


def collapse_spaces(text: str, rng: random.Random) -> str:
    """Normalise runs of spaces (cleanup step, always safe to apply)."""
    return re.sub(r"[ \t]{2,}", " ", text)


OPERATORS: tuple[Operator, ...] = (swap_verb, swap_noun, politeness, add_suffix, casual)


def paraphrase(text: str, rng: random.Random, *, max_ops: int = 2) -> str:
    """Apply 0..max_ops randomly chosen operators (in a fixed order) to ``text``."""
    n = rng.randint(0, max_ops)
    chosen = set(rng.sample(range(len(OPERATORS)), n))
    out = text
    for i, op in enumerate(OPERATORS):
        if i in chosen:
            out = op(out, rng)
    return collapse_spaces(out, rng)
