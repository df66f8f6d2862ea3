"""Risk policies shipped as data (TOML): policies, vocabularies and templates per task.

Each file has ``[meta]`` (task, generator settings), ``[vocab]`` (shared slot lists),
``[[policy]]`` (id, category, principle and policy-specific slot lists), optional ``[[frame]]``
(a context such as a decision domain or an injection carrier, with its own slot lists) and
``[[template]]`` (id, ``unsafe`` and/or ``safe`` text with ``${slot}`` placeholders).
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
    data = resources.files(__name__).joinpath(f"{task}.toml").read_bytes()
    return tomllib.loads(data.decode("utf-8"))
