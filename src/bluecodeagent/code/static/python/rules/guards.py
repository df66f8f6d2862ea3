"""Checks that hold across CWEs: a guard that exists but does not guard.

An allowlist, limit or role table declared and never read; a validator that never rejects; a
check whose result is thrown away. Each finding names the CWE the missing guard would have
prevented, guessed from the guard's name (``ALLOWED_HOSTS`` -> SSRF, ``MAX_UPLOAD_BYTES`` ->
unbounded allocation), CWE-20 when the name says nothing more.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from bluecodeagent.code.static.base import rule
from bluecodeagent.code.static.python.rules.common import Hit
from bluecodeagent.code.static.python.taint import FunctionContext, dotted

_WORD_SPLIT = re.compile(r"[_\W]+|(?<=[a-z0-9])(?=[A-Z])")
ALLOW_WORDS = frozenset(
    "allowed allow allowlist allowlisted whitelist whitelisted permitted trusted approved valid safe accepted "
    "acceptable supported authorized authorised known legal blocked blocklist blacklist denylist denied "
    "forbidden banned disallowed restricted reserved internal private dangerous unsafe".split()
)
LIMIT_WORDS = frozenset("max maximum limit limits cap quota threshold ceiling budget".split())
ROLE_WORDS = frozenset("role roles permission permissions privilege privileges acl acls scopes grants".split())
# guard topic word -> the weakness a missing guard of that topic lets through
TOPIC_CWE: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset("redirect redirects callback return next".split()), "CWE-601"),
    (
        frozenset(
            "host hosts domain domains url urls endpoint endpoints scheme schemes ip ips netloc origin "
            "origins network networks address addresses api apis service services port ports".split()
        ),
        "CWE-918",
    ),
    (
        frozenset(
            "command commands cmd cmds program programs binary binaries executable executables shell tool tools".split()
        ),
        "CWE-78",
    ),
    (
        frozenset(
            "path paths dir dirs directory directories folder folders extension extensions ext exts "
            "file files filename filenames root roots mount".split()
        ),
        "CWE-22",
    ),
    (
        frozenset(
            "format formats serializer serializers serialization deserialization pickle type types "
            "loader loaders class classes".split()
        ),
        "CWE-502",
    ),
    (frozenset("tag tags html element elements markup attribute attributes css".split()), "CWE-79"),
    (frozenset("table tables column columns sql query queries order sort".split()), "CWE-89"),
    (frozenset("field fields key keys property properties".split()), "CWE-915"),
    (frozenset("xml entity entities dtd".split()), "CWE-611"),
    (
        frozenset(
            "module modules import imports builtin builtins function functions operator operators "
            "expression expressions node nodes name names".split()
        ),
        "CWE-94",
    ),
    (frozenset("algorithm algorithms hash hashes cipher ciphers digest digests".split()), "CWE-327"),
    (
        frozenset(
            "size sizes length len bytes byte count items depth entries length rate requests attempts "
            "upload uploads payload body content recursion iterations elements memory chars".split()
        ),
        "CWE-770",
    ),
    (frozenset("pattern patterns regex regexp".split()), "CWE-20"),
)


def words(name: str) -> list[str]:
    """``"ALLOWED_API_Hosts"`` -> ``["allowed", "api", "hosts"]``."""
    return [w.lower() for w in _WORD_SPLIT.split(name) if w]


def guard_kind(name: str) -> str | None:
    """``allowlist``, ``limit`` or ``role`` when the name declares such a guard."""
    ws = set(words(name))
    if ws & LIMIT_WORDS:
        return "limit"
    if ws & ALLOW_WORDS:
        return "allowlist"
    if ws & ROLE_WORDS:
        return "role"
    return None


def guard_cwe(name: str, kind: str) -> str:
    """The CWE a missing guard called ``name`` lets through."""
    ws = set(words(name))
    for topic, cwe in TOPIC_CWE:
        if ws & topic:
            if kind == "limit" and cwe not in ("CWE-770", "CWE-20"):
                return "CWE-770"  # a limit on commands/paths/... still bounds an amount
            return cwe
    return {"limit": "CWE-770", "role": "CWE-863"}.get(kind, "CWE-20")


def _guard_value(node: ast.AST, kind: str) -> bool:
    """Does the assigned value look like a guard's data (a collection, a number, a pattern)?"""
    if isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict | ast.ListComp | ast.SetComp | ast.DictComp):
        return True
    if isinstance(node, ast.Constant):
        return (kind == "limit" and isinstance(node.value, int | float) and not isinstance(node.value, bool)) or (
            isinstance(node.value, str) and kind == "allowlist"
        )
    if isinstance(node, ast.BinOp):  # 10 * 1024 * 1024
        return kind == "limit" and all(
            isinstance(n, ast.Constant | ast.BinOp | ast.Name) for n in ast.walk(node) if isinstance(n, ast.expr)
        )
    if isinstance(node, ast.Call):
        callee = dotted(node.func) or ""
        return callee in ("set", "frozenset", "tuple", "list", "dict", "re.compile", "MappingProxyType")
    return False


