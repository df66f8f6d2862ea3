"""Dynamic probes: the interface, the registry and the harness that runs one probe in the sandbox.

A probe covers one CWE family. Its ``inside`` function runs in the sandbox with the harness runtime
(:mod:`bluecodeagent.code.dynamic.runtime`, shipped as ``_bc_runtime.py``) and the subject written as
``subject.py``; it calls the suspected function with exploit inputs and returns an outcome dict:
``vulnerable`` (effect observed, with evidence), ``rejected`` (the attack was refused or neutralised)
or ``not_exercised`` (the function could not be reached or called meaningfully, with why).
"""

from __future__ import annotations

import importlib
import inspect
import json
import textwrap
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from bluecodeagent.code.sandbox import Sandbox, SandboxLimits

Outcome = Literal["vulnerable", "rejected", "not_exercised"]
RESULT_MARK = "@@BC-RESULT@@"
PROBE_MODULES = ("paths", "commands", "sql", "eval", "markup", "redirect_ssrf", "regex", "resources",
                 "deserialize", "xml", "header")  # fmt: skip


class ProbeResult(BaseModel):
    """The outcome of one probe against one function."""

    probe: str
    cwe: str | None = None
    function: str | None = None
    outcome: Outcome
    evidence: str = ""
    why: str = ""
    params: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    duration_ms: float = 0.0


class Probe:
    """Base class: subclasses set ``name``, ``cwes``, ``inside`` and optionally ``limits``."""

    name: ClassVar[str] = ""
    cwes: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    limits: ClassVar[SandboxLimits | None] = None
    inside: ClassVar[Callable[..., dict[str, Any]]]

    def harness(self, function: str | None, params: list[str]) -> str:
        """The Python source that runs inside the sandbox (it imports ``_bc_runtime`` and ``subject``)."""
        probe_src = textwrap.dedent(inspect.getsource(type(self).inside))
        probe_src = probe_src.replace("@staticmethod\n", "", 1)
        return HARNESS.format(
            function=json.dumps(function), params=json.dumps(params), probe_src=probe_src, name=json.dumps(self.name)
        )

    def run(
        self, sandbox: Sandbox, source: str, function: str | None, params: list[str], cwe: str | None = None
    ) -> ProbeResult:
        """Run this probe against ``function`` of ``source`` in ``sandbox``."""
        code = self.harness(function, params)
        files = {"subject.py": source, "_bc_runtime.py": runtime_source()}
        res = sandbox.run_python(code, files=files, limits=self.limits or DEFAULT_LIMITS)
        base = {"probe": self.name, "cwe": cwe, "function": function, "params": params, "duration_ms": res.duration_ms}
        for line in reversed(res.stdout.splitlines()):
            if line.startswith(RESULT_MARK):
                try:
                    data = json.loads(line[len(RESULT_MARK) :])
                    return ProbeResult(
                        **base,
                        outcome=data.get("outcome", "not_exercised"),
                        evidence=str(data.get("evidence", ""))[:1000],
                        why=str(data.get("why", ""))[:500],
                        notes=[str(n)[:300] for n in data.get("notes", [])][:10],
                    )
                except (ValueError, TypeError):
                    break
        if res.timed_out:
            why = "the harness ran past its wall-clock limit"
        elif res.killed_by_signal:
            why = f"the harness was killed by signal {res.killed_by_signal}"
        else:
            why = "the harness produced no result: " + ((res.stderr.strip().splitlines() or ["no output"])[-1])[:300]
        return ProbeResult(**base, outcome="not_exercised", why=why)


DEFAULT_LIMITS = SandboxLimits(wall_seconds=8.0, cpu_seconds=8, memory_mb=512, tmpfs_mb=64, file_size_mb=8)

HARNESS = """\
from __future__ import annotations
import os, sys
from typing import Any
sys.path.insert(0, "/work")
_real_out = os.fdopen(os.dup(1), "w")
_null = os.open(os.devnull, os.O_WRONLY)
os.dup2(_null, 1)
sys.stdout = open(os.devnull, "w")
import _bc_runtime as rt
rt.OUT = _real_out

{probe_src}

def _main():
    rt.setup_canaries()
    try:
        mod, notes = rt.load_subject("subject.py")
    except SyntaxError as e:
        return {{"outcome": "not_exercised", "why": "subject does not compile: %s" % e}}
    fn = rt.find_function(mod, {function})
    if fn is None:
        return {{"outcome": "not_exercised", "why": "function %r not found or not callable" % {function},
                "notes": notes}}
    try:
        res = inside(rt, fn, {params})
    except BaseException as e:
        res = {{"outcome": "not_exercised", "why": "probe failed: %s: %s" % (type(e).__name__, e)}}
    res.setdefault("notes", [])
    res["notes"] = list(res["notes"]) + notes
    return res

_res = _main()
_real_out.write("\\n{mark}" + rt.json.dumps(_res, default=str) + "\\n")
_real_out.flush()
os._exit(0)
""".replace("{mark}", RESULT_MARK)


@cache
def runtime_source() -> str:
    """The text of the runtime module shipped into the sandbox."""
    return (Path(__file__).with_name("runtime.py")).read_text(encoding="utf-8")


_PROBES: dict[str, Probe] = {}


def register(cls: type[Probe]) -> type[Probe]:
    """Class decorator: register a probe under its name."""
    if not cls.name or not cls.cwes:
        raise ValueError(f"probe {cls.__name__} needs a name and CWEs")
    _PROBES[cls.name] = cls()
    return cls


def _load() -> None:
    for mod in PROBE_MODULES:
        importlib.import_module(f"bluecodeagent.code.dynamic.{mod}")


def probes() -> list[Probe]:
    """Every registered probe."""
    _load()
    return sorted(_PROBES.values(), key=lambda p: p.name)


def probe_for(cwe: str | None) -> Probe | None:
    """The probe that tests ``cwe`` ("CWE-78"), or None."""
    if not cwe:
        return None
    _load()
    for p in _PROBES.values():
        if cwe.upper() in p.cwes:
            return p
    return None
