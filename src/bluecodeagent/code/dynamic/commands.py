"""CWE-77/78/88: does an input reach a shell? A marker command in the input must not run."""

from __future__ import annotations

from typing import Any, ClassVar

from bluecodeagent.code.dynamic.base import Probe, register


@register
class CommandProbe(Probe):
    """Appends, substitutes and pipes a marker command into each input; the marker file must not appear."""

    name: ClassVar[str] = "commands"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-77", "CWE-78", "CWE-88")

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        import os

        mark = rt.MARKER
        rel = "bc_marker_rel"

        def payloads(benign: Any) -> list[str]:
            b = benign.decode() if isinstance(benign, bytes) else (benign if isinstance(benign, str) else "x")
            t = f"touch {mark}"
            out = [f"{b}; {t}", f"{b} && {t} #", f"{b}$({t})", f"{b}`{t}`", f"{b} | {t}", f"{b}\n{t}\n"]
            # the same effect without the word "touch", so a blocklist of our payloads' words is no defence
            out += [f"{b}; : > {mark}", f"{b}$(printf x>{mark})"]
            if isinstance(b, str) and b.startswith("/") and os.path.isdir(b):
                # an existing directory whose name carries the payload passes existence checks
                sneaky = os.path.join(b, f"a;touch {rel};b")
                os.makedirs(sneaky, exist_ok=True)
                out.insert(0, sneaky)
            return out

        def reset() -> None:
            for m in (mark, os.path.join("/work", rel)):
                if os.path.exists(m):
                    os.remove(m)

        def judge(res: dict[str, Any], payload: Any, name: str) -> tuple[str | None, str]:
            if os.path.exists(mark) or os.path.exists(os.path.join("/work", rel)):
                cmds = [c for c in rt.command_events(res["events"]) if "touch" in c]
                return "vulnerable", "marker command executed" + (f" via {cmds[0][:200]!r}" if cmds else "")
            return None, ""

        return rt.exploit(fn, params, payloads, judge, reached=rt.command_events, reset=reset)