def _functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    out: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []
    stack: list[tuple[ast.AST, str | None]] = [(tree, None)]
    while stack:
        node, prefix = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                q = f"{prefix}.{child.name}" if prefix else child.name
                out.append((q, child))
                stack.append((child, q))
            elif isinstance(child, ast.ClassDef):
                stack.append((child, f"{prefix}.{child.name}" if prefix else child.name))
    return sorted(out, key=lambda qf: qf[1].lineno)


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    a = fn.args
    return [x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs] if x.arg not in ("self", "cls")]


def _owner(name: str, funcs: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]) -> str | None:
    """The function that should have consulted guard ``name``: most words shared with it (name,
    parameters, docstring), else the last public function that takes parameters."""
    gw = set(words(name)) - ALLOW_WORDS - LIMIT_WORDS
    best, best_score = None, 0
    candidates = [(q, f) for q, f in funcs if _params(f) and not f.name.startswith("_")]
    for q, f in candidates:
        text = " ".join([f.name, *_params(f), ast.get_docstring(f) or ""])
        score = len(gw & set(words(text)))
        if score > best_score:
            best, best_score = q, score
    if best is None and candidates:
        best = candidates[-1][0]
    return best


def _loaded_names(tree: ast.Module) -> set[str]:
    out: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store):
            out.add(n.id)
        elif isinstance(n, ast.Attribute):
            out.add(n.attr)
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.isidentifier():
            out.add(n.value)  # getattr(module, "NAME"), __all__ entries
        elif isinstance(n, ast.Global | ast.Nonlocal):
            out.update(n.names)
    return out


@rule("py.guard.unconsulted", "CWE-20", severity="medium", confidence=0.6)
def unconsulted_guard(fc: FunctionContext) -> Iterator[Hit]:
    """An allowlist, limit or role table is declared but never consulted.

    ``ALLOWED_HOSTS = [...]``, ``MAX_UPLOAD_BYTES = 10 << 20`` or ``ADMIN_ROLES = {...}`` that no code
    reads protects nothing: the check it was written for is missing on the way to the sink (the
    request, the allocation, the privileged action). Consult it before acting (``if host not in
    ALLOWED_HOSTS: raise``), or delete it so nobody believes it is enforced. The finding carries the
    CWE the guard's name points to (hosts: CWE-918, sizes: CWE-770, roles: CWE-863, ...).
    """
    if fc.name == "<module>":
        tree = fc.module.tree
        candidates = [st for st in tree.body if _declared(st) and guard_kind(_declared(st) or "")]
        if not candidates:
            return
        loaded = _loaded_names(tree)
        funcs = fc.module.once("guards.functions", lambda: _functions(tree))
        for stmt in candidates:
            yield from _unconsulted(stmt, loaded, funcs, None)
        return
    for stmt in fc.nodes(ast.Assign, ast.AnnAssign):
        name = _declared(stmt)
        if name and guard_kind(name):
            yield from _unconsulted(stmt, set(fc.loads), [], fc.qualname)


def _declared(stmt: ast.AST) -> str | None:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
        return stmt.target.id
    return None


def _unconsulted(
    stmt: ast.AST,
    loaded: set[str],
    funcs: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]],
    owner: str | None,
) -> Iterator[Hit]:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        name, value = stmt.targets[0].id, stmt.value
    elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
        name, value = stmt.target.id, stmt.value
    else:
        return
    kind = guard_kind(name)
    if kind is None or name in loaded or not _guard_value(value, kind):
        return
    who = owner or _owner(name, funcs)
    if owner is None and who is None:
        return  # a module of constants only: nothing here should have consulted it
    what = {"allowlist": "allowlist", "limit": "limit", "role": "role table"}[kind]
    yield Hit(
        stmt,
        f"{what} '{name}' is declared but never consulted" + (f" (expected in {who}())" if who else ""),
        cwe=guard_cwe(name, kind),
        function=who,
        details={"guard": name, "kind": kind},
    )


