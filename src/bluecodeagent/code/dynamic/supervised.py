"""Run harness code next to the code under test so that the code under test cannot forge the result.

Inside the sandbox two processes run (see docs/threat-model.md):

- the **supervisor** never imports the code under test. Its program arrives on standard input (it is
  no file anyone could read) and carries a per-run secret nonce. It makes itself non-dumpable (no
  other process may read its memory or open its descriptors), keeps the only descriptor to the
  host's channel, starts the worker, and writes one line: the nonce and what it decided.
- the **worker** is a fresh interpreter that loads the runtime and the code under test, runs the
  probe and sends its messages over a pipe the supervisor reads. The worker has no way to the host's
  channel: a forged result line, a write to descriptors 3-9 or 70 KB of padding reach the
  supervisor's log pipe, which nobody reads as a result.

The supervisor trusts the worker's report only as far as the report can be trusted: exactly one
result, no tamper message, a clean exit; a worker that ends without reporting has been ended by the
code under test. The host accepts only the line carrying its nonce.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from pydantic import BaseModel, Field

from bluecodeagent.code.sandbox import Sandbox, SandboxLimits, SandboxResult

MARK = "@@BC-SUPERVISOR@@"
TAMPER_EXIT = 86

SUPERVISOR = r"""
import json, os, subprocess, sys, threading
NONCE = __NONCE__
WORKER = __WORKER__
ARGS = __ARGS__
DEADLINE = __DEADLINE__
LOG_CAP = 65536
MSG_CAP = 1 << 20
_HOST = [1]
# The worker starts without site (-S): no .pth file of the system runs in it; its path is set here.
PRELUDE = (
    "import sys as _s, os as _o\n"
    "_s.path.extend(p for p in ('/usr/local/lib/python%d.%d/dist-packages' % _s.version_info[:2],"
    " '/usr/lib/python3/dist-packages') if _o.path.isdir(p))\n"
    "del _s, _o\n"
)

def _nodump():
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) == 0  # PR_SET_DUMPABLE = 0
    except Exception:
        return False

def _read_all(fd, cap, sink):
    total = 0
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        total += len(chunk)
        if len(sink[0]) < cap:
            sink[0] += chunk[: cap - len(sink[0])]
        sink[1] = total
    os.close(fd)

def main():
    nodump = _nodump()
    _HOST[0] = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    r, w = os.pipe()
    # a descriptor number nobody guesses, so a loop over 3..9 finds nothing
    slot = 40 + int(NONCE[:4], 16) % 180
    os.dup2(w, slot)
    os.close(w)
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8",
           "TMPDIR": "/tmp"}
    try:
        proc = subprocess.Popen([sys.executable, "-I", "-S", "-B", "-X", "utf8", "-", str(slot), ARGS],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                pass_fds=(slot,), close_fds=True, cwd="/work", env=env)
    except OSError as e:
        return {"state": "error", "why": "could not start the worker: %s" % e}
    finally:
        os.close(slot)
    log, msgs = [b"", 0], [b"", 0]
    readers = [threading.Thread(target=_read_all, args=(proc.stdout.fileno(), LOG_CAP, log), daemon=True),
               threading.Thread(target=_read_all, args=(r, MSG_CAP, msgs), daemon=True)]
    for t in readers:
        t.start()
    try:
        proc.stdin.write((PRELUDE + WORKER).encode())
        proc.stdin.close()
    except OSError:
        pass
    fired = threading.Event()

    def _kill():
        fired.set()
        try:
            proc.kill()
        except OSError:
            pass

    timer = threading.Timer(DEADLINE, _kill)
    timer.daemon = True
    timer.start()
    rc = proc.wait()  # a blocking wait: the timer ends it on time
    timer.cancel()
    timed_out = fired.is_set()
    for t in readers:
        t.join(timeout=1.0)
    return {"state": "done", "rc": rc, "timed_out": timed_out, "nodump": nodump,
            "messages": msgs[0].decode("utf-8", "replace"), "message_bytes": msgs[1],
            "log_tail": log[0][-1500:].decode("utf-8", "replace"), "log_bytes": log[1]}

try:
    _res = main()
except BaseException as e:
    _res = {"state": "error", "why": "supervisor failed: %s: %s" % (type(e).__name__, e)}
