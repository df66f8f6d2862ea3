"""Resource exhaustion: unbounded reads and loops (CWE-400/770), missing length checks on raw
buffers (CWE-120), regular-expression denial of service (CWE-1333)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from bluecodeagent.code.static.base import rule
from bluecodeagent.code.static.python.regex_shape import catastrophic
from bluecodeagent.code.static.python.rules.common import Hit, arg, kwarg, literal_text
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


def _length_bounded(fc: FunctionContext, subject: ast.AST) -> bool:
    """Is ``len(subject)`` compared with a bound somewhere in a condition of the function?"""
    name = base_name(subject)
    for t in fc.tests:
        for n in ast.walk(t):
            if isinstance(n, ast.Compare) and any(isinstance(o, ast.Gt | ast.GtE | ast.Lt | ast.LtE) for o in n.ops):
                for side in (n.left, *n.comparators):
                    if (
                        isinstance(side, ast.Call)
                        and isinstance(side.func, ast.Name)
                        and side.func.id == "len"
                        and side.args
                        and base_name(side.args[0]) == name
                    ):
                        return True
    return False


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
        if s is None and isinstance(pat, ast.Name | ast.BinOp):
            s = literal_text(fc, pat) or None
        why = (catastrophic(s) or ("nested quantifiers" if _NESTED.search(s) else None)) if s is not None else None
        if why:
            subject = arg(call, 1, "string")
            if subject is not None and _length_bounded(fc, subject):
                continue
            if name.endswith("compile") or subject is None or fc.is_tainted(subject):
                yield Hit(call, f"pattern {s[:40]!r} has {why} (catastrophic backtracking)")
        elif s is None and fc.is_tainted(pat, "regex"):
            yield Hit(
                call,
                f"{name}() compiles a pattern from untrusted input; use re.escape",
                fc.tainted_params(pat, "regex"),
                confidence=0.55,
            )


ALLOCATORS = frozenset(
    {
        "bytearray",
        "bytes",
        "os.urandom",
        "secrets.token_bytes",
        "secrets.token_hex",
        "numpy.zeros",
        "numpy.ones",
        "numpy.empty",
        "numpy.full",
        "np.zeros",
        "np.ones",
        "np.empty",
        "np.full",
        "itertools.repeat",
        "array.array",
        "mmap.mmap",
    }
)
SIZED_READS = frozenset({"read", "recv", "recv_into", "readinto", "read1", "readline", "truncate", "seek"})


def bounded(fc: FunctionContext, node: ast.AST) -> bool:
    """Is a name that ``node`` depends on compared with ``<``/``>`` (or clamped) in the function?"""
    deps = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    for name in list(deps):
        for d in fc.defs.get(name, []):
            if d.value is not None:
                deps |= {n.id for n in ast.walk(d.value) if isinstance(n, ast.Name)}
    for t in fc.tests:
        for n in ast.walk(t):
            if (
                isinstance(n, ast.Compare)
                and any(isinstance(o, ast.Gt | ast.GtE | ast.Lt | ast.LtE) for o in n.ops)
                and {x.id for x in ast.walk(n) if isinstance(x, ast.Name)} & deps
            ):
                return True
    return False


def _size_sinks(fc: FunctionContext) -> Iterator[tuple[ast.AST, ast.AST, str]]:
    """(node, size expression, what) for every allocation or read sized by an expression."""
    for call in fc.calls():
        name = fc.call_name(call)
        if name in ALLOCATORS and call.args and not isinstance(call.args[0], ast.Constant):
            first = call.args[1] if name == "itertools.repeat" and len(call.args) > 1 else call.args[0]
            if name in ("bytes", "bytearray") and not _numeric(fc, first):
                continue  # bytes(data) copies data; only bytes(n) allocates n
            yield call, first, f"{name}()"
        elif isinstance(call.func, ast.Attribute) and call.func.attr in ("recv", "read") and call.args:
            if call.func.attr == "read" and not _stream_like(fc, call.func.value):
                continue
            yield call, call.args[0], f".{call.func.attr}()"
    for node in fc.nodes(ast.BinOp):
        if isinstance(node.op, ast.Mult):
            for seq, count in ((node.left, node.right), (node.right, node.left)):
                if isinstance(seq, ast.List | ast.Constant) and not (
                    isinstance(seq, ast.Constant) and isinstance(seq.value, int | float)
                ):
                    yield node, count, "repetition"


def _numeric(fc: FunctionContext, node: ast.AST) -> bool:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("int", "len"):
        return True
    if isinstance(node, ast.BinOp):
        return True
    if isinstance(node, ast.Name):
        if node.id in fc.param_nodes:
            ann = fc.param_nodes[node.id].annotation
            return ann is not None and fc.text(ann) in ("int", "float")
        return any(d.value is not None and _numeric(fc, d.value) for d in fc.defs.get(node.id, []))
    return False


def _stream_like(fc: FunctionContext, node: ast.AST) -> bool:
    return bool(
        re.search(r"sock|conn|stream|request|rfile|file|fp|fh|body|wsgi|input|client|upload", fc.text(node), re.I)
    )


@rule("py.dos.size-from-input", "CWE-770", severity="medium", confidence=0.55)
def size_from_input(fc: FunctionContext) -> Iterator[Hit]:
    """Memory allocated or read in an amount the input chooses, with no upper bound.

    ``bytearray(n)``, ``b"\\0" * n``, ``[None] * n``, ``sock.recv(n)`` or ``stream.read(n)`` with ``n``
    from a request, a header or a length field lets one message ask for gigabytes. ``int()`` does not
    help: it keeps the number. Clamp or reject first (``if n > MAX_ITEMS: raise``, ``min(n, MAX)``).
    """
    if fc.name == "<module>":
        return
    for node, size, what in _size_sinks(fc):
        if isinstance(size, ast.Constant) or not fc.is_tainted(size, "size") or bounded(fc, size):
            continue
        if (
            what == "repetition"
            and not _numeric(fc, size)
            and not (isinstance(size, ast.Name) and size.id in fc.params)
        ):
            continue
        yield Hit(node, f"{what} sized by untrusted input without an upper bound", fc.tainted_params(size, "size"))


DECOMPRESSORS = frozenset(
    {"zlib.decompress", "gzip.decompress", "bz2.decompress", "lzma.decompress", "zlib.decompressobj().decompress"}
)


@rule("py.dos.decompression-bomb", "CWE-409", severity="medium", confidence=0.55)
def decompression_bomb(fc: FunctionContext) -> Iterator[Hit]:
    """Untrusted compressed data inflated in one call, with no limit on the output size.

    A few kilobytes of zlib/gzip/bz2/lzma input can inflate to gigabytes. Decompress in chunks with
    ``zlib.decompressobj().decompress(data, max_length)`` and stop once a maximum is reached.
    """
    for call in fc.calls():
        name = fc.call_name(call)
        if name in DECOMPRESSORS and call.args and fc.is_tainted(call.args[0]) and not bounded(fc, call.args[0]):
            limited = "obj" in name and (kwarg(call, "max_length") is not None or len(call.args) >= 2)
            if not limited:  # the one-shot functions have no output limit at all
                yield Hit(call, f"{name}() inflates untrusted data without an output limit", fc.tainted_params(call))
