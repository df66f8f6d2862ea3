"""Security tests of the sandbox against the real bubblewrap.

Each test runs hostile code and checks from the host that it was contained; controls make sure a
test would fail if the layer it checks were missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from bluecodeagent.code.sandbox import INSIDE_UID, NOBODY, Sandbox, SandboxLimits, SandboxResult, sandbox_status
from bluecodeagent.errors import SandboxUnavailable

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap not installed (apt-get install -y bubblewrap)"
)


@pytest.fixture(scope="module")
def box() -> Sandbox:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap not installed (apt-get install -y bubblewrap)")
    return Sandbox.detect()  # bwrap present but broken is a failure, not a skip


def run_json(box: Sandbox, code: str, **kw: object) -> dict:
    res = box.run_python(code + "\nimport json as _j\nprint('@@' + _j.dumps(R))", **kw)  # type: ignore[arg-type]
    assert res.exit_code == 0, res.stderr
    line = next(x for x in res.stdout.splitlines() if x.startswith("@@"))
    return json.loads(line[2:])


def tagged_pids(marker: str) -> list[int]:
    """Host PIDs whose sandbox has ``/work/<marker>`` (precise even with other sandboxes running)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.path.exists(f"/proc/{entry}/root/work/{marker}"):
                    found.append(int(entry))
            except OSError:
                continue
    return found


def uid_process_count(uid: int) -> int:
    n = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    n += 1
            except OSError:
                continue
    return n


