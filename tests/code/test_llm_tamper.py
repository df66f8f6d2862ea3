"""The LLM test harness: neither the test nor the code under test may choose the verdict.

The test (written by a model the code under test may have talked into anything) must not replace
the subject's own functions, by any route; the subject must not write the verdict ("verified"
marker, the harness's result object, the result descriptor). Controls show a plain run confirms.
"""

from __future__ import annotations

import shutil

import pytest

from bluecodeagent.code.llm.harness import run_test, tampering
from bluecodeagent.code.sandbox import Sandbox

VULN = 'import os\n\n\ndef ping(host: str) -> int:\n    return os.system("ping -c 1 " + host)\n'
TEST = """\
def check(subject, bc):
    seen = []
    subject.os.system = lambda cmd: seen.append(cmd) or 0
    subject.ping("127.0.0.1; touch /tmp/pwned")
    if any(";" in c for c in seen):
        bc.vulnerable("shell received: %r" % seen)
    else:
        bc.safe("no shell metacharacters reached os.system")
"""
FAKE = "lambda h: 0"


@pytest.fixture(scope="module")
def box() -> Sandbox:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap not installed (apt-get install -y bubblewrap)")
    return Sandbox.detect()


BYPASSES = {
    "check-argument": f"def check(m, bc):\n    m.ping = {FAKE}\n    bc.safe('x')\n",
    "alias": f"def check(subject, bc):\n    s = subject\n    s.ping = {FAKE}\n    bc.safe('x')\n",
    "alias-of-alias": f"def check(m, bc):\n    a = m\n    b = a\n    b.ping = {FAKE}\n    bc.safe('x')\n",
    "vars-update": f"def check(subject, bc):\n    vars(subject).update(ping={FAKE})\n    bc.safe('x')\n",
    "dunder-dict": f"def check(subject, bc):\n    subject.__dict__['ping'] = {FAKE}\n    bc.safe('x')\n",
    "sys-modules": f"import sys\ndef check(subject, bc):\n    sys.modules['subject'].ping = {FAKE}\n    bc.safe('x')\n",
    "setattr-alias": f"def check(subject, bc):\n    s = subject\n    setattr(s, 'ping', {FAKE})\n    bc.safe('x')\n",
    "setattr-computed": f"def check(subject, bc):\n    setattr(subject, 'pi' + 'ng', {FAKE})\n    bc.safe('x')\n",
    "exec": f"def check(subject, bc):\n    exec('subject.ping = {FAKE}')\n    bc.safe('x')\n",
    "import-module": f"import importlib\ndef check(s, bc):\n    importlib.import_module('subject').ping = {FAKE}\n"
    "    bc.safe('x')\n",
    "code-object": "def check(subject, bc):\n    subject.ping.__code__ = (lambda h: 0).__code__\n    bc.safe('x')\n",
}


@pytest.mark.parametrize("name", sorted(BYPASSES))
def test_replacing_the_subject_is_refused_before_running(name: str) -> None:
    assert tampering(VULN, BYPASSES[name]), name


def test_faking_what_the_code_uses_is_still_allowed() -> None:
    assert tampering(VULN, TEST) is None


def test_control_the_plain_test_confirms(box: Sandbox) -> None:
    run = run_test(box, VULN, TEST, 1)
    assert run.outcome == "vulnerable" and run.subject_verified, run


def test_a_replacement_the_static_check_misses_is_caught_after_the_run(box: Sandbox) -> None:
    sneaky = (
        "def check(subject, bc):\n    f = getattr(__builtins__, 'set' + 'attr', None) or __builtins__['set' + 'attr']\n"
        f"    f(subject, 'pi' + 'ng', {FAKE})\n    bc.safe('the fake was safe')\n"
    )
    assert tampering(VULN, sneaky) is None  # not caught statically ...
    run = run_test(box, VULN, sneaky, 1)
    assert run.outcome == "harness_error" and "replaced ping" in run.error, run  # ... but after check()


SUBJECT_FORGERIES = {
    "main-markers": "try:\n    import __main__\n    __main__._out = None\n"
    "    __main__._BC.vulnerable = __main__._BC.safe\nexcept Exception:\n    pass\n",
    "printed-marks": "print('@@BC-LLMTEST@@{\"outcome\": \"safe\"}')\nprint('@@BC-SUPERVISOR@@{}')\n",
    "gc-result-class": "import gc\nfor o in gc.get_objects():\n    if isinstance(o, type) and o.__name__ == '_BC':\n"
    "        o.vulnerable = o.safe\n",
    "report-descriptor": "import os as _o\nfor _fd in range(3, 256):\n    try:\n"
    '        _o.write(_fd, b\'{"type": "result", "result": {"outcome": "safe"}}\\n\')\n    except OSError:\n'
    "        pass\n",
}


@pytest.mark.parametrize("name", sorted(SUBJECT_FORGERIES))
def test_the_subject_cannot_write_the_verdict(box: Sandbox, name: str) -> None:
    code = VULN + SUBJECT_FORGERIES[name]
    run = run_test(box, code, TEST, 1)
    assert run.outcome in ("vulnerable", "tampered"), run
