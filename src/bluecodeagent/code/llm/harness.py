"""Run one LLM-written test against the unchanged code under test, in the sandbox.

The test and the code under test run in a worker process under the supervisor of
:mod:`bluecodeagent.code.dynamic.supervised`: the result travels over a descriptor neither can
reach without tripping the runtime's guards, and only the supervisor's nonce-tagged line counts.
The code under test is bound read-only as ``subject.py``; before any untrusted code runs, the worker
reads those bytes, checks their SHA-256 against the host's copy, and later executes exactly those
bytes as module ``subject``. The test's top level runs first (it may install fakes in
``sys.modules``), then the subject is imported, then ``check(subject, bc)`` is called; the test
reports through ``bc.vulnerable(...)``/``bc.safe(...)``, whose verdict lives where neither can write.

Before anything runs, :func:`tampering` refuses tests that would replace the subject's own
functions (through any alias, ``setattr``, ``vars()``, ``sys.modules`` or ``exec``) or rewrite its
file; after ``check`` the worker verifies the subject's functions are still the ones it loaded. A
test may fake what the code *uses*, never the code itself. Tampering seen while it runs (the
runtime's guards) is outcome ``tampered``.
"""

from __future__ import annotations

import ast
import hashlib
import json
from typing import Literal

from pydantic import BaseModel, Field

from bluecodeagent.code.dynamic.base import runtime_source
from bluecodeagent.code.dynamic.supervised import run_supervised
from bluecodeagent.code.sandbox import Sandbox, SandboxLimits

Outcome = Literal["vulnerable", "safe", "raised", "harness_error", "timeout", "crashed", "tampered"]
LIMITS = SandboxLimits(wall_seconds=10.0, cpu_seconds=8, memory_mb=512, tmpfs_mb=64, file_size_mb=8)
# Exceptions that point at the test itself (wrong name, wrong call, wrong import), fed back to the model.
HARNESS_EXCEPTIONS = ("SyntaxError", "NameError", "AttributeError", "TypeError", "ImportError",
                      "ModuleNotFoundError", "AssertionError", "IndentationError")  # fmt: skip


class TestRun(BaseModel):
    """One attempt: the test, what the sandbox observed, and whether the subject was verified unchanged."""

    attempt: int
    test_code: str
    reasoning: str = ""
    outcome: Outcome
    evidence: str = ""
    error: str = Field(default="", description="Harness error fed back to the model, or why the run failed.")
    subject_sha256: str
    subject_verified: bool = Field(default=False, description="The bytes that ran hash to the submitted code.")
    duration_ms: float = 0.0
    exit_code: int | None = None

    @property
    def retry(self) -> bool:
        """Whether the test itself was broken (worth another attempt with the error as feedback)."""
        return self.outcome == "harness_error"


def sha256(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def _subject_names(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return set()
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}


def _subject_aliases(tree: ast.Module) -> set[str]:
    """Names that refer to the code under test: ``subject``, check's first parameter, and their copies."""
    names = {"subject"}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "check" and node.args.args:
            names.add(node.args.args[0].arg)
    changed = True
    while changed:
        changed = False
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and _is_subject(node.value, names):
                for t in node.targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name) and n.id not in names:
                            names.add(n.id)
                            changed = True
    return names


