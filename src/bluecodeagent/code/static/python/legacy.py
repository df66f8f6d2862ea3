"""Reading code that Python 3 cannot parse: Python 2 syntax, and lines no repair could save.

``py2_to_py3`` rewrites the Python 2 statements that stop ``ast.parse`` (``print x``,
``except E, e:``, ``raise E, msg``, ``exec code``, backticks, ``0777``, ``10L``, ``ur""``, ``<>``)
line by line, keeping line numbers, so the AST rules run on old code. ``token_hits`` is the last
resort for lines that still do not parse: it tokenizes them and reports calls whose mere presence
is a finding (``os.system(`` with a non-literal argument, ``cPickle.loads(``, ``yaml.load(`` without a
safe loader, ``eval(``...), so a file is never silently clean because it is old or broken.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass

_PRINT = re.compile(r"^(\s*)print\b(?!\s*\()(?!\s*[=.\[])(.*)$")
_INLINE_PRINT = re.compile(r"^(\s*(?:if|elif|else|for|while|try|except|with)\b[^#]*:\s*)print\b(?!\s*\()(.*)$")
_EXCEPT = re.compile(r"^(\s*except\s*(?:\([^)]*\)|[\w.]+))\s*,\s*(\w+)\s*:")
_RAISE = re.compile(r"^(\s*raise\s+[\w.]+)\s*,\s*(.+?)\s*$")
_EXEC = re.compile(r"^(\s*)exec\s+(?![(=])(.+?)(?:\s+in\s+(.+?))?\s*$")
_OCTAL = re.compile(r"(?<![\w.'\"])0([0-7]+)\b")
_LONG = re.compile(r"\b(\d+)[lL]\b")
_UR = re.compile(r"\b[uU][rR](['\"])")
_BACKTICK = re.compile(r"`([^`\n]+)`")


def _print_call(indent: str, rest: str) -> str:
    rest = rest.strip()
    comment = ""
    if "#" in rest and rest.count('"') % 2 == 0 and rest.count("'") % 2 == 0:
        head, _, tail = rest.partition("#")
        if head.count('"') % 2 == 0 and head.count("'") % 2 == 0:
            rest, comment = head.rstrip(), "  #" + tail
    if rest.startswith(">>"):
        target, _, values = rest[2:].partition(",")
        return f"{indent}print({values.strip()}, file={target.strip()}){comment}"
    if rest.endswith(","):
        return f"{indent}print({rest[:-1]}, end=' '){comment}"
    return f"{indent}print({rest}){comment}"


def py2_line(line: str) -> str:
    """One line of Python 2 rewritten as Python 3 (unchanged when nothing applies)."""
    m = _PRINT.match(line)
    if m and not m.group(2).lstrip().startswith(("(", "=")):
        line = _print_call(m.group(1), m.group(2))
    else:
        m = _INLINE_PRINT.match(line)
        if m:
            line = _print_call(m.group(1), m.group(2))
    line = _EXCEPT.sub(r"\1 as \2:", line)
    m = _RAISE.match(line)
    if m and not m.group(2).startswith(("(", "[")):
        line = f"{m.group(1)}({m.group(2)})"
    m = _EXEC.match(line)
    if m:
        ns = f", {m.group(3)}" if m.group(3) else ""
        line = f"{m.group(1)}exec({m.group(2)}{ns})"
    line = _LONG.sub(r"\1", line)
    line = _OCTAL.sub(r"0o\1", line)
    line = _UR.sub(r"r\1", line)
    line = _BACKTICK.sub(r"repr(\1)", line)
    return line.replace("<>", "!=")


def py2_to_py3(text: str) -> str:
    """``text`` with Python 2-only syntax rewritten, line for line (line numbers are kept)."""
    return "\n".join(py2_line(line) for line in text.expandtabs(8).splitlines())


@dataclass(frozen=True)
class TokenHit:
    """A dangerous call found by tokens on a line the AST could not read."""

    rule_id: str
    line: int
    message: str


# callee -> (rule id, message); the call must have a non-literal first argument unless noted
_SHELL = {
    "os.system",
    "os.popen",
    "os.popen2",
    "os.popen3",
    "os.popen4",
    "commands.getoutput",
    "commands.getstatusoutput",
    "popen2.popen2",
    "popen2.popen3",
    "popen2.popen4",
    "os.spawnlp",
}
_LOADS = {
    "pickle.loads",
    "pickle.load",
    "cPickle.loads",
    "cPickle.load",
    "marshal.loads",
    "marshal.load",
    "dill.loads",
    "dill.load",
    "shelve.open",
    "jsonpickle.decode",
}


def _calls(line: str) -> Iterable[tuple[str, list[tokenize.TokenInfo]]]:
    """(dotted callee, tokens of the argument list up to the line's end) for each call on ``line``."""
    toks: list[tokenize.TokenInfo] = []
    try:
        for t in tokenize.generate_tokens(io.StringIO(line + "\n").readline):
            toks.append(t)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # keep the tokens read before the error
    for i, t in enumerate(toks):
        if t.type != tokenize.OP or t.string != "(" or i == 0 or toks[i - 1].type != tokenize.NAME:
            continue
        j = i - 1
        parts = [toks[j].string]
        while j >= 2 and toks[j - 1].string == "." and toks[j - 2].type == tokenize.NAME:
            parts.insert(0, toks[j - 2].string)
            j -= 2
        yield ".".join(parts), toks[i + 1 :]


def _literal_only(args: list[tokenize.TokenInfo]) -> bool:
    """Is the first argument a plain string literal (``os.system("ls")``)?"""
    meaningful = [t for t in args if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)]
    if not meaningful or meaningful[0].type != tokenize.STRING:
        return False
    nxt = meaningful[1].string if len(meaningful) > 1 else ")"
    return nxt in (")", ",")


