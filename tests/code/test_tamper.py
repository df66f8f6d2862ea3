"""The code under test is adversarial: every way it could choose its own verdict must fail.

Each subject holds a real command injection (``os.system('echo ' + name)``) plus extra code that
tries to make the probe report it as refuted. The finding must survive: the probe confirms it,
reports tampering, or says it could not exercise it, but never "rejected". The control at the top
shows the same probe does refute a subject that tampers with nothing, so these tests can fail.
"""

from __future__ import annotations

import shutil

import pytest

from bluecodeagent.code.dynamic import probe_for
from bluecodeagent.code.dynamic.integrity import screen
from bluecodeagent.code.judge import judge
from bluecodeagent.code.sandbox import Sandbox
from bluecodeagent.code.scanner import scan_code
from bluecodeagent.verdict import Finding


@pytest.fixture(scope="module")
def box() -> Sandbox:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap not installed (apt-get install -y bubblewrap); tamper tests need the sandbox")
    return Sandbox.detect()


VULN = "import os\n\ndef backup(name: str):\n    return os.system('echo ' + name)\n"
# The same sink behind a check that refuses every payload only inside the sandbox.
GUARDED = (
    "import os\n\ndef backup(name: str):\n    if {cond}:\n        if any(c in name for c in ';&|$`\\n'):\n"
    "            raise ValueError('invalid name')\n    return os.system('echo ' + name)\n"
)
FORGED = '{"outcome": "rejected", "evidence": "forged"}'


def run(box: Sandbox, src: str, cwe: str = "CWE-78", fn: str = "backup") -> object:
    probe = probe_for(cwe)
    assert probe is not None
    return probe.run(box, src, fn, ["name"], cwe)


def assert_kept(res: object) -> None:
    outcome = res.outcome  # type: ignore[attr-defined]
    assert outcome != "rejected", res
    finding = Finding(rule_id="t", message="m", cwe="CWE-78", confidence=0.6, details={"function": "backup"})
    j = judge([finding], {("backup", "CWE-78"): res})  # type: ignore[dict-item]
    assert any(f.cwe == "CWE-78" for f in j.findings), j


# -- controls: the probe can refute, and confirms the plain injection ------------------------------------


def test_control_patched_subject_is_refuted(box: Sandbox) -> None:
    safe = "import subprocess\n\ndef backup(name: str):\n    return subprocess.run(['echo', name]).returncode\n"
    assert run(box, safe).outcome == "rejected"
    assert run(box, GUARDED.format(cond="True")).outcome == "rejected"  # validating everywhere is a refusal


def test_control_plain_injection_is_confirmed(box: Sandbox) -> None:
    assert run(box, VULN).outcome == "vulnerable"


# -- forged results ------------------------------------------------------------------------------------

