"""Per-run overhead of the sandbox: median wall time of `pass` inside vs. plain python3.

Also a supervised run (the supervisor and a fresh worker process, as every probe runs; see
docs/threat-model.md) and one probe end to end against a one-line function.

Run: python benchmarks/sandbox_overhead.py [runs]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from bluecodeagent.code.dynamic import probe_for
from bluecodeagent.code.dynamic.supervised import run_supervised
from bluecodeagent.code.sandbox import DEFAULT_PYTHON, Sandbox, SandboxLimits


def _median_ms(fn, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times)


WORKER = (
    "import json, os, sys\n"
    "os.write(int(sys.argv[1]), (json.dumps({'type': 'result', 'result': {}}) + '\\n').encode())\n"
)
SUBJECT = "import subprocess\ndef f(x: str):\n    return subprocess.run(['true', x]).returncode\n"


def main(runs: int = 20) -> None:
    box = Sandbox.detect()
    probe = probe_for("CWE-78")
    assert probe is not None
    box.run_python("pass")  # warm the page cache
    files = {f"f{i}.py": "x = 1\n" * 100 for i in range(3)}
    rows = [
        ("python3 -c pass (no sandbox)", _median_ms(lambda: subprocess.run([DEFAULT_PYTHON, "-I", "-c", ""]), runs)),
        ("sandbox run_python('pass')", _median_ms(lambda: box.run_python("pass"), runs)),
        ("sandbox, 3 files + stdin", _median_ms(lambda: box.run_python("import sys", files=files, stdin="x"), runs)),
        ("supervised worker (pass)", _median_ms(lambda: run_supervised(box, WORKER, {}, {}, SandboxLimits()), runs)),
        ("probe CWE-78 on a 2-line function", _median_ms(lambda: probe.run(box, SUBJECT, "f", ["x"], "CWE-78"), runs)),
    ]
    base = rows[0][1][0]
    print(f"bubblewrap {box.version}; layers: {', '.join(k for k, v in box.layers().items() if v)}")
    print(f"{'run':34} {'median ms':>10} {'max ms':>8} {'overhead ms':>12}")
    for name, (med, mx) in rows:
        print(f"{name:34} {med:10.1f} {mx:8.1f} {med - base:12.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
