"""Does the code under test try to reach, sense or tamper with the harness that tests it?

Dynamic testing is only worth something if the code under test cannot choose its own verdict.
Everything a subject could use to do so needs one of a few capabilities; :func:`screen` finds them
in the source (and the harness runtime screens every string the subject compiles at run time):

- ``tamper`` (itself a finding; no finding of the file is ever refuted): names of harness files,
  markers or channels; frame, closure and code-object introspection; ``gc`` walks; trace, profile and
  audit hooks; ``ctypes``; raw I/O on descriptor numbers it did not open; iterating or rewriting
  ``sys.modules``; patching attributes of imported modules or builtins; ``__main__``; hard exits at
  import.
- ``sensing`` (no finding is refuted, with the reason noted): questions whose answers differ
  inside the sandbox (uid, user, host name, ``/proc``, files in the working directory, network at
  import), leaving at import, and code built from strings at import.

This module is stdlib-only: its source is also shipped into the sandbox with the runtime.
"""

from __future__ import annotations

import ast
import re

Signal = dict  # {"kind": "tamper" | "sensing", "line": int, "what": str, "rule": str}

HARNESS_NAMES = re.compile(
    r"_bc_runtime|_bc_worker|@@BC|BC-RESULT|BC-LLMTEST|BC-CANARY|bc_canary|bc_marker|_sandbox_main|"
    r"llm_test\.py|bc-attacker|_BC\b|bc_report",
    re.IGNORECASE,
)
# Attributes that hand out frames, closures, code or globals: the way into a harness's state.
INTROSPECTION_ATTRS = frozenset(
    {"f_back", "f_globals", "f_locals", "f_builtins", "tb_frame", "gi_frame", "cr_frame", "ag_frame",
     "__closure__", "cell_contents", "__globals__", "__code__", "__kwdefaults__", "__defaults__"}
)  # fmt: skip
# Of those, the ones no legitimate string (an eval blocklist, say) would name.
INTROSPECTION_STRINGS = frozenset(
    {"f_back", "f_globals", "f_locals", "tb_frame", "gi_frame", "cr_frame", "cell_contents", "__closure__"}
)
TAMPER_CALLS = {
    "sys._getframe": "reads interpreter frames",
    "sys._current_frames": "reads other threads' frames",
    "sys.settrace": "installs a trace hook",
    "sys.setprofile": "installs a profile hook",
    "sys.addaudithook": "installs an audit hook",
    "threading.settrace": "installs a trace hook",
    "threading.setprofile": "installs a profile hook",
    "inspect.currentframe": "reads interpreter frames",
    "inspect.stack": "reads interpreter frames",
    "inspect.trace": "reads interpreter frames",
    "inspect.getouterframes": "reads interpreter frames",
    "traceback.walk_stack": "reads interpreter frames",
    "gc.get_objects": "walks every live object",
    "gc.get_referrers": "walks object references",
    "gc.get_referents": "walks object references",
}
SENSING_CALLS = {
    "os.getuid": "reads its uid", "os.geteuid": "reads its uid", "os.getgid": "reads its gid",
    "os.getegid": "reads its gid", "os.getresuid": "reads its uid", "os.getlogin": "reads its user",
    "pwd.getpwuid": "reads its user", "getpass.getuser": "reads its user", "os.getppid": "reads its parent",
    "socket.gethostname": "reads the host name", "socket.getfqdn": "reads the host name",
    "platform.node": "reads the host name", "platform.uname": "reads the host name", "os.uname": "reads the host name",
}  # fmt: skip
RAW_FD_CALLS = frozenset(
    {"os.write", "os.read", "os.pwrite", "os.pread", "os.writev", "os.readv", "os.sendfile", "os.dup", "os.dup2",
     "os.fdopen", "os.close", "os.closerange", "os.set_inheritable", "os.set_blocking", "os.lseek", "os.fstat",
     "io.open", "io.FileIO", "open", "socket.fromfd", "posix.write", "posix.read", "posix.dup2", "os.splice"}
)  # fmt: skip
EXIT_HARD = frozenset({"os._exit", "os.abort", "os.kill", "os.killpg", "signal.raise_signal", "signal.pthread_kill"})
EXIT_SOFT = frozenset({"sys.exit", "exit", "quit"})
AT_IMPORT = frozenset(
    {"socket.socket", "socket.create_connection", "urllib.request.urlopen", "requests.get", "requests.head",
     "os.listdir", "os.scandir", "os.walk", "glob.glob", "os.path.exists", "os.path.isfile", "os.path.isdir",
     "os.access", "os.stat", "exec", "eval", "compile", "__import__", "importlib.import_module"}
)  # fmt: skip
SENSING_STRINGS = re.compile(r"^/proc(/|$)|/\.dockerenv|^/sys/|bwrap|bubblewrap|\bsandbox\b|^/work\b", re.IGNORECASE)
FD_PATHS = re.compile(r"^/proc/[^/]+/(fd|mem|environ|cmdline)|^/dev/fd/|^/proc/self")


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str:
    """``a.b.c`` for a chain of names and attributes, with import aliases resolved ('' otherwise)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def _aliases(tree: ast.AST) -> tuple[dict[str, str], set[str]]:
    """Import aliases (local name -> dotted module or object) and the names bound to modules."""
    aliases: dict[str, str] = {}
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                local = a.asname or a.name.split(".")[0]
                aliases[local] = a.name if a.asname else a.name.split(".")[0]
                modules.add(local)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases, modules


def _module_level(tree: ast.Module) -> set[int]:
    """ids of nodes that run at import (outside functions, classes bodies' methods and the main guard)."""
    out: set[int] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return
        if isinstance(node, ast.If) and _main_guard(node):
            return
        out.add(id(node))
        for child in ast.iter_child_nodes(node):
            visit(child)

    for stmt in tree.body:
        visit(stmt)
    return out


def _main_guard(node: ast.If) -> bool:
    t = node.test
    return isinstance(t, ast.Compare) and isinstance(t.left, ast.Name) and t.left.id == "__name__"


def _int_names(tree: ast.AST) -> set[str]:
    """Names bound to int constants or looped over a range (descriptor numbers it did not open)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and type(node.value.value) is int:
            out |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.For, ast.comprehension)):
            it = node.iter
            over_range = isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
            over_ints = isinstance(it, (ast.List, ast.Tuple, ast.Set)) and all(
                isinstance(e, ast.Constant) and type(e.value) is int for e in it.elts
            )
            if over_range or over_ints:
                out |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    return out


def _is_fd_number(node: ast.AST | None, ints: set[str]) -> bool:
    if isinstance(node, ast.Constant):
        return type(node.value) is int
    if isinstance(node, ast.Name):
        return node.id in ints
    if isinstance(node, ast.BinOp):
        return _is_fd_number(node.left, ints) or _is_fd_number(node.right, ints)
    if isinstance(node, ast.Call):  # sys.stdout.fileno() and friends: somebody else's descriptor
        f = node.func
        return isinstance(f, ast.Attribute) and f.attr == "fileno"
    return False


def screen(source: str | bytes) -> list[Signal]:
    """Every harness-tampering or sandbox-sensing construct in ``source`` (empty if it does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        return []
    aliases, modules = _aliases(tree)
    at_import = _module_level(tree)
    ints = _int_names(tree)
    found: list[Signal] = []

    def add(kind: str, node: ast.AST, what: str, rule: str = "") -> None:
        found.append({"kind": kind, "line": getattr(node, "lineno", 0), "what": what, "rule": rule})

    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if HARNESS_NAMES.search(text):
                add("tamper", node, f"names a harness file or marker ({text[:60]!r})", "harness-name")
            elif FD_PATHS.search(text):
                add("tamper", node, f"opens process internals ({text[:60]!r})")
            elif text in INTROSPECTION_STRINGS:
                add("tamper", node, f"names the introspection attribute {text}")
            elif SENSING_STRINGS.search(text):
                add("sensing", node, f"looks for signs of a sandbox ({text[:60]!r})")
        elif isinstance(node, ast.Name) and HARNESS_NAMES.search(node.id):
            add("tamper", node, f"uses the harness name {node.id}")
        elif isinstance(node, ast.Attribute):
            if node.attr in INTROSPECTION_ATTRS:
                add("tamper", node, f"reads .{node.attr} (frame/closure/code introspection)")
            elif node.attr in ("__stdout__", "__stderr__"):
                add("sensing", node, f"writes around the redirected stream (sys.{node.attr})")
            elif HARNESS_NAMES.search(node.attr):
                add("tamper", node, f"uses the harness name {node.attr}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            )
            for n in names:
                top = (n or "").split(".")[0]
                if top in ("ctypes", "_ctypes", "cffi"):
                    add("tamper", node, f"imports {top} (raw memory access)")
                elif top == "__main__":
                    add("tamper", node, "imports __main__ (the harness's module)")
                elif top in ("gc",) and isinstance(node, ast.ImportFrom):
                    add("tamper", node, "imports from gc")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for t in targets:
                _check_target(t, aliases, modules, add)
        elif isinstance(node, (ast.For, ast.comprehension)):
            if "sys.modules" in _dotted_any(node.iter, aliases):
                add("tamper", node, "walks sys.modules")
        elif isinstance(node, ast.Raise) and id(node) in at_import:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id == "SystemExit":
                add("sensing", node, "leaves the process at import (raise SystemExit)")
        if isinstance(node, ast.Call):
            _check_call(node, aliases, modules, ints, id(node) in at_import, add)
        if isinstance(node, ast.Subscript) and _dotted(node.value, aliases) == "sys.modules":
            if isinstance(node.slice, ast.Constant) and node.slice.value == "__main__":
                add("tamper", node, "reaches __main__ through sys.modules")
            elif isinstance(node.ctx, ast.Load):
                add("sensing", node, "looks modules up in sys.modules")
    seen: set[tuple[str, int, str]] = set()
    out = []
    for s in found:
        key = (s["kind"], s["line"], s["what"])
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _dotted_any(node: ast.AST, aliases: dict[str, str]) -> str:
    """The dotted names anywhere in ``node`` (for 'is sys.modules in this expression')."""
    return " ".join(_dotted(n, aliases) for n in ast.walk(node) if isinstance(n, (ast.Attribute, ast.Name)))


def _check_target(t: ast.AST, aliases: dict[str, str], modules: set[str], add: object) -> None:
    base = t.value if isinstance(t, (ast.Attribute, ast.Subscript)) else None
    if base is None:
        return
    dotted = _dotted(base, aliases)
    if isinstance(t, ast.Subscript) and dotted in ("sys.modules", "__builtins__", "builtins.__dict__"):
        add("tamper", t, f"rewrites {dotted}")  # type: ignore[operator]
    elif isinstance(t, ast.Attribute):
        root = base
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and (root.id in modules or root.id == "__builtins__"):
            add("tamper", t, f"patches the loaded module attribute {dotted}.{t.attr}")  # type: ignore[operator]
        elif (
            isinstance(root, ast.Name)
            and root.id in aliases
            and aliases[root.id].count(".")
            and isinstance(t.value, ast.Name)
        ):
            # `from os import path; path.exists = ...` patches a module imported by name
            add("tamper", t, f"patches the loaded module attribute {dotted}.{t.attr}")  # type: ignore[operator]


def _check_call(
    node: ast.Call, aliases: dict[str, str], modules: set[str], ints: set[str], at_import: bool, add: object
) -> None:
    name = _dotted(node.func, aliases)
    emit = add  # for the type checker: a callable
    if name in TAMPER_CALLS:
        emit("tamper", node, f"{name}: {TAMPER_CALLS[name]}")  # type: ignore[operator]
    elif name in SENSING_CALLS:
        emit("sensing", node, f"{name}: {SENSING_CALLS[name]}")  # type: ignore[operator]
    elif name in RAW_FD_CALLS and node.args and _is_fd_number(node.args[0], ints):
        emit("tamper", node, f"{name} on a descriptor number it did not open")  # type: ignore[operator]
    elif name == "socket.socket" and any(k.arg == "fileno" for k in node.keywords):
        emit("tamper", node, "socket.socket(fileno=...) on a descriptor it did not open")  # type: ignore[operator]
    elif name in ("setattr", "delattr") and node.args:
        target = node.args[0]
        root = target
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and (root.id in modules or root.id in ("__builtins__", "builtins")):
            emit("tamper", node, f"{name} on the loaded module {_dotted(target, aliases)}")  # type: ignore[operator]
        if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and node.args[1].value in INTROSPECTION_ATTRS:
            emit("tamper", node, f"{name} of {node.args[1].value}")  # type: ignore[operator]
    elif name == "getattr" and len(node.args) > 1:
        attr = node.args[1]
        if isinstance(attr, ast.Constant) and attr.value in INTROSPECTION_ATTRS:
            emit("tamper", node, f"getattr of {attr.value} (introspection)")  # type: ignore[operator]
    elif name in ("vars", "globals") or (isinstance(node.func, ast.Attribute) and node.func.attr == "update"):
        inner = node.func.value if isinstance(node.func, ast.Attribute) else None
        if isinstance(inner, ast.Call) and _dotted(inner.func, aliases) == "vars" and inner.args:
            arg = inner.args[0]
            if isinstance(arg, ast.Name) and arg.id in modules:
                emit("tamper", node, f"rewrites the namespace of the loaded module {arg.id}")  # type: ignore[operator]
    walks = ("values", "items", "keys", "copy", "pop", "clear")
    if (
        isinstance(node.func, ast.Attribute)
        and node.func.attr in walks
        and _dotted(node.func.value, aliases) == "sys.modules"
    ):
        kind = "tamper" if node.func.attr in ("pop", "clear", "values", "items") else "sensing"
        emit(kind, node, f"sys.modules.{node.func.attr}()")  # type: ignore[operator]
    if name in EXIT_HARD and at_import:
        emit("tamper", node, f"{name} at import (leaves or signals the harness)")  # type: ignore[operator]
    elif name in ("os.kill", "os.killpg") and node.args:
        pid = node.args[0]
        if isinstance(pid, ast.Call) and _dotted(pid.func, aliases) in ("os.getppid", "os.getpid"):
            emit("tamper", node, f"{name} of its own or its parent process")  # type: ignore[operator]
    elif name in EXIT_SOFT and at_import:
        emit("sensing", node, f"{name}() at import (leaves before it can be tested)")  # type: ignore[operator]
    elif name in AT_IMPORT and at_import:
        emit("sensing", node, f"{name} at import")  # type: ignore[operator]


def summary(signals: list[Signal], kind: str | None = None, limit: int = 3) -> str:
    """A one-line description of the first few signals (of ``kind``)."""
    chosen = [s for s in signals if kind is None or s["kind"] == kind]
    text = "; ".join(f"line {s['line']}: {s['what']}" for s in chosen[:limit])
    return text + (f" (+{len(chosen) - limit} more)" if len(chosen) > limit else "")
