"""Dynamic probes: the interface, the registry and the harness that runs one probe in the sandbox.

A probe covers one CWE family. Its ``inside`` function runs in the sandbox's worker process with the
harness runtime (:mod:`bluecodeagent.code.dynamic.runtime`) and the subject loaded from ``app.py``;
it calls the suspected function with exploit inputs and returns an outcome dict: ``vulnerable``
(effect observed, with evidence), ``rejected`` (the attack reached the code and was refused or
neutralised) or ``not_exercised`` (the function could not be reached or called meaningfully, with
why). The run itself can end ``tampered``: the code under test reached for the harness.

The worker runs under a supervisor (:mod:`bluecodeagent.code.dynamic.supervised`), so the subject
cannot write the result; a refutation also needs a subject that neither senses nor tampers with the
harness (:mod:`bluecodeagent.code.dynamic.integrity`), else it is reported as not exercised.
"""

from __future__ import annotations

import inspect
import json
import textwrap
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from bluecodeagent.code.dynamic.integrity import screen, summary
from bluecodeagent.code.dynamic.supervised import run_supervised
from bluecodeagent.code.sandbox import Sandbox, SandboxLimits
from bluecodeagent.plugins import discover

Outcome = Literal["vulnerable", "rejected", "not_exercised", "tampered"]
# Modules of this package shipped into the sandbox as text: run there, never imported by the host
# (discovery skips them). Every other module is imported, and its ``@register``ed probes are found.
SANDBOX_SOURCES = frozenset({"runtime", "integrity"})


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
    integrity: list[str] = Field(
        default_factory=list, description="Tampering observed, or why a refutation was not trusted."
    )


class Probe:
    """Base class: subclasses set ``name``, ``cwes``, ``inside`` and optionally ``limits``.

    The class docstring is the probe's documentation; its first line becomes ``description``.
    """

    name: ClassVar[str] = ""
    cwes: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    limits: ClassVar[SandboxLimits | None] = None
    inside: ClassVar[Callable[..., dict[str, Any]]]

    def worker(self) -> str:
        """The worker's program: the runtime, this probe's ``inside`` and the integrity screen, as text."""
        probe_src = textwrap.dedent(inspect.getsource(type(self).inside)).replace("@staticmethod\n", "", 1)
        return WORKER.format(
            runtime=json.dumps(runtime_source()), probe=json.dumps(probe_src), integrity=json.dumps(integrity_source())
        )

    def run(
        self, sandbox: Sandbox, source: str, function: str | None, params: list[str], cwe: str | None = None
    ) -> ProbeResult:
        """Run this probe against ``function`` of ``source`` in ``sandbox``."""
        lim = self.limits or DEFAULT_LIMITS
        report = run_supervised(
            sandbox,
            self.worker(),
            {"app.py": source},
            {"function": function, "params": params},
            lim,
            readonly=frozenset({"app.py"}),
        )
        took = report.sandbox.duration_ms if report.sandbox else 0.0
        base = {"probe": self.name, "cwe": cwe, "function": function, "params": params, "duration_ms": took}
        if report.tamper:
            return ProbeResult(
                **base,
                outcome="tampered",
                evidence="the code under test tampered with the harness: " + "; ".join(report.tamper)[:900],
                integrity=report.tamper[:10],
            )
        if report.result is None:
            why = report.why or ("the worker ran past its time limit" if report.timed_out else "no result")
            return ProbeResult(**base, outcome="not_exercised", why=why[:500])
        data = report.result
        outcome = data.get("outcome", "not_exercised")
        if outcome not in ("vulnerable", "rejected", "not_exercised"):
            outcome = "not_exercised"
        result = ProbeResult(
            **base,
            outcome=outcome,
            evidence=str(data.get("evidence", ""))[:1000],
            why=str(data.get("why", ""))[:500],
            notes=[str(n)[:300] for n in data.get("notes", [])][:10],
            integrity=[str(n)[:300] for n in data.get("integrity", [])][:10],
        )
        return untrusted_refutation(result, source)


def untrusted_refutation(result: ProbeResult, source: str) -> ProbeResult:
    """A refutation stands only for a subject that neither senses nor tampers with the harness.

    Tampering constructs in the source turn the refusal into ``tampered`` (a finding of its own);
    sensing, or leaving at import, into ``not_exercised`` with the reason.
    """
    if result.outcome != "rejected":
        return result
    signals = screened(source)
    reasons = list(result.integrity) + [f"line {s['line']}: {s['what']}" for s in signals]
    if not reasons:
        return result
    observed = f"observed refusal, not trusted: {result.evidence[:200]}"
    if any(s["kind"] == "tamper" for s in signals):
        return result.model_copy(
            update={
                "outcome": "tampered",
                "evidence": "the source reaches for the harness: " + summary(list(signals), "tamper"),
                "why": "static",
                "notes": [*result.notes, observed][:10],
                "integrity": reasons[:10],
            }
        )
    return result.model_copy(
        update={
            "outcome": "not_exercised",
            "why": "the refusal is not trusted: the code may sense the sandbox (" + "; ".join(reasons[:3])[:400] + ")",
            "notes": [*result.notes, observed][:10],
            "integrity": reasons[:10],
        }
    )


@cache
def screened(source: str) -> tuple[dict[str, Any], ...]:
    """The integrity screen's signals for ``source`` (cached: a file is probed once per CWE)."""
    return tuple(screen(source))


DEFAULT_LIMITS = SandboxLimits(wall_seconds=8.0, cpu_seconds=8, memory_mb=512, tmpfs_mb=64, file_size_mb=8)

# The worker's program (read from standard input): nothing of the harness is a file in the sandbox,
# and nothing is left in ``__main__`` but one function.
WORKER = """\
def _boot(runtime, probe, integrity):
    import json, sys, types
    fd, args = int(sys.argv[1]), json.loads(sys.argv[2])
    sys.argv[:] = ["app.py"]
    rt = types.ModuleType("_w")
    rt.__dict__["__file__"] = "<bc-harness>"
    exec(compile(runtime, "<bc-harness>", "exec"), rt.__dict__)
    rt.start(fd, args, probe, integrity, rt)
_boot({runtime}, {probe}, {integrity})
"""


@cache
def runtime_source() -> str:
    """The text of the runtime module shipped into the sandbox."""
    return _shipped("runtime")


@cache
def integrity_source() -> str:
    """The text of the integrity screen, also shipped into the sandbox (it screens compiled strings)."""
    return _shipped("integrity")


def _shipped(module: str) -> str:
    if module not in SANDBOX_SOURCES:
        raise ValueError(f"{module} is not shipped into the sandbox")
    return Path(__file__).with_name(f"{module}.py").read_text(encoding="utf-8")


_PROBES: dict[str, Probe] = {}


def register(cls: type[Probe]) -> type[Probe]:
    """Class decorator: register a probe under its name."""
    if not cls.name or not cls.cwes:
        raise ValueError(f"probe {cls.__name__} needs a name and CWEs")
    doc = (cls.__doc__ or "").strip()
    if not doc:
        raise ValueError(f"probe {cls.__name__} needs a docstring (its documentation)")
    old = _PROBES.get(cls.name)
    if old is not None and (type(old).__module__, type(old).__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"duplicate probe name {cls.name!r}")
    if "description" not in cls.__dict__:
        cls.description = inspect.cleandoc(doc).splitlines()[0]
    _PROBES[cls.name] = cls()
    return cls


def _load() -> None:
    discover("bluecodeagent.code.dynamic", "probes", skip=SANDBOX_SOURCES)


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
