"""Resource exhaustion: unbounded reads and loops (CWE-400/770), missing length checks on raw
buffers (CWE-120), regular-expression denial of service (CWE-1333)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from bluecodeagent.code.static.base import rule
from bluecodeagent.code.static.python.rules.common import Hit, arg, kwarg
from bluecodeagent.code.static.python.taint import FunctionContext, base_name, const_str

READ_METHODS = frozenset(
    {"read", "recv", "iter_content", "iter_chunks", "readline", "iter_lines", "recv_into", "readinto", "read1"}
)
_SIZE_CONST = re.compile(r"\b[A-Z0-9_]*(SIZE|BYTES|LEN|CAP)[A-Z0-9_]*\b")
_LIMIT = re.compile(r"max|limit|quota|cap\b|threshold|allowed", re.I)


def _has_limit_check(fc: FunctionContext) -> bool:
    for node in fc.nodes(ast.Compare):
        if any(isinstance(op, ast.Gt | ast.GtE | ast.Lt | ast.LtE) for op in node.ops):
            text = fc.text(node)
            if _LIMIT.search(text) or "len(" in text or _SIZE_CONST.search(text):
                return True
    return False


@rule("py.dos.unbounded-stream", "CWE-400", severity="medium", confidence=0.6)
def unbounded_stream(fc: FunctionContext) -> Iterator[Hit]:
    """Stream or upload read in a loop with no cap on the total size.

    A client that never stops sending fills memory or disk. Count the bytes as they arrive and
    abort once the total exceeds a maximum (``if total > MAX_SIZE: raise``).
    """
    if _has_limit_check(fc):
        return
    for loop in fc.nodes(ast.While, ast.For):
        src = loop.iter if isinstance(loop, ast.For) else loop
        for n in ast.walk(src if isinstance(loop, ast.For) else loop):
            if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in READ_METHODS):
                continue
            if fc.is_tainted(n.func.value) or fc.is_tainted(n):
                yield Hit(
                    loop,
                    f"unbounded loop over .{n.func.attr}() with no total size limit",
                    fc.tainted_params(n.func.value),
                )
                return


@rule("py.dos.unbounded-read", "CWE-770", severity="medium", confidence=0.55)
def unbounded_read(fc: FunctionContext) -> Iterator[Hit]:
    """Whole request body or upload read into memory without a size argument.

    ``request.stream.read()`` / ``request.get_data()`` / ``file.read()`` on a request upload
    allocates as much as the client sends. Pass a maximum (``read(MAX + 1)``) or enforce
    ``MAX_CONTENT_LENGTH``.
    """
    for call in fc.calls():
        if not (isinstance(call.func, ast.Attribute) and call.func.attr in ("read", "get_data")) or call.args:
            continue
        if (fc.is_source(call.func.value) or fc.is_source(call)) and kwarg(call, "size") is None:
            yield Hit(call, f".{call.func.attr}() of request input without a size limit")


_RATE = re.compile(r"rate|request|attempt|login|quota|throttle|tracker|counter", re.I)


@rule("py.dos.rate-limit", "CWE-770", severity="medium", confidence=0.5)
def missing_rate_limit(fc: FunctionContext) -> Iterator[Hit]:
    """Per-client counter that is updated but never compared with a maximum.

    Tracking requests per client without rejecting the ones over a threshold limits nothing. Compare
    the count with a maximum within the time window and refuse the request when it is exceeded.
    """
    if not _RATE.search(fc.name + " " + " ".join(fc.params)) or _has_limit_check(fc):
        return
    for node in fc.nodes(ast.Assign):
        t = node.targets[0]
        if isinstance(t, ast.Subscript) and base_name(t) in fc.params and re.search(r"\+\s*1\b", fc.text(node.value)):
            yield Hit(node, "request counter incremented without enforcing a limit", [base_name(t) or ""])
            return


BUFFER_OPS = frozenset(
    {
        "split",
        "find",
        "index",
        "extend",
        "decode",
        "partition",
        "splitlines",
        "startswith",
        "strip",
        "rstrip",
        "lstrip",
        "readline",
    }
)
_BUF_NAME = re.compile(r"data|buf|buffer|packet|payload|header|raw|input|chunk|stream|message|msg|version", re.I)


@rule("py.buffer.no-length-check", "CWE-120", severity="medium", confidence=0.5)
def no_length_check(fc: FunctionContext) -> Iterator[Hit]:
    """Raw bytes from a peer parsed or buffered without checking their length first.

    Parsing or accumulating attacker-sized input (headers, protocol banners, commands) without a
    maximum lets one request exhaust memory; in native extensions it overflows fixed buffers.
    Reject input longer than a fixed maximum (``if len(data) > 8192: raise``) before using it.
    """
    if fc.name == "<module>":
        return
    for p in fc.params:
        ann = fc.param_nodes[p].annotation
        ann_text = fc.text(ann) if ann is not None else ""
        if ann_text not in ("bytes", "bytearray") and not (ann_text == "str" and _BUF_NAME.search(p)):
            continue
        if any(
            isinstance(fc.parent(u), ast.Call) and fc.text(fc.parent(u).func) == "len"  # type: ignore[union-attr]
            for u in fc.uses(p)
        ):
            continue
        for u in fc.uses(p):
            par = fc.parent(u)
            if ann_text == "str":
                if (
                    isinstance(par, ast.Call)
                    and fc.call_name(par) in ("re.sub", "re.findall", "re.search", "re.match")
                    and u in par.args[1:]
                ):
                    yield Hit(par, f"'{p}' is processed without a length limit", [p], confidence=0.4)
                    break
            elif isinstance(par, ast.Attribute) and par.attr in BUFFER_OPS:
                yield Hit(par, f"'{p}' is parsed without a length limit", [p])
                break
            elif (
                isinstance(par, ast.Call)
                and isinstance(par.func, ast.Attribute)
                and par.func.attr in ("extend", "append", "write")
                and u in par.args
            ):
                yield Hit(par, f"'{p}' is buffered without a length limit", [p])
                break


_NESTED = re.compile(r"\((?:[^()\\]|\\.)*[+*](?:[^()\\]|\\.)*\)[+*{]")
RE_FUNCS = frozenset(
    {
        "re.match",
        "re.search",
        "re.fullmatch",
        "re.findall",
        "re.finditer",
        "re.sub",
        "re.split",
        "re.compile",
        "regex.match",
        "regex.search",
        "regex.compile",
    }
)


@rule("py.regex.redos", "CWE-1333", severity="medium", confidence=0.6)
def redos(fc: FunctionContext) -> Iterator[Hit]:
    """Regular expression with nested quantifiers, or a pattern taken from untrusted input.

    Patterns like ``(a+)+`` or ``(\\w+\\s?)*$`` backtrack exponentially on crafted input, and a
    user-supplied pattern can be made to. Remove nested quantifiers, bound input length before
    matching, or escape user text with ``re.escape``.
    """
    for call in fc.calls():
        name = fc.call_name(call)
        if name not in RE_FUNCS or not call.args:
            continue
        pat = call.args[0]
        s = const_str(pat) if not isinstance(pat, ast.Name) else fc.module.constant_text(pat)
        if s is not None and _NESTED.search(s):
            subject = arg(call, 1, "string")
            if name.endswith("compile") or subject is None or fc.is_tainted(subject):
                yield Hit(call, f"pattern {s[:40]!r} has nested quantifiers (catastrophic backtracking)")
        elif s is None and fc.is_tainted(pat, "regex"):
            yield Hit(
                call,
                f"{name}() compiles a pattern from untrusted input; use re.escape",
                fc.tainted_params(pat, "regex"),
                confidence=0.55,
            )
