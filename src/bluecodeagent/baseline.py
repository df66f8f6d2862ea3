"""Baselines: accept today's findings once, report only new ones afterwards.

A fingerprint survives line moves: it hashes the file, rule, CWE and the flagged code text.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from bluecodeagent.errors import InputError
from bluecodeagent.verdict import Decision, Finding, Verdict

Items = Iterable[tuple[str | None, Verdict]]


def fingerprint(path: str | None, f: Finding) -> str:
    """A baseline key that survives line moves: file, rule, CWE and the flagged code text."""
    text = "|".join([(path or "").replace("\\", "/"), f.rule_id, f.cwe or "", (f.snippet or "").strip()])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def load(path: Path) -> set[str]:
    """The fingerprints of a baseline file, or one clear error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read baseline {path}: {getattr(e, 'strerror', None) or e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("fingerprints"), list):
        raise InputError(f'{path} is not a bluecode baseline (expected {{"fingerprints": [...]}})')
    return {str(x) for x in data["fingerprints"]}


def check_writable(path: Path) -> None:
    """Fail before a long scan, not after it, when the baseline cannot be written."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"cannot write baseline {path}: it is a directory")
    if not parent.is_dir():
        raise InputError(f"cannot write baseline {path}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"cannot write baseline {path}: permission denied")


def write(path: Path, items: Items) -> int:
    """Write every current finding's fingerprint; returns how many were written."""
    prints = sorted({fingerprint(p, f) for p, v in items for f in v.findings})
    try:
        path.write_text(json.dumps({"version": 1, "fingerprints": prints}, indent=1) + "\n", encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot write baseline {path}: {e.strerror or e}") from e
    return len(prints)


def apply(items: Items, baseline: set[str]) -> int:
    """Hide findings in ``baseline``; a verdict left without findings becomes safe with score 0."""
    hidden = 0
    for path, v in items:
        kept = [f for f in v.findings if fingerprint(path, f) not in baseline]
        if len(kept) == len(v.findings):
            continue
        hidden += len(v.findings) - len(kept)
        v.evidence.notes.append(f"{len(v.findings) - len(kept)} finding(s) hidden by the baseline")
        v.findings = kept
        if not kept:
            v.label, v.score, v.decision = "safe", 0.0, Decision.ALLOW
    return hidden
