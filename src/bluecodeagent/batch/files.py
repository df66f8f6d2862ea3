"""Finding the files a scan covers, with every path that could not be walked reported, not skipped."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bluecodeagent.errors import describe_os_error

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "node_modules", ".tox", ".mypy_cache"})


@dataclass
class Discovery:
    """The files to scan, in walk order, and one message per path that could not be read."""

    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def discover(paths: list[str], supported: Callable[[Path], bool]) -> Discovery:
    """Explicit files as given; directories walked for supported files, honouring every .gitignore."""
    found = Discovery()
    for raw in paths:
        p = Path(raw)
        try:
            os.stat(p)
        except OSError as e:
            found.problems.append(describe_os_error(raw, e))
            continue
        if not p.is_dir():
            found.files.append(p)
            continue
        _walk(p, supported, found)
    return found


def _walk(top: Path, supported: Callable[[Path], bool], found: Discovery) -> None:
    specs: list[tuple[Path, Any]] = []

    def onerror(e: OSError) -> None:
        found.problems.append(describe_os_error(e.filename or top, e) + " (not scanned)")

    for root, dirs, files in os.walk(top, onerror=onerror):
        here = Path(root)
        spec = _gitignore(here)
        if spec is not None:
            specs.append((here, spec))
        active = [(b, s) for b, s in specs if here == b or b in here.parents]

        def ignored(path: Path, is_dir: bool, active: list[tuple[Path, Any]] = active) -> bool:
            return any(s.match_file(path.relative_to(base).as_posix() + ("/" if is_dir else "")) for base, s in active)

        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not ignored(here / d, True))
        for name in sorted(files):
            fp = here / name
            if supported(fp) and not ignored(fp, False):
                found.files.append(fp)


def _gitignore(directory: Path) -> Any:
    import pathspec

    f = directory / ".gitignore"
    try:
        if not f.is_file():
            return None
        lines = f.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.PathSpec.from_lines("gitwildmatch", lines)
