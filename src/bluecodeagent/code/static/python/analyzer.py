"""The Python analyzer: parse once, build per-function taint contexts, run every Python rule."""

from __future__ import annotations

import ast
import logging
import textwrap
import warnings
from dataclasses import dataclass, field

from bluecodeagent.code.static.base import CodeRule, apply_suppressions, rules
from bluecodeagent.code.static.python.legacy import py2_to_py3, token_hits
from bluecodeagent.code.static.python.rules.common import Hit
from bluecodeagent.code.static.python.taint import FunctionContext, ModuleContext, iter_functions
from bluecodeagent.verdict import Finding

log = logging.getLogger(__name__)
TOKEN_CONFIDENCE = 0.75  # a call read by tokens, without its data flow


MAX_REPAIRS = 40


@dataclass
class Parsed:
    """The module's tree (None if hopeless), the repairs made, and the lines the repairs dropped."""

    tree: ast.Module | None
    repairs: list[str] = field(default_factory=list)
    dropped: dict[int, str] = field(default_factory=dict)

    @property
    def note(self) -> str | None:
        """One line for the evidence when the code was not read as written."""
        if self.tree is None:
            return "could not be parsed as Python; only dangerous calls found by tokens are reported"
        if not self.repairs:
            return None
        lost = f", {len(self.dropped)} unparseable line(s) read by tokens only" if self.dropped else ""
        return f"parsed after repairs ({', '.join(dict.fromkeys(self.repairs))}){lost}"


def _try(text: str, path: str | None) -> tuple[ast.Module | None, SyntaxError | ValueError | None]:
    try:
        return ast.parse(text, filename=path or "<code>"), None
    except (SyntaxError, ValueError) as e:
        return None, e


def parse_source(source: str, path: str | None = None) -> Parsed:
    """Parse ``source``, repairing what stops Python 3: dedent a snippet, rewrite Python 2 syntax,
    and as a last resort drop the offending lines (and the block under them) a few dozen times.
    The dropped lines are kept so tokens can still be read from them."""
    original = source.splitlines()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree, err = _try(source, path)
        if tree is not None:
            return Parsed(tree)
        repairs: list[str] = []
        text = source
        dedented = textwrap.dedent(text)
        if dedented != text:
            text, repairs = dedented, ["dedent"]
            tree, err = _try(text, path)
            if tree is not None:
                return Parsed(tree, repairs)
        converted = py2_to_py3(text)
        if converted != text:
            text = converted
            repairs.append("python 2 syntax")
            tree, err = _try(text, path)
            if tree is not None:
                return Parsed(tree, repairs)
        dropped: dict[int, str] = {}
        for _ in range(MAX_REPAIRS):
            lineno = getattr(err, "lineno", None)
            if not lineno:
                break
            text, gone = _drop_block(text, lineno)
            if not gone:
                break
            for n in gone:
                dropped[n] = original[n - 1] if n <= len(original) else ""
            repairs.append("dropped unparseable lines")
            tree, err = _try(text, path)
            if tree is not None:
                return Parsed(tree, repairs, dropped)
    return Parsed(None, repairs, {i: line for i, line in enumerate(original, start=1)})


def parse(source: str, path: str | None = None) -> ast.Module | None:
    """The repaired tree of ``source`` (see ``parse_source``), or None if hopeless."""
    return parse_source(source, path).tree


def _drop_block(text: str, lineno: int) -> tuple[str, list[int]]:
    """Blank the line at ``lineno`` and the more-indented lines that follow it; the line numbers blanked."""
    lines = text.splitlines()
    i = lineno - 1
    if i >= len(lines):
        i = len(lines) - 1
        while i >= 0 and not lines[i].strip():
            i -= 1
        if i < 0:
            return text, []
    if not lines[i].strip():
        return text, []
    indent = len(lines[i]) - len(lines[i].lstrip())
    lines[i] = ""
    gone = [i + 1]
    j = i + 1
    while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
        if lines[j].strip():
            gone.append(j + 1)
        lines[j] = ""
        j += 1
    return "\n".join(lines), gone


class PythonAnalyzer:
    """AST-based static analyzer for Python with intra-procedural taint."""

    language = "python"

    def __init__(self, only: set[str] | None = None) -> None:
        self._rules: list[CodeRule] = [r for r in rules("python") if only is None or r.id in only or r.cwe in only]
        self.parse_note: str | None = None  # set by analyze(): how the last source was read

    def analyze(self, source: str, path: str | None = None) -> list[Finding]:
        """Findings for ``source``, suppressions applied. Code that needed repairs (Python 2, broken
        lines) is analysed as repaired, and lines no repair could read are scanned by tokens."""
        parsed = parse_source(source, path)
        self.parse_note = parsed.note
        findings: list[Finding] = []
        seen: set[tuple[str, int | None]] = set()
        if parsed.dropped:
            for f in self._token_findings(parsed.dropped, source, path):
                seen.add((f.rule_id, f.line))
                findings.append(f)
        if parsed.tree is None:
            log.debug("could not parse %s", path or "<code>")
            return apply_suppressions(source, sorted(findings, key=lambda f: (f.line or 0, f.rule_id)))
        module = ModuleContext.build(parsed.tree, source)
        for fc in iter_functions(module):
            for r in self._rules:
                for hit in r.check(fc):
                    f = self._finding(r, hit, fc, module, path)
                    key = (f.rule_id, f.line)
                    if key not in seen:
                        seen.add(key)
                        findings.append(f)
        findings.sort(key=lambda f: (f.line or 0, f.rule_id))
        return apply_suppressions(source, findings)

    def _token_findings(self, lines: dict[int, str], source: str, path: str | None) -> list[Finding]:
        by_id = {r.id: r for r in self._rules}
        src_lines = source.splitlines()
        out = []
        for hit in token_hits(lines):
            r = by_id.get(hit.rule_id)
            if r is None:
                continue
            out.append(
                Finding(
                    rule_id=r.id,
                    message=hit.message + " (read by tokens: the code around it does not parse)",
                    cwe=r.cwe,
                    severity=r.severity,
                    confidence=round(r.confidence * TOKEN_CONFIDENCE, 3),
                    line=hit.line,
                    end_line=hit.line,
                    path=path,
                    snippet=src_lines[hit.line - 1].strip() if hit.line <= len(src_lines) else None,
                    source="static",
                    details={"function": None, "params": [], "recovered": "tokens"},
                )
            )
        return out

    @staticmethod
    def _finding(r: CodeRule, hit: Hit, fc: FunctionContext, module: ModuleContext, path: str | None) -> Finding:
        line = getattr(hit.node, "lineno", None)
        end = getattr(hit.node, "end_lineno", line)
        snippet = module.lines[line - 1].strip() if line and line <= len(module.lines) else None
        function = hit.function or (fc.qualname if fc.name != "<module>" else None)
        details = {"function": function, "params": hit.params}
        details.update(hit.details)
        return Finding(
            rule_id=r.id,
            message=hit.message,
            cwe=hit.cwe or r.cwe,
            severity=r.severity,
            confidence=hit.confidence if hit.confidence is not None else r.confidence,
            line=line,
            end_line=end,
            path=path,
            snippet=snippet,
            source="static",
            details=details,
        )