_VALIDATOR = re.compile(
    r"^_*(validate|check|verify|ensure|assert|authori[sz]e|is_(valid|safe|allowed|authori[sz]ed|permitted|"
    r"trusted|admin|owner)|has_(permission|access|role)|can)(_|$)",
    re.I,
)


def _rejects(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Can the function say no: raise, abort, return a falsy or computed verdict?"""
    for n in ast.walk(fn):
        if isinstance(n, ast.Raise | ast.Assert):
            return True
        if isinstance(n, ast.Call):
            callee = dotted(n.func) or ""
            if callee.rsplit(".", 1)[-1] in ("abort", "exit", "_exit", "fail", "reject", "deny", "forbid"):
                return True
        if isinstance(n, ast.Return) and n.value is not None:
            v = n.value
            if isinstance(v, ast.Constant) and not v.value:
                return True
            if isinstance(v, ast.Compare | ast.BoolOp | ast.UnaryOp | ast.Call | ast.IfExp | ast.Name | ast.Subscript):
                if isinstance(v, ast.Name) and v.id in _params(fn):
                    continue  # returns its input unchanged: that is not a verdict
                return True
    return False


@rule("py.guard.validator-never-rejects", "CWE-20", severity="medium", confidence=0.55)
def validator_never_rejects(fc: FunctionContext) -> Iterator[Hit]:
    """A validation function that can never reject its input.

    ``def validate_url(url): parsed = urlparse(url); return url`` has a validator's name and none of
    its behaviour: no ``raise``, no ``return False``, no computed verdict. Every caller relying on
    it is unprotected. Make it reject (raise ``ValueError``) what the policy forbids.
    """
    fn = fc.node
    if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) or not _VALIDATOR.search(fn.name):
        return
    body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if not _params(fn) or not body or all(isinstance(s, ast.Pass) for s in body):
        return
    if any(isinstance(d, ast.Name | ast.Attribute | ast.Call) for d in fn.decorator_list) and any(
        "abstract" in (dotted(d.func if isinstance(d, ast.Call) else d) or "") for d in fn.decorator_list
    ):
        return
    if not _rejects(fn):
        yield Hit(fn, f"validator '{fn.name}' never rejects its input (no raise, no False)", _params(fn))


_PREDICATE = re.compile(r"^_*(is|has|can|check|validate|verify|valid|allowed|authori[sz]ed|permitted)(_|[A-Z]|$)")
PURE_CHECKS = frozenset(
    {
        "re.match",
        "re.fullmatch",
        "re.search",
        "hmac.compare_digest",
        "secrets.compare_digest",
        "os.path.exists",
        "os.access",
        "os.path.isfile",
        "os.path.isabs",
        "ipaddress.ip_address",
    }
)


@rule("py.guard.ignored-result", "CWE-20", severity="medium", confidence=0.6)
def ignored_check_result(fc: FunctionContext) -> Iterator[Hit]:
    """A check is called and its answer thrown away.

    ``is_allowed(host)`` or ``hmac.compare_digest(sig, expected)`` on a line of its own decides
    nothing: execution continues whatever it returns. Branch on the result (``if not
    is_allowed(host): raise PermissionError``).
    """
    local_defs = fc.module.once("guards.defs", lambda: {f.name: f for _, f in _functions(fc.module.tree)})
    for stmt in fc.nodes(ast.Expr):
        call = stmt.value
        if isinstance(call, ast.Await):
            call = call.value
        if not isinstance(call, ast.Call):
            continue
        name = fc.call_name(call)
        short = name.rsplit(".", 1)[-1]
        if name in PURE_CHECKS:
            cwe = "CWE-347" if "compare_digest" in name else "CWE-20"
        elif _PREDICATE.search(short):
            target = local_defs.get(short)
            if target is not None and _raises(target):
                continue  # a check that raises does its job as a statement
            if target is None and not short.startswith(("is_", "has_", "can_")):
                continue  # an external validate_x() may raise: cannot tell
            cwe = "CWE-863" if re.search(r"perm|role|admin|auth|owner|access", short, re.I) else "CWE-20"
        else:
            continue
        yield Hit(call, f"result of {short}() is ignored: the check decides nothing", cwe=cwe)


def _raises(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(n, ast.Raise | ast.Assert) for n in ast.walk(fn)) or any(
        isinstance(n, ast.Call) and (dotted(n.func) or "").rsplit(".", 1)[-1] in ("abort", "exit") for n in ast.walk(fn)
    )
