"""Taint tracking over the Python AST: within each function, and through helpers of the same file.

Sources are a function's parameters, attributes of ``self`` that the class does not set to a
constant, and request inputs (flask ``request.args/form/json/...``, django ``request.GET/POST`` and
``self.request``, tornado ``self.get_argument``, ``input()``, ``sys.argv``, ``os.environ``,
``argparse`` results, socket ``recv``). Taint flows through assignments, f-strings, concatenation,
``%``, ``str.format``, ``join``, containers, method calls and ordinary calls; a call to a function
of the same file follows its summary (does its result carry its arguments' taint, or a source's?),
so a helper that quotes or validates its argument cleans it, and one that reads the request taints.
Sanitisers are specific to a sink kind (``html.escape`` cleans for ``html`` but not for ``shell``);
guards such as allowlists (``if x not in ALLOWED: raise``), regex full matches (anchored) and
``isdigit()`` checks clean a name for every kind.

Each function is walked once; the per-name definition list lets a use see the last assignment
above it, so ``x = html.escape(x)`` really does clean ``x`` below that line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

# Attribute names on a ``request`` object that carry user input.
REQUEST_ATTRS = frozenset(
    {
        "args",
        "form",
        "json",
        "values",
        "data",
        "files",
        "cookies",
        "headers",
        "get_json",
        "get_data",
        "GET",
        "POST",
        "body",
        "COOKIES",
        "META",
        "FILES",
        "query_params",
        "query",
        "params",
        "match_info",
        "path_params",
        "stream",
        "view_args",
        "url",
        "full_path",
        "path",
        "referrer",
        "query_string",
        "raw_post_data",
        "content",
        "rel_url",
        "url_vars",
        "environ",
        "PATH_INFO",
        "arguments",
        "body_arguments",
        "query_arguments",
    }
)
SOURCE_CALLS = frozenset(
    {
        "input",
        "raw_input",
        "os.getenv",
        "os.environ.get",
        "sys.stdin.read",
        "sys.stdin.readline",
        "sys.stdin.readlines",
        "fileinput.input",
    }
)
# Methods whose result is input from outside: tornado handlers, argparse/optparse, sockets.
SOURCE_METHODS = frozenset(
    {
        "get_argument",
        "get_arguments",
        "get_query_argument",
        "get_query_arguments",
        "get_body_argument",
        "get_body_arguments",
        "get_cookie",
        "get_secure_cookie",
        "parse_args",
        "parse_known_args",
        "recv",
        "recvfrom",
        "recv_multipart",
    }
)
REQUEST_NAMES = frozenset({"request", "req", "self.request", "flask.request", "bottle.request", "web.input"})
SOURCE_ATTRS = frozenset({"sys.argv", "os.environ", "sys.stdin"})

UNIVERSAL_SANITIZERS = frozenset(
    {
        "int",
        "float",
        "bool",
        "len",
        "abs",
        "round",
        "ord",
        "hash",
        "isinstance",
        "id",
        "callable",
        "uuid.UUID",
        "decimal.Decimal",
        "datetime.fromisoformat",
        "ipaddress.ip_address",
        "hashlib.sha256",
        "hashlib.sha512",
        "hmac.compare_digest",
        "secrets.compare_digest",
    }
)
# String predicates that validate their receiver: a branch on one of them guards the variable.
VALIDATING_PREDICATES = frozenset({"isdigit", "isalnum", "isalpha", "isnumeric", "isdecimal", "isidentifier"})
# Methods whose result carries no attacker-controlled text.
CLEAN_METHODS = VALIDATING_PREDICATES | frozenset(
    {
        "startswith",
        "endswith",
        "isspace",
        "islower",
        "isupper",
        "count",
        "find",
        "rfind",
        "index",
        "rindex",
        "hexdigest",
        "digest",
        "exists",
        "is_file",
        "is_dir",
        "isfile",
        "isdir",
        "__len__",
        "total_seconds",
        "bit_length",
    }
)
KIND_SANITIZERS: dict[str, frozenset[str]] = {
    "html": frozenset(
        {
            "html.escape",
            "cgi.escape",
            "markupsafe.escape",
            "escape",
            "bleach.clean",
            "xml.sax.saxutils.escape",
            "xml.sax.saxutils.quoteattr",
            "saxutils.escape",
            "saxutils.quoteattr",
            "Markup.escape",
            "django.utils.html.escape",
            "conditional_escape",
            "escape_html",
            "html_escape",
            "json.dumps",
            "quoteattr",
            "urllib.parse.quote",
            "quote",
            "urllib.parse.quote_plus",
            "sanitize_html",
            "bleach.linkify",
            "nh3.clean",
        }
    ),
    "shell": frozenset({"shlex.quote", "pipes.quote", "shlex.join", "quote"}),
    "path": frozenset(
        {
            "os.path.basename",
            "secure_filename",
            "werkzeug.utils.secure_filename",
            "pathlib.Path.name",
            "posixpath.basename",
        }
    ),
    "url": frozenset({"urllib.parse.quote", "urllib.parse.quote_plus", "quote", "quote_plus"}),
    "regex": frozenset({"re.escape"}),
    "header": frozenset({"re.sub", "urllib.parse.quote", "quote", "email.header.Header"}),
    "code": frozenset({"ast.literal_eval", "json.loads"}),
    "sql": frozenset(),
    "any": frozenset(),
    "xml": frozenset({"xml.sax.saxutils.escape", "saxutils.escape", "html.escape", "escape"}),
    "ldap": frozenset(
        {"ldap.filter.escape_filter_chars", "escape_filter_chars", "ldap3.utils.conv.escape_filter_chars"}
    ),
}
# Conversions that clean text for every sink but keep a number as large as the attacker wants.
NUMERIC_CONVERSIONS = frozenset({"int", "float", "abs", "round", "decimal.Decimal"})
KIND_SANITIZERS = {**KIND_SANITIZERS, "size": frozenset({"min", "len", "math.log", "math.log2"})}
NEWLINE_STRIP = frozenset({"\n", "\r", "\r\n"})

# Statements after which control never reaches the following code of the block.
_EXITS = (ast.Raise, ast.Return, ast.Continue, ast.Break)


def dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    if isinstance(node, ast.Call):
        inner = dotted(node.func)
        if inner:
            parts.append(inner + "()")
            return ".".join(reversed(parts))
    return None


def base_name(node: ast.AST) -> str | None:
    """The root variable of ``a.b[c].d`` (``a``), if any."""
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call | ast.Starred):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def names_in(node: ast.AST) -> set[str]:
    """Every Name read inside ``node``."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def target_names(target: ast.AST) -> list[str]:
    """Variables bound by an assignment target (tuples unpacked)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        out: list[str] = []
        for elt in target.elts:
            out.extend(target_names(elt))
        return out
    if isinstance(target, ast.Starred):
        return target_names(target.value)
    return []


def const_str(node: ast.AST | None) -> str | None:
    """The string value of a constant (or an f-string's literal parts)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
        v = node.value
        return v.decode("latin-1") if isinstance(v, bytes) else v
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    return None


@dataclass
class ModuleContext:
    """Facts about a module gathered in one walk: imports, string constants, classes."""

    tree: ast.Module
    source: str
    aliases: dict[str, str] = field(default_factory=dict)
    constants: dict[str, ast.AST] = field(default_factory=dict)
    getattr_guard_classes: set[str] = field(default_factory=set)
    lines: list[str] = field(default_factory=list)
    memo: dict[str, Any] = field(default_factory=dict)  # per-module facts rules compute once
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef | None] = field(default_factory=dict)
    self_attrs: dict[str, list[ast.AST]] = field(default_factory=dict)  # "Class.attr" -> values assigned
    method_class: dict[int, str] = field(default_factory=dict)  # id(method node) -> its class's name

    def once(self, key: str, compute: Any) -> Any:
        """``compute()`` the first time ``key`` is asked for, the remembered value after."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]

    @classmethod
    def build(cls, tree: ast.Module, source: str) -> ModuleContext:
        ctx = cls(tree, source, lines=source.splitlines())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        ctx.aliases[a.asname] = a.name
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    ctx.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.FunctionDef) and b.name in ("__getattr__", "__getattribute__") for b in node.body
            ):
                ctx.getattr_guard_classes.add(node.name)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                # a name defined twice is ambiguous: no summary for it
                ctx.functions[node.name] = None if node.name in ctx.functions else node
            elif isinstance(node, ast.ClassDef):
                ctx._class_attrs(node)
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                ctx.constants[stmt.targets[0].id] = stmt.value
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
                ctx.constants[stmt.target.id] = stmt.value
        return ctx

    def _class_attrs(self, cls: ast.ClassDef) -> None:
        for stmt in cls.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                self.method_class[id(stmt)] = cls.name
            if isinstance(stmt, ast.Assign):
                for t in stmt.targets:
                    if isinstance(t, ast.Name):
                        self.self_attrs.setdefault(f"{cls.name}.{t.id}", []).append(stmt.value)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                value = stmt.value if stmt.value is not None else ast.Constant(None)
                self.self_attrs.setdefault(f"{cls.name}.{stmt.target.id}", []).append(value)
        for fn in cls.body:
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for n in ast.walk(fn):
                targets = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, ast.AnnAssign) else []
                for t in targets:
                    if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                        value = getattr(n, "value", None) or ast.Constant(None)
                        self.self_attrs.setdefault(f"{cls.name}.{t.attr}", []).append(value)

    def constant_attr(self, cls: str, attr: str) -> bool:
        """Does class ``cls`` only ever set ``attr`` to literal constants?"""
        values = self.self_attrs.get(f"{cls}.{attr}")
        return bool(values) and all(isinstance(v, ast.Constant) for v in values)

    def summary(self, fn: ast.FunctionDef | ast.AsyncFunctionDef, kind: str) -> tuple[bool, bool]:
        """(result tainted by the arguments, result tainted by a source inside) for helper ``fn``."""
        key = f"summary:{id(fn)}:{kind}"
        if key in self.memo:
            return self.memo[key]  # type: ignore[no-any-return]
        self.memo[key] = (True, False)  # provisional while recursing: a plain pass-through
        if any(isinstance(n, ast.Yield | ast.YieldFrom) for n in ast.walk(fn)):
            return self.memo[key]  # type: ignore[no-any-return]
        with_params = FunctionContext(fn, self)
        returns = [r.value for r in with_params.nodes(ast.Return) if r.value is not None]
        from_args = any(with_params.is_tainted(v, kind) for v in returns)
        without = FunctionContext(fn, self, params_are_sources=False)
        from_sources = any(without.is_tainted(v, kind) for v in without_returns(without))
        self.memo[key] = (from_args, from_sources)
        return from_args, from_sources

    def resolve(self, name: str | None) -> str | None:
        """Expand an import alias at the head of a dotted name."""
        if not name:
            return name
        head, _, rest = name.partition(".")
        full = self.aliases.get(head)
        if full:
            return f"{full}.{rest}" if rest else full
        return name

    def constant_text(self, node: ast.AST) -> str | None:
        """Literal text of a string node or of a module-level string constant it names."""
        s = const_str(node)
        if s is not None:
            return s
        if isinstance(node, ast.Name) and node.id in self.constants:
            return const_str(self.constants[node.id])
        return None


@dataclass
class _Def:
    line: int
    value: ast.AST | None  # None: a source (parameter) definition
    weak: bool = False  # keeps the previous taint (augmented assignment, append, ...)
    loop: ast.AST | None = None


class FunctionContext:
    """One function (or the module's top level): its nodes by type, definitions, guards, taint."""

    def __init__(
        self, node: ast.AST, module: ModuleContext, parent: str | None = None, params_are_sources: bool = True
    ) -> None:
        self.node = node
        self.module = module
        self.name = getattr(node, "name", "<module>")
        self.qualname = f"{parent}.{self.name}" if parent else self.name
        self.cls = module.method_class.get(id(node))
        self.params: list[str] = []
        self.param_nodes: dict[str, ast.arg] = {}
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            a = node.args
            for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
                if arg is not None and arg.arg not in ("self", "cls"):
                    self.params.append(arg.arg)
                    self.param_nodes[arg.arg] = arg
        self.by_type: dict[type, list[ast.AST]] = {}
        self.parents: dict[int, ast.AST] = {}
        self.defs: dict[str, list[_Def]] = {p: [_Def(0, None)] for p in self.params} if params_are_sources else {}
        self.tests: list[ast.AST] = []
        self.loads: dict[str, list[ast.Name]] = {}
        self._walk()
        self._memo: dict[tuple[int, str], bool] = {}
        self._busy: set[tuple[int, str]] = set()
        self.validated: set[str] = self._guards()

    # -- collection -------------------------------------------------------------------------------
    def _walk(self) -> None:
        body = (
            self.node.body
            if isinstance(self.node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef)
            else [self.node.body]
            if isinstance(self.node, ast.Lambda)
            else []
        )
        stack: list[tuple[ast.AST, ast.AST | None, ast.AST | None]] = [(s, self.node, None) for s in reversed(body)]
        by_type = self.by_type
        while stack:
            node, parent, loop = stack.pop()
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                by_type.setdefault(type(node), []).append(node)
                if not isinstance(self.node, ast.Module):
                    self.parents[id(node)] = parent  # nested definitions are analysed on their own
                continue
            self.parents[id(node)] = parent
            by_type.setdefault(type(node), []).append(node)
            self._record(node, loop)
            inner_loop = node if isinstance(node, ast.For | ast.While | ast.AsyncFor) else loop
            children = list(ast.iter_child_nodes(node))
            for child in reversed(children):
                stack.append((child, node, inner_loop))

    def _add_def(self, name: str, d: _Def) -> None:
        self.defs.setdefault(name, []).append(d)

    def _record(self, node: ast.AST, loop: ast.AST | None) -> None:
        if isinstance(node, ast.Assign):
            for t in node.targets:
                self._bind(t, node.value, node.lineno, loop)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self._bind(node.target, node.value, node.lineno, loop)
        elif isinstance(node, ast.AugAssign):
            for n in target_names(node.target) or ([base_name(node.target)] if base_name(node.target) else []):
                self._add_def(n, _Def(node.lineno, node.value, weak=True, loop=loop))
        elif isinstance(node, ast.NamedExpr):
            self._bind(node.target, node.value, node.lineno, loop)
        elif isinstance(node, ast.For | ast.AsyncFor):
            self._bind(node.target, node.iter, node.lineno, node)
        elif isinstance(node, ast.comprehension):
            self._bind(node.target, node.iter, getattr(node.iter, "lineno", 0), node)
            self.tests.extend(node.ifs)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            self._bind(node.optional_vars, node.context_expr, getattr(node.context_expr, "lineno", 0), loop)
        elif isinstance(node, ast.If | ast.While | ast.IfExp | ast.Assert):
            self.tests.append(node.test)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            self.loads.setdefault(node.id, []).append(node)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr
            in (
                "append",
                "extend",
                "update",
                "add",
                "insert",
                "appendleft",
                "write",
                "setdefault",
            )
        ):
            b = base_name(node.func.value)
            if b and node.args:
                value: ast.AST = ast.Tuple(elts=[*node.args, *(k.value for k in node.keywords)], ctx=ast.Load())
                self._add_def(b, _Def(node.lineno, value, weak=True, loop=loop))

    def _bind(self, target: ast.AST, value: ast.AST, line: int, loop: ast.AST | None) -> None:
        if isinstance(target, ast.Name):
            self._add_def(target.id, _Def(line, value, loop=loop))
        elif isinstance(target, ast.Tuple | ast.List):
            if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts):
                for t, v in zip(target.elts, value.elts, strict=True):
                    self._bind(t, v, line, loop)
            else:
                for n in target_names(target):
                    self._add_def(n, _Def(line, value, loop=loop))
        elif isinstance(target, ast.Starred):
            self._bind(target.value, value, line, loop)
        elif isinstance(target, ast.Attribute | ast.Subscript):
            b = base_name(target)
            if b:
                self._add_def(b, _Def(line, value, weak=True, loop=loop))

    # -- helpers ----------------------------------------------------------------------------------
    def nodes(self, *types: type) -> list[Any]:
        """All nodes of the given types in this function (nested definitions excluded)."""
        if len(types) == 1:
            return self.by_type.get(types[0], [])
        out: list[ast.AST] = []
        for t in types:
            out.extend(self.by_type.get(t, []))
        return sorted(out, key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))

    def calls(self) -> list[ast.Call]:
        """Every call in this function."""
        return self.by_type.get(ast.Call, [])  # type: ignore[return-value]

    def call_name(self, call: ast.Call) -> str:
        """Fully-qualified callee name with import aliases resolved (``subprocess.run``)."""
        return self.module.resolve(dotted(call.func)) or ""

    def parent(self, node: ast.AST) -> ast.AST | None:
        return self.parents.get(id(node))

    def ancestors(self, node: ast.AST) -> list[ast.AST]:
        out = []
        p = self.parents.get(id(node))
        while p is not None and p is not self.node:
            out.append(p)
            p = self.parents.get(id(p))
        return out

    def text(self, node: ast.AST) -> str:
        try:
            return ast.unparse(node)
        except Exception:  # pragma: no cover - unparse of odd nodes
            return ""

    def source_text(self) -> str:
        """Source of the whole function (cheap keyword screening)."""
        if not hasattr(self, "_src"):
            lines = self.module.lines
            start = getattr(self.node, "lineno", 1) - 1
            end = getattr(self.node, "end_lineno", len(lines))
            self._src = "\n".join(lines[start:end])
        return self._src

    def uses(self, name: str) -> list[ast.Name]:
        """Loads of ``name`` in this function."""
        return self.loads.get(name, [])

    # -- guards -----------------------------------------------------------------------------------
    def _guards(self) -> set[str]:
        """Names validated by an allowlist, a regex full match or a character-class check."""
        guarded: set[str] = set()
        for test in self.tests:
            for n in ast.walk(test):
                if isinstance(n, ast.Compare):
                    left = n.left
                    for op, right in zip(n.ops, n.comparators, strict=True):
                        if isinstance(op, ast.In | ast.NotIn):
                            if isinstance(right, ast.Constant) and isinstance(right.value, str):
                                # substring test on a literal: "x in 'abc'" checks a character
                                if isinstance(left, ast.Name):
                                    guarded.add(left.id)
                                continue
                            if self._refers_to_params(right) or (dotted(right) or "").startswith("hashlib."):
                                continue  # a caller's own collection, or every algorithm hashlib has
                            if isinstance(left, ast.Name):
                                guarded.add(left.id)
                        elif isinstance(op, ast.Eq) and isinstance(left, ast.Name) and isinstance(right, ast.Constant):
                            guarded.add(left.id)
                        left = right
                elif isinstance(n, ast.Call):
                    name = self.call_name(n)
                    if name in ("re.match", "re.fullmatch", "regex.match", "regex.fullmatch") and len(n.args) >= 2:
                        b = base_name(n.args[1])
                        if b and (name.endswith("fullmatch") or self._anchored(n.args[0])):
                            guarded.add(b)
                    elif isinstance(n.func, ast.Attribute) and n.func.attr in ("match", "fullmatch") and n.args:
                        b = base_name(n.args[0])
                        if b and (n.func.attr == "fullmatch" or self._anchored(n.func.value)):
                            guarded.add(b)
                    elif isinstance(n.func, ast.Attribute) and n.func.attr in VALIDATING_PREDICATES:
                        b = base_name(n.func.value)
                        if b:
                            guarded.add(b)
        # a loop/comprehension variable that is checked validates the collection it walks
        changed = True
        while changed:
            changed = False
            for name in list(guarded):
                for d in self.defs.get(name, []):
                    if isinstance(d.loop, ast.For | ast.comprehension) and d.value is getattr(d.loop, "iter", None):
                        b = base_name(d.value) if d.value is not None else None
                        if b and b not in guarded:
                            guarded.add(b)
                            changed = True
        return guarded

    def _anchored(self, pattern: ast.AST) -> bool:
        """Does a ``match`` pattern reach the end of the text (``$``/``\\Z``)? A pattern that only
        matches a prefix lets ``"abc; rm -rf /"`` through ``re.match(r"[a-z]+", x)``. Unknown
        patterns get the benefit of the doubt."""
        node: ast.AST | None = pattern
        if isinstance(node, ast.Name):
            defs = [d.value for d in self.defs.get(node.id, []) if d.value is not None]
            node = defs[-1] if defs else self.module.constants.get(node.id)
        if isinstance(node, ast.Call) and (dotted(node.func) or "").endswith("compile") and node.args:
            node = node.args[0]
        text = const_str(node) if node is not None else None
        if text is None:
            return True
        return text.rstrip().endswith(("$", "\\Z", "$)", "\\Z)"))

    def _refers_to_params(self, node: ast.AST) -> bool:
        return any(n in self.params for n in names_in(node))

    # -- taint ------------------------------------------------------------------------------------
    def is_source(self, node: ast.AST) -> bool:
        """A direct read of request input, argv, environment or stdin."""
        if isinstance(node, ast.Call):
            name = self.call_name(node)
            if name in SOURCE_CALLS:
                return True
            if isinstance(node.func, ast.Attribute):
                if node.func.attr in ("get_json", "get_data", "post", "json", "text", "read", "form"):
                    return dotted(node.func.value) in REQUEST_NAMES
                if node.func.attr in SOURCE_METHODS:
                    return True
            return False
        if isinstance(node, ast.Attribute):
            d = self.module.resolve(dotted(node))
            if d in SOURCE_ATTRS:
                return True
            if node.attr in REQUEST_ATTRS and dotted(node.value) in REQUEST_NAMES:
                return True
            if node.attr in ("kwargs", "args") and dotted(node.value) == "self" and self.cls:
                return True  # class-based views: URL arguments
        return False

    def is_tainted(self, node: ast.AST | None, kind: str = "any") -> bool:
        """Does attacker-controlled data reach the value of ``node`` (for a sink of ``kind``)?"""
        if node is None:
            return False
        if isinstance(node, ast.Name):
            return self._name_tainted(node.id, getattr(node, "lineno", 10**9), kind)
        if isinstance(node, ast.Constant | ast.Lambda | ast.Compare):
            return False
        if isinstance(node, ast.Call):
            return self._call_tainted(node, kind)
        if isinstance(node, ast.Attribute):
            if self.is_source(node):
                return True
            if isinstance(node.value, ast.Name) and node.value.id == "self" and self.cls is not None:
                return not self.module.constant_attr(self.cls, node.attr)
            return self.is_tainted(node.value, kind)
        if isinstance(node, ast.Subscript):
            return self.is_source(node.value) or self.is_tainted(node.value, kind)
        if isinstance(node, ast.BinOp):
            return self.is_tainted(node.left, kind) or self.is_tainted(node.right, kind)
        if isinstance(node, ast.UnaryOp):
            return not isinstance(node.op, ast.Not) and self.is_tainted(node.operand, kind)
        if isinstance(node, ast.BoolOp):
            return any(self.is_tainted(v, kind) for v in node.values)
        if isinstance(node, ast.IfExp):
            return self.is_tainted(node.body, kind) or self.is_tainted(node.orelse, kind)
        if isinstance(node, ast.JoinedStr):
            return any(self.is_tainted(v, kind) for v in node.values)
        if isinstance(node, ast.FormattedValue):
            return self.is_tainted(node.value, kind)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return any(self.is_tainted(e, kind) for e in node.elts)
        if isinstance(node, ast.Dict):
            return any(self.is_tainted(v, kind) for v in node.values)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp):
            return self.is_tainted(node.elt, kind)
        if isinstance(node, ast.DictComp):
            return self.is_tainted(node.value, kind)
        if isinstance(node, ast.Starred | ast.Await | ast.NamedExpr):
            return self.is_tainted(node.value, kind)
        return False

    def _call_tainted(self, node: ast.Call, kind: str) -> bool:
        if self.is_source(node):
            return True
        name = self.call_name(node)
        short = name.rsplit(".", 1)[-1]
        if (name in UNIVERSAL_SANITIZERS and not (kind == "size" and name in NUMERIC_CONVERSIONS)) or name in (
            KIND_SANITIZERS.get(kind, ())
        ):
            return False
        if kind in ("html", "xml") and short in ("escape", "quoteattr", "clean"):
            return False
        if kind == "path" and short in ("basename", "secure_filename"):
            return False
        if kind == "header" and short == "replace" and node.args and const_str(node.args[0]) in NEWLINE_STRIP:
            return False
        helper = self._helper(node)
        if helper is not None:
            from_args, from_sources = self.module.summary(helper, kind)
            if from_sources:
                return True
            if not from_args:
                return False  # the helper cleans (quotes, validates, converts) or ignores its arguments
        if isinstance(node.func, ast.Attribute):
            if node.func.attr in CLEAN_METHODS:
                return False
            if self.is_tainted(node.func.value, kind):
                return True
        elif isinstance(node.func, ast.Name) and node.func.id in self.module.getattr_guard_classes:
            return False
        return any(self.is_tainted(a, kind) for a in node.args) or any(
            self.is_tainted(k.value, kind) for k in node.keywords
        )

    def _helper(self, node: ast.Call) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The function of this file that ``node`` calls (``helper(x)`` or ``self.helper(x)``), if any."""
        f = node.func
        if isinstance(f, ast.Name) and f.id not in self.module.aliases:
            fn = self.module.functions.get(f.id)
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in ("self", "cls"):
            fn = self.module.functions.get(f.attr)
        else:
            return None
        return fn if fn is not None and fn is not self.node else None

    def _name_tainted(self, name: str, line: int, kind: str) -> bool:
        if name in self.validated:
            return False
        defs = self.defs.get(name)
        if not defs:
            return False
        before = [d for d in defs if d.line < line]
        if not before:
            before = defs  # loop-carried
        # the last strong definition above the use, plus weak ones after it
        chosen: list[_Def] = []
        for d in reversed(before):
            chosen.append(d)
            if not d.weak:
                break
        # definitions inside a loop enclosing the use may flow around the back edge
        chosen.extend(d for d in defs if d.line >= line and d.loop is not None and d.weak)
        return any(self._def_tainted(d, kind) for d in chosen)

    def _def_tainted(self, d: _Def, kind: str) -> bool:
        if d.value is None:
            return True
        key = (id(d), kind)
        if key in self._memo:
            return self._memo[key]
        if key in self._busy:
            return False
        self._busy.add(key)
        try:
            result = self.is_tainted(d.value, kind)
        finally:
            self._busy.discard(key)
        self._memo[key] = result
        return result

    def tainted_params(self, node: ast.AST, kind: str = "any") -> list[str]:
        """Parameters whose data may reach ``node`` (approximate: by name dependency)."""
        seen: set[str] = set()
        out: list[str] = []
        todo = list(names_in(node))
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            if n in self.params and n not in self.validated:
                out.append(n)
            for d in self.defs.get(n, []):
                if d.value is not None:
                    todo.extend(names_in(d.value))
        return sorted(out)

    def exits(self, stmts: list[ast.stmt]) -> bool:
        """Does this block end by raising, returning or leaving the loop?"""
        return any(isinstance(s, _EXITS) for s in stmts)


def without_returns(fc: FunctionContext) -> list[ast.AST]:
    """The values ``fc``'s function returns."""
    return [r.value for r in fc.nodes(ast.Return) if r.value is not None]


def iter_functions(module: ModuleContext) -> list[FunctionContext]:
    """The module's top level and every function/method/lambda-free definition inside it."""
    out = [FunctionContext(module.tree, module)]
    stack: list[tuple[ast.AST, str | None]] = [(module.tree, None)]
    while stack:
        node, prefix = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                fc = FunctionContext(child, module, prefix)
                out.append(fc)
                stack.append((child, fc.qualname))
            elif isinstance(child, ast.ClassDef):
                stack.append((child, f"{prefix}.{child.name}" if prefix else child.name))
            elif not isinstance(child, ast.expr):
                stack.append((child, prefix))
    return out
