"""Path traversal (CWE-22) and unsafe archive extraction."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from bluecodeagent.code.static.base import rule
from bluecodeagent.code.static.python.rules.common import Hit, kwarg
from bluecodeagent.code.static.python.taint import FunctionContext

_CONTAINMENT = re.compile(
    r"relative_to|is_relative_to|commonpath|commonprefix|startswith|['\"]\.\.['\"]|\.\.[/\\\\]|"
    r"os\.sep|is_safe_path|safe_join|secure_filename|basename",
    re.I,
)
PATH_JOIN = frozenset(
    {
        "os.path.join",
        "posixpath.join",
        "ntpath.join",
        "pathlib.Path",
        "Path",
        "pathlib.PurePath",
        "PurePath",
        "werkzeug.utils.safe_join",
        "flask.safe_join",
    }
)


def _pathish(fc: FunctionContext, node: ast.AST) -> bool:
    """Does ``node`` look like a path value (a Path(...) call, a join, or a path-named variable)?"""
    if isinstance(node, ast.Call):
        return fc.call_name(node) in PATH_JOIN or fc.text(node.func).endswith(("resolve", "absolute", "joinpath"))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return True
    if isinstance(node, ast.Name):
        if re.search(r"dir|path|folder|root|base|directory|location", node.id, re.I):
            return True
        return any(d.value is not None and _pathish(fc, d.value) for d in fc.defs.get(node.id, []) if not d.weak)
    if isinstance(node, ast.Attribute | ast.Subscript):
        return bool(re.search(r"dir|path|folder|root|base", fc.text(node), re.I))
    return False


@rule("py.path.traversal", "CWE-22", severity="high", confidence=0.75)
def path_traversal(fc: FunctionContext) -> Iterator[Hit]:
    """File path joined from a base directory and untrusted input without a containment check.

    ``base / user_path`` or ``os.path.join(base, user_path)`` escapes ``base`` with ``../`` or an
    absolute path. Resolve the result and require it to stay inside the base:
    ``full.resolve().relative_to(base.resolve())`` (or ``os.path.realpath`` + ``commonpath``).
    """
    if any(_CONTAINMENT.search(fc.text(t)) for t in fc.tests) or _containment_call(fc):
        return
    for node in fc.nodes(ast.Call, ast.BinOp):
        if isinstance(node, ast.BinOp):
            if not isinstance(node.op, ast.Div) or not _pathish(fc, node.left):
                continue
            user = [node.right]
        else:
            name = fc.call_name(node)
            if name not in PATH_JOIN or name.endswith("safe_join") or len(node.args) < 2:
                continue
            if name.endswith("Path") and len(node.args) < 2:
                continue
            user = node.args[1:]
        bad = [u for u in user if fc.is_tainted(u, "path")]
        if bad and not isinstance(fc.parent(node), ast.BinOp):
            yield Hit(
                node,
                "path built from untrusted input can escape its base directory",
                sorted({p for u in bad for p in fc.tainted_params(u, "path")}),
            )


def _containment_call(fc: FunctionContext) -> bool:
    for call in fc.calls():
        if isinstance(call.func, ast.Attribute) and call.func.attr in ("relative_to", "is_relative_to"):
            return True
        if fc.call_name(call) in ("os.path.commonpath", "os.path.commonprefix"):
            return True
    return False


@rule("py.path.archive-extract", "CWE-22", severity="medium", confidence=0.6)
def archive_extract(fc: FunctionContext) -> Iterator[Hit]:
    """Archive extracted without checking member paths (Zip Slip).

    ``tarfile.extractall`` follows member names like ``../../etc/cron.d/x`` and symlinks. Pass
    ``filter="data"`` (Python 3.12+) or check every member's resolved path before extracting.
    """
    for call in fc.calls():
        if not (isinstance(call.func, ast.Attribute) and call.func.attr in ("extractall", "extract")):
            continue
        if kwarg(call, "filter") is not None or kwarg(call, "members") is not None:
            continue
        if any(_CONTAINMENT.search(fc.text(t)) for t in fc.tests):
            continue
        if "tar" in fc.source_text().lower() or "zip" in fc.source_text().lower():
            yield Hit(call, f"{call.func.attr}() without validating member paths")
