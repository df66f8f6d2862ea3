"""CWE-400/770/120: does the code accept unbounded input, streams or allocations?"""

from __future__ import annotations

from typing import Any, ClassVar

from bluecodeagent.code.dynamic.base import Probe, register
from bluecodeagent.code.sandbox import SandboxLimits


@register
class ResourceProbe(Probe):
    """A 40 MB streamed body and a 2 MB argument: processing them whole, with no limit, confirms it."""

    name: ClassVar[str] = "resources"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-400", "CWE-770", "CWE-120", "CWE-1284", "CWE-789")
    limits: ClassVar[SandboxLimits | None] = SandboxLimits(
        wall_seconds=20.0, cpu_seconds=15, memory_mb=768, tmpfs_mb=128, file_size_mb=100
    )

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        chunk = 64 * 1024
        total = 40 * 1024 * 1024
        counter = {"n": 0}

        class Streamed(rt.FakeResponse):
            CHUNK = b"x" * chunk
            BODY_CHUNKS = total // chunk

            def iter_content(self, chunk_size: Any = 1024, decode_unicode: bool = False) -> Any:
                for _ in range(self.BODY_CHUNKS):
                    counter["n"] += 1
                    yield self.CHUNK

            iter_lines = iter_content

        import sys

        req = sys.modules.get("requests")
        if req is not None and getattr(req, "Response", None) is rt.FakeResponse:
            for verb in ("get", "post", "request"):
                setattr(
                    req, verb, lambda *a, **k: (rt.record("http.request", "GET", a[0] if a else ""), Streamed(""))[1]
                )

        def payloads(benign: Any) -> list[Any]:
            if isinstance(benign, bytes):
                return [(benign or b"x") * (2_000_000 // max(1, len(benign or b"x")))]
            b = benign if isinstance(benign, str) and benign else "x"
            return [b * (2_000_000 // len(b))]

        def judge(res: dict[str, Any], payload: Any, name: str) -> tuple[str | None, str]:
            if counter["n"]:
                consumed = counter["n"] * chunk
                counter["n"] = 0
                if consumed >= total:
                    return "vulnerable", f"consumed a {total >> 20} MB stream with no size limit"
                return "rejected", f"stopped reading after {consumed >> 20} MB"
            if res["timeout"]:
                return "vulnerable", "a 2 MB input kept the call busy past its time budget"
            if res["returned"] and not rt.deliberate_rejection(res):
                return "vulnerable", "processed a 2 MB input with no length limit"
            return None, ""

        return rt.exploit(fn, params, payloads, judge, seconds=5.0, network=True)
