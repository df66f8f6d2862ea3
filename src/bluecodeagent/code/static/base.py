"""Static analysis interface: analyzers per language, rules with metadata, inline suppressions.

A rule is a small check with an id, a CWE, a severity, a confidence and a docstring (its user
documentation). Analyzers parse once, run every rule registered for their language and drop
findings suppressed inline with ``# bluecode: ignore`` or ``# bluecode: ignore[CWE-78, rule-id]``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from bluecodeagent.errors import InputError
from bluecodeagent.plugins import discover
from bluecodeagent.verdict import Finding

SEVERITIES = ("low", "medium", "high")


@dataclass(frozen=True)
class CodeRule:
    """Metadata and check function of one static rule."""

    id: str
    cwe: str
    severity: str
    confidence: float
    language: str
    check: Callable[..., Iterable[Any]]
    doc: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def title(self) -> str:
        """First line of the docstring."""
        return self.doc.strip().splitlines()[0] if self.doc.strip() else self.id


_RULES: dict[str, CodeRule] = {}


def rule(
    id: str,
    cwe: str,
    severity: str = "medium",
    confidence: float = 0.7,
    language: str = "python",
    tags: tuple[str, ...] = (),
) -> Callable[[Callable[..., Iterable[Any]]], Callable[..., Iterable[Any]]]:
    """Register a check function as a rule; its docstring becomes the rule's documentation."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    if not re.fullmatch(r"CWE-\d+", cwe):
        raise ValueError(f"cwe must look like 'CWE-78', got {cwe!r}")

    def deco(fn: Callable[..., Iterable[Any]]) -> Callable[..., Iterable[Any]]:
        if id in _RULES and _RULES[id].check is not fn:
            raise ValueError(f"duplicate rule id {id!r}")
        _RULES[id] = CodeRule(id, cwe, severity, confidence, language, fn, inspect.getdoc(fn) or "", tags)
        return fn

    return deco


def rules(language: str | None = None) -> list[CodeRule]:
    """Every registered rule, optionally for one language, sorted by id."""
    _load_builtin()
    return sorted((r for r in _RULES.values() if language in (None, r.language)), key=lambda r: r.id)


@runtime_checkable
class Analyzer(Protocol):
    """Static analyzer for one language."""

    language: str

    def analyze(self, source: str, path: str | None = None) -> list[Finding]:
        """Return the findings in ``source`` (suppressions already applied)."""
        ...


_ANALYZERS: dict[str, Callable[[], Analyzer]] = {}
_ALIASES = {"py": "python", "python3": "python"}


def register_analyzer(language: str, factory: Callable[[], Analyzer]) -> None:
    """Make ``get_analyzer(language)`` return ``factory()``."""
    _ANALYZERS[language.lower()] = factory


def languages() -> list[str]:
    """Languages with a registered analyzer."""
    _load_builtin()
    return sorted(_ANALYZERS)


def get_analyzer(language: str) -> Analyzer:
    """The analyzer for ``language``; raises InputError for an unsupported language."""
    _load_builtin()
    key = _ALIASES.get(language.lower(), language.lower())
    if key not in _ANALYZERS:
        raise InputError(f"no static analyzer for language {language!r} (supported: {', '.join(languages())})")
    return _ANALYZERS[key]()


def _load_builtin() -> None:
    from bluecodeagent.code.static import python  # noqa: F401  (registers its analyzer)

    discover("bluecodeagent.code.static.python.rules", "rules")  # every module, then plug-ins


_SUPPRESS = re.compile(r"#\s*bluecode:\s*ignore(?:\[([^\]]*)\])?", re.IGNORECASE)


def suppressions(source: str) -> dict[int, set[str] | None]:
    """Map line number to the suppressed CWE ids / rule ids (None means everything)."""
    out: dict[int, set[str] | None] = {}
    if "bluecode" not in source:
        return out
    for no, line in enumerate(source.splitlines(), start=1):
        m = _SUPPRESS.search(line)
        if not m:
            continue
        out[no] = None if m.group(1) is None else {t.strip().upper() for t in m.group(1).split(",") if t.strip()}
    return out


def apply_suppressions(source: str, findings: list[Finding]) -> list[Finding]:
    """Drop findings whose line carries a matching ``# bluecode: ignore`` comment."""
    sup = suppressions(source)
    if not sup:
        return findings
    kept = []
    for f in findings:
        lines = range(f.line or 0, (f.end_line or f.line or 0) + 1)
        hit = False
        for ln in lines:
            if ln in sup:
                tokens = sup[ln]
                if tokens is None or (f.cwe or "").upper() in tokens or f.rule_id.upper() in tokens:
                    hit = True
                    break
        if not hit:
            kept.append(f)
    return kept
