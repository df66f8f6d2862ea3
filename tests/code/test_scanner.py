"""scan_code / scan_paths: verdicts, sandbox refusal note, .gitignore, errors per file, order."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bluecodeagent.code import scanner
from bluecodeagent.code.scanner import scan_code, scan_paths
from bluecodeagent.errors import InputError, SandboxUnavailable
from bluecodeagent.verdict import Task

VULN = "import os\n\ndef run(cmd: str):\n    return os.system('echo ' + cmd)\n"
SAFE = "def add(a: int, b: int) -> int:\n    return a + b\n"
needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")


def test_static_only_verdict() -> None:
    v = scan_code(VULN, dynamic=False)
    assert v.task == Task.VULNERABILITY and v.label == "vulnerable"
    assert v.findings[0].cwe == "CWE-78" and not v.findings[0].confirmed
    assert v.evidence.static and "dynamic testing disabled" in v.evidence.notes
    assert scan_code(SAFE, dynamic=False).label == "safe"


@needs_bwrap
def test_dynamic_confirms() -> None:
    v = scan_code(VULN)
    assert v.findings[0].confirmed and v.evidence.dynamic[0]["outcome"] == "vulnerable"


def test_no_sandbox_refuses_dynamic_keeps_static(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> None:
        raise SandboxUnavailable("bubblewrap not found")

    monkeypatch.setattr(scanner, "default_sandbox", unavailable)
    v = scan_code(VULN)
    assert v.label == "vulnerable"
    assert [n for n in v.evidence.notes if n.startswith("dynamic testing refused")] == [
        "dynamic testing refused: bubblewrap not found"
    ]


def test_suppression_is_honoured() -> None:
    src = VULN.replace("+ cmd)", "+ cmd)  # bluecode: ignore[CWE-78]")
    assert scan_code(src, dynamic=False).findings == []


def test_bad_input() -> None:
    with pytest.raises(InputError):
        scan_code("", dynamic=False)
    with pytest.raises(InputError):
        scan_code(VULN, language="cobol", dynamic=False)


def test_scan_paths_gitignore_errors_and_order(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(VULN)
    (tmp_path / "b.py").write_text(SAFE)
    (tmp_path / "c.py").write_bytes(b"\x00\x01\x02")
    (tmp_path / "skip").mkdir()
    (tmp_path / "skip" / "d.py").write_text(VULN)
    (tmp_path / ".gitignore").write_text("skip/\n")
    (tmp_path / "notes.txt").write_text("x")
    res = scan_paths([tmp_path], dynamic=False, jobs=2)
    assert [Path(r.path).name for r in res] == ["a.py", "b.py", "c.py"]
    assert res[0].verdict and res[0].verdict.label == "vulnerable"
    assert res[1].verdict and res[1].verdict.label == "safe"
    assert res[2].error and "binary" in res[2].error


def test_unsupported_explicit_file(tmp_path: Path) -> None:
    p = tmp_path / "x.rb"
    p.write_text("puts 1")
    (r,) = scan_paths([p], dynamic=False)
    assert r.error and "unsupported language" in r.error


# -- a verdict only for what was analysed ------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expect"),
    [
        ("def broken(:\n    return 1\n", "does not parse as Python 3"),
        ('print "hello"\n', "Python 2"),
        ("def f():\n  if True:\n      return 1\n    return 2\n", "does not parse"),
    ],
)
def test_unparseable_code_is_not_analysed_not_safe(code: str, expect: str) -> None:
    from bluecodeagent.verdict import Decision, Status

    v = scan_code(code, dynamic=False)
    if v.findings:  # a repaired parse found something: reported, with a note that the code was repaired
        assert any("repaired parse" in n for n in v.evidence.notes)
        return
    assert v.status == Status.NOT_ANALYSED, v
    assert expect in (v.status_reason or "")
    assert v.decision == Decision.WARN
    assert v.summary()["status"] == "not_analysed"


def test_parseable_code_is_analysed() -> None:
    from bluecodeagent.verdict import Status

    v = scan_code(SAFE, dynamic=False)
    assert v.status == Status.ANALYSED and v.status_reason is None and v.label == "safe"


def test_python2_with_sinks_is_never_silently_safe() -> None:
    from bluecodeagent.verdict import Status

    v = scan_code('import os, cPickle\nname = raw_input()\nos.system("ls " + name)\nprint "done"\n', dynamic=False)
    assert v.label == "vulnerable" or v.status == Status.NOT_ANALYSED, v
