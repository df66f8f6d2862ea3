"""The sandbox runtime: a pinned set of the libraries code under test commonly imports.

Without it, code that imports lxml, requests or Flask runs on stubs in the sandbox and its
findings can only be "not exercised". ``bluecode sandbox setup`` installs the pinned wheels of
``sandbox-requirements.txt`` (dependencies included, ``--no-deps``, binary wheels only) for the
sandbox's interpreter into a folder every user can read; the sandbox binds that folder read-only
over ``/usr/local/lib/python3.X/dist-packages``, where the interpreter already looks, so the
code sees an ordinary system installation.

Location: ``$BLUECODE_SANDBOX_ENV``, else ``/opt/bluecodeagent/sandbox-env`` when running as root
(the sandbox's unprivileged uid cannot traverse root's home), else ``$BLUECODE_HOME/sandbox-env``.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel, Field

from bluecodeagent.config import default_home
from bluecodeagent.errors import InputError

REQUIREMENTS = Path(__file__).with_name("sandbox-requirements.txt")
MANIFEST = "bluecode-sandbox-env.json"
SITE = "site-packages"


class EnvStatus(BaseModel):
    """Whether the sandbox runtime is installed, where, and whether it matches the shipped pins."""

    path: str
    installed: bool
    current: bool = Field(default=False, description="Installed from the requirements this version ships.")
    python: str | None = None
    packages: int = 0
    reason: str | None = None


def default_dir() -> Path:
    """Where the sandbox runtime lives (see the module docstring; ``BLUECODE_SANDBOX_ENV=off`` disables it)."""
    if env := os.environ.get("BLUECODE_SANDBOX_ENV"):
        return Path(env)
    if os.geteuid() == 0:
        return Path("/opt/bluecodeagent/sandbox-env")
    return default_home() / "sandbox-env"


def pins(path: Path = REQUIREMENTS) -> list[str]:
    """The pinned requirement lines (``name==version``), comments dropped."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            if "==" not in line:
                raise ValueError(f"{path}: {line!r} is not pinned (name==version)")
            out.append(line)
    return out


def requirements_digest() -> str:
    return hashlib.sha256("\n".join(pins()).encode()).hexdigest()[:16]


def python_version(python: str) -> str:
    """``3.11`` for the interpreter at ``python``."""
    out = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True, timeout=30
    )
    if out.returncode != 0:
        raise InputError(f"cannot run the sandbox interpreter {python}: {out.stderr.strip()[-200:]}")
    return out.stdout.strip()


def status(path: Path | None = None) -> EnvStatus:
    """What is installed at ``path`` (default :func:`default_dir`)."""
    root = path or default_dir()
    if str(root) == "off":
        return EnvStatus(path="off", installed=False, reason="disabled (BLUECODE_SANDBOX_ENV=off)")
    manifest = root / MANIFEST
    if not manifest.is_file() or not (root / SITE).is_dir():
        return EnvStatus(path=str(root), installed=False, reason="not installed: run `bluecode sandbox setup`")
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return EnvStatus(path=str(root), installed=False, reason=f"unreadable manifest: {e}")
    current = data.get("requirements") == requirements_digest()
    return EnvStatus(
        path=str(root),
        installed=True,
        current=current,
        python=data.get("python"),
        packages=len(data.get("pins", [])),
        reason=None if current else "installed from other pins: run `bluecode sandbox setup` again",
    )


def site_for(python_ver: str, path: Path | None = None) -> str | None:
    """The site folder to bind for an interpreter of ``python_ver``, or None if none fits."""
    st = status(path)
    if not st.installed or st.python != python_ver:
        return None
    return str(Path(st.path) / SITE)


def _readable_by_all(root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            p = Path(dirpath) / d
            p.chmod(p.stat().st_mode | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH)
        for f in filenames:
            p = Path(dirpath) / f
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | stat.S_IRGRP | stat.S_IROTH)
    root.chmod(root.stat().st_mode | stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH)


def _traversable(path: Path) -> str | None:
    """The first ancestor of ``path`` others cannot enter (the sandbox's uid could not bind it)."""
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.stat().st_mode & stat.S_IXOTH:
            return str(parent)
    return None


def setup(path: Path | None = None, python: str | None = None, echo: object = None) -> EnvStatus:
    """Install the pinned wheels for the sandbox interpreter into ``path``; returns the new status."""
    from bluecodeagent.code.sandbox import DEFAULT_PYTHON

    root = path or default_dir()
    py = python or os.environ.get("BLUECODE_SANDBOX_PYTHON") or DEFAULT_PYTHON
    ver = python_version(py)
    lines = pins()
    site = root / SITE
    root.mkdir(parents=True, exist_ok=True)
    staging = root / (SITE + ".new")
    if staging.exists():
        subprocess.run(["rm", "-rf", str(staging)], check=False)
    cmd = [
        sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet",
        "--no-deps", "--only-binary=:all:", "--no-compile", "--python-version", ver, "--implementation", "cp",
        "--target", str(staging), *lines,
    ]  # fmt: skip
    if callable(echo):
        echo(f"installing {len(lines)} pinned packages for Python {ver} into {site}")
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise InputError(f"sandbox setup: pip could not install the pinned packages: {tail}")
    if site.exists():
        subprocess.run(["rm", "-rf", str(site)], check=False)
    staging.rename(site)
    (root / MANIFEST).write_text(
        json.dumps({"python": ver, "requirements": requirements_digest(), "pins": lines}, indent=1), encoding="utf-8"
    )
    _readable_by_all(root)
    st = status(root)
    if os.geteuid() == 0 and (blocked := _traversable(root)):
        st.reason = f"{blocked} cannot be entered by other users, so the sandbox cannot bind it; choose another --dir"
    return st