def token_hits(lines: dict[int, str]) -> list[TokenHit]:
    """Dangerous calls on the given lines (line number -> text), read token by token."""
    out: list[TokenHit] = []
    for no, line in sorted(lines.items()):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        for name, args in _calls(text):
            rest = " ".join(t.string for t in args)
            short = name.rsplit(".", 1)[-1]
            if name in _SHELL and not _literal_only(args):
                out.append(TokenHit("py.cmd.shell-string", no, f"{name}() runs a shell command built at run time"))
            elif (
                name.startswith("subprocess.") and re.search(r"\bshell\s*=\s*True\b", rest) and not _literal_only(args)
            ):
                out.append(
                    TokenHit("py.cmd.shell-string", no, f"{name}(..., shell=True) with a command built at run time")
                )
            elif name in _LOADS:
                out.append(
                    TokenHit("py.deserialize.untrusted", no, f"{name}() deserialises data that may be untrusted")
                )
            elif name in ("yaml.load", "yaml.load_all") and not re.search(r"Safe|BaseLoader", rest):
                out.append(TokenHit("py.deserialize.untrusted", no, f"{name}() without SafeLoader constructs objects"))
            elif name == "eval" and not _literal_only(args):
                out.append(TokenHit("py.code.eval", no, "eval() of a value built at run time"))
            elif short in ("execute", "executemany") and re.search(r"['\"]\s*(%|\+|\.\s*format)", rest):
                out.append(TokenHit("py.sql.string-query", no, f"{short}() runs SQL built by string formatting"))
            elif short in ("mark_safe", "Markup") and re.search(r"['\"]\s*(%|\+|\.\s*format)", rest):
                out.append(TokenHit("py.xss.html-template", no, f"{short}() marks formatted text as safe HTML"))
        if re.match(r"exec\s+[^\s(=]", text) and not re.match(r"exec\s+['\"][^'\"]*['\"]\s*$", text):
            out.append(TokenHit("py.code.exec", no, "exec statement runs code built at run time"))
    return out
