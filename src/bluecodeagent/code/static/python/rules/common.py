"""What a rule yields, and small AST helpers shared by rules."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from bluecodeagent.code.static.python.taint import FunctionContext, const_str


@dataclass
class Hit:
    """One rule match: the node, a message, and optionally tainted params, a confidence, and a CWE
    more precise than the rule's own (a cross-CWE check names the weakness it found)."""

    node: ast.AST
    message: str
    params: list[str] = field(default_factory=list)
    confidence: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    cwe: str | None = None
    function: str | None = None  # attribute the hit to another function of the module (its qualname)


def kwarg(call: ast.Call, name: str) -> ast.expr | None:
    """The value of keyword ``name`` in ``call``, if passed."""
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def arg(call: ast.Call, index: int, name: str | None = None) -> ast.expr | None:
    """Positional argument ``index`` or keyword ``name``."""
    if len(call.args) > index and not isinstance(call.args[index], ast.Starred):
        return call.args[index]
    return kwarg(call, name) if name else None


def truthy(node: ast.AST | None) -> bool:
    """A literal that is true (``True``, 1, non-empty string)."""
    return isinstance(node, ast.Constant) and bool(node.value)


def falsy_literal(node: ast.AST | None) -> bool:
    """A literal ``False``/``0``/``None``."""
    return isinstance(node, ast.Constant) and not node.value


def test_mentions(fc: FunctionContext, pattern: re.Pattern[str]) -> bool:
    """Does any condition (if/while/assert/comprehension filter) in the function match ``pattern``?"""
    return any(pattern.search(fc.text(t)) for t in fc.tests)


def literal_text(fc: FunctionContext, node: ast.AST) -> str:
    """The literal text of a string expression: constants, f-string parts, concatenations, local or
    module constants it names."""
    s = const_str(node)
    if s is not None:
        return s
    if isinstance(node, ast.BinOp):
        return literal_text(fc, node.left) + literal_text(fc, node.right)
    if isinstance(node, ast.Name):
        s = fc.module.constant_text(node)
        if s is not None:
            return s
        for d in fc.defs.get(node.id, []):
            if d.value is not None and not d.weak:
                s = const_str(d.value)
                if s is not None:
                    return s
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return literal_text(fc, node.func.value)
    return ""
