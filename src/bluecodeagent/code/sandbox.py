"""Run untrusted Python (generated code, generated tests) in a layered sandbox.

Layers, outermost first (see DESIGN.md, "Sandbox"):

1. ``prlimit``: address space, process count, CPU seconds, file size, open files, no core dumps.
2. ``setpriv``: when running as root, drop to uid/gid 65534 with no capabilities and
   ``no_new_privs`` (as root RLIMIT_NPROC is ignored, so a fork bomb would escape otherwise).
3. ``bwrap``: every namespace unshared (no network, own PID table), nested user namespaces
   disabled, all capabilities dropped, read-only ``/usr``, a tiny curated ``/etc``, sized tmpfs for
   ``/work``, ``/tmp`` and ``/dev/shm``, read-only root, new session, cleared environment. The code
   and its files are copied in as data (``--file FD``); no host directory is ever bound writable,
   and no host home, ``/root`` or project directory is visible.
4. seccomp: a deny list of kernel-attack-surface syscalls, when ``pyseccomp`` is importable.
5. The parent: a wall-clock timer that SIGKILLs the whole process group (the PID namespace dies
   with it), one CPU budget for every process of the run (a watchdog sums the CPU time of the
   run's whole process tree, reaped children included, and kills the run when it is spent; the
   per-process RLIMIT_CPU stays as a backstop), and per-stream output caps.

``/dev`` is bwrap's minimal device set, remounted read-only (its tmpfs is unsized), with a sized
tmpfs over ``/dev/shm``. Inside, the program runs as an ordinary-looking account (uid 1000,
"app", hostname "app") so code cannot tell the sandbox from a plain machine by its uid.

Without bubblewrap there is no sandbox: :meth:`Sandbox.detect` raises
:class:`~bluecodeagent.errors.SandboxUnavailable` and callers keep static analysis only; rlimits
alone are not a sandbox.

Settings from the environment: ``BLUECODE_BWRAP`` (path to bwrap), ``BLUECODE_SANDBOX_PYTHON``
(interpreter inside, default ``/usr/bin/python3``; it must live under ``/usr``),
``BLUECODE_SANDBOX_ENV`` (the sandbox runtime of :mod:`bluecodeagent.code.sandbox_env`, bound
read-only over the interpreter's ``/usr/local/lib/python3.X/dist-packages`` when installed).

As root each run gets a host uid of its own, drawn from a range no account uses (inside it is still
65534, "sandbox"), so concurrent runs never share a process budget (RLIMIT_NPROC counts per uid).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from functools import cache
from pathlib import PurePosixPath
from typing import IO, Any

from pydantic import BaseModel, Field

from bluecodeagent.errors import SandboxUnavailable

NOBODY = 65534
# The account the code sees inside: an ordinary first user, not "nobody" or a high uid.
INSIDE_UID = 1000
CPU_POLL_SECONDS = 0.1
# Host uids for sandboxed runs when started as root: one per run, from a range no account uses.
HOST_UID_BASE = 2_100_000_000
HOST_UID_SPAN = 1_000_000
_uids_in_use: set[int] = set()
_uids_lock = threading.Lock()


def _take_host_uid() -> int:
    """A host uid no other run of this process holds (random, so other processes rarely collide)."""
    with _uids_lock:
        while True:
            uid = HOST_UID_BASE + secrets.randbelow(HOST_UID_SPAN)
            if uid not in _uids_in_use:
                _uids_in_use.add(uid)
                return uid


def _release_host_uid(uid: int | None) -> None:
    with _uids_lock:
        _uids_in_use.discard(uid)  # type: ignore[arg-type]


DEFAULT_PYTHON = "/usr/bin/python3"
MAIN_FILE = "_sandbox_main.py"
INSTALL_HINT = "install bubblewrap (apt-get install -y bubblewrap)"
ENV_INSIDE = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8"}
# Syscalls untrusted test code never needs and that widen the kernel attack surface.
DENIED_SYSCALLS = (
    "acct", "add_key", "adjtimex", "bpf", "chroot", "clock_adjtime", "clock_settime", "delete_module",
    "fanotify_init", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "init_module",
    "io_uring_enter", "io_uring_register", "io_uring_setup", "ioperm", "iopl", "kcmp",
    "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mount", "mount_setattr",
    "move_mount", "name_to_handle_at", "open_by_handle_at", "open_tree", "perf_event_open",
    "pivot_root", "process_vm_readv", "process_vm_writev", "ptrace", "quotactl", "reboot",
    "request_key", "setns", "settimeofday", "swapoff", "swapon", "syslog", "umount2", "unshare",
    "uselib", "userfaultfd", "vhangup",
)  # fmt: skip
_ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime")
_PASSWD = "root:x:0:0::/nonexistent:/usr/sbin/nologin\napp:x:{uid}:{gid}::/tmp:/bin/sh\n"
_GROUP = "root:x:0:\napp:x:{gid}:\n"


class SandboxLimits(BaseModel):
    """Resource limits for one sandboxed run."""

    wall_seconds: float = Field(default=5.0, gt=0, le=3600)
    cpu_seconds: int = Field(default=5, ge=1, le=3600)
    memory_mb: int = Field(default=256, ge=32)
    max_processes: int = Field(default=32, ge=4)
    file_size_mb: int = Field(default=8, ge=1)
    tmpfs_mb: int = Field(default=64, ge=1)
    output_bytes: int = Field(default=65536, ge=1)


class SandboxResult(BaseModel):
    """What a sandboxed run did.

    ``exit_code`` is the status bwrap reports (128+N when the program died of signal N, which is
    then also in ``killed_by_signal``); ``None`` only when the wall timer killed the run.
    """

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    killed_by_signal: int | None
    output_truncated: bool
    duration_ms: float
    layers: list[str]
    host_uid: int | None = None
    cpu_exceeded: bool = False
    cpu_seconds: float | None = None


class _RunOptions(BaseModel):
    """How one run is set up beyond its limits."""

    readonly: frozenset[str] = frozenset()
    libraries: bool = False
    site: bool = True


class _Capped:
    """Reads a pipe to EOF in a thread, keeping the first ``cap`` bytes."""

    def __init__(self, stream: IO[bytes], cap: int) -> None:
        self.buf = bytearray()
        self.truncated = False
        self._stream, self._cap = stream, cap
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        try:
            while chunk := self._stream.read1(65536):
                room = self._cap - len(self.buf)
                if len(chunk) > room:
                    self.truncated = True
                if room > 0:
                    self.buf += chunk[:room]
                # Past the cap keep draining (discarding) so the program never blocks on a full pipe.
        except (OSError, ValueError):
            pass
        finally:
            self._stream.close()  # closed here, never under a blocked read in another thread

    def text(self) -> str:
        return bytes(self.buf).decode("utf-8", errors="replace")


def _memfd(data: bytes, name: str = "sandbox") -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    os.write(fd, data)  # memfd writes are not short for these sizes
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


@cache
def _seccomp_bpf() -> bytes | None:
    """The compiled deny-list filter, or None if ``pyseccomp``/libseccomp is unavailable."""
    try:
        import pyseccomp
    except Exception:  # pyseccomp raises RuntimeError when libseccomp is missing
        return None
    try:
        filt = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
        for name in DENIED_SYSCALLS:
            with contextlib.suppress(Exception):  # unknown on this architecture
                filt.add_rule(pyseccomp.ERRNO(errno.EPERM), name)
        r, w = os.pipe()
        try:
            with os.fdopen(w, "wb") as wf:
                filt.export_bpf(wf)
            chunks = []
            while chunk := os.read(r, 65536):
                chunks.append(chunk)
        finally:
            os.close(r)
        return b"".join(chunks) or None
    except Exception:
        return None


def _runtime_site(python: str) -> tuple[str | None, str | None]:
    """The installed sandbox runtime for ``python`` and where to bind it, or (None, None)."""
    import re

    from bluecodeagent.code import sandbox_env

    m = re.search(r"python(\d+\.\d+)$", os.path.realpath(python))
    if not m:
        return None, None
    target = f"/usr/local/lib/python{m.group(1)}/dist-packages"
    site = sandbox_env.site_for(m.group(1))
    if site is None or not os.path.isdir(target):
        return None, None
    return site, target


def _check_rel_path(name: str) -> PurePosixPath:
    p = PurePosixPath(name)
    if not name or p.is_absolute() or ".." in p.parts or str(p) in {".", MAIN_FILE} or "\0" in name:
        raise ValueError(f"sandbox file name must be a plain relative path under /work: {name!r}")
    return p


class Sandbox:
    """A verified bubblewrap sandbox; build it with :meth:`detect`."""

    def __init__(
        self,
        bwrap: str,
        python: str,
        limits: SandboxLimits,
        *,
        version: str,
        disable_userns: bool,
        sized_tmpfs: bool,
        setpriv: str | None,
        prlimit: str | None,
    ) -> None:
        self.bwrap, self.python, self.limits, self.version = bwrap, python, limits, version
        self._disable_userns, self._sized_tmpfs = disable_userns, sized_tmpfs
        self._setpriv, self._prlimit = setpriv, prlimit
        self._root = os.geteuid() == 0
        self.site, self.site_target = _runtime_site(python)
        self._uid, self._gid = (INSIDE_UID, INSIDE_UID) if self._root else (os.getuid(), os.getgid())

    @classmethod
    def detect(
        cls, limits: SandboxLimits | None = None, *, bwrap: str | None = None, python: str | None = None
    ) -> Sandbox:
        """Find bwrap, check its features and prove it works with a probe run.

        Raises SandboxUnavailable with what to install or enable when it does not.
        """
        path = bwrap or os.environ.get("BLUECODE_BWRAP") or shutil.which("bwrap") or "/usr/bin/bwrap"
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise SandboxUnavailable(
                f"bubblewrap not found at {path}: {INSTALL_HINT}; until then dynamic tests are "
                "refused and only static analysis runs"
            )
        py = python or os.environ.get("BLUECODE_SANDBOX_PYTHON") or DEFAULT_PYTHON
        if not py.startswith("/usr/") or not os.path.isfile(py):
            raise SandboxUnavailable(
                f"no interpreter for the sandbox at {py} (it must live under /usr): "
                "install python3 (apt-get install -y python3)"
            )
        try:
            help_text = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=10).stdout
            version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError) as e:
            raise SandboxUnavailable(f"bubblewrap at {path} does not run ({e}): {INSTALL_HINT}") from e
        setpriv, prlimit = shutil.which("setpriv"), shutil.which("prlimit")
        if os.geteuid() == 0 and not setpriv:
            raise SandboxUnavailable("running as root needs setpriv to drop privileges: apt-get install -y util-linux")
        box = cls(
            path,
            py,
            limits or SandboxLimits(),
            version=version.strip().removeprefix("bubblewrap ") or "?",
            disable_userns="--disable-userns" in help_text,
            sized_tmpfs="--size" in help_text,
            setpriv=setpriv,
            prlimit=prlimit,
        )
        probe = box.run_python("import os; print(6 * 7, os.getuid())", limits=SandboxLimits())
        if probe.exit_code != 0 or probe.stdout.split()[:1] != ["42"]:
            detail = (probe.stderr.strip().splitlines() or ["no output"])[-1]
            hint = ""
            if "namespace" in detail or "Operation not permitted" in detail:
                hint = (
                    " (enable unprivileged user namespaces: sysctl -w kernel.unprivileged_userns_clone=1, "
                    "or allow them in the container)"
                )
            raise SandboxUnavailable(f"bubblewrap at {path} failed its probe run: {detail}{hint}")
        return box

    def layers(self) -> dict[str, bool]:
        """Which isolation layers are active."""
        return {
            "rlimits": self._prlimit is not None,
            "drop_privileges": (not self._root) or self._setpriv is not None,
            "namespaces": True,
            "no_network": True,
            "disable_userns": self._disable_userns,
            "cap_drop": True,
            "readonly_root": True,
            "sized_tmpfs": self._sized_tmpfs,
            "seccomp": _seccomp_bpf() is not None,
            "wall_timeout": True,
            "cpu_budget_per_run": True,
            "readonly_dev": True,
            "output_cap": True,
            "runtime_libraries": self.site is not None,
        }

    # -- command line -----------------------------------------------------------------------------

    def _rlimit_argv(self, lim: SandboxLimits) -> list[str]:
        mb = 1024 * 1024
        if self._prlimit is None:
            return []
        return [
            self._prlimit,
            f"--as={lim.memory_mb * mb}",
            f"--nproc={lim.max_processes}",
            f"--cpu={lim.cpu_seconds}:{lim.cpu_seconds + 1}",
            f"--fsize={lim.file_size_mb * mb}",
            "--nofile=256",
            "--core=0",
            "--",
        ]

    def _preexec_rlimits(self, lim: SandboxLimits) -> None:
        """Fallback when the prlimit binary is missing (runs in the child before exec)."""
        import resource

        mb = 1024 * 1024
        for res, val in (
            (resource.RLIMIT_AS, (lim.memory_mb * mb,) * 2),
            (resource.RLIMIT_NPROC, (lim.max_processes,) * 2),
            (resource.RLIMIT_CPU, (lim.cpu_seconds, lim.cpu_seconds + 1)),
            (resource.RLIMIT_FSIZE, (lim.file_size_mb * mb,) * 2),
            (resource.RLIMIT_NOFILE, (256, 256)),
            (resource.RLIMIT_CORE, (0, 0)),
        ):
            resource.setrlimit(res, val)

    def _bwrap_argv(
        self,
        lim: SandboxLimits,
        fds: list[int],
        files: dict[str, str],
        code: str | None,
        seccomp: bytes | None,
        opts: _RunOptions | None = None,
    ) -> list[str]:
        def data(text: str | bytes) -> str:
            fd = _memfd(text.encode() if isinstance(text, str) else text)
            fds.append(fd)
            return str(fd)

        opts = opts or _RunOptions()
        readonly = opts.readonly
        size = ["--size", str(lim.tmpfs_mb * 1024 * 1024)] if self._sized_tmpfs else []
        argv = [self.bwrap, "--unshare-all", "--unshare-user"]
        if self._disable_userns:
            argv.append("--disable-userns")
        argv += [
            "--cap-drop",
            "ALL",
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "app",
            "--uid",
            str(self._uid),
            "--gid",
            str(self._gid),
            "--clearenv",
        ]
        for k, v in ENV_INSIDE.items():
            argv += ["--setenv", k, v]
        argv += ["--ro-bind", "/usr", "/usr"]
        if opts.libraries and self.site is not None and self.site_target is not None:
            argv += ["--ro-bind", self.site, self.site_target]
        for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            host = f"/{top}"
            if os.path.islink(host):
                argv += ["--symlink", os.readlink(host), host]
            elif os.path.isdir(host):
                argv += ["--ro-bind", host, host]
        argv += ["--dir", "/etc"]
        for f in _ETC_FILES:
            if os.path.exists(f):
                argv += ["--ro-bind", f, f]
        argv += [
            "--ro-bind-data",
            data(_PASSWD.format(uid=self._uid, gid=self._gid)),
            "/etc/passwd",
            "--ro-bind-data",
            data(_GROUP.format(gid=self._gid)),
            "/etc/group",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            *size,
            "--tmpfs",
            "/dev/shm",
            "--remount-ro",
            "/dev",
            *size,
            "--tmpfs",
            "/tmp",
            *size,
            "--tmpfs",
            "/work",
        ]
        made: set[str] = set()
        for name, content in sorted(files.items()):
            rel = _check_rel_path(name)
            for parent in reversed(rel.parents[:-1]):
                if str(parent) not in made:
                    made.add(str(parent))
                    argv += ["--dir", f"/work/{parent}"]
            kind = "--ro-bind-data" if name in readonly else "--file"
            argv += [kind, data(content), f"/work/{rel}"]
        if code is not None:
            argv += ["--file", data(code), f"/work/{MAIN_FILE}"]
        argv += ["--remount-ro", "/", "--chdir", "/work"]
        if seccomp is not None:
            argv += ["--seccomp", data(seccomp)]
        program = f"/work/{MAIN_FILE}" if code is not None else "-"
        flags = ["-I", "-B", "-X", "utf8"] + ([] if opts.site else ["-S"])
        return [*argv, "--", self.python, *flags, program]

    # -- running ----------------------------------------------------------------------------------

    def run_python(
        self,
        code: str,
        *,
        files: dict[str, str] | None = None,
        stdin: str | None = None,
        limits: SandboxLimits | None = None,
        program_on_stdin: bool = False,
        readonly: frozenset[str] | set[str] = frozenset(),
        libraries: bool = False,
        site: bool = True,
    ) -> SandboxResult:
        """Run ``code`` with ``python3`` inside the sandbox; ``files`` are written under ``/work`` (the cwd).

        ``program_on_stdin``: the interpreter reads ``code`` from its standard input, so the program
        is never a file the code it runs could read (``stdin`` must then be None).
        ``readonly``: names of ``files`` bound read-only (the program cannot rewrite them).
        ``libraries``: bind the sandbox runtime (when installed). ``site=False``: start the interpreter
        with ``-S`` (no ``.pth`` files of the system run; the program sets its own path).
        """
        lim = limits or self.limits
        if program_on_stdin and stdin is not None:
            raise ValueError("program_on_stdin uses standard input for the program")
        seccomp = _seccomp_bpf()
        fds: list[int] = []
        host_uid = _take_host_uid() if self._root else None
        main, feed = (None, code) if program_on_stdin else (code, stdin)
        try:
            opts = _RunOptions(readonly=frozenset(readonly), libraries=libraries, site=site)
            return self._run(main, files or {}, feed, lim, seccomp, fds, host_uid, opts)
        finally:
            _release_host_uid(host_uid)

    def _run(
        self,
        code: str | None,
        files: dict[str, str],
        stdin: str | None,
        lim: SandboxLimits,
        seccomp: bytes | None,
        fds: list[int],
        host_uid: int | None,
        opts: _RunOptions,
    ) -> SandboxResult:
        try:
            argv = self._bwrap_argv(lim, fds, files, code, seccomp, opts)
            if host_uid is not None:
                argv = [
                    self._setpriv or "setpriv",
                    f"--reuid={host_uid}",
                    f"--regid={NOBODY}",
                    "--clear-groups",
                    "--inh-caps=-all",
                    "--bounding-set=-all",
                    "--no-new-privs",
                    *argv,
                ]
            argv = self._rlimit_argv(lim) + argv
            stdin_fd = _memfd((stdin or "").encode(), "stdin")
            fds.append(stdin_fd)
            os.set_inheritable(stdin_fd, True)
            kwargs: dict[str, Any] = {}
            if self._prlimit is None:
                kwargs["preexec_fn"] = lambda: self._preexec_rlimits(lim)
            start = time.perf_counter()
            proc = subprocess.Popen(
                argv,
                stdin=stdin_fd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=fds,
                start_new_session=True,
                env={"PATH": "/usr/bin:/bin"},
                cwd="/",
                close_fds=True,
                **kwargs,
            )
        finally:
            for fd in fds:
                os.close(fd)
        assert proc.stdout is not None and proc.stderr is not None
        out, err = _Capped(proc.stdout, lim.output_bytes), _Capped(proc.stderr, lim.output_bytes)
        fired = threading.Event()

        def kill() -> None:
            fired.set()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(lim.wall_seconds, kill)
        timer.daemon = True
        timer.start()
        done = threading.Event()
        cpu = _CpuWatch(proc.pid, lim.cpu_seconds, done, kill)
        try:
            rc = proc.wait()  # blocking waitpid; the timer ends it on time
        finally:
            done.set()
            timer.cancel()
        duration = (time.perf_counter() - start) * 1000
        # The PID namespace died with bwrap; the pipes close once its last process is gone.
        for reader in (out, err):
            reader.thread.join(timeout=2.0)
        escaped = any(r.thread.is_alive() for r in (out, err))
        timed_out = fired.is_set() and not cpu.exceeded
        signum: int | None = None
        exit_code: int | None = rc
        if timed_out or cpu.exceeded:
            exit_code, signum = None, signal.SIGKILL.value
        elif rc < 0:
            signum = -rc
        elif 128 < rc <= 128 + 64:
            signum = rc - 128
        return SandboxResult(
            exit_code=exit_code,
            stdout=out.text(),
            stderr=err.text() + ("\n[sandbox: processes outlived the run]" if escaped else ""),
            timed_out=timed_out,
            killed_by_signal=signum,
            output_truncated=out.truncated or err.truncated,
            duration_ms=round(duration, 2),
            layers=[k for k, v in self.layers().items() if v],
            host_uid=host_uid,
            cpu_exceeded=cpu.exceeded,
            cpu_seconds=cpu.used,
        )


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root`` and every live descendant, plus their reaped children (cutime/cstime)."""
    total, todo, seen = 0, [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", "rb") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total / _TICK


class _CpuWatch:
    """One CPU budget for a whole run: polls the process tree and kills the run when it is spent.

    The first poll comes after ``CPU_POLL_SECONDS``, so a short run costs nothing; a run cannot use
    more than the budget plus one poll interval per CPU.
    """

    def __init__(self, root: int, budget: float, done: threading.Event, kill: Any) -> None:
        self.exceeded, self.used = False, None
        self._root, self._budget, self._done, self._kill = root, budget, done, kill
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while not self._done.wait(CPU_POLL_SECONDS):
            used = _tree_cpu_seconds(self._root)
            self.used = round(used, 2)
            if used > self._budget:
                self.exceeded = True
                self._kill()
                return


def sandbox_status() -> dict[str, Any]:
    """For ``bluecode doctor``: is the sandbox available, why not, and what is active."""
    status: dict[str, Any] = {
        "available": False,
        "reason": None,
        "layers": {},
        "bwrap_version": None,
        "python_inside": None,
    }
    try:
        box = Sandbox.detect()
    except SandboxUnavailable as e:
        status["reason"] = str(e)
        return status
    status.update(available=True, layers=box.layers(), bwrap_version=box.version, bwrap_path=box.bwrap)
    status["runtime_libraries"] = box.site
    probe = box.run_python("import sys; print(sys.version.split()[0])")
    status["python_inside"] = f"{box.python} {probe.stdout.strip()}" if probe.exit_code == 0 else box.python
    missing = [k for k, v in box.layers().items() if not v and k != "runtime_libraries"]
    if missing:
        status["reason"] = "optional layers inactive: " + ", ".join(missing)
    return status
