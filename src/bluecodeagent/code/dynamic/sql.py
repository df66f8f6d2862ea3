"""CWE-89: does an input end up inside SQL text (instead of a bound parameter)?"""

from __future__ import annotations

from typing import Any, ClassVar

from bluecodeagent.code.dynamic.base import Probe, register


@register
class SqlProbe(Probe):
    """Quote-breaking payloads; executed SQL (real sqlite3 or a stubbed driver) must not contain them."""

    name: ClassVar[str] = "sql"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-89", "CWE-564")

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        payloads = ["bc' OR '1'='1' --", 'bc" OR "1"="1" --', "1 OR 1=1; DROP TABLE bc_canary --"]

        def queries(events: list[Any]) -> list[str]:
            out = []
            for name, args in events:
                if name == "sql" and args:
                    out.append(args[0])
                elif (
                    name == "stub.call"
                    and len(args) > 1
                    and any(k in args[0].lower() for k in ("execute", "query", "raw", "text"))
                ):
                    out.append(args[1])
            return out

        def judge(res: dict[str, Any], payload: Any, name: str) -> tuple[str | None, str]:
            for q in queries(res["events"]):
                if payload in q or ("OR '1'='1'" in q) or ('OR "1"="1"' in q) or "DROP TABLE bc_canary" in q:
                    return "vulnerable", f"input spliced into SQL: {q[:200]!r}"
            if queries(res["events"]):
                return "rejected", "the query kept the input out of the SQL text"
            return None, ""

        return rt.exploit(fn, params, payloads, judge, reached=lambda ev: bool(queries(ev)), trust_stub_args=True)
