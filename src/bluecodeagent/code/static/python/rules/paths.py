"""Path traversal (CWE-22) and unsafe archive extraction."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from bluecodeagent.code.static.base import rule
from bluecodeagent.code.static.python.rules.common import Hit, kwarg
from bluecodeagent.code.static.python.taint import FunctionContext, base_name, const_str

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
    for call in fc.calls():
        if fc.call_name(call) not in FILE_SINKS or not call.args:
            continue
        target = call.args[0]
        built = _string_path(fc, target)
        if built is not None and fc.is_tainted(built, "path"):
            yield Hit(
                call,
                f"{fc.call_name(call)}() on a path glued from a directory and untrusted input",
                fc.tainted_params(built, "path"),
            )
        elif fc.is_source(target) or (isinstance(target, ast.Subscript | ast.Call) and _direct_source(fc, target)):
            yield Hit(call, f"{fc.call_name(call)}() on a path taken straight from the request")


FILE_SINKS = frozenset(
    {
        "open",
        "io.open",
        "codecs.open",
        "flask.send_file",
        "send_file",
        "os.remove",
        "os.unlink",
        "shutil.rmtree",
        "shutil.copy",
        "shutil.copyfile",
        "shutil.move",
        "os.listdir",
        "os.rename",
        "django.http.FileResponse",
        "FileResponse",
        "aiofiles.open",
    }
)


def _direct_source(fc: FunctionContext, node: ast.AST) -> bool:
    """``request.args["f"]`` / ``request.GET.get("f")``: a request read with nothing in between."""
    inner = (
        node.value
        if isinstance(node, ast.Subscript)
        else node.func.value
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        else None
    )
    return inner is not None and fc.is_source(inner)


def _string_path(fc: FunctionContext, node: ast.AST, depth: int = 0) -> ast.AST | None:
    """The expression when ``node`` is (or was assigned) a path glued by ``+``/``%``/f-string with a ``/``."""
    if depth > 4:
        return None
    if isinstance(node, ast.Name):
        for d in fc.defs.get(node.id, []):
            if d.value is not None and not d.weak:
                found = _string_path(fc, d.value, depth + 1)
                if found is not None:
                    return found
        return None
    if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod)) or isinstance(node, ast.JoinedStr):
        text = _literal_parts(node)
        if (
            "/" in text
            or "\\" in text
            or (
                isinstance(node, ast.BinOp)
                and any(isinstance(n, ast.Attribute) and n.attr == "sep" for n in ast.walk(node))
            )
        ):
            return node
    return None


def _literal_parts(node: ast.AST) -> str:
    return "".join(n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str))


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


NORMALISERS = frozenset(
    {
        "os.path.realpath",
        "os.path.abspath",
        "os.path.normpath",
        "posixpath.normpath",
        "posixpath.realpath",
        "os.path.normcase",
        "pathlib.Path.resolve",
    }
)
DECODERS = frozenset(
    {
        "urllib.parse.unquote",
        "urllib.parse.unquote_plus",
        "unquote",
        "unquote_plus",
        "urllib.unquote",
        "unicodedata.normalize",
        "html.unescape",
        "os.path.expanduser",
        "os.path.expandvars",
        "base64.b64decode",
    }
)


def _normalised(fc: FunctionContext, node: ast.AST, depth: int = 0) -> bool:
    """Was ``node``'s value passed through realpath/abspath/normpath/resolve on its way here?"""
    if depth > 6:
        return False
    if isinstance(node, ast.Call):
        name = fc.call_name(node)
        if name in NORMALISERS or (isinstance(node.func, ast.Attribute) and node.func.attr in ("resolve", "absolute")):
            return True
        return any(_normalised(fc, a, depth + 1) for a in [*node.args, getattr(node.func, "value", node.func)])
    if isinstance(node, ast.Name):
        return any(
            d.value is not None and _normalised(fc, d.value, depth + 1) for d in fc.defs.get(node.id, []) if not d.weak
        )
    if isinstance(node, ast.Attribute | ast.Subscript):
        return _normalised(fc, node.value, depth + 1)
    return False


@rule("py.path.check-before-normalise", "CWE-180", severity="high", confidence=0.65)
def check_before_normalise(fc: FunctionContext) -> Iterator[Hit]:
    """A path is checked before it is canonicalised (or decoded), so the check sees another path.

    ``if full.startswith(BASE)`` on ``os.path.join(BASE, name)`` passes ``../../etc/passwd``: the
    ``..`` is only resolved when the file is opened. Likewise a ``'..' in name`` test before
    ``unquote(name)`` misses ``%2e%2e/``, and ``name.replace('../', '')`` leaves ``....//`` as
    ``../``. Decode first, then canonicalise (``os.path.realpath`` / ``Path.resolve()``), then
    check containment (``os.path.commonpath([base, full]) == base`` or ``is_relative_to``).
    """
    for t in fc.tests:
        for n in ast.walk(t):
            if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "startswith"):
                continue
            subject = n.func.value
            if not _pathish(fc, subject) or not fc.is_tainted(subject, "path") or _normalised(fc, subject):
                continue
            if n.args and const_str(n.args[0]) in ("/", "\\", ".", "~"):
                continue  # "is it absolute / hidden?" is a different question
            if not _path_built(fc, subject):
                continue
            yield Hit(
                n,
                "containment checked on a path that was never normalised (.. and symlinks pass)",
                fc.tainted_params(subject, "path"),
            )
    for call in fc.calls():
        name = fc.call_name(call)
        if name in DECODERS and call.args and fc.is_tainted(call.args[0], "path"):
            b = base_name(call.args[0])
            checked_before = [
                t
                for t in fc.tests
                if getattr(t, "lineno", 0) < call.lineno
                and b in {x.id for x in ast.walk(t) if isinstance(x, ast.Name)}
                and re.search(r"\.\.|['\"]/['\"]|startswith|isabs", fc.text(t))
            ]
            if checked_before:
                yield Hit(
                    call,
                    f"{name}() runs after the path was checked: encoded '..' passes the check",
                    fc.tainted_params(call.args[0], "path"),
                )
        elif (
            isinstance(call.func, ast.Attribute)
            and call.func.attr == "replace"
            and len(call.args) == 2
            and const_str(call.args[0]) in ("../", "..", "..\\", "./")
            and const_str(call.args[1]) == ""
            and fc.is_tainted(call.func.value, "path")
        ):
            yield Hit(call, "one-pass removal of '../' leaves '....//' as '../'", fc.tainted_params(call.func.value))


def _path_built(fc: FunctionContext, node: ast.AST) -> bool:
    """Is ``node`` a path joined from parts (join, ``/``, concatenation), not a value taken as is?"""
    if isinstance(node, ast.Call):
        joinpath = isinstance(node.func, ast.Attribute) and node.func.attr == "joinpath"
        return fc.call_name(node) in PATH_JOIN or joinpath
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, ast.Div | ast.Add | ast.Mod)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.Name):
        return any(d.value is not None and _path_built(fc, d.value) for d in fc.defs.get(node.id, []) if not d.weak)
    return False
