"""The LLM code agent end to end with a scripted model (ScriptedBackend), a real knowledge base and the real sandbox."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bluecodeagent.code.llm.engine import CodeLLMOptions, LLMRoute, scan_llm
from bluecodeagent.code.llm.harness import run_test, tampering
from bluecodeagent.code.llm.pipeline import VARIANTS, LLMCodeScanner
from bluecodeagent.code.sandbox import Sandbox
from bluecodeagent.code.scanner import scan_code
from bluecodeagent.errors import ConfigError
from bluecodeagent.knowledge.store import KnowledgeBase
from bluecodeagent.llm.backend import LLMError
from bluecodeagent.verdict import Decision, Task, Verdict
from scripted_backend import ScriptedBackend

VULN = 'import os\n\n\ndef ping(host: str) -> int:\n    return os.system("ping -c 1 " + host)\n'
SAFE = (
    "import subprocess\n\n\ndef ping(host: str) -> int:\n"
    '    return subprocess.run(["ping", "-c", "1", host]).returncode\n'
)

CONSTITUTION = {
    "reasoning": "vulnerable examples splice input into shell strings",
    "principles": [
        {"cwe": "CWE-78", "kind": "unsafe", "text": "Caller input concatenated into os.system is injectable."},
        {"cwe": "78", "kind": "safe", "text": "Argument lists without a shell are safe."},
    ],
}
CLAIM = {
    "reasoning": "host flows into os.system unquoted",
    "vulnerable": True,
    "cwe": "CWE-78",
    "function": "ping",
    "lines": [5],
    "confidence": 0.7,
}
CLEAR = {"reasoning": "no shell", "vulnerable": False, "cwe": None, "function": None, "lines": [], "confidence": 0.9}
WRONG_NAME_TEST = "def check(subject, bc):\n    subject.pong('x')\n"
GOOD_TEST = """\
def check(subject, bc):
    seen = []
    subject.os.system = lambda cmd: seen.append(cmd) or 0
    subject.ping("127.0.0.1; touch /tmp/pwned")
    if any(";" in c for c in seen):
        bc.vulnerable("shell received: %r" % seen)
    else:
        bc.safe("no shell metacharacters reached os.system")
