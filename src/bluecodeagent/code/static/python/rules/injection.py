"""Injection: OS commands (CWE-78/77), SQL (CWE-89), code evaluation (CWE-94/95), output
neutralisation (CWE-74) and substring allowlists (CWE-20)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from bluecodeagent.code.static.base import rule
from bluecodeagent.code.static.python.rules.common import Hit, arg, kwarg, literal_text, truthy
from bluecodeagent.code.static.python.taint import FunctionContext, base_name

SHELL_CALLS = frozenset(
    {
        "os.system",
        "os.popen",
        "os.popen2",
        "os.popen3",
        "commands.getoutput",
        "commands.getstatusoutput",
        "subprocess.getoutput",
        "subprocess.getstatusoutput",
        "asyncio.create_subprocess_shell",
        "pty.spawn",
        "pexpect.spawn",
        "pexpect.run",
        "fabric.api.local",
        "fabric.api.run",
        "fabric.api.sudo",
        "popen2.popen2",
        "popen2.popen3",
        "popen2.popen4",
        "os.popen4",
    }
)
REMOTE_SHELL_METHODS = frozenset({"exec_command", "run_command", "sudo"})
SUBPROCESS = frozenset(
    {
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.Popen",
    }
)
SHELLS = frozenset({"sh", "bash", "zsh", "cmd", "cmd.exe", "powershell", "/bin/sh", "/bin/bash"})


@rule("py.cmd.shell-string", "CWE-78", severity="high", confidence=0.85)
def shell_string(fc: FunctionContext) -> Iterator[Hit]:
    """OS command built from untrusted input and run by a shell.

    ``os.system``, ``os.popen`` and ``subprocess.*(..., shell=True)`` hand a string to ``/bin/sh``;
    input containing ``;``, ``|``, ``$()`` or backticks runs extra commands. Pass an argument
    list without ``shell=True`` (``subprocess.run(["tar", "-czf", name, path])``), or quote each
    value with ``shlex.quote`` and validate it against an allowlist.
    """
    for call in fc.calls():
        name = fc.call_name(call)
        cmd = arg(call, 0, "args") if name in SUBPROCESS else arg(call, 0, "command") if name in SHELL_CALLS else None
        if (
            cmd is None
            and isinstance(call.func, ast.Attribute)
            and call.func.attr in REMOTE_SHELL_METHODS
            and re.search(r"ssh|client|conn|channel|remote|host|c\b", fc.text(call.func.value), re.I)
        ):
            cmd = arg(call, 0, "command")  # paramiko exec_command: a shell on the remote host
        if cmd is None:
            continue
        if name in SUBPROCESS:
            shell = kwarg(call, "shell")
            if isinstance(cmd, ast.List | ast.Tuple):
                first = literal_text(fc, cmd.elts[0]) if cmd.elts else ""
                if (
                    first.rsplit("/", 1)[-1] in SHELLS
                    and len(cmd.elts) >= 3
                    and any(fc.is_tainted(e, "shell") for e in cmd.elts[2:])
                ):
                    yield Hit(
                        call,
                        f"`{first} -c` runs a command string built from untrusted input",
                        fc.tainted_params(cmd, "shell"),
                    )
                continue
            if shell is None or not (truthy(shell) or fc.is_tainted(shell)):
                continue
        if fc.is_tainted(cmd, "shell"):
            yield Hit(
                call, f"{name}() runs a shell command built from untrusted input", fc.tainted_params(cmd, "shell")
            )


CMD_WORDS = frozenset(
    "echo ls cat rm cp mv tar zip unzip gzip grep find curl wget ping sh bash python python3 git ssh scp "
    "rsync chmod chown mkdir touch kill pandoc convert ffmpeg nslookup dig host whoami sed awk sort head "
    "tail mysql psql sqlite3 docker kubectl node npm pip".split()
)


@rule("py.cmd.command-template", "CWE-77", severity="medium", confidence=0.6)
def command_template(fc: FunctionContext) -> Iterator[Hit]:
    """Shell command text assembled from a template and untrusted input.

    Filling ``"echo Hello, {name}!"`` (or an f-string starting with a command name) with user data
    lets ``;``/``$()`` smuggle commands in once the string reaches a shell. Quote every value with
    ``shlex.quote`` or build an argument list instead.
    """
    for node in fc.nodes(ast.Call, ast.JoinedStr):
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Attribute) and node.func.attr == "format"):
                continue
            template = literal_text(fc, node.func.value)
            values = [*node.args, *(k.value for k in node.keywords)]
        else:
            if isinstance(fc.parent(node), ast.FormattedValue):
                continue
            template = literal_text(fc, node)
            values = [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
        head = template.strip().split(" ", 1)[0] if template.strip() else ""
        if head not in CMD_WORDS or " " not in template.strip():
            continue
        if _feeds_list(fc, node):
            continue
        tainted = [v for v in values if fc.is_tainted(v, "shell")]
        if tainted:
            params = sorted({p for v in tainted for p in fc.tainted_params(v, "shell")})
            yield Hit(node, f"command line `{template[:40]}` is built from untrusted input", params)


def _feeds_list(fc: FunctionContext, node: ast.AST) -> bool:
    p = fc.parent(node)
    return isinstance(p, ast.List | ast.Tuple)


SQL_METHODS = frozenset({"execute", "executemany", "executescript", "raw", "read_sql", "read_sql_query", "mogrify"})
_SQL_WORDS = re.compile(r"\b(select|insert|update|delete|create|drop|alter|where|from|into|values)\b", re.I)


@rule("py.sql.string-query", "CWE-89", severity="high", confidence=0.8)
def sql_string(fc: FunctionContext) -> Iterator[Hit]:
    """SQL text built from untrusted input by formatting or concatenation.

    ``cursor.execute(f"... WHERE name = '{name}'")`` lets input rewrite the query. Keep the SQL
    constant and pass values separately: ``cursor.execute("... WHERE name = %s", (name,))``.
    """
    for call in fc.calls():
        name = fc.call_name(call)
        short = name.rsplit(".", 1)[-1]
        is_text = (
            short in ("text", "RawSQL", "literal_column")
            and ("sql" in name.lower() or name == short)
            and bool(call.args)
        )
        if short == "extra" and isinstance(call.func, ast.Attribute):
            parts = [k.value for k in call.keywords if k.arg in ("where", "select", "order_by", "tables")]
            elts = [e for v in parts for e in (v.elts if isinstance(v, ast.List | ast.Tuple) else [v])]
            bad = [e for e in elts if isinstance(e, ast.JoinedStr | ast.BinOp) and fc.is_tainted(e, "sql")]
            if bad:
                yield Hit(call, "extra() adds SQL built from untrusted input", fc.tainted_params(bad[0], "sql"))
            continue
        if short not in SQL_METHODS and not is_text:
            continue
        if name.startswith(("subprocess.", "os.")):
            continue
        q = arg(call, 0, "sql")
        if q is None or not fc.is_tainted(q, "sql"):
            continue
        built = (
            not isinstance(q, ast.Name)
            or _SQL_WORDS.search(literal_text(fc, q) or fc.text(q))
            or any(
                d.value is not None and isinstance(d.value, ast.JoinedStr | ast.BinOp | ast.Call)
                for d in fc.defs.get(q.id, [])
            )
        )
        if built:
            yield Hit(
                call,
                f"{short}() runs SQL built from untrusted input; use query parameters",
                fc.tainted_params(q, "sql"),
            )
    yield from _sql_through_helpers(fc)


def _query_params(fc: FunctionContext, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[int]:
    """Positions of ``fn``'s parameters that reach ``execute()`` as the query text unchanged."""

    def compute() -> set[int]:
        names = [a.arg for a in [*fn.args.posonlyargs, *fn.args.args]]
        offset = 1 if names and names[0] in ("self", "cls") else 0
        out: set[int] = set()
        for n in ast.walk(fn):
            if (
                isinstance(n, ast.Call)
                and isinstance(n.func, ast.Attribute)
                and n.func.attr in SQL_METHODS
                and n.args
                and isinstance(n.args[0], ast.Name)
                and n.args[0].id in names
            ):
                out.add(names.index(n.args[0].id) - offset)
        return out

    return fc.module.once(f"sql.helper:{id(fn)}", compute)  # type: ignore[no-any-return]


