"""The shape of a regular expression: does it backtrack catastrophically?

Parses the pattern with the standard library's own regex parser and looks for the two shapes
behind most ReDoS: an unbounded repeat inside another unbounded repeat (``(a+)+``, ``(\\w+\\s?)*``)
and an unbounded repeat over alternatives that can match the same character (``(a|ab)*``,
``(\\w|\\d)+``). Bounded repeats (``{1,64}``) are safe enough and are not reported.
"""

from __future__ import annotations

try:  # Python 3.11+
    import re._constants as _c
    import re._parser as _p
except ImportError:  # pragma: no cover - older interpreters
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

from typing import Any

_REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None))
UNBOUNDED = 64  # a repeat allowing more than this many is treated as unbounded


def _items(sub: Any) -> list[tuple[Any, Any]]:
    return list(sub.data if hasattr(sub, "data") else sub)


def _has_unbounded(sub: Any) -> bool:
    for op, av in _items(sub):
        if op in _REPEATS and op is not None:
            _lo, hi, inner = av
            if (hi == _c.MAXREPEAT or hi > UNBOUNDED) and _can_match_nonempty(inner):
                return True
            if _has_unbounded(inner):
                return True
        elif op is _c.SUBPATTERN:
            if _has_unbounded(av[-1]):
                return True
        elif op is _c.BRANCH and any(_has_unbounded(b) for b in av[1]):
            return True
    return False


def _can_match_nonempty(sub: Any) -> bool:
    return any(op not in (_c.AT, _c.ASSERT, _c.ASSERT_NOT) for op, _ in _items(sub))


ALPHABET = frozenset(chr(i) for i in range(32, 127)) | {"\t", "\n", "\r"}
_CATEGORIES = {
    "CATEGORY_DIGIT": lambda ch: ch.isdigit(),
    "CATEGORY_NOT_DIGIT": lambda ch: not ch.isdigit(),
    "CATEGORY_SPACE": lambda ch: ch.isspace(),
    "CATEGORY_NOT_SPACE": lambda ch: not ch.isspace(),
    "CATEGORY_WORD": lambda ch: ch.isalnum() or ch == "_",
    "CATEGORY_NOT_WORD": lambda ch: not (ch.isalnum() or ch == "_"),
}


def _class_chars(items: Any) -> set[str]:
    """The sample-alphabet characters a character class (``[...]``, ``\\d``) matches."""
    negate = False
    out: set[str] = set()
    for op, av in items:
        if op is _c.NEGATE:
            negate = True
        elif op is _c.LITERAL:
            out.add(chr(av))
        elif op is _c.RANGE:
            out |= {ch for ch in ALPHABET if av[0] <= ord(ch) <= av[1]}
        elif op is _c.CATEGORY:
            test = _CATEGORIES.get(str(av))
            out |= {ch for ch in ALPHABET if test is None or test(ch)}
    return set(ALPHABET - out) if negate else out


def _first_chars(sub: Any) -> set[str]:
    """Characters (of a sample alphabet) the sub-pattern can start with."""
    for op, av in _items(sub):
        if op is _c.LITERAL:
            return {chr(av)}
        if op is _c.NOT_LITERAL:
            return set(ALPHABET - {chr(av)})
        if op is _c.IN:
            return _class_chars(av)
        if op is _c.ANY:
            return set(ALPHABET)
        if op is _c.SUBPATTERN:
            return _first_chars(av[-1])
        if op is _c.BRANCH:
            return set().union(*(_first_chars(b) for b in av[1]))
        if op in _REPEATS and op is not None:
            first = _first_chars(av[2])
            return first | (_first_chars(_items(sub)[1:]) if av[0] == 0 else set())
        if op is _c.AT:
            continue
        return set(ALPHABET)
    return set()


def _overlapping_branch(sub: Any) -> bool:
    for op, av in _items(sub):
        if op is _c.BRANCH:
            seen: set[str] = set()
            for f in (_first_chars(b) for b in av[1]):
                if seen & f:
                    return True
                seen |= f
        elif op is _c.SUBPATTERN and _overlapping_branch(av[-1]):
            return True
    return False


def _walk(sub: Any) -> str | None:
    for op, av in _items(sub):
        if op in _REPEATS and op is not None:
            _lo, hi, inner = av
            if hi == _c.MAXREPEAT or hi > UNBOUNDED:
                if _has_unbounded(inner):
                    return "nested quantifiers"
                if _overlapping_branch(inner):
                    return "a repeated alternation whose branches overlap"
            found = _walk(inner)
            if found:
                return found
        elif op is _c.SUBPATTERN:
            found = _walk(av[-1])
            if found:
                return found
        elif op is _c.BRANCH:
            for b in av[1]:
                found = _walk(b)
                if found:
                    return found
    return None


def catastrophic(pattern: str) -> str | None:
    """Why ``pattern`` can backtrack exponentially, or None if it looks safe (or does not parse)."""
    try:
        parsed = _p.parse(pattern)
    except Exception:  # any pattern the parser rejects is simply not judged
        return None
    return _walk(parsed)
