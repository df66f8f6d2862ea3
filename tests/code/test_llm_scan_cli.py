"""`bluecode scan --engine llm` end to end: the real entry point in a subprocess, the scripted
OpenAI-compatible server (a test double) over loopback with the real openai client, the real sandbox."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llm.scripted_openai_server import ScriptedOpenAIServer, ScriptedReply

VULN = 'import os\n\n\ndef ping(host: str) -> int:\n    return os.system("ping -c 1 " + host)\n'
TEST = """\
def check(subject, bc):
    seen = []
    subject.os.system = lambda cmd: seen.append(cmd) or 0
    subject.ping("127.0.0.1; id")
    if any(";" in c for c in seen):
        bc.vulnerable("os.system received %r" % seen)
    else:
        bc.safe("no separator reached the shell")
"""
CONSTITUTION = {
    "reasoning": "r",
    "principles": [{"cwe": "CWE-78", "kind": "unsafe", "text": "No input in shell strings."}],
}
CLAIM = {"reasoning": "host reaches os.system", "vulnerable": True, "cwe": "CWE-78", "function": "ping", "lines": [5],
         "confidence": 0.7}  # fmt: skip
JUDGE = {"reasoning": "the test observed it", "verdict": "vulnerable", "cwe": "CWE-78", "confidence": 0.97}

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None and not Path("/usr/bin/bwrap").exists(), reason="bubblewrap not installed"
)


@pytest.fixture(scope="module")
def code_kb(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    from bluecodeagent.knowledge.builder import build_kb
    from bluecodeagent.redteam.vulns import vulnerable_pairs

    path = tmp_path_factory.mktemp("scan-kb") / "kb.sqlite"
    build_kb(path, vulnerable_pairs(["CWE-78"], per_cwe=2), embedder).close()
    return path


@pytest.fixture
def server(scripted_llm: ScriptedOpenAIServer) -> ScriptedOpenAIServer:
    return scripted_llm.script(
        ScriptedReply(match="Distil what separates the", content=CONSTITUTION),
        ScriptedReply(match="careful application-security reviewer", content=CLAIM),
        ScriptedReply(match="one dynamic security test", content={"reasoning": "fake os.system", "test_code": TEST}),
        ScriptedReply(match="final judge of a security review", content=JUDGE),
    )


def bluecode(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "BLUECODE_LLM_CACHE_PATH": str(tmp_path / "llm-cache.sqlite"),
        "BLUECODE_LLM_RETRY_BACKOFF": "0",
        "BLUECODE_LLM_TIMEOUT": "5",
    }
    return subprocess.run(
        [sys.executable, "-m", "bluecodeagent", *args], capture_output=True, text=True, timeout=300, env=env
    )


def test_scan_with_the_llm_engine_confirms_in_the_sandbox_and_traces(tmp_path, code_kb, server) -> None:
    src = tmp_path / "net.py"
    src.write_text(VULN)
    trace = tmp_path / "trace.jsonl"
    r = bluecode(tmp_path, "scan", str(src), "-f", "json", "--kb", str(code_kb), "--engine", "llm",
                 "--llm-base-url", server.base_url, "--llm-model", server.model, "--trace", str(trace))  # fmt: skip
    assert r.returncode == 1, r.stderr
    [v] = json.loads(r.stdout)
    assert v["engine"] == "llm" and v["label"] == "vulnerable" and v["category"] == "CWE-78"
    [f] = v["findings"]
    assert f["confirmed"] and f["line"] == 5 and "127.0.0.1; id" in f["details"]["dynamic"]["evidence"]
    assert v["evidence"]["constitution"][0]["text"] == "No input in shell strings."
    assert v["evidence"]["dynamic"][0]["outcome"] == "vulnerable" and v["evidence"]["dynamic"][0]["subject_verified"]
    assert "llm: 4 call(s)" in r.stderr
    # the real client asked for structured output; every call and the sandbox run share one trace id
    assert all(q["response_format"]["type"] == "json_schema" for q in server.chat_requests())
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    kinds = [rec["kind"] for rec in records]
    assert kinds.count("llm") == 4 and kinds.count("sandbox") == 1
    assert {rec["trace_id"] for rec in records} == {v["trace_id"]}
    assert kinds[-1] == "verdict" and records[-1]["confirmed"] is True
    steps = [rec["step"] for rec in records if rec["kind"] == "llm"]
    assert steps == ["code-constitution", "code-review", "code-testgen", "code-judge"]


def test_a_dead_endpoint_is_one_error_line_or_the_offline_verdict(tmp_path, code_kb) -> None:
    src = tmp_path / "net.py"
    src.write_text(VULN)
    args = ["scan", str(src), "--kb", str(code_kb), "--engine", "llm", "--llm-base-url", "http://127.0.0.1:9/v1",
            "--llm-model", "m"]  # fmt: skip
    r = bluecode(tmp_path, *args)
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in r.stderr
    r = bluecode(tmp_path, *args, "--fallback", "offline", "-f", "json")
    assert r.returncode == 1, r.stderr
    [v] = json.loads(r.stdout)
    assert v["engine"] == "offline" and v["label"] == "vulnerable"
    assert any("--fallback offline" in n for n in v["evidence"]["notes"])


def test_scan_without_an_endpoint_says_how_to_set_one(tmp_path, code_kb) -> None:
    src = tmp_path / "net.py"
    src.write_text(VULN)
    r = bluecode(tmp_path, "scan", str(src), "--kb", str(code_kb), "--engine", "llm")
    assert r.returncode == 2 and "--llm-base-url" in r.stderr and "Traceback" not in r.stderr


def test_hybrid_leaves_confident_offline_verdicts_alone(tmp_path, code_kb, server) -> None:
    clean = tmp_path / "clean.py"
    clean.write_text("def add(a: int, b: int) -> int:\n    return a + b\n")
    r = bluecode(tmp_path, "scan", str(clean), "-f", "json", "--kb", str(code_kb), "--engine", "hybrid",
                 "--llm-base-url", server.base_url, "--llm-model", server.model)  # fmt: skip
    assert r.returncode == 0, r.stderr
    [v] = json.loads(r.stdout)
    assert v["engine"] == "hybrid" and v["label"] == "safe"
    assert server.chat_requests() == []
    assert "hybrid: 1 of 1 file(s) decided offline, 0 by the LLM" in r.stderr


def test_hybrid_asks_the_model_about_the_uncertain_file_only(tmp_path, code_kb, scripted_llm) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "clean.py").write_text("def add(a: int, b: int) -> int:\n    return a + b\n")
    # static analysis suspects MD5 (score 0.7, no probe confirms it): inside the uncertain band
    md5 = "import hashlib\n\n\ndef etag(body: bytes) -> str:\n    return hashlib.md5(body).hexdigest()\n"
    (tmp_path / "src" / "etag.py").write_text(md5)
    clear = {"reasoning": "an HTTP cache tag, not a password hash", "vulnerable": False, "cwe": None,
             "function": None, "lines": [], "confidence": 0.8}  # fmt: skip
    scripted_llm.script(
        ScriptedReply(match="Distil what separates the", content=CONSTITUTION),
        ScriptedReply(match="def etag", content=clear),
    )
    r = bluecode(tmp_path, "scan", str(tmp_path / "src"), "-f", "json", "--kb", str(code_kb), "--engine", "hybrid",
                 "--llm-base-url", scripted_llm.base_url, "--llm-model", scripted_llm.model)  # fmt: skip
    assert r.returncode == 0, r.stderr
    verdicts = {Path(v["path"]).name: v for v in json.loads(r.stdout)}
    assert verdicts["clean.py"]["engine"] == "hybrid" and "no LLM call" in verdicts["clean.py"]["evidence"]["notes"][-1]
    etag = verdicts["etag.py"]
    assert etag["engine"] == "hybrid" and etag["label"] == "safe"
    assert etag["evidence"]["signals"]["offline_score"] == 0.7
    assert len(scripted_llm.chat_requests()) == 2  # constitution + review, for etag.py only
    assert "hybrid: 1 of 2 file(s) decided offline, 1 by the LLM" in r.stderr


def test_batch_scan_with_the_llm_engine(tmp_path, code_kb, server) -> None:
    batch = tmp_path / "snippets.jsonl"
    batch.write_text("".join(json.dumps({"id": i, "code": VULN}) + "\n" for i in ("a", "b")))
    r = bluecode(tmp_path, "scan", "-i", str(batch), "--kb", str(code_kb), "--engine", "llm",
                 "--llm-base-url", server.base_url, "--llm-model", server.model)  # fmt: skip
    assert r.returncode == 1, r.stderr
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert [rec["id"] for rec in records] == ["a", "b"]
    assert all(rec["findings"][0]["confirmed"] and rec["findings"][0]["dynamic"] == "vulnerable" for rec in records)
    # identical subjects: the second one's answers come from the disk cache
    assert "llm: 8 call(s) (4 cached)" in r.stderr
