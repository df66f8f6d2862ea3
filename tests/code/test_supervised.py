"""The supervisor: the only channel to the host, out of the worker's reach."""

from __future__ import annotations

import shutil

import pytest

from bluecodeagent.code.dynamic.supervised import parse_messages, run_supervised
from bluecodeagent.code.sandbox import Sandbox, SandboxLimits

LIM = SandboxLimits(wall_seconds=20, cpu_seconds=20)
REPORT = "import json, os, sys\nos.write(int(sys.argv[1]), (json.dumps({msg}) + '\\n').encode())\n"


@pytest.fixture(scope="module")
def box() -> Sandbox:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap not installed (apt-get install -y bubblewrap)")
    return Sandbox.detect()


def test_a_clean_report_arrives(box: Sandbox) -> None:
    r = run_supervised(box, REPORT.format(msg={"type": "result", "result": {"outcome": "rejected"}}), {}, {}, LIM)
    assert r.state == "done" and r.result == {"outcome": "rejected"} and not r.tamper, r
    assert r.nondumpable  # nobody may read the supervisor's memory or descriptors


def test_lines_on_the_workers_streams_are_never_a_result(box: Sandbox) -> None:
    worker = (
        "import json, sys\nline = json.dumps({'type': 'result', 'result': {'outcome': 'rejected'}})\n"
        "print(line)\nprint('@@BC-SUPERVISOR@@' + line)\nsys.stderr.write(line + '\\n')\nprint('x' * 70000)\n"
    )
    r = run_supervised(box, worker, {}, {}, LIM)
    assert r.result is None and r.tamper, r  # it ended without reporting: the harness was ended by it


def test_the_worker_cannot_reach_the_supervisor(box: Sandbox) -> None:
    probe = (
        "import json, os, sys\nout = {}\nppid = os.getppid()\n"
        "for what in ('fd', 'environ', 'mem'):\n    try:\n"
        "        (os.listdir if what == 'fd' else lambda p: open(p, 'rb').read(1))('/proc/%d/%s' % (ppid, what))\n"
        "        out[what] = 'open'\n    except OSError as e:\n        out[what] = type(e).__name__\n"
        "os.write(int(sys.argv[1]), (json.dumps({'type': 'result', 'result': out}) + '\\n').encode())\n"
    )
    r = run_supervised(box, probe, {}, {}, LIM)
    assert r.result == {"fd": "PermissionError", "environ": "PermissionError", "mem": "PermissionError"}, r


def test_two_results_mean_one_was_forged() -> None:
    line = '{"type": "result", "result": {"outcome": "rejected"}}'
    result, tamper, _ = parse_messages(line + "\n" + line + "\n")
    assert result is None and tamper
    result, tamper, _ = parse_messages("garbage\n" + line + "\n")
    assert tamper