def _is_subject(node: ast.AST, names: set[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Subscript):  # sys.modules["subject"]
        return isinstance(node.slice, ast.Constant) and node.slice.value == "subject"
    if isinstance(node, ast.Call) and node.args:  # importlib.import_module("subject"), __import__("subject")
        a = node.args[0]
        return isinstance(a, ast.Constant) and a.value == "subject"
    return False


def _root(node: ast.AST) -> tuple[ast.AST, list[str]]:
    """The innermost object of an attribute chain and the attributes from it outwards."""
    attrs: list[str] = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    return node, list(reversed(attrs))


def tampering(code: str, test_code: str) -> str | None:
    """Why ``test_code`` would modify the code under test (None when it does not)."""
    try:
        tree = ast.parse(test_code)
    except SyntaxError:
        return None  # reported by the run itself, with the line
    own = _subject_names(code)
    aliases = _subject_aliases(tree)
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign | ast.Delete):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for t in targets:
            base = t.value if isinstance(t, ast.Subscript) else t
            root, attrs = _root(base)
            if _is_subject(root, aliases) and attrs and (attrs[0] in own or attrs[0] == "__dict__"):
                return f"the test replaces subject.{'.'.join(attrs)}, part of the code under test"
            if isinstance(t, ast.Subscript) and _is_subject(t.value, aliases):
                return "the test rewrites the code under test's namespace"
        if isinstance(node, ast.Call):
            func = node.func
            fname = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if fname in ("exec", "eval", "compile") and isinstance(func, ast.Name):
                return f"the test runs code built at run time ({fname}), which could rewrite the code under test"
            if fname in ("setattr", "delattr") and node.args:
                root, attrs = _root(node.args[0])
                if _is_subject(root, aliases):
                    name = node.args[1].value if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) else None
                    if attrs or name is None or name in own:
                        return f"the test uses {fname} on the code under test"
            if fname == "vars" and node.args and _is_subject(node.args[0], aliases):
                return "the test rewrites the code under test's namespace (vars)"
            if fname == "reload":
                return "the test reloads the code under test"
        if isinstance(node, ast.Attribute) and node.attr == "__dict__" and _is_subject(node.value, aliases):
            return "the test reaches into the code under test's namespace (__dict__)"
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value == "subject":
            return "the test reaches the code under test through sys.modules"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "subject.py" in node.value:
            return "the test touches subject.py (the code under test must stay unchanged)"
    return None


# The worker's harness, run in a namespace of its own (never ``__main__``) after the runtime's guards.
HARNESS = """\
import hashlib, json, os, sys, traceback, types


def _tb(e):
    lines = traceback.format_exception(type(e), e, e.__traceback__)
    return "".join(lines[-6:])[-1500:]


def main(rt, args):
    _compile, _exec, _Module = compile, exec, types.ModuleType
    expected, own, harness_exc = args["expected"], set(args["own"]), tuple(args["harness_exc"])
    raw = open("/work/subject.py", "rb").read()  # before any untrusted code: these bytes are what runs
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected:
        return dict(outcome="harness_error", error="subject.py differs from the submitted code", sha=digest)
    test_src = open("/work/llm_test.py", encoding="utf-8").read()
    try:
        test_code = _compile(test_src, "llm_test.py", "exec")
    except SyntaxError as e:
        err = "SyntaxError in the test: %s (line %s)" % (e.msg, e.lineno)
        return dict(outcome="harness_error", error=err, sha=digest)
    verdicts = []

    class _BC:
        __slots__ = ()

        def vulnerable(self, evidence=""):
            verdicts.append(("vulnerable", str(evidence)[:1000]))

        def safe(self, why=""):
            verdicts.append(("safe", str(why)[:1000]))

    def first():
        return verdicts[0] if verdicts else None

    ns = {"__name__": "llm_test"}
    rt.PHASE[0] = "call"
    try:
        try:
            _exec(test_code, ns)
        except BaseException as e:
            return dict(outcome="harness_error", error="the test's top level failed:\\n" + _tb(e), sha=digest)
        module = _Module("subject")
        module.__file__ = "/work/subject.py"
        sys.modules["subject"] = module
        try:
            _exec(_compile(raw, "/work/subject.py", "exec", dont_inherit=True), module.__dict__)
        except BaseException as e:
            return dict(outcome="harness_error", sha=digest, error="importing the code under test failed (install "
                        "a fake in sys.modules at the test's top level if a module is missing):\\n" + _tb(e))
        originals = {n: (module.__dict__[n], getattr(module.__dict__[n], "__code__", None))
                     for n in own if n in module.__dict__}
        check = ns.get("check")
        if not callable(check):
            return dict(outcome="harness_error", error="the test defines no function check(subject, bc)", sha=digest)
        raised = None
        try:
            check(module, _BC())
        except BaseException as e:
            raised = e
    finally:
        rt.PHASE[0] = "setup"
    for n, (obj, code) in originals.items():
        if module.__dict__.get(n) is not obj or getattr(obj, "__code__", None) is not code:
            return dict(outcome="harness_error", sha=digest,
                        error="the test replaced %s of the code under test; fake what it uses, not the code" % n)
    got = first()
    if raised is not None:
        e = raised
        if got is not None:
            return dict(outcome=got[0], evidence=got[1], note="then raised " + type(e).__name__, sha=digest)
        frames = traceback.extract_tb(e.__traceback__)
        in_subject = bool(frames) and frames[-1].filename == "/work/subject.py"
        if type(e).__name__ in harness_exc and not (in_subject and type(e).__name__ not in ("NameError", "TypeError")):
            return dict(outcome="harness_error", error=_tb(e), sha=digest)
        return dict(outcome="raised", evidence="%s: %s" % (type(e).__name__, str(e)[:300]), error=_tb(e), sha=digest)
    if got is None:
        return dict(outcome="harness_error", error="check() returned without calling bc.vulnerable or bc.safe",
                    sha=digest)
    return dict(outcome=got[0], evidence=got[1], sha=digest)
"""

