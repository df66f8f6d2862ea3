"""Access control and file permissions: missing authorization (CWE-862/863), mass assignment
(CWE-915), missing ownership checks (CWE-281), permissive modes (CWE-732), format-string
information exposure (CWE-200), check-then-use races (CWE-367)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from bluecodeagent.code.static.base import rule
from bluecodeagent.code.static.python.rules.common import Hit, arg, kwarg
from bluecodeagent.code.static.python.taint import FunctionContext, base_name, const_str

_ACTOR = re.compile(
    r"^(current|acting|active|cur|requesting|requester|requestor|executing|initiator|"
    r"logged|actor|caller|given|admin|editor|operator|auth|session|by|user|uid|me)"
    r"(_|$)|(^|_)(requester|requestor|actor|caller|initiator|executor)(_|$)",
    re.I,
)
_ID = re.compile(r"(^|_)(id|uid|user|username|account)(_|$)|user$|_id$", re.I)


def _in_test(fc: FunctionContext, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for t in fc.tests for n in ast.walk(t))


def _flows_to_test(fc: FunctionContext, name: str) -> bool:
    """Is ``name``, or any variable derived from it, used in a condition?"""
    if _in_test(fc, name):
        return True
    for var, defs in fc.defs.items():
        derived = var != name and any(
            d.value is not None and any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(d.value))
            for d in defs
        )
        if derived and _in_test(fc, var):
            return True
    return False


@rule("py.authz.missing-check", "CWE-862", severity="high", confidence=0.65)
def missing_authorization(fc: FunctionContext) -> Iterator[Hit]:
    """The caller's identity is passed in but never checked before acting on another object.

    A function taking ``current_user_id`` and ``target_id`` that reads, changes or deletes the
    target without comparing the two or checking the caller's role lets any user act on any
    object. Check ownership or role (``if actor != owner and role != "admin": raise``) first.
    """
    if fc.name == "<module>" or len(fc.params) < 2:
        return
    actors = [p for p in fc.params if _ACTOR.search(p) and _ID.search(p)]
    if not actors:
        return
    actor = actors[0]
    others = [p for p in fc.params if p != actor]
    keyed = None
    for node in fc.nodes(ast.Subscript):
        if base_name(node) in fc.params or not isinstance(node.value, ast.Name | ast.Subscript | ast.Attribute):
            continue
        if any(isinstance(n, ast.Name) and n.id in others for n in ast.walk(node.slice)):
            keyed = node
            break
    if keyed is None or _flows_to_test(fc, actor):
        return
    yield Hit(keyed, f"'{actor}' is never checked before accessing another user's data", [actor])


_CLIENT_ROLE = re.compile(r"role|admin|is_staff|superuser|permission|privilege", re.I)


@rule("py.authz.client-controlled", "CWE-863", severity="high", confidence=0.6)
def client_controlled_authz(fc: FunctionContext) -> Iterator[Hit]:
    """Authorization decided from a value the client controls (a request parameter or cookie).

    ``if request.args.get("role") == "admin"`` trusts the attacker to say who they are. Derive
    roles from the authenticated session or the server-side user record.
    """
    for t in fc.tests:
        for n in ast.walk(t):
            if not (isinstance(n, ast.Compare) and _CLIENT_ROLE.search(fc.text(n))):
                continue
            if any(fc.is_source(x) for x in ast.walk(n.left)) or any(
                isinstance(x, ast.Name) and _from_request(fc, x.id) for x in ast.walk(n.left)
            ):
                yield Hit(n, "authorization decision based on client-supplied data")


def _from_request(fc: FunctionContext, name: str) -> bool:
    """Was ``name`` assigned directly from request input (not merely from a parameter)?"""
    return any(d.value is not None and any(fc.is_source(x) for x in ast.walk(d.value)) for d in fc.defs.get(name, []))


@rule("py.mass-assignment", "CWE-915", severity="medium", confidence=0.65)
def mass_assignment(fc: FunctionContext) -> Iterator[Hit]:
    """Object or record updated with every key the caller sends (mass assignment).

    ``obj.update(data)``, ``setattr(obj, k, v)`` or ``obj[k] = v`` over all of ``data`` lets a
    caller set ``role``, ``is_admin`` or ``price``. Copy only the keys in an allowlist of editable
    fields.
    """
    for call in fc.calls():
        f = call.func
        if isinstance(f, ast.Attribute) and f.attr == "update" and len(call.args) == 1 and not call.keywords:
            target = base_name(f.value)
            src = call.args[0]
            if (
                target
                and (target in fc.params or fc.text(f.value).endswith("__dict__"))
                and isinstance(src, ast.Name)
                and src.id in fc.params
                and src.id not in fc.validated
            ):
                yield Hit(call, f"{fc.text(f.value)} updated with every key of '{src.id}'", [src.id])
        elif fc.call_name(call) == "setattr" and len(call.args) == 3:
            key = call.args[1]
            if isinstance(key, ast.Name) and fc.is_tainted(key) and key.id not in fc.validated:
                yield Hit(call, "setattr() with attribute names chosen by the caller", fc.tainted_params(key))
    for node in fc.nodes(ast.Assign):
        t = node.targets[0]
        if isinstance(t, ast.Subscript) and isinstance(t.slice, ast.Name) and base_name(t) in fc.params:
            k = t.slice.id
            loop_defs = [d for d in fc.defs.get(k, []) if isinstance(d.loop, ast.For)]
            if (
                loop_defs
                and k not in fc.validated
                and fc.is_tainted(t.slice)
                and any(
                    isinstance(d.value, ast.Call)
                    and isinstance(d.value.func, ast.Attribute)
                    and d.value.func.attr in ("items", "keys")
                    for d in loop_defs
                )
            ):
                yield Hit(node, f"every key of caller data is copied into '{base_name(t)}'", fc.tainted_params(t.slice))


FILE_MUTATORS = frozenset(
    {
        "unlink",
        "remove",
        "rmdir",
        "chmod",
        "chown",
        "rename",
        "replace",
        "rmtree",
        "copy",
        "copy2",
        "copyfile",
        "copytree",
        "move",
        "write_text",
        "write_bytes",
        "lchmod",
        "touch",
    }
)
_OWNER = re.compile(r"st_uid|getuid|geteuid|owner\(\)|\.owner\b|getpwuid", re.I)


@rule("py.perm.no-ownership-check", "CWE-281", severity="medium", confidence=0.55)
def no_ownership_check(fc: FunctionContext) -> Iterator[Hit]:
    """Files under a caller-given path are deleted, copied or re-permissioned without an ownership check.

    Acting on files that belong to other users (or root) breaks the permission model, e.g. a
    cleanup that deletes everyone's files. Act only on files you own
    (``path.stat().st_uid == os.getuid()``) or that the policy allows.
    """
    if fc.name == "<module>" or _OWNER.search(fc.source_text()):
        return
    for call in fc.calls():
        f = call.func
        if not isinstance(f, ast.Attribute) or f.attr not in FILE_MUTATORS:
            continue
        name = fc.call_name(call)
        if f.attr in ("chmod", "lchmod", "chown"):
            mode = call.args[-1] if call.args else None
            if mode is None or not fc.is_tainted(mode):
                continue  # setting a fixed mode (usually restricting) is not the risk here
        on_path = (name.startswith(("os.", "shutil.")) and call.args and fc.is_tainted(call.args[0])) or (
            not name.startswith(("os.", "shutil.")) and fc.is_tainted(f.value) and base_name(f) not in ("str", "dict")
        )
        if on_path and any(fc.text(u).startswith(("Path", "os.", "shutil", "pathlib")) or True for u in [call]):
            if name.startswith("os.path") or (isinstance(f.value, ast.Name) and f.value.id in ("str",)):
                continue
            os_call = name.startswith(("os.", "shutil."))
            if f.attr in ("replace", "remove") and not os_call and not _is_pathlike(fc, f.value):
                continue
            yield Hit(call, f"{f.attr}() on a caller-given path without checking who owns it", fc.tainted_params(call))
            return


def _is_pathlike(fc: FunctionContext, node: ast.AST) -> bool:
    b = base_name(node)
    if b is None:
        return False
    if b in fc.params:
        ann = fc.param_nodes[b].annotation
        return ann is not None and "Path" in fc.text(ann)
    return any(
        (d.loop is not None and d.value is not None and "iterdir" in fc.text(d.value))
        or "glob" in fc.text(d.value or ast.Constant(""))
        for d in fc.defs.get(b, [])
    )


def _mode_value(node: ast.AST | None) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    return None


@rule("py.perm.permissive-mode", "CWE-732", severity="medium", confidence=0.8)
def permissive_mode(fc: FunctionContext) -> Iterator[Hit]:
    """File or directory made writable (or readable) by other users.

    ``os.chmod(path, 0o777)``, ``0o666`` or ``os.umask(0)`` let any local user change or read the
    file. Use ``0o600`` for secrets and ``0o644``/``0o755`` at most for shared files.
    """
    for call in fc.calls():
        name = fc.call_name(call)
        short = name.rsplit(".", 1)[-1]
        mode = None
        if short in ("chmod", "lchmod", "fchmod"):
            mode = _mode_value(arg(call, 1 if name.startswith("os.") else 0, "mode"))
        elif (short in ("mkdir", "makedirs", "open") and name.startswith(("os.", "pathlib"))) or short == "mkdir":
            mode = _mode_value(
                kwarg(call, "mode")
                or (
                    call.args[2]
                    if short == "open" and len(call.args) > 2
                    else call.args[1]
                    if short == "makedirs" and len(call.args) > 1
                    else None
                )
            )
        elif name == "os.umask":
            m = _mode_value(arg(call, 0))
            if m is not None and m & 0o007 == 0:
                yield Hit(call, f"umask {oct(m)} creates files other users can access")
            continue
        if (mode is not None and mode & 0o002) or (
            mode is not None and short in ("chmod",) and mode & 0o004 and mode & 0o020
        ):
            yield Hit(call, f"mode {oct(mode)} gives other users access")


_SECRET = re.compile(
    r"secret|token|passw|credential|cred|private|api_?key|key|passcode|auth|confidential|sensitive|pii\b|ssn|"
    r"personal|medical|health|financial|salary",
    re.I,
)
_PERM_FIX = re.compile(r"chmod|os\.open|umask|S_IRUSR|0o600|0o400|st_mode|opener", re.I)


@rule("py.perm.secret-file", "CWE-732", severity="medium", confidence=0.6)
def secret_file(fc: FunctionContext) -> Iterator[Hit]:
    """Secrets written to a file created with default permissions.

    ``open(path, "w")`` uses the umask (often world-readable ``0o644``) and keeps whatever mode an
    existing file has. Create the file with ``os.open(path, flags, 0o600)`` or ``chmod(0o600)``
    it, and refuse files owned by someone else.
    """
    if fc.name == "<module>" or _PERM_FIX.search(fc.source_text()):
        return
    if not _SECRET.search(fc.name + " " + " ".join(fc.params)):
        return
    for call in fc.calls():
        if fc.call_name(call) not in ("open", "io.open") and not (
            isinstance(call.func, ast.Attribute) and call.func.attr in ("write_text", "write_bytes")
        ):
            continue
        mode = arg(call, 1, "mode")
        if isinstance(call.func, ast.Attribute) or (
            isinstance(mode, ast.Constant) and isinstance(mode.value, str) and any(c in mode.value for c in "wax")
        ):
            yield Hit(call, "secret written to a file without restricting its permissions", fc.tainted_params(call))
            return


@rule("py.info.format-string", "CWE-200", severity="medium", confidence=0.65)
def format_string_exposure(fc: FunctionContext) -> Iterator[Hit]:
    """Caller-supplied format string rendered with whole objects (attribute disclosure).

    ``template.format(user=user)`` with a user-chosen ``template`` reads any attribute:
    ``{user.password}`` or ``{user.__init__.__globals__}``. Pass only the allowed plain values, or
    wrap objects in a proxy that refuses sensitive attributes.
    """
    for call in fc.calls():
        f = call.func
        if not (isinstance(f, ast.Attribute) and f.attr in ("format", "format_map")):
            continue
        if not (isinstance(f.value, ast.Name) and f.value.id in fc.params) or f.value.id in fc.validated:
            continue
        vals = [*call.args, *(k.value for k in call.keywords)]
        objs = [v for v in vals if _object_value(fc, v)]
        if objs:
            yield Hit(
                call, f"format string '{f.value.id}' comes from the caller and can read object attributes", [f.value.id]
            )


def _object_value(fc: FunctionContext, node: ast.AST) -> bool:
    if isinstance(node, ast.Constant | ast.JoinedStr | ast.BinOp):
        return False
    if isinstance(node, ast.Call):
        callee = fc.text(node.func)
        return (
            callee not in ("str", "int", "float", "repr", "len", "round")
            and callee not in fc.module.getattr_guard_classes
            and not callee.endswith(("join", "format", "strftime", "upper", "lower", "strip"))
        )
    if isinstance(node, ast.Name):
        for d in fc.defs.get(node.id, []):
            if isinstance(d.value, ast.Call) and fc.text(d.value.func) in fc.module.getattr_guard_classes:
                return False
            if isinstance(d.value, ast.Constant | ast.JoinedStr) or (
                isinstance(d.value, ast.Call) and fc.text(d.value.func) in ("str", "int", "float", "repr")
            ):
                return False
        ann = fc.param_nodes[node.id].annotation if node.id in fc.param_nodes else None
        return ann is None or fc.text(ann) not in ("str", "int", "float")
    if isinstance(node, ast.Attribute):
        return base_name(node) not in fc.module.getattr_guard_classes and not any(
            isinstance(d.value, ast.Call) and fc.text(d.value.func) in fc.module.getattr_guard_classes
            for d in fc.defs.get(base_name(node) or "", [])
        )
    return isinstance(node, ast.Subscript)


CHECKS = frozenset(
    {
        "os.path.exists",
        "os.access",
        "os.path.isfile",
        "os.path.isdir",
        "os.path.lexists",
        "os.path.islink",
    }
)
PATH_CHECK_METHODS = frozenset({"exists"})
USES = frozenset(
    {
        "open",
        "os.remove",
        "os.unlink",
        "os.rename",
        "os.replace",
        "shutil.move",
        "os.chmod",
        "os.chown",
        "os.open",
        "shutil.copy",
        "shutil.copyfile",
        "shutil.copy2",
        "shutil.rmtree",
        "os.rmdir",
        "os.symlink",
        "os.link",
        "io.open",
    }
)
PATH_USE_METHODS = frozenset(
    {"open", "unlink", "write_text", "write_bytes", "rename", "replace", "rmdir", "chmod", "symlink_to"}
)
_LOCKING = re.compile(r"flock|lockf|O_EXCL|O_NOFOLLOW|portalocker|filelock|FileLock|fstat|msvcrt\.locking", re.I)


def _checked_paths(fc: FunctionContext, test: ast.AST) -> set[str]:
    out: set[str] = set()
    for n in ast.walk(test):
        if not isinstance(n, ast.Call):
            continue
        if fc.call_name(n) in CHECKS and n.args:
            out.add(fc.text(n.args[0]))
        elif isinstance(n.func, ast.Attribute) and n.func.attr in PATH_CHECK_METHODS and not n.args:
            out.add(fc.text(n.func.value))
    return out


def _uses(fc: FunctionContext, stmts: list[ast.stmt], checked: set[str]) -> Iterator[ast.Call]:
    for stmt in stmts:
        for n in ast.walk(stmt):
            if not isinstance(n, ast.Call):
                continue
            name = fc.call_name(n)
            if (name in USES and n.args and fc.text(n.args[0]) in checked) or (
                isinstance(n.func, ast.Attribute)
                and n.func.attr in PATH_USE_METHODS
                and fc.text(n.func.value) in checked
                and not name.startswith("os.")
            ):
                yield n


@rule("py.file.toctou", "CWE-367", severity="low", confidence=0.5)
def toctou(fc: FunctionContext) -> Iterator[Hit]:
    """File checked (exists, access, isfile) and then used by its path: a time-of-check/time-of-use race.

    Between the check and the ``open``/``remove``/``rename`` another process can swap the file (e.g.
    for a symlink to ``/etc/passwd``). Act first and handle the error (``try: os.remove(p) except
    FileNotFoundError``), open with ``os.open(p, O_CREAT | O_EXCL | O_NOFOLLOW)``, check the opened
    descriptor with ``os.fstat``, or hold a lock (``fcntl.flock``) across check and use.
    """
    if _LOCKING.search(fc.source_text()):
        return
    body = getattr(fc.node, "body", [])
    for node in fc.nodes(ast.If):
        checked = _checked_paths(fc, node.test)
        if not checked:
            continue
        negative = isinstance(node.test, ast.UnaryOp) and isinstance(node.test.op, ast.Not)
        if negative and fc.exits(node.body):
            block = _block_of(fc, node, body)
            after = block[block.index(node) + 1 :] if node in block else []
            targets = [*after]
        else:
            targets = [*node.body]
        for use in _uses(fc, targets, checked):
            if fc.call_name(use) in ("open", "io.open") and not _os_access_in(fc, node.test):
                mode = arg(use, 1, "mode")
                if not (
                    isinstance(mode, ast.Constant)
                    and isinstance(mode.value, str)
                    and any(c in mode.value for c in "wax+")
                ):
                    continue  # reading a file that was seen to exist is the ordinary case
            yield Hit(use, f"{fc.call_name(use) or fc.text(use.func)}() after a separate check of the same path")
            break


def _os_access_in(fc: FunctionContext, test: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and fc.call_name(n) == "os.access" for n in ast.walk(test))


def _block_of(fc: FunctionContext, node: ast.AST, body: list[ast.stmt]) -> list[ast.stmt]:
    """The statement list that directly holds ``node``."""
    parent = fc.parent(node)
    for field_name in ("body", "orelse", "finalbody", "handlers"):
        block = getattr(parent, field_name, None)
        if isinstance(block, list) and node in block:
            return block
    return body


_PRIVILEGED = re.compile(
    r"(^|_)(delete|remove|purge|drop|grant|revoke|promote|demote|ban|suspend|disable|deactivate|impersonate|"
    r"transfer|refund|approve|shutdown|reset_password|set_password|change_password|set_role|change_role|"
    r"update_role|assign_role|make_admin|add_admin|elevate|escalate|wipe|destroy|terminate)(_|$)",
    re.I,
)
_PRIVILEGED_FIELDS = re.compile(r"role|is_admin|admin|is_staff|superuser|permission|privilege|password|balance", re.I)
_ACTING = re.compile(
    r"^(current_?user|acting_?user|actor|caller|requester|requestor|request|session|principal|user|auth|"
    r"token|identity|operator|executor|initiator|admin)(_(id|name|role|obj|info|ctx))?$",
    re.I,
)
_CHECK_WORDS = re.compile(
    r"role|admin|staff|superuser|permission|perm|privilege|owner|authori[sz]|allowed|can_|has_|is_|"
    r"access|scope|acl|policy|grant",
    re.I,
)
AUTH_DECORATORS = re.compile(
    r"login_required|permission_required|requires?_|roles?_required|admin_required|"
    r"staff_member_required|user_passes_test|auth|protected|authorize",
    re.I,
)


@rule("py.authz.privileged-unchecked", "CWE-863", severity="high", confidence=0.55)
def privileged_unchecked(fc: FunctionContext) -> Iterator[Hit]:
    """A privileged action performed without checking who asks for it.

    A function that deletes accounts, changes roles or passwords, or moves money, and that receives
    the acting user (``current_user``, ``requester_id``, ``session``), must decide from that user's
    role or ownership whether to proceed. If no condition ever looks at the actor (or at a role or
    permission), any caller can do it. Check first: ``if actor.role != "admin" and actor.id !=
    owner_id: raise PermissionError``.
    """
    if fc.name == "<module>" or not isinstance(fc.node, ast.FunctionDef | ast.AsyncFunctionDef):
        return
    if any(AUTH_DECORATORS.search(fc.text(d)) for d in fc.node.decorator_list):
        return
    actors = [p for p in fc.params if _ACTING.match(p)]
    if not actors:
        return
    action = _privileged_action(fc)
    if action is None:
        return
    for actor in actors:
        if _flows_to_test(fc, actor) or _passed_to_check(fc, actor):
            return
    if any(_CHECK_WORDS.search(fc.text(t)) for t in fc.tests):
        return
    yield Hit(action, f"privileged action with no check of '{actors[0]}' (role, ownership)", actors)


def _privileged_action(fc: FunctionContext) -> ast.AST | None:
    """The first statement that does something privileged (by the function's name, or by the fields it sets)."""
    named = bool(_PRIVILEGED.search(fc.name))
    for node in fc.nodes(ast.Assign, ast.AugAssign, ast.Delete, ast.Call):
        if isinstance(node, ast.Delete):
            if named:
                return node
            continue
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                key = t.slice if isinstance(t, ast.Subscript) else t if isinstance(t, ast.Attribute) else None
                label = (
                    const_str(key)
                    if isinstance(key, ast.Constant)
                    else key.attr
                    if isinstance(key, ast.Attribute)
                    else None
                )
                if label and _PRIVILEGED_FIELDS.search(label):
                    return node
                if named and isinstance(t, ast.Subscript | ast.Attribute) and base_name(t) not in fc.params:
                    return node
            continue
        if (
            named
            and isinstance(node.func, ast.Attribute)
            and node.func.attr
            in (
                "pop",
                "remove",
                "delete",
                "discard",
                "update",
                "save",
                "commit",
                "execute",
                "rmtree",
                "unlink",
            )
        ):
            return node
    return None


def _passed_to_check(fc: FunctionContext, actor: str) -> bool:
    """Is the actor handed to a function whose name says it checks (``require_admin(user)``)?"""
    for call in fc.calls():
        callee = fc.text(call.func).rsplit(".", 1)[-1]
        checks = _CHECK_WORDS.search(callee) or re.search(r"check|verify|require|ensure|assert|validate", callee, re.I)
        values = [*call.args, *(k.value for k in call.keywords)]
        if checks and any(isinstance(n, ast.Name) and n.id == actor for a in values for n in ast.walk(a)):
            return True
    return False
