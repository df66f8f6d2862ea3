"""Seed attacks shipped with the product (our own wording) and the loader for user seed files.

A seed file is JSONL (``{"id", "text", "category"?, "counterpart"?, "policy"?}`` per line) or TOML
with ``[[seed]]`` tables of the same fields. ``load_seeds("shipped", task)`` reads the product's own.
"""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from bluecodeagent.errors import InputError
from bluecodeagent.redteam.optimize import Seed


def load_seeds(source: str | Path, task: str) -> list[Seed]:
    """Seeds from a JSONL/TOML file, or ``"shipped"`` for the product's own seeds of ``task``."""
    if str(source) == "shipped":
        entry = resources.files(__name__).joinpath(f"{task}.toml")
        if not entry.is_file():
            raise InputError(f"no shipped seeds for task {task!r}")
        return _records(tomllib.loads(entry.read_text(encoding="utf-8")).get("seed", []), task, f"shipped:{task}")
    path = Path(source)
    if not path.is_file():
        raise InputError(f"seed file not found: {path}")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        try:
            return _records(tomllib.loads(text).get("seed", []), task, str(path))
        except tomllib.TOMLDecodeError as e:
            raise InputError(f"{path}: not valid TOML ({e})") from e
    recs = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            recs.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{n}: not valid JSON ({e.msg})") from e
    return _records(recs, task, str(path))


def _records(recs: list[dict], task: str, where: str) -> list[Seed]:
    out = []
    for n, rec in enumerate(recs, 1):
        if not isinstance(rec, dict):
            raise InputError(f"{where}: seed {n} is not an object")
        rec = {**rec, "task": task}
        rec.setdefault("id", f"seed-{n}")
        try:
            out.append(Seed(**rec))
        except ValidationError as e:
            raise InputError(f"{where}: seed {n} is invalid ({e.errors()[0]['msg']})") from e
    if not out:
        raise InputError(f"{where}: no seeds")
    return out