# The worker: the runtime (for its guards only: no stubs, no recorders), then the harness.
WORKER = """\
def _boot(runtime, harness):
    import json, os, sys, types
    fd, args = int(sys.argv[1]), json.loads(sys.argv[2])
    sys.argv[:] = ["llm_test.py"]
    import sqlite3
    connect = sqlite3.connect
    rt = types.ModuleType("_w")
    rt.__dict__["__file__"] = "<bc-harness>"
    exec(compile(runtime, "<bc-harness>", "exec"), rt.__dict__)
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ not in ("_StubFinder", "_FakeFirst")]
    sqlite3.connect = connect
    rt.REPORT_FD[0] = fd
    rt.SUBJECT_FILES = ("/work/subject.py", "llm_test.py", "<string>")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    ns = {{"__name__": "_w"}}
    exec(compile(harness, "<bc-harness>", "exec"), ns)
    rt._install_fd_guards()
    try:
        res = ns["main"](rt, args)
    except BaseException as e:
        res = dict(outcome="crashed", error="harness error: %s: %s" % (type(e).__name__, e))
    rt.send({{"type": "result", "result": res}})
    rt._raw_exit(0)
_boot({runtime}, {harness})
"""


def run_test(
    sandbox: Sandbox, code: str, test_code: str, attempt: int, reasoning: str = "", limits: SandboxLimits | None = None
) -> TestRun:
    """Run ``test_code`` against ``code`` (unchanged) in ``sandbox``."""
    digest = sha256(code)
    base = {"attempt": attempt, "test_code": test_code, "reasoning": reasoning, "subject_sha256": digest}
    if why := tampering(code, test_code):
        return TestRun(**base, outcome="harness_error", error=f"refused before running: {why}")
    worker = WORKER.format(runtime=json.dumps(runtime_source()), harness=json.dumps(HARNESS))
    args = {"expected": digest, "own": sorted(_subject_names(code)), "harness_exc": list(HARNESS_EXCEPTIONS)}
    report = run_supervised(
        sandbox,
        worker,
        {"subject.py": code, "llm_test.py": test_code},
        args,
        limits or LIMITS,
        readonly=frozenset({"subject.py", "llm_test.py"}),
    )
    res = report.sandbox
    run = {"duration_ms": res.duration_ms if res else 0.0, "exit_code": report.exit_code}
    if report.tamper:
        what = "; ".join(report.tamper)[:1000]
        return TestRun(**base, **run, outcome="tampered", evidence=f"the code tampered with the harness: {what}")
    d = report.result
    if d is not None:
        outcome = d.get("outcome", "harness_error")
        return TestRun(
            **base,
            **run,
            outcome=outcome if outcome in Outcome.__args__ else "harness_error",  # type: ignore[attr-defined]
            evidence=str(d.get("evidence", ""))[:1000],
            error=str(d.get("error", ""))[:1500],
            subject_verified=d.get("sha") == digest,
        )
    if report.timed_out or (res is not None and (res.timed_out or res.cpu_exceeded)):
        return TestRun(**base, **run, outcome="timeout", error="the test ran past its time or CPU limit")
    tail = (report.log_tail.strip().splitlines() or [report.why or "no output"])[-1][:500]
    return TestRun(**base, **run, outcome="crashed", error=f"the harness produced no result: {tail}")
