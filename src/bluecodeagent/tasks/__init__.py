"""Prompt tasks. ``get_task(name)`` returns a task's spec; unknown names are an input error."""

from __future__ import annotations

from bluecodeagent.errors import InputError
from bluecodeagent.tasks.base import Rule, RuleHit, TaskSpec

PROMPT_TASKS = ("bias", "malicious", "injection")


def get_task(name: str) -> TaskSpec:
    if name == "bias":
        from bluecodeagent.tasks.bias import SPEC
    elif name == "malicious":
        from bluecodeagent.tasks.malicious import SPEC
    elif name == "injection":
        from bluecodeagent.tasks.injection import SPEC
    else:
        raise InputError(f"unknown task {name!r} (choose {', '.join(PROMPT_TASKS)} or all)")
    return SPEC


__all__ = ["PROMPT_TASKS", "Rule", "RuleHit", "TaskSpec", "get_task"]