def wait_until_gone(marker: str, seconds: float = 3.0) -> list[int]:
    """Leftover PIDs of the tagged sandbox after a grace period (killed, so a failure leaves no mess)."""
    deadline = time.monotonic() + seconds
    while (left := tagged_pids(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return left


# -- basics -----------------------------------------------------------------------------------------


@needs_bwrap
def test_runs_code_with_files_stdin_and_exit_code(box: Sandbox) -> None:
    res = box.run_python(
        "import sys, os\nprint(open('pkg/data.txt').read(), sys.stdin.read(), os.getcwd())\nsys.exit(3)",
        files={"pkg/data.txt": "hello"},
        stdin="from-stdin",
    )
    assert isinstance(res, SandboxResult)
    assert res.stdout.split() == ["hello", "from-stdin", "/work"]
    assert res.exit_code == 3 and not res.timed_out and res.killed_by_signal is None
    assert "namespaces" in res.layers and "wall_timeout" in res.layers


@needs_bwrap
def test_unprivileged_no_caps_clean_env(box: Sandbox) -> None:
    r = run_json(
        box,
        "import os\nst = open('/proc/self/status').read()\n"
        "R = {'uid': os.getuid(), 'env': sorted(os.environ),"
        " 'cap': [l.split()[1] for l in st.splitlines() if l.startswith('CapEff')][0]}",
    )
    assert r["uid"] != 0
    if os.geteuid() == 0:
        assert r["uid"] == INSIDE_UID  # an ordinary-looking account: no "nobody" to sense
    assert int(r["cap"], 16) == 0
    assert set(r["env"]) <= {"PATH", "HOME", "TMPDIR", "LANG", "PWD", "LC_CTYPE"}
    assert not any("BLUECODE" in k or "VIRTUAL_ENV" in k for k in r["env"])


@needs_bwrap
def test_rejects_paths_outside_work(box: Sandbox) -> None:
    for bad in ("../escape.py", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(ValueError):
            box.run_python("pass", files={bad: "x"})


# -- network ----------------------------------------------------------------------------------------


@needs_bwrap
def test_no_network_internet_or_host_loopback(box: Sandbox) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        server.settimeout(5)
        try:
            while True:
                conn, _ = server.accept()
                accepted.append(conn)
        except OSError:
            pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    # Control: the host server is reachable from the host.
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    time.sleep(0.1)
    assert len(accepted) == 1
    code = (
        "import socket\nR = {}\n"
        f"for name, addr in (('internet', ('1.1.1.1', 53)), ('host', ('127.0.0.1', {port}))):\n"
        "    try:\n"
        "        socket.create_connection(addr, timeout=2).close(); R[name] = 'connected'\n"
        "    except OSError as e:\n"
        "        R[name] = type(e).__name__\n"
    )
    r = run_json(box, code)
    server.close()
    assert r["internet"] != "connected"
    assert r["host"] != "connected"
    assert len(accepted) == 1  # nothing from the sandbox reached the host server


# -- host files -------------------------------------------------------------------------------------


@needs_bwrap
def test_no_host_files(box: Sandbox, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    project = Path(__file__).resolve().parents[2] / "pyproject.toml"
    assert project.is_file()  # control: it exists on the host
    targets = ["/root", "/etc/shadow", str(project), str(secret), "/home", "/work/main", "/proc/1/environ"]
    code = (
        "import os\nR = {}\n"
        f"for p in {targets!r}:\n"
        "    try:\n"
        "        R[p] = os.listdir(p) if os.path.isdir(p) else open(p).read()[:50]\n"
        "    except OSError as e:\n"
        "        R[p] = 'ERR ' + type(e).__name__\n"
    )
    r = run_json(box, code)
    for p in ["/root", "/etc/shadow", str(project), str(secret), "/home", "/work/main"]:
        assert str(r[p]).startswith("ERR"), (p, r[p])
    assert "TOP-SECRET" not in json.dumps(r)
    assert "HOME" not in json.dumps(r.get("/proc/1/environ", ""))


# -- writes -----------------------------------------------------------------------------------------


@needs_bwrap
def test_no_writes_outside_sandbox(box: Sandbox) -> None:
    name = f"bluecode-escape-{uuid.uuid4().hex}"
    code = (
        "R = {}\n"
        f"for p in ['/usr/{name}', '/{name}', '/etc/{name}', '/proc/{name}', '/work/{name}', '/tmp/{name}']:\n"
        "    try:\n"
        "        open(p, 'w').write('x'); R[p] = 'written'\n"
        "    except OSError as e:\n"
        "        R[p] = type(e).__name__\n"
    )
    r = run_json(box, code)
    assert r[f"/work/{name}"] == "written" and r[f"/tmp/{name}"] == "written"  # control: scratch works
    for p in (f"/usr/{name}", f"/{name}", f"/etc/{name}", f"/proc/{name}"):
        assert r[p] != "written", p
    for host in (f"/usr/{name}", f"/{name}", f"/etc/{name}", f"/work/{name}", f"/tmp/{name}"):
        assert not os.path.exists(host), host


@needs_bwrap
def test_tmpfs_is_sized(box: Sandbox) -> None:
    res = box.run_python(
        "open('/work/big', 'wb').write(b'x' * (40 << 20))",
        limits=SandboxLimits(tmpfs_mb=16, file_size_mb=100, memory_mb=256),
    )
    assert res.exit_code != 0 and "No space left" in res.stderr


# -- resources --------------------------------------------------------------------------------------


@needs_bwrap
def test_fork_bomb_contained_and_cleaned_up(box: Sandbox) -> None:
    marker = f"m{uuid.uuid4().hex}"
    root = os.geteuid() == 0
    code = (
        "import os, time\n"
        "n = 0\n"
        "for _ in range(500):\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60); os._exit(0)\n"
        "        n += 1\n"
        "    except OSError:\n"
        "        break\n"
        "print('forked', n, flush=True)\n"
        "while True:\n"
        "    try: os.fork()\n"
        "    except OSError: pass\n"
    )
    lim = SandboxLimits(max_processes=16, wall_seconds=2.0)
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.append(len(tagged_pids(marker)))
            time.sleep(0.05)

    w = threading.Thread(target=watch, daemon=True)
    w.start()
    res = box.run_python(code, files={marker: ""}, limits=lim)
    stop.set()
    w.join()
    assert res.timed_out
    forked = int(res.stdout.split()[1])
    assert 0 < forked < lim.max_processes
    assert max(seen) <= lim.max_processes + 2  # + bwrap's monitor and init
    assert wait_until_gone(marker) == []
    if root:  # the run had a host uid of its own: nothing of it may be left
        assert res.host_uid is not None and res.host_uid != NOBODY
        deadline = time.monotonic() + 5
        while uid_process_count(res.host_uid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert uid_process_count(res.host_uid) == 0
    # The host can still start processes.
    assert os.system("true") == 0


@needs_bwrap
def test_memory_hog_stopped(box: Sandbox) -> None:
    res = box.run_python(
        "chunks = []\nfor _ in range(200):\n    chunks.append(bytearray(16 << 20))\nprint('allocated')",
        limits=SandboxLimits(memory_mb=128, wall_seconds=10),
    )
    assert "allocated" not in res.stdout
    assert res.exit_code != 0 and not res.timed_out
    assert "MemoryError" in res.stderr or res.killed_by_signal is not None


@needs_bwrap
def test_cpu_hog_killed_by_cpu_limit(box: Sandbox) -> None:
    res = box.run_python("while True: pass", limits=SandboxLimits(cpu_seconds=1, wall_seconds=10))
    assert not res.timed_out
    assert res.killed_by_signal in (signal.SIGXCPU, signal.SIGKILL)


@needs_bwrap
def test_cpu_budget_is_one_for_all_processes_of_a_run(box: Sandbox) -> None:
    """Six forked spinners share one budget (RLIMIT_CPU alone would give each its own)."""
    code = "import os\nfor _ in range(6):\n    if os.fork() == 0:\n        break\nwhile True:\n    pass\n"
    res = box.run_python(code, limits=SandboxLimits(cpu_seconds=2, wall_seconds=60, max_processes=16))
    assert res.cpu_exceeded and not res.timed_out, res
    assert res.cpu_seconds is not None and res.cpu_seconds < 2 + 1.5  # the budget plus at most a few polls


@needs_bwrap
def test_dev_is_read_only_but_devices_work(box: Sandbox) -> None:
    r = run_json(
        box,
        "import errno\nR = {}\ntry:\n    open('/dev/bc-fill', 'wb').write(b'x' * 4096)\n    R['dev'] = 'written'\n"
        "except OSError as e:\n    R['dev'] = errno.errorcode[e.errno]\n"
        "open('/dev/null', 'w').write('x')\nR['null'] = 'ok'\nopen('/dev/shm/x', 'w').write('x')\nR['shm'] = 'ok'\n",
    )
    assert r == {"dev": "EROFS", "null": "ok", "shm": "ok"}


@needs_bwrap
def test_endless_wait_timed_out_and_nothing_left(box: Sandbox) -> None:
    marker = f"m{uuid.uuid4().hex}"
    code = (
        "import os, time, subprocess, sys\n"
        # a daemonised grandchild in its own session, and a plain child, both trying to outlive us
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(120)\n"
        "    os._exit(0)\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "print('started', flush=True)\n"
        "time.sleep(120)\n"
    )
    t0 = time.monotonic()
    res = box.run_python(code, files={marker: ""}, limits=SandboxLimits(wall_seconds=1.0))
    elapsed = time.monotonic() - t0
    assert res.timed_out and res.exit_code is None and res.killed_by_signal == signal.SIGKILL
    assert "started" in res.stdout
    assert elapsed < 1.0 + 1.0
    assert wait_until_gone(marker, 2.0) == []


@needs_bwrap
def test_file_size_limit(box: Sandbox) -> None:
    res = box.run_python(
        "R = {}\nf = open('/work/out.bin', 'wb')\ntry:\n    f.write(b'x' * (3 << 20)); f.flush(); R = 'ok'\n"
        "except OSError as e:\n    R = e.errno\nprint('@@', R)",
        limits=SandboxLimits(file_size_mb=1, tmpfs_mb=64),
    )
    assert "@@ ok" not in res.stdout
    assert "@@ 27" in res.stdout or res.killed_by_signal == signal.SIGXFSZ  # EFBIG


@needs_bwrap
def test_output_cap(box: Sandbox) -> None:
    res = box.run_python(
        "import sys\nsys.stdout.write('A' * 1_000_000)\nsys.stderr.write('B' * 1_000_000)\nprint('done')",
        limits=SandboxLimits(output_bytes=1000),
    )
    assert res.exit_code == 0
    assert res.output_truncated
    assert len(res.stdout.encode()) <= 1000 and len(res.stderr.encode()) <= 1000
    small = box.run_python("print('x')", limits=SandboxLimits(output_bytes=1000))
    assert not small.output_truncated and small.stdout == "x\n"


@needs_bwrap
def test_sees_no_host_processes(box: Sandbox) -> None:
    r = run_json(box, "import os\nR = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())")
    assert len(r) <= 3 and max(r) <= 3  # bwrap's init and the program itself
    assert os.getpid() not in r or os.getpid() <= 3


@needs_bwrap
def test_seccomp_denies_listed_syscalls(box: Sandbox) -> None:
    if not box.layers()["seccomp"]:
        pytest.skip("seccomp layer inactive (pyseccomp/libseccomp not importable)")
    r = run_json(
        box,
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "rc = libc.syscall(425, 1, None)\n"  # io_uring_setup: EFAULT unless filtered
        "R = [rc, ctypes.get_errno()]",
    )
    assert r == [-1, 1]  # EPERM from the filter


# -- refusal ----------------------------------------------------------------------------------------


def test_missing_bwrap_refused_with_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BLUECODE_BWRAP", str(tmp_path / "no-such-bwrap"))
    with pytest.raises(SandboxUnavailable) as e:
        Sandbox.detect()
    assert "apt-get install -y bubblewrap" in str(e.value)
    assert "no-such-bwrap" in str(e.value)
    status = sandbox_status()
    assert status["available"] is False and "bubblewrap" in status["reason"]


def test_broken_bwrap_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(SandboxUnavailable, match="probe run"):
        Sandbox.detect(bwrap=str(fake))


def test_missing_interpreter_refused(tmp_path: Path) -> None:
    with pytest.raises(SandboxUnavailable, match="python3"):
        Sandbox.detect(bwrap=shutil.which("bwrap") or "/bin/true", python="/usr/bin/no-such-python3")


@needs_bwrap
def test_concurrent_runs_have_their_own_process_budget(box: Sandbox) -> None:
    """One run exhausting its process cap does not stop another run from starting processes."""
    if os.geteuid() != 0:
        pytest.skip("per-run host uids are used only when started as root")
    hog = (
        "import os, time\n"
        "while True:\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30); os._exit(0)\n"
        "    except OSError:\n"
        "        time.sleep(0.05)\n"
    )
    results: list[SandboxResult] = []
    t = threading.Thread(
        target=lambda: results.append(box.run_python(hog, limits=SandboxLimits(max_processes=8, wall_seconds=4.0)))
    )
    t.start()
    time.sleep(1.0)  # the hog has used up its cap by now
    other = box.run_python(
        "import subprocess; print(subprocess.run(['true']).returncode)", limits=SandboxLimits(max_processes=8)
    )
    t.join()
    assert other.exit_code == 0 and other.stdout.strip() == "0", other.stderr
    assert results[0].timed_out and results[0].host_uid != other.host_uid
