"""`bluecode scan` end to end: exit codes, batch order and error records, baselines, formats, bad input."""

from __future__ import annotations

import json
from pathlib import Path

from tests_helpers import run

VULN = "import os\n\ndef run(cmd: str):\n    return os.system('echo ' + cmd)\n"
SAFE = "def add(a: int, b: int) -> int:\n    return a + b\n"


def test_file_text_and_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "v.py").write_text(VULN)
    (tmp_path / "s.py").write_text(SAFE)
    r = run("scan", "--no-dynamic", str(tmp_path / "v.py"))
    assert r.returncode == 1 and b"CWE-78" in r.stdout
    assert run("scan", "--no-dynamic", str(tmp_path / "s.py")).returncode == 0
    assert run("scan", "--no-dynamic", "--fail-on", "never", str(tmp_path / "v.py")).returncode == 0


def test_stdin_and_bad_paths(tmp_path: Path) -> None:
    r = run("scan", "--no-dynamic", "-f", "jsonl", "-", stdin=VULN.encode())
    assert r.returncode == 1 and json.loads(r.stdout)["label"] == "vulnerable"
    assert run("scan", str(tmp_path / "missing.py")).returncode == 2
    (tmp_path / "b.py").write_bytes(b"\x00\xff")
    r = run("scan", str(tmp_path / "b.py"))
    assert r.returncode == 2 and b"binary" in r.stderr
    (tmp_path / "e.py").write_text("")
    assert run("scan", str(tmp_path / "e.py")).returncode == 2
    (tmp_path / "x.rb").write_text("puts 1")
    r = run("scan", str(tmp_path / "x.rb"))
    assert r.returncode == 2 and b"unsupported" in r.stderr


def test_batch_order_and_error_records(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "a", "code": VULN}),
        "not json",
        json.dumps({"id": "c", "code": SAFE}),
        json.dumps({"id": "d", "code": SAFE, "language": "cobol"}),
        json.dumps({"id": "e", "code": 3}),
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    r = run("scan", "--no-dynamic", "--input", str(tmp_path / "in.jsonl"), "--format", "jsonl", "--jobs", "2")
    out = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert [o["id"] for o in out] == ["a", None, "c", "d", "e"]
    assert out[0]["label"] == "vulnerable" and out[0]["findings"][0]["cwe"] == "CWE-78"
    assert set(out[0]["findings"][0]) >= {"cwe", "line", "confirmed", "severity", "confidence", "message"}
    assert out[2]["label"] == "safe"
    assert "error" in out[1] and "error" in out[3] and "error" in out[4]
    assert r.returncode == 2


def test_baseline_hides_known_findings(tmp_path: Path) -> None:
    (tmp_path / "v.py").write_text(VULN)
    base = tmp_path / "baseline.json"
    r = run("scan", "--no-dynamic", "--write-baseline", str(base), str(tmp_path / "v.py"))
    # recording a baseline accepts today's findings: exit 0, and it says what it wrote
    assert r.returncode == 0 and base.exists(), r.stderr
    assert f"wrote 1 finding fingerprint(s) to {base}" in r.stderr.decode()
    r = run("scan", "--no-dynamic", "--baseline", str(base), str(tmp_path / "v.py"))
    assert r.returncode == 0, r.stdout
    assert "SAFE score=0.00" in r.stdout.decode() and "hidden by the baseline" in r.stdout.decode()
    (tmp_path / "v.py").write_text(VULN + "\ndef two(x: str):\n    return os.popen('ls ' + x).read()\n")
    r = run("scan", "--no-dynamic", "--baseline", str(base), "-f", "jsonl", str(tmp_path / "v.py"))
    rec = json.loads(r.stdout)
    assert r.returncode == 1 and len(rec["findings"]) == 1 and rec["findings"][0]["line"] == 7


def test_sarif_output(tmp_path: Path) -> None:
    (tmp_path / "v.py").write_text(VULN)
    r = run("scan", "--no-dynamic", "-f", "sarif", str(tmp_path / "v.py"))
    doc = json.loads(r.stdout)
    assert doc["version"] == "2.1.0"
    assert doc["runs"][0]["results"][0]["ruleId"] == "py.cmd.shell-string"