os.write(_HOST[0], ("\n" + NONCE + json.dumps(_res) + "\n").encode())
os._exit(0)
"""


class WorkerReport(BaseModel):
    """What the supervisor established about one worker run (trusted: it comes with the nonce)."""

    state: str
    why: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    nondumpable: bool = False
    result: dict[str, Any] | None = None
    tamper: list[str] = Field(default_factory=list)
    log_tail: str = ""
    sandbox: SandboxResult | None = None


def _supervisor_source(nonce: str, worker: str, args: dict[str, Any], deadline: float) -> str:
    return (
        SUPERVISOR.replace("__NONCE__", json.dumps(nonce))
        .replace("__ARGS__", json.dumps(json.dumps(args)))
        .replace("__DEADLINE__", repr(deadline))
        .replace("__WORKER__", json.dumps(worker))  # last: nothing is replaced inside the worker's text
    )


def parse_messages(text: str) -> tuple[dict[str, Any] | None, list[str], list[str]]:
    """The worker's result, its tamper messages and anything else it sent (lines of JSON)."""
    result: dict[str, Any] | None = None
    tamper: list[str] = []
    junk: list[str] = []
    results = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            junk.append(line[:120])
            continue
        if not isinstance(msg, dict):
            junk.append(line[:120])
        elif msg.get("type") == "tamper":
            tamper.append(str(msg.get("what", "?"))[:300])
        elif msg.get("type") == "result" and isinstance(msg.get("result"), dict):
            results += 1
            result = msg["result"]
        else:
            junk.append(line[:120])
    if results > 1:
        tamper.append(f"{results} results on the report channel (one is the harness's; the rest were forged)")
        result = None
    if junk:
        tamper.append(f"unexpected data on the report channel: {junk[0]!r}")
    return result, tamper, junk


def run_supervised(
    sandbox: Sandbox,
    worker: str,
    files: dict[str, str],
    args: dict[str, Any],
    limits: SandboxLimits,
    readonly: frozenset[str] = frozenset(),
) -> WorkerReport:
    """Run ``worker`` (Python source reading ``args`` from ``sys.argv[2]``) under a supervisor."""
    nonce = secrets.token_hex(16)
    deadline = max(0.5, limits.wall_seconds - 0.5)
    code = _supervisor_source(nonce, worker, args, deadline)
    res = sandbox.run_python(
        code, files=files, limits=limits, program_on_stdin=True, readonly=readonly, libraries=True, site=False
    )
    data: dict[str, Any] | None = None
    for line in res.stdout.splitlines():
        if line.startswith(nonce):
            try:
                data = json.loads(line[len(nonce) :])
            except ValueError:
                data = None
            break
    if data is None:
        if res.timed_out or res.cpu_exceeded:
            why = (
                "the run used up its time or CPU budget"
                if res.cpu_exceeded
                else "the run ran past its wall-clock limit"
            )
        elif res.killed_by_signal:
            why = f"the supervisor was killed by signal {res.killed_by_signal}"
        else:
            why = "the supervisor produced no result: " + ((res.stderr.strip().splitlines() or ["no output"])[-1])[:300]
        return WorkerReport(state="lost", why=why, sandbox=res)
    if data.get("state") != "done":
        return WorkerReport(state="error", why=str(data.get("why", "?"))[:300], sandbox=res)
    result, tamper, _ = parse_messages(str(data.get("messages", "")))
    rc = data.get("rc")
    report = WorkerReport(
        state="done",
        exit_code=rc,
        timed_out=bool(data.get("timed_out")),
        nondumpable=bool(data.get("nodump")),
        result=result,
        tamper=tamper,
        log_tail=str(data.get("log_tail", ""))[-1500:],
        sandbox=res,
    )
    if rc == TAMPER_EXIT and not tamper:
        report.tamper.append("the worker was stopped by its tamper guard")
    if result is None and not tamper and not report.timed_out and isinstance(rc, int) and rc >= 0:
        report.tamper.append(f"the code under test ended the harness before it reported (exit code {rc})")
    if result is not None and not tamper and rc not in (0, None):
        report.tamper.append(f"the worker reported, then exited with code {rc} instead of finishing")
        report.result = None
    return report
