"""Graceful shutdown of the real `bluecode serve` process: SIGTERM lets requests in flight finish, then exit 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from server_helpers import FakeUpstreamForTests, free_port, serve_in_thread


def test_sigterm_finishes_requests_in_flight_and_exits_0(tiny_kb_shared: Path, tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text('proxy_prompt_tasks = ["malicious"]\nproxy_injection = false\n')  # the tiny KB has no bias
    fake = FakeUpstreamForTests()
    fake.gate.clear()
    with serve_in_thread(fake.app) as upstream:
        port = free_port()
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "bluecodeagent", "serve", "--port", str(port), "--kb", str(tiny_kb_shared)),
                *("--upstream", f"{upstream}/v1", "--config", str(config), "--log-level", "warning"),
            ],
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, "the service did not start"
                time.sleep(0.1)

            events: list[str] = []
            first_prose = threading.Event()
            body = {"model": "m", "messages": [{"role": "user", "content": "stepwise please"}], "stream": True}

            def slow_stream() -> None:  # the upstream holds its answer until the gate opens
                with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=60) as r:
                    events.append(str(r.status_code))
                    for line in r.iter_lines():
                        if line.startswith("data:"):
                            events.append(line[5:].strip())
                            if "some prose" in line:
                                first_prose.set()

            client = threading.Thread(target=slow_stream)
            client.start()
            assert first_prose.wait(30), "the stream did not start"
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)  # let the signal land while the request is still in flight (not a measurement)
            assert proc.poll() is None  # still finishing the request
            fake.gate.set()
            client.join(60)
            code = proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
            stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert code == 0, stderr
    assert events[0] == "200" and events[-1] == "[DONE]"
    content = "".join(
        (c.get("delta") or {}).get("content") or "" for e in events[1:-1] for c in json.loads(e).get("choices", [])
    )
    assert content.startswith("First, some prose.\nHere is a helper:") and "CWE-78" in content
    assert fake.released is True and "stopped" in stderr
