"""Helpers shared by tests (importable because pytest puts the tests folder on sys.path)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run(
    *args: str, stdin: bytes | None = None, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run the real `bluecode` entry point in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "bluecodeagent", *args], input=stdin, capture_output=True, timeout=300, cwd=cwd, env=env
    )
