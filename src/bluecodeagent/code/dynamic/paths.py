"""CWE-22/23/36/73: can an input make the code touch a canary file outside its base directory?"""

from __future__ import annotations

from typing import Any, ClassVar

from bluecodeagent.code.dynamic.base import Probe, register


@register
class PathProbe(Probe):
    """Relative traversal and absolute paths to a canary; touching or returning it confirms the weakness."""

    name: ClassVar[str] = "paths"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-22", "CWE-23", "CWE-36", "CWE-73")

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        import os

        up = "../" * 12

        def payloads(benign: Any) -> list[str]:
            return [
                up + rt.CANARY_FILE.lstrip("/"),
                rt.CANARY_FILE,
                up + rt.CANARY_DIR.lstrip("/"),
                "....//" * 12 + rt.CANARY_FILE.lstrip("/"),
            ]

        def state() -> dict[str, str]:
            out = {}
            for f in sorted(os.listdir(rt.CANARY_DIR)) if os.path.isdir(rt.CANARY_DIR) else []:
                try:
                    with open(os.path.join(rt.CANARY_DIR, f)) as fh:
                        out[f] = fh.read()
                except OSError:
                    out[f] = "?"
            return out

        def reset() -> None:
            rt.setup_canaries()

        before = {"files": {}}

        def reached(events: list[Any]) -> bool:
            return bool(rt.event_paths(events) or rt.command_events(events))

        def judge(res: dict[str, Any], payload: Any, name: str) -> tuple[str | None, str]:
            touched = [p for p in rt.event_paths(res["events"]) if p.startswith(rt.CANARY_DIR)]
            if touched:
                return "vulnerable", f"accessed {touched[0]} outside the base directory"
            text = rt.as_text(res["result"])
            if rt.CANARY_TEXT in text:
                return "vulnerable", "returned the content of a file outside the base directory"
            if isinstance(res["result"], (str, os.PathLike)) and str(res["result"]) and not res["exc_type"]:
                full = os.path.normpath(os.path.join(os.getcwd(), str(res["result"])))
                if full.startswith(rt.CANARY_DIR) and "\n" not in str(res["result"]):
                    return "vulnerable", f"resolved to {full}, outside the base directory"
            now = state()
            if before["files"] and now != before["files"]:
                return "vulnerable", "changed or deleted a file outside the base directory"
            return None, ""

        reset()
        before["files"] = state()
        return rt.exploit(fn, params, payloads, judge, reached=reached, reset=reset)
