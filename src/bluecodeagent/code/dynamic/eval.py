"""CWE-94/95: is input evaluated as code? An expression that creates a marker file must not run."""

from __future__ import annotations

from typing import Any, ClassVar

from bluecodeagent.code.dynamic.base import Probe, register


@register
class EvalProbe(Probe):
    """Feeds expressions and statements with a side effect; the side effect confirms code injection."""

    name: ClassVar[str] = "eval"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-94", "CWE-95", "CWE-1336")

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        import os

        mark = rt.MARKER
        payloads = [
            f"__import__('os').system('touch {mark}')",
            f"open('{mark}', 'w').write('x')",
            f"import os\nos.system('touch {mark}')",
            f"[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'catch_warnings'][0]()"
            f"._module.__builtins__['open']('{mark}', 'w')",
        ]

        def reset() -> None:
            if os.path.exists(mark):
                os.remove(mark)

        def reached(events: list[Any]) -> bool:
            return any(name == "exec" and args and args[0] == "<string>" for name, args in events)

        def judge(res: dict[str, Any], payload: Any, name: str) -> tuple[str | None, str]:
            if os.path.exists(mark):
                return "vulnerable", "the input was executed as code (marker file created)"
            return None, ""

        return rt.exploit(fn, params, payloads, judge, reached=reached, reset=reset)