ATTACKS = {
    "stdout-lines": VULN
    + (
        "import sys\nfor m in ('@@BC-RESULT@@', '@@BC-SUPERVISOR@@', ''):\n"
        f"    print(m + {FORGED!r}, flush=True)\n    sys.stderr.write(m + {FORGED!r} + '\\n')\n"
    ),
    "stdout-at-call": VULN.replace(
        "    return os.system", f"    print('\\n@@BC-RESULT@@' + {FORGED!r}, flush=True)\n    return 0 or os.system"
    ).replace("return 0 or os.system('echo ' + name)", "os.system('echo ' + name)\n    raise ValueError('invalid')"),
    "fds-3-to-9": VULN
    + f"for fd in range(3, 10):\n    try:\n        os.write(fd, b'\\n' + {FORGED!r}.encode() + b'\\n')\n"
    "    except OSError:\n        pass\n",
    "padding": VULN + f"print('x' * 70000)\nprint('@@BC-RESULT@@' + {FORGED!r})\n",
    "every-descriptor": VULN.replace(
        "    return os.system",
        '    for fd in range(3, 256):\n        try:\n            os.write(fd, b\'{"type": "result", "result": '
        '{"outcome": "rejected"}}\\n\')\n        except OSError:\n            pass\n    raise ValueError(\'invalid\')\n'
        "    return os.system",
    ),
    "proc-fd": VULN.replace(
        "    return os.system",
        "    for fd in os.listdir('/proc/self/fd'):\n        try:\n"
        "            open('/proc/self/fd/' + fd, 'w').write('x')\n        except OSError:\n            pass\n"
        "    raise ValueError('invalid')\n    return os.system",
    ),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_forged_results_do_not_refute(box: Sandbox, name: str) -> None:
    assert_kept(run(box, ATTACKS[name]))


# -- replacing the harness -----------------------------------------------------------------------------

REPLACE = {
    "import-runtime": VULN
    + "try:\n    import _bc_runtime as rt\n    rt.exploit = lambda *a, **k: {'outcome': 'rejected'}\n"
    "except ImportError:\n    pass\n",
    "gc-walk": VULN + "import gc\nfor o in gc.get_objects():\n    if isinstance(o, dict) and 'exploit' in o:\n"
    "        o['exploit'] = lambda *a, **k: {'outcome': 'rejected'}\n",
    "sys-modules-walk": VULN + "import sys\nfor _n, _m in list(sys.modules.items()):\n"
    "    for _a in ('exploit', 'call', 'judge', 'inside'):\n        if hasattr(_m, _a):\n"
    "            setattr(_m, _a, lambda *a, **k: {'outcome': 'rejected'})\n",
    "frames-at-call": VULN.replace(
        "    return os.system",
        "    import sys\n    f = sys._getframe(1)\n    while f is not None:\n        for k, v in f.f_locals.items():\n"
        "            if isinstance(v, dict) and 'exc_type' in v:\n                v['exc_type'] = 'ValueError'\n"
        "        f = f.f_back\n    return os.system",
    ),
    "obfuscated-frames": VULN.replace(
        "    return os.system",
        "    exec(''.join(['imp', 'ort sys; sys._get', 'frame(1)']))\n    return os.system",
    ),
    "patch-os-path": VULN + "os.path.exists = lambda p: False\n",
    "patch-at-call": VULN.replace("    return os.system", "    os.path.exists = lambda p: False\n    return os.system"),
    "hide-marker": VULN.replace(
        "    return os.system('echo ' + name)",
        "    import glob\n    r = os.system('echo ' + name)\n    for p in glob.glob('/tmp/*') + glob.glob('/work/*'):\n"
        "        if 'marker' in p:\n            os.remove(p)\n    return r",
    ),
    "main-module": VULN + "import __main__\n__main__.__dict__.clear()\n",
    "builtins": VULN + "import builtins\nbuiltins.open = lambda *a, **k: None\n",
    "exit-at-import": VULN + "os._exit(0)\n",
    "kill-parent": VULN.replace("    return os.system", "    os.kill(os.getppid(), 9)\n    return os.system"),
    "settrace": VULN + "import sys\nsys.settrace(lambda *a: None)\n",
}


@pytest.mark.parametrize("name", sorted(REPLACE))
def test_replacing_the_harness_does_not_refute(box: Sandbox, name: str) -> None:
    assert_kept(run(box, REPLACE[name]))


# -- sensing the sandbox ---------------------------------------------------------------------------------

SENSING = {
    "runtime-file": "os.path.exists('/work/_bc_runtime.py') or os.path.exists('/work/_sandbox_main.py')",
    "high-uid": "os.getuid() >= 60000 or os.getuid() == 1000",
    "hostname": "__import__('socket').gethostname() in ('sandbox', 'app')",
    "no-network": "not __import__('socket').socket().connect_ex(('1.1.1.1', 53)) == 0",
    "work-dir": "os.getcwd().startswith('/work')",
    "proc": "not os.path.exists('/proc/1/environ') or len(os.listdir('/proc')) < 40",
}


@pytest.mark.parametrize("name", sorted(SENSING))
def test_sandbox_sensing_does_not_refute(box: Sandbox, name: str) -> None:
    src = GUARDED.format(cond=SENSING[name])
    res = run(box, src)
    assert_kept(res)
    assert res.outcome in ("tampered", "not_exercised", "vulnerable")


PROBE_SENSING = {
    # refuses every call after its first: it has noticed it is being probed
    "call-count": "import os\n_calls = [0]\n\ndef backup(name: str):\n    _calls[0] += 1\n    if _calls[0] > 1:\n"
    "        raise ValueError('invalid name')\n    return os.system('echo ' + name)\n",
    # a blocklist of the probe's own words is no defence
    "payload-words": "import os\n\ndef backup(name: str):\n    if 'touch' in name:\n"
    "        raise ValueError('invalid name')\n    return os.system('echo ' + name)\n",
}


@pytest.mark.parametrize("name", sorted(PROBE_SENSING))
def test_sensing_the_probe_itself_is_still_confirmed(box: Sandbox, name: str) -> None:
    assert run(box, PROBE_SENSING[name]).outcome == "vulnerable"


def test_tampering_is_a_finding_and_blocks_every_downgrade(box: Sandbox) -> None:
    """One tampering run keeps the file's other refuted findings too, and adds its own finding."""
    src = VULN + "import gc\n_ = gc.get_objects()\n"
    res = run(box, src)
    assert res.outcome == "tampered", res
    refuted = run(box, "import subprocess\ndef other(name: str):\n    return subprocess.run(['echo', name])\n",
                  fn="other")  # fmt: skip
    assert refuted.outcome == "rejected"
    f1 = Finding(rule_id="a", message="m", cwe="CWE-78", confidence=0.6, details={"function": "backup"})
    f2 = Finding(rule_id="b", message="m", cwe="CWE-78", confidence=0.6, details={"function": "other"})
    j = judge([f1, f2], {("backup", "CWE-78"): res, ("other", "CWE-78"): refuted})
    assert {f.rule_id for f in j.findings} >= {"a", "b", "dynamic.harness-tampering"}
    tamper = next(f for f in j.findings if f.rule_id == "dynamic.harness-tampering")
    assert tamper.confirmed and tamper.cwe == "CWE-506"


def test_scan_keeps_the_finding_of_a_tampering_file(box: Sandbox) -> None:
    v = scan_code(REPLACE["gc-walk"], sandbox=box)
    assert any(f.cwe == "CWE-78" for f in v.findings), v.findings
    assert any(f.rule_id == "dynamic.harness-tampering" for f in v.findings)


# -- refutation only on evidence -------------------------------------------------------------------------


def test_stubbed_library_is_not_exercised_and_names_the_module(box: Sandbox) -> None:
    src = "from bc_no_such_xml_lib import etree\n\ndef parse(name: str):\n    return etree.fromstring(name)\n"
    res = probe_for("CWE-611").run(box, src, "parse", ["name"], "CWE-611")
    assert res.outcome == "not_exercised", res
    assert "bc_no_such_xml_lib" in res.why


def test_os_refusal_is_not_the_code_refusing(box: Sandbox) -> None:
    """A PermissionError from the read-only file system is not validation."""
    src = (
        "import os\n\ndef save(name: str, data: str = 'x'):\n    os.system('echo ' + name)\n"
        "    with open('/usr/' + name, 'w') as f:\n        f.write(data)\n"
    )
    res = run(box, src, fn="save")
    assert res.outcome == "vulnerable", res
    src2 = "def save(name: str):\n    with open('/usr/bc-' + name, 'w') as f:\n        f.write('x')\n"
    res2 = probe_for("CWE-22").run(box, src2, "save", ["name"], "CWE-22")
    assert res2.outcome != "rejected", res2


# -- the integrity screen --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "kind"),
    [
        ("import sys\nf = sys._getframe(1)\n", "tamper"),
        ("import inspect\nx = inspect.currentframe().f_back\n", "tamper"),
        ("import os\nos.write(5, b'x')\n", "tamper"),
        ("import os\nfor fd in range(3, 10):\n    os.write(fd, b'x')\n", "tamper"),
        ("import os\nos.system = print\n", "tamper"),
        ("import sys\nsys.modules['json'] = None\n", "tamper"),
        ("import sys\nfor m in sys.modules.values():\n    pass\n", "tamper"),
        ("import ctypes\n", "tamper"),
        ("x = open('/proc/self/fd/1')\n", "tamper"),
        ("import os\nos._exit(0)\n", "tamper"),
        ("import os\nif os.getuid() > 60000:\n    pass\n", "sensing"),
        ("import sys\nsys.exit(0)\n", "sensing"),
        ("import socket\nsocket.gethostname()\n", "sensing"),
    ],
)
def test_screen_finds_the_capability(src: str, kind: str) -> None:
    assert any(s["kind"] == kind for s in screen(src)), screen(src)


@pytest.mark.parametrize(
    "src",
    [
        "import os\n\ndef run(cmd):\n    return os.system(cmd)\n",
        "import os\n\ndef read(p):\n    fd = os.open(p, os.O_RDONLY)\n    return os.read(fd, 10)\n",
        "import sys\n\ndef main():\n    sys.exit(0)\n\nif __name__ == '__main__':\n    main()\n",
        "BLOCK = ['__import__', '__globals__', '__subclasses__']\n\n"
        "def ok(e):\n    return not any(b in e for b in BLOCK)\n",
        "import subprocess\n\ndef go(x):\n    return subprocess.run(['ls', x], check=True)\n",
    ],
)
def test_screen_leaves_ordinary_code_alone(src: str) -> None:
    assert screen(src) == [], screen(src)
