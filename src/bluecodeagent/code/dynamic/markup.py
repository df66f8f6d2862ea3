"""CWE-79/80: does markup from an input come back unescaped?"""

from __future__ import annotations

from typing import Any, ClassVar

from bluecodeagent.code.dynamic.base import Probe, register


@register
class MarkupProbe(Probe):
    """Script and attribute-breaking payloads must come back escaped (or not at all)."""

    name: ClassVar[str] = "markup"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-79", "CWE-80", "CWE-116")

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        payloads = ['<script>alert("bc79")</script>', '"><img src=x onerror=alert("bc79")>']
        raw = ("<script>alert(", "<img src=x onerror=")

        def judge(res: dict[str, Any], payload: Any, name: str) -> tuple[str | None, str]:
            text = rt.as_text(res["result"])
            for ev_name, args in res["events"]:
                if ev_name.startswith("http.") or ev_name == "stub.call":
                    text += " " + " ".join(args)
            if any(r in text for r in raw) and ("bc79" in text):
                return "vulnerable", "markup from the input came back unescaped"
            if res["returned"] and "bc79" in text:
                return "rejected", "the input came back escaped"
            return None, ""

        return rt.exploit(fn, params, payloads, judge, trust_stub_args=True)
