"""Run one LLM-written test against the unchanged code under test, in the sandbox.

The code under test is copied into the sandbox as ``subject.py``; the harness reads those bytes,
checks their SHA-256 against the host's copy, and executes exactly those bytes as module
``subject`` (so what runs is byte-identical to what was submitted). The test's top level runs
first (it may install fakes in ``sys.modules``), then the subject is imported, then
``check(subject, bc)`` is called; the test reports through ``bc.vulnerable(...)``/``bc.safe(...)``.

Before anything runs, :func:`tampering` refuses tests that would replace the subject's own
functions or rewrite its file: a test may fake what the code *uses*, never the code itself.
"""

from __future__ import annotations

import ast
import hashlib
import json
from typing import Literal

from pydantic import BaseModel, Field

from bluecodeagent.code.sandbox import Sandbox, SandboxLimits

Outcome = Literal["vulnerable", "safe", "raised", "harness_error", "timeout", "crashed"]
MARK = "@@BC-LLMTEST@@"
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


def tampering(code: str, test_code: str) -> str | None:
    """Why ``test_code`` would modify the code under test (None when it does not)."""
    try:
        tree = ast.parse(test_code)
    except SyntaxError:
        return None  # reported by the run itself, with the line
    own = _subject_names(code)
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for t in targets:
            on_subject = isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "subject"
            if on_subject and t.attr in own:  # type: ignore[union-attr]
                return f"the test replaces subject.{t.attr}, a function of the code under test"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr"):
            args = node.args
            if args and isinstance(args[0], ast.Name) and args[0].id == "subject" and len(args) > 1:
                name = args[1].value if isinstance(args[1], ast.Constant) else None
                if name is None or name in own:
                    return f"the test uses {node.func.id} on the code under test"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "subject.py" in node.value:
            return "the test touches subject.py (the code under test must stay unchanged)"
    return None


HARNESS = """\
import hashlib, json, os, sys, traceback, types
# Bound before the test runs, so a test cannot swap what loads the code under test.
_compile, _exec, _Module = compile, exec, types.ModuleType
sys.path.insert(0, "/work")
_out = os.fdopen(os.dup(1), "w")
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
sys.stdout = open(os.devnull, "w")
EXPECTED = {expected}
HARNESS_EXC = {harness_exc}

def emit(**d):
    _out.write({mark} + json.dumps(d) + "\\n")
    _out.flush()

class _BC:
    def __init__(self):
        self.result = None
    def vulnerable(self, evidence=""):
        if self.result is None:
            self.result = ("vulnerable", str(evidence)[:1000])
    def safe(self, why=""):
        if self.result is None:
            self.result = ("safe", str(why)[:1000])

def _tb(e):
    lines = traceback.format_exception(type(e), e, e.__traceback__)
    return "".join(lines[-6:])[-1500:]

def _main():
    raw = open("/work/subject.py", "rb").read()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != EXPECTED:
        return dict(outcome="harness_error", error="subject.py differs from the submitted code", sha=digest)
    test_src = open("/work/llm_test.py", encoding="utf-8").read()
    try:
        test_code = compile(test_src, "llm_test.py", "exec")
    except SyntaxError as e:
        err = "SyntaxError in the test: %s (line %s)" % (e.msg, e.lineno)
        return dict(outcome="harness_error", error=err, sha=digest)
    ns = {{"__name__": "llm_test"}}
    try:
        exec(test_code, ns)
    except BaseException as e:
        return dict(outcome="harness_error", error="the test's top level failed:\\n" + _tb(e), sha=digest)
    module = _Module("subject")
    module.__file__ = "/work/subject.py"
    sys.modules["subject"] = module
    try:
        _exec(_compile(raw, "/work/subject.py", "exec", dont_inherit=True), module.__dict__)
    except BaseException as e:
        return dict(outcome="harness_error", sha=digest, error="importing the code under test failed (install a "
                    "fake in sys.modules at the test's top level if a module is missing):\\n" + _tb(e))
    check = ns.get("check")
    if not callable(check):
        return dict(outcome="harness_error", error="the test defines no function check(subject, bc)", sha=digest)
    bc = _BC()
    try:
        check(module, bc)
    except BaseException as e:
        if bc.result is not None:
            return dict(outcome=bc.result[0], evidence=bc.result[1], note="then raised " + type(e).__name__, sha=digest)
        frames = traceback.extract_tb(e.__traceback__)
        in_subject = bool(frames) and frames[-1].filename == "/work/subject.py"
        if type(e).__name__ in HARNESS_EXC and not (in_subject and type(e).__name__ not in ("NameError", "TypeError")):
            return dict(outcome="harness_error", error=_tb(e), sha=digest)
        return dict(outcome="raised", evidence="%s: %s" % (type(e).__name__, str(e)[:300]), error=_tb(e), sha=digest)
    if bc.result is None:
        err = "check() returned without calling bc.vulnerable or bc.safe"
        return dict(outcome="harness_error", error=err, sha=digest)
    return dict(outcome=bc.result[0], evidence=bc.result[1], sha=digest)

emit(**_main())
"""


def run_test(
    sandbox: Sandbox, code: str, test_code: str, attempt: int, reasoning: str = "", limits: SandboxLimits | None = None
) -> TestRun:
    """Run ``test_code`` against ``code`` (unchanged) in ``sandbox``."""
    digest = sha256(code)
    base = {"attempt": attempt, "test_code": test_code, "reasoning": reasoning, "subject_sha256": digest}
    if why := tampering(code, test_code):
        return TestRun(**base, outcome="harness_error", error=f"refused before running: {why}")
    harness = HARNESS.format(expected=json.dumps(digest), mark=json.dumps(MARK), harness_exc=repr(HARNESS_EXCEPTIONS))
    res = sandbox.run_python(harness, files={"subject.py": code, "llm_test.py": test_code}, limits=limits or LIMITS)
    run = {"duration_ms": res.duration_ms, "exit_code": res.exit_code}
    for line in reversed(res.stdout.splitlines()):
        if line.startswith(MARK):
            try:
                d = json.loads(line[len(MARK) :])
            except ValueError:
                break
            outcome = d.get("outcome", "harness_error")
            return TestRun(
                **base,
                **run,
                outcome=outcome if outcome in Outcome.__args__ else "harness_error",  # type: ignore[attr-defined]
                evidence=str(d.get("evidence", ""))[:1000],
                error=str(d.get("error", ""))[:1500],
                subject_verified=d.get("sha") == digest,
            )
    if res.timed_out:
        return TestRun(**base, **run, outcome="timeout", error="the test ran past its wall-clock limit")
    tail = (res.stderr.strip().splitlines() or ["no output"])[-1][:500]
    if res.killed_by_signal:
        return TestRun(**base, **run, outcome="crashed", error=f"killed by signal {res.killed_by_signal}: {tail}")
    return TestRun(**base, **run, outcome="crashed", error=f"the harness produced no result: {tail}")
