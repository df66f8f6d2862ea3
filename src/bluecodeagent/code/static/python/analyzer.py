"""The Python analyzer: parse once, build per-function taint contexts, run every Python rule."""

from __future__ import annotations

import ast
import logging
import textwrap
import warnings

from bluecodeagent.code.static.base import Rule, apply_suppressions, rules
from bluecodeagent.code.static.python.rules.common import Hit
from bluecodeagent.code.static.python.taint import FunctionContext, ModuleContext, iter_functions
from bluecodeagent.verdict import Finding

log = logging.getLogger(__name__)


def parse(source: str, path: str | None = None) -> ast.Module | None:
    """Parse ``source``; on a syntax error, retry after dedenting and after dropping the offending
    lines (a few times), so a snippet with one broken block is still analysed. None if hopeless."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = source
        for attempt in range(6):
            try:
                return ast.parse(text, filename=path or "<code>")
            except (SyntaxError, ValueError) as e:
                if attempt == 0:
                    dedented = textwrap.dedent(text)
                    if dedented != text:
                        text = dedented
                        continue
                lineno = getattr(e, "lineno", None)
                if not lineno:
                    return None
                text = _drop_block(text, lineno)
    return None


def _drop_block(text: str, lineno: int) -> str:
    """Blank the line at ``lineno`` and the more-indented lines that follow it."""
    lines = text.splitlines()
    i = lineno - 1
    if i >= len(lines):
        return text
    indent = len(lines[i]) - len(lines[i].lstrip())
    lines[i] = ""
    j = i + 1
    while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
        lines[j] = ""
        j += 1
    return "\n".join(lines)


class PythonAnalyzer:
    """AST-based static analyzer for Python with intra-procedural taint."""

    language = "python"

    def __init__(self, only: set[str] | None = None) -> None:
        self._rules: list[Rule] = [r for r in rules("python") if only is None or r.id in only or r.cwe in only]

    def analyze(self, source: str, path: str | None = None) -> list[Finding]:
        """Findings for ``source`` (an empty list if it does not parse), suppressions applied."""
        tree = parse(source, path)
        if tree is None:
            log.debug("could not parse %s", path or "<code>")
            return []
        module = ModuleContext.build(tree, source)
        findings: list[Finding] = []
        seen: set[tuple[str, int | None]] = set()
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

    @staticmethod
    def _finding(r: Rule, hit: Hit, fc: FunctionContext, module: ModuleContext, path: str | None) -> Finding:
        line = getattr(hit.node, "lineno", None)
        end = getattr(hit.node, "end_lineno", line)
        snippet = module.lines[line - 1].strip() if line and line <= len(module.lines) else None
        details = {"function": fc.qualname if fc.name != "<module>" else None, "params": hit.params}
        details.update(hit.details)
        return Finding(
            rule_id=r.id,
            message=hit.message,
            cwe=r.cwe,
            severity=r.severity,
            confidence=hit.confidence if hit.confidence is not None else r.confidence,
            line=line,
            end_line=end,
            path=path,
            snippet=snippet,
            source="static",
            details=details,
        )
