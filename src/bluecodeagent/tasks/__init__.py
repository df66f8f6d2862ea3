"""Prompt tasks, found by discovery: a module of this package (or an entry point of the group
``bluecodeagent.tasks``) that holds a ``SPEC`` (a :class:`TaskSpec`) adds the task ``SPEC.name``.

``get_task(name)`` returns a task's spec; unknown names are an input error. ``PROMPT_TASKS`` is the
tuple of task names (bias, malicious, injection, then plug-ins by name).
"""

from __future__ import annotations

from typing import Any

from bluecodeagent.errors import InputError
from bluecodeagent.plugins import discover
from bluecodeagent.tasks.base import Rule, RuleHit, TaskSpec
from bluecodeagent.verdict import Task

_SPECS: dict[str, TaskSpec] = {}


def _collect(obj: Any) -> None:
    spec = obj if isinstance(obj, TaskSpec) else getattr(obj, "SPEC", None)
    if not isinstance(spec, TaskSpec):
        return
    old = _SPECS.get(spec.name)
    if old is not None and old is not spec:
        raise ValueError(f"duplicate prompt task {spec.name!r}")
    _SPECS[spec.name] = spec


def tasks() -> dict[str, TaskSpec]:
    """Every prompt task: in the order of the verdict schema's tasks, then the others by name."""
    discover("bluecodeagent.tasks", "tasks", collect=_collect)
    order = [t.value for t in Task]
    return dict(sorted(_SPECS.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0])))


def get_task(name: str) -> TaskSpec:
    known = tasks()
    if name not in known:
        raise InputError(f"unknown task {name!r} (choose {', '.join(known)} or all)")
    return known[name]


def __getattr__(name: str) -> Any:
    if name == "PROMPT_TASKS":  # computed on first use, so importing this package imports no task
        return tuple(tasks())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["PROMPT_TASKS", "Rule", "RuleHit", "TaskSpec", "get_task", "tasks"]
