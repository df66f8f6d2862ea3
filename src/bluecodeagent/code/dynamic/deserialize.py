"""CWE-502: does untrusted data get deserialised into objects that run code?"""

from __future__ import annotations

from typing import Any, ClassVar

from bluecodeagent.code.dynamic.base import Probe, register


@register
class DeserializeProbe(Probe):
    """Pickle and YAML payloads whose construction creates a marker file."""

    name: ClassVar[str] = "deserialize"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-502",)

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        import os
        import pickle

        mark = rt.MARKER
        PARSE_ERRORS = {
            "ConstructorError",
            "ReaderError",
            "ScannerError",
            "ParserError",
            "JSONDecodeError",
            "UnpicklingError",
            "UnicodeDecodeError",
            "YAMLError",
        }

        class Boom:
            def __reduce__(self) -> Any:
                return (os.system, (f"touch {mark}",))

        pick = pickle.dumps(Boom(), protocol=2)
        yml = f"!!python/object/apply:os.system ['touch {mark}']"
        payloads = [pick, yml, pick.decode("latin-1")]
        formats = [p.name for p in rt.parameters(fn) if any(k in p.name.lower() for k in ("format", "type", "method"))]

        def reset() -> None:
            if os.path.exists(mark):
                os.remove(mark)

        def judge(res: dict[str, Any], payload: Any, name: str) -> tuple[str | None, str]:
            if os.path.exists(mark):
                return "vulnerable", "deserialising the input executed a payload (marker file created)"
            if any(
                n == "pickle.find_class" and args and args[0] in ("posix", "os", "nt", "subprocess")
                for n, args in res["events"]
            ):
                return "vulnerable", "deserialising the input resolved os.system"
            if res["returned"]:
                return "rejected", "the payload was parsed as plain data"
            if res["exc_type"] in PARSE_ERRORS:
                return "rejected", f"the parser refused the payload ({res['exc_type']})"
            return None, ""

        out = rt.exploit(fn, [p for p in params if p not in formats], payloads, judge, reset=reset)
        for fmt in ("pickle", "yaml", "marshal"):
            if out["outcome"] == "vulnerable" or not formats:
                break
            alt = rt.exploit(
                fn,
                [p for p in params if p not in formats],
                payloads,
                judge,
                reset=reset,
                overrides=dict.fromkeys(formats, fmt),
            )
            if alt["outcome"] == "vulnerable" or out["outcome"] == "not_exercised":
                out = alt
        return out
