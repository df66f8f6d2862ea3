"""CWE-74/93/113: can an input inject a new line (and so a new header or record) into the output?"""

from __future__ import annotations

from typing import Any, ClassVar

from bluecodeagent.code.dynamic.base import Probe, register


@register
class HeaderProbe(Probe):
    """CRLF payloads must not come back as a new line starting an injected header."""

    name: ClassVar[str] = "header"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-74", "CWE-93", "CWE-113", "CWE-117")

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        payloads = ["bc\r\nSet-Cookie: bcinjected=1", "bc\nX-Bc-Injected: 1"]

        def judge(res: dict[str, Any], payload: Any, name: str) -> tuple[str | None, str]:
            text = rt.as_text(res["result"])
            if "\nSet-Cookie: bcinjected" in text or "\nX-Bc-Injected" in text:
                return "vulnerable", "a line break from the input started a new header line"
            if res["returned"] and ("bcinjected" in text or "Bc-Injected" in text):
                return "rejected", "the line break was removed or encoded"
            return None, ""

        return rt.exploit(fn, params, payloads, judge, trust_stub_args=True)