"""
JUDGE_VULN = {"reasoning": "test saw the injection", "verdict": "vulnerable", "cwe": "CWE-78", "confidence": 0.95}


@pytest.fixture(scope="module")
def code_kb(tmp_path_factory: pytest.TempPathFactory, embedder) -> KnowledgeBase:
    from bluecodeagent.knowledge.builder import build_kb
    from bluecodeagent.redteam.vulns import vulnerable_pairs

    path = tmp_path_factory.mktemp("codekb") / "kb.sqlite"
    build_kb(path, vulnerable_pairs(["CWE-78", "CWE-89"], per_cwe=3), embedder).close()
    return KnowledgeBase(path, embedder)


@pytest.fixture(scope="module")
def box() -> Sandbox:
    if shutil.which("bwrap") is None and not Path("/usr/bin/bwrap").exists():
        pytest.skip("bubblewrap not installed (apt-get install -y bubblewrap)")
    return Sandbox.detect()


def test_full_pipeline_feeds_harness_errors_back_and_confirms(code_kb, box) -> None:
    backend = ScriptedBackend(
        {
            "code-constitution": CONSTITUTION,
            "code-review": CLAIM,
            "code-testgen": [
                {"reasoning": "first try", "test_code": WRONG_NAME_TEST},
                {"reasoning": "fixed the name", "test_code": "```python\n" + GOOD_TEST + "```"},
            ],
            "code-judge": JUDGE_VULN,
        }
    )
    events: list[dict] = []
    scanner = LLMCodeScanner(backend, code_kb, sandbox=box, trace=events.append)
    v = scanner.verdict(VULN, path="net.py", id="net.py")

    assert backend.steps() == ["code-constitution", "code-review", "code-testgen", "code-testgen", "code-judge"]
    # the retrieved neighbours reached the summariser; the constitution reached the reviewer
    assert "os.system" in backend.user_text("code-constitution") or "shell" in backend.user_text("code-constitution")
    assert "Caller input concatenated into os.system" in backend.user_text("code-review")
    # the first test's AttributeError was fed back to the second attempt, not to the code under test
    assert "has no attribute 'pong'" in backend.user_text("code-testgen", 1)
    assert "outcome: vulnerable" in backend.user_text("code-judge")

    assert v.task == Task.VULNERABILITY and v.engine == "llm" and v.label == "vulnerable"
    assert v.decision == Decision.BLOCK and v.category == "CWE-78"
    f = v.findings[0]
    assert f.confirmed and f.source == "llm" and f.line == 5 and f.path == "net.py"
    assert "ping -c 1 127.0.0.1; touch /tmp/pwned" in f.details["dynamic"]["evidence"]
    runs = v.evidence.dynamic
    assert [r["outcome"] for r in runs] == ["harness_error", "vulnerable"]
    assert runs[1]["subject_verified"] is True and runs[1]["test_code"] == GOOD_TEST
    assert [p.source for p in v.evidence.constitution] == ["CWE-78", "CWE-78"]
    assert v.evidence.unsafe_neighbours and v.evidence.safe_neighbours
    assert v.evidence.signals["llm_calls"] == 5 and v.evidence.signals["sandbox_runs"] == 2
    assert v.evidence.signals["llm_tokens"] == 75
    kinds = [e["kind"] for e in events]
    assert kinds.count("llm") == 5 and kinds.count("sandbox") == 2 and "retrieval" in kinds
    assert all(e["subject"] == "net.py" for e in events)


def test_safe_claim_runs_no_tests_and_no_judge(code_kb) -> None:
    backend = ScriptedBackend({"code-constitution": CONSTITUTION, "code-review": CLEAR})
    v = LLMCodeScanner(backend, code_kb).verdict(SAFE)
    assert backend.steps() == ["code-constitution", "code-review"]
    assert v.label == "safe" and v.decision == Decision.ALLOW and not v.findings
    assert v.score == pytest.approx(0.1)


def test_three_broken_tests_stop_and_the_judge_hears_it(box) -> None:
    backend = ScriptedBackend(
        {
            "code-review": CLAIM,
            "code-testgen": {"reasoning": "", "test_code": "def check(subject, bc):\n    pass\n"},
            "code-judge": {"reasoning": "no evidence", "verdict": "safe", "cwe": None, "confidence": 0.6},
        }
    )
    v = LLMCodeScanner(backend, None, steps=VARIANTS["dynamic"], sandbox=box).verdict(VULN)
    assert backend.steps().count("code-testgen") == 3
    assert [r["outcome"] for r in v.evidence.dynamic] == ["harness_error"] * 3
    assert "without calling bc.vulnerable" in backend.user_text("code-judge")
    assert v.label == "safe" and any("no generated test produced a result" in n for n in v.evidence.notes)


def test_refuted_claim_is_shown_to_the_judge(box) -> None:
    backend = ScriptedBackend(
        {
            "code-review": CLAIM,
            "code-testgen": {"reasoning": "", "test_code": GOOD_TEST},
            "code-judge": {"reasoning": "refused", "verdict": "safe", "cwe": None, "confidence": 0.8},
        }
    )
    safe_sys = VULN.replace('"ping -c 1 " + host', '"ping -c 1 " + __import__("shlex").quote(host.split(";")[0])')
    v = LLMCodeScanner(backend, None, steps=VARIANTS["dynamic"], sandbox=box).verdict(safe_sys)
    assert v.evidence.dynamic[0]["outcome"] == "safe"
    assert "outcome: safe" in backend.user_text("code-judge")
    assert v.label == "safe" and not v.findings


def test_what_runs_is_the_submitted_code_even_if_the_test_rewrites_the_file(box) -> None:
    sneaky = (
        "import os\n"
        "open(os.path.join('/work', 'sub' + 'ject.py'), 'w').write('def ping(host):\\n    return 0\\n')\n" + GOOD_TEST
    )
    assert tampering(VULN, sneaky) is None  # not caught statically ...
    run = run_test(box, VULN, sneaky, 1)
    # ... but the file is read-only: the rewrite fails (and the model is told), the original bytes stay
    assert run.subject_verified and run.outcome == "harness_error", run
    assert "Read-only file system" in run.error


@pytest.mark.parametrize(
    "test_code",
    [
        "def check(subject, bc):\n    subject.ping = lambda h: 0\n    bc.safe('x')\n",
        "def check(subject, bc):\n    setattr(subject, 'ping', None)\n",
        "def check(subject, bc):\n    open('subject.py', 'w').write('')\n",
    ],
)
def test_tests_that_modify_the_code_under_test_are_refused(test_code: str) -> None:
    assert tampering(VULN, test_code)


def test_faking_what_the_code_uses_is_allowed() -> None:
    assert tampering(VULN, GOOD_TEST) is None


def test_unusable_model_answer_is_a_clear_error() -> None:
    backend = ScriptedBackend({"code-review": {"reasoning": "?", "confidence": 0.3}})
    with pytest.raises(LLMError, match="review: the model's answer is unusable"):
        LLMCodeScanner(backend, None, steps=VARIANTS["plain"]).verdict(VULN)


def test_retrieval_steps_need_a_knowledge_base() -> None:
    with pytest.raises(ConfigError, match="knowledge base"):
        LLMCodeScanner(ScriptedBackend({}), None)


def _offline(score: float, label: str = "vulnerable") -> Verdict:
    return Verdict(task=Task.VULNERABILITY, label=label, score=score, decision=Decision.WARN)


def test_hybrid_asks_the_model_only_in_the_uncertain_band() -> None:
    backend = ScriptedBackend({"code-review": CLEAR})
    route = LLMCodeScanner(backend, None, steps=VARIANTS["plain"])
    opts = CodeLLMOptions(engine="hybrid", uncertain_low=0.2, uncertain_high=0.8)
    sure = scan_llm(VULN, route, opts, lambda: _offline(0.05, "safe"))
    assert sure.engine == "hybrid" and sure.label == "safe" and backend.requests == []
    unsure = scan_llm(VULN, route, opts, lambda: _offline(0.5))
    assert backend.steps() == ["code-review"]
    assert unsure.engine == "hybrid" and unsure.label == "safe" and unsure.evidence.signals["offline_score"] == 0.5


def test_endpoint_failure_raises_or_falls_back_to_offline() -> None:
    backend = ScriptedBackend({"code-review": LLMError("connection refused by http://127.0.0.1:9")})
    route = LLMCodeScanner(backend, None, steps=VARIANTS["plain"])
    with pytest.raises(LLMError, match="connection refused"):
        scan_llm(VULN, route, CodeLLMOptions(), lambda: _offline(0.9))
    v = scan_llm(VULN, route, CodeLLMOptions(fallback_offline=True), lambda: _offline(0.9))
    assert v.engine == "offline" and any("--fallback offline" in n for n in v.evidence.notes)


def test_scan_code_routes_to_the_llm_engine() -> None:
    backend = ScriptedBackend({"code-review": CLAIM})
    route = LLMRoute(LLMCodeScanner(backend, None, steps=VARIANTS["plain"]), CodeLLMOptions())
    v = scan_code(VULN, llm=route, id="x")
    assert v.engine == "llm" and v.label == "vulnerable" and v.findings[0].cwe == "CWE-78"
    assert not v.findings[0].confirmed and v.decision == Decision.WARN


def test_an_unusable_test_answer_ends_testing_not_the_verdict(box) -> None:
    backend = ScriptedBackend(
        {
            "code-review": CLAIM,
            "code-testgen": LLMError("stopped at max_tokens before finishing its JSON answer (truncated JSON)"),
            "code-judge": {"reasoning": "static only", "verdict": "vulnerable", "cwe": "CWE-78", "confidence": 0.6},
        }
    )
    v = LLMCodeScanner(backend, None, steps=VARIANTS["dynamic"], sandbox=box).verdict(VULN)
    assert backend.steps() == ["code-review", "code-testgen", "code-judge"]
    assert "(no test was run)" in backend.user_text("code-judge")
    assert v.label == "vulnerable" and not v.findings[0].confirmed and v.evidence.dynamic == []
    assert any("test generation stopped at attempt 1: stopped at max_tokens" in n for n in v.evidence.notes)


def test_a_test_cannot_swap_the_loader_of_the_code_under_test(box) -> None:
    swap = (
        "import builtins\n"
        "_real = builtins.compile\n"
        "builtins.compile = lambda src, *a, **k: _real('def ping(host):\\n    return 0\\n', *a, **k)\n" + GOOD_TEST
    )
    run = run_test(box, VULN, swap, 1)
    assert run.subject_verified and run.outcome == "vulnerable"


def test_route_from_settings_reads_the_llm_settings(code_kb, llm_settings) -> None:
    from bluecodeagent.code.llm.engine import route_from_settings
    from bluecodeagent.config import Settings

    s = llm_settings.model_copy(
        update={"engine": "hybrid", "llm_fallback": "offline", "llm_hybrid_low": 0.1, "llm_hybrid_high": 0.7}
        | {"top_k": 2}
    )
    route = route_from_settings(s, kb=code_kb)
    expected = CodeLLMOptions(engine="hybrid", fallback_offline=True, uncertain_low=0.1, uncertain_high=0.7)
    assert route.options == expected
    assert route.scanner.k == 2 and route.scanner.kb is code_kb
    with pytest.raises(ConfigError, match="--llm-base-url"):
        route_from_settings(Settings(engine="llm"), kb=code_kb)


@pytest.mark.parametrize(
    ("raw", "cwe"),
    [("CWE-78", "CWE-78"), ("78", "CWE-78"), ("cwe_89: SQL injection", "CWE-89"), (" CWE 22", "CWE-22"),
     ("The code breaks C# 6.2 rules", None), ("unsafe", None), (None, None)],
)  # fmt: skip
def test_cwe_ids_from_model_answers(raw, cwe) -> None:
    from bluecodeagent.code.llm.calls import normalise_cwe

    assert normalise_cwe(raw) == cwe