def _sql_through_helpers(fc: FunctionContext) -> Iterator[Hit]:
    """``run_query("... '%s'" % name)`` where ``run_query`` of this file executes its argument."""
    for call in fc.calls():
        f = call.func
        key = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
        fn = fc.module.functions.get(key or "")
        if fn is None or fn is fc.node:
            continue
        for i in _query_params(fc, fn):
            if 0 <= i < len(call.args):
                q = call.args[i]
                built = isinstance(q, ast.JoinedStr | ast.BinOp) or (
                    isinstance(q, ast.Call) and isinstance(q.func, ast.Attribute) and q.func.attr == "format"
                )
                if built and _SQL_WORDS.search(literal_text(fc, q) or fc.text(q)) and fc.is_tainted(q, "sql"):
                    yield Hit(
                        call,
                        f"SQL built from untrusted input is run by {key}(); use query parameters",
                        fc.tainted_params(q, "sql"),
                    )


def _ast_validated(fc: FunctionContext, node: ast.AST) -> bool:
    """``eval(compile(tree))`` where ``tree`` came from ``ast.parse`` and was walked and checked."""
    if not any(fc.call_name(c) == "ast.walk" for c in fc.calls()):
        return False
    if isinstance(node, ast.Call) and fc.call_name(node) == "compile":
        return True
    if isinstance(node, ast.Name):
        return any(
            isinstance(d.value, ast.Call) and fc.call_name(d.value) == "compile" for d in fc.defs.get(node.id, [])
        )
    return False


