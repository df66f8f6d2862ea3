"""The output-format registry: one ``report`` function per format, over the one ``Verdict`` schema.

A format renders a list of ``(path, verdict)`` pairs (``path`` is None for prompts) of one kind,
``prompt`` or ``code``, into the text written to the output. Formats are found by discovery: every
module of ``bluecodeagent.formats`` and the entry points of ``bluecodeagent.formats``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bluecodeagent.plugins import discover
from bluecodeagent.verdict import Verdict

Items = Sequence[tuple[str | None, Verdict]]
Report = Callable[[Items, "ReportOptions"], str]


@dataclass
class ReportOptions:
    """What a renderer may need beyond the verdicts."""

    kind: str = "prompt"  # prompt | code
    verbose: bool = False
    colour: bool = False
    problems: list[str] = field(default_factory=list)  # files that failed or were not analysed
    tool_version: str = "0"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Format:
    name: str
    kinds: frozenset[str]
    report: Report
    description: str


FORMATS: dict[str, Format] = {}


def register(name: str, kinds: tuple[str, ...] = ("prompt", "code")) -> Callable[[Report], Report]:
    """Register ``report(items, options) -> str`` as the format ``name``; its docstring is its description."""

    def decorate(fn: Report) -> Report:
        if name in FORMATS and FORMATS[name].report is not fn:
            raise ValueError(f"format {name!r} is already registered")
        doc = (fn.__doc__ or "").strip().splitlines()
        FORMATS[name] = Format(name, frozenset(kinds), fn, doc[0] if doc else "")
        return fn

    return decorate


def formats(kind: str | None = None) -> list[Format]:
    """The registered formats (for one kind of subject), by name."""
    discover("bluecodeagent.formats", "formats")
    return [f for _, f in sorted(FORMATS.items()) if kind is None or kind in f.kinds]


def render(name: str, items: Items, options: ReportOptions) -> str:
    """Render with the format ``name``; an unknown format or kind is a ValueError naming the choices."""
    known = {f.name: f for f in formats()}
    fmt = known.get(name)
    if fmt is None or options.kind not in fmt.kinds:
        choices = ", ".join(f.name for f in formats(options.kind))
        raise ValueError(f"no {options.kind} format {name!r} (choose {choices})")
    return fmt.report(items, options)
