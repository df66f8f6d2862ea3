"""CWE-1333/185: catastrophic backtracking on crafted input (or an input used as the pattern)."""

from __future__ import annotations

from typing import Any, ClassVar

from bluecodeagent.code.dynamic.base import Probe, register
from bluecodeagent.code.sandbox import SandboxLimits


@register
class RegexProbe(Probe):
    """Backtracking-heavy inputs and an evil pattern; a call that runs past its budget confirms ReDoS."""

    name: ClassVar[str] = "regex"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-1333", "CWE-185", "CWE-625")
    limits: ClassVar[SandboxLimits | None] = SandboxLimits(wall_seconds=12.0, cpu_seconds=12, memory_mb=512)

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        import re

        def payloads(benign: Any) -> list[str]:
            b = benign if isinstance(benign, str) and benign else "a"
            out = [
                "a" * 40 + "!",
                "<" * 5000 + "x",
                " " * 20000 + "x",
                "x@" + "a." * 5000 + "!",
                "1" * 40 + "x",
                b * 40 + "!\x00",
            ]
            if re.search(r"pattern|regex|re$", "".join(params).lower()):
                out.insert(0, "(a+)+$")
            return out

        def judge(res: dict[str, Any], payload: Any, name: str) -> tuple[str | None, str]:
            if res["timeout"]:
                return "vulnerable", "matching took more than 1.5 s on a short crafted input"
            if res["returned"] or res["exc_type"] in ("ValueError", "re.error", "error"):
                return "rejected", "finished in time"
            return None, ""

        return rt.exploit(fn, params, payloads, judge, seconds=1.5)