@rule("py.code.eval", "CWE-95", severity="high", confidence=0.85)
def code_eval(fc: FunctionContext) -> Iterator[Hit]:
    """``eval()`` of untrusted input (eval injection).

    ``eval`` runs any Python expression, including ``__import__('os').system(...)``; restricted
    globals do not make it safe. Use ``ast.literal_eval`` for literals, a small parser for
    arithmetic, or parse with ``ast.parse`` and allow only whitelisted node types first.
    """
    for call in fc.calls():
        if fc.call_name(call) not in ("eval", "builtins.eval"):
            continue
        x = arg(call, 0, "source")
        if x is not None and fc.is_tainted(x, "code") and not _ast_validated(fc, x):
            yield Hit(call, "eval() evaluates untrusted input", fc.tainted_params(x, "code"))


@rule("py.code.exec", "CWE-94", severity="high", confidence=0.85)
def code_exec(fc: FunctionContext) -> Iterator[Hit]:
    """``exec()``/``compile()`` of untrusted input, or a template engine fed user text (code injection).

    Executing attacker-supplied statements gives them the process. Never ``exec`` user text; if a
    sandboxed mini-language is required, parse it with ``ast.parse`` and reject imports, calls and
    attribute access before compiling. Render templates from trusted files, not from user strings.
    """
    for call in fc.calls():
        name = fc.call_name(call)
        if name in ("exec", "builtins.exec"):
            x = arg(call, 0, "source")
            if x is not None and fc.is_tainted(x, "code") and not _ast_validated(fc, x):
                yield Hit(call, "exec() runs untrusted input as code", fc.tainted_params(x, "code"))
        elif (
            name
            in (
                "jinja2.Template",
                "Template",
                "flask.render_template_string",
                "render_template_string",
                "mako.template.Template",
            )
            and call.args
        ):
            x = call.args[0]
            if fc.is_tainted(x, "code") and not (isinstance(x, ast.Name) and x.id.isupper()):
                if name == "Template" and "jinja" not in fc.module.source:
                    continue
                yield Hit(
                    call,
                    f"{name.rsplit('.', 1)[-1]}() compiles a template from untrusted input (SSTI)",
                    fc.tainted_params(x, "code"),
                )


_HEADER = re.compile(r"^\s*[A-Za-z][A-Za-z0-9-]*:\s*$")


@rule("py.injection.header", "CWE-74", severity="medium", confidence=0.65)
def header_injection(fc: FunctionContext) -> Iterator[Hit]:
    """HTTP header line built from untrusted input without stripping CR/LF (header injection, CWE-113).

    A value containing ``\\r\\n`` starts a new header or the body. Remove or reject ``\\r`` and
    ``\\n`` (``re.sub(r"[\\r\\n]", "", value)``) before building ``Name: value``.
    """
    for node in fc.nodes(ast.JoinedStr):
        vals = node.values
        if len(vals) < 2 or not isinstance(vals[0], ast.Constant) or not isinstance(vals[0].value, str):
            continue
        if not _HEADER.match(vals[0].value):
            continue
        tainted = [v.value for v in vals if isinstance(v, ast.FormattedValue) and fc.is_tainted(v.value, "header")]
        if tainted:
            yield Hit(
                node,
                "header value from untrusted input may contain CR/LF",
                sorted({p for v in tainted for p in fc.tainted_params(v, "header")}),
            )
    for node in fc.nodes(ast.Call):
        is_header = fc.call_name(node) in ("set_header", "add_header") or (
            isinstance(node.func, ast.Attribute) and node.func.attr in ("add_header", "set_header", "putheader")
        )
        if is_header and len(node.args) >= 2 and fc.is_tainted(node.args[1], "header"):
            yield Hit(
                node, "header value from untrusted input may contain CR/LF", fc.tainted_params(node.args[1], "header")
            )


@rule("py.validation.substring-allowlist", "CWE-20", severity="medium", confidence=0.7)
def substring_allowlist(fc: FunctionContext) -> Iterator[Hit]:
    """Allowlist check by substring: ``any(ok in value for ok in ALLOWED)``.

    ``"ls; rm -rf /"`` contains ``"ls"``, so a substring test lets any payload through that merely
    mentions an allowed word. Compare the whole value (``value in ALLOWED``) or its parsed parts.
    """
    for test in fc.tests:
        for n in ast.walk(test):
            if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "any" and n.args):
                continue
            gen = n.args[0]
            if not isinstance(gen, ast.GeneratorExp) or not isinstance(gen.elt, ast.Compare):
                continue
            cmp = gen.elt
            if not (len(cmp.ops) == 1 and isinstance(cmp.ops[0], ast.In)):
                continue
            loop_vars = {t.id for g in gen.generators for t in ast.walk(g.target) if isinstance(t, ast.Name)}
            if isinstance(cmp.left, ast.Name) and cmp.left.id in loop_vars and fc.is_tainted(cmp.comparators[0]):
                b = base_name(cmp.comparators[0])
                yield Hit(
                    n,
                    "allowlist matched by substring: input only has to contain an allowed value",
                    [b] if b in fc.params else [],
                )
