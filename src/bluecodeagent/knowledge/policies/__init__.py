"""Risk policies shipped as data (TOML): policies, vocabularies and templates per task.

Each file has ``[meta]`` (task, generator settings), ``[vocab]`` (shared slot lists),
``[[policy]]`` (id, category, principle and policy-specific slot lists), optional ``[[frame]]``
(a context such as a decision domain or an injection carrier, with its own slot lists) and
``[[template]]`` (id, ``unsafe`` and/or ``safe`` text with ``${slot}`` placeholders).

A companion file (``[meta] extends = "<task>"``, e.g. ``jailbreak.toml``) adds its vocabularies,
policies and templates to that task's document: its templates can use the task's policies' slots
(a jailbreak wrapper around each family's harmful goal and its harmless twin), and its own
policies render with the task's shared vocabulary.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

POLICY_TASKS = ("bias", "malicious", "injection", "benign")


def load_policies(task: str, policy_file: Path | None = None) -> dict[str, Any]:
    """Load the policy document for ``task`` (or from ``policy_file`` when given)."""
    if policy_file is not None:
        with Path(policy_file).open("rb") as fh:
            return tomllib.load(fh)
    if task not in POLICY_TASKS:
        raise ValueError(f"no built-in policies for task {task!r}; known: {', '.join(POLICY_TASKS)}")
    folder = resources.files(__name__)
    doc = tomllib.loads(folder.joinpath(f"{task}.toml").read_bytes().decode("utf-8"))
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml") and entry.name != f"{task}.toml":
            extra = tomllib.loads(entry.read_bytes().decode("utf-8"))
            if extra.get("meta", {}).get("extends") == task:
                doc = merge_companion(doc, extra, entry.name)
    return doc


def merge_companion(doc: dict[str, Any], extra: dict[str, Any], name: str) -> dict[str, Any]:
    """``doc`` with ``extra``'s vocabularies, policies, frames and templates added (a name may not be redefined)."""
    out = dict(doc)
    vocab = dict(doc.get("vocab", {}))
    for key, value in extra.get("vocab", {}).items():
        if key in vocab:
            task = doc.get("meta", {}).get("task")
            raise ValueError(f"{name}: vocabulary {key!r} is already defined for task {task!r}")
        vocab[key] = value
    out["vocab"] = vocab
    for section in ("policy", "frame", "template"):
        ids = {e.get("id") for e in doc.get(section, [])}
        for e in extra.get(section, []):
            if e.get("id") in ids:
                raise ValueError(f"{name}: {section} {e.get('id')!r} is already defined")
        out[section] = [*doc.get(section, []), *extra.get(section, [])]
    return out
