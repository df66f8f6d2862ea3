"""Reading batch input: one JSONL line, one record, every problem kept on its own record.

A line that is not valid UTF-8, not JSON or not an object becomes a record carrying an ``error``;
the rest of the file is still read. Records without an ``id`` get their line number and a
``warning``; repeated ids are kept (each is screened) and warned about.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bluecodeagent.errors import InputError


@dataclass
class Record:
    """One input line: its fields, or the error that stops it; warnings travel to its output line."""

    line: int
    id: Any
    fields: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def fail(self, message: str) -> None:
        """Mark this record as unusable (the first reason wins)."""
        if self.error is None:
            self.error = f"line {self.line}: {message}"

    def result(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The output line for this record: its id and line first, then the payload, then warnings."""
        out: dict[str, Any] = {"id": self.id, "line": self.line, **{k: v for k, v in payload.items() if k != "id"}}
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out

    def error_result(self) -> dict[str, Any]:
        return self.result({"error": self.error})


def read_bytes(path: Path) -> bytes:
    """The raw input ('-' is stdin), with one clear error for a missing, unreadable or looping path."""
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        if path.is_dir():
            raise InputError(f"{path} is a directory, not a JSONL file")
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from e


def read_records(path: Path, fields: dict[str, bool]) -> list[Record]:
    """Every non-blank line of a JSONL file as a record.

    ``fields`` maps a field name to whether it is required; each must be a string when present.
    """
    return parse_records(read_bytes(path), fields, str(path))


def parse_records(raw: bytes, fields: dict[str, bool], name: str = "input") -> list[Record]:
    """Split JSONL bytes into records, decoding and parsing each line on its own."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    records: list[Record] = []
    for n, chunk in enumerate(raw.split(b"\n"), 1):
        if not chunk.strip():
            continue
        records.append(_parse_line(n, chunk, fields))
    if not records:
        raise InputError(f"{name} has no records")
    _mark_ids(records)
    return records


def _parse_line(n: int, chunk: bytes, fields: dict[str, bool]) -> Record:
    rec = Record(line=n, id=None)  # unknown until the line parses; then its id, or its line number
    try:
        line = chunk.decode("utf-8")
    except UnicodeDecodeError as e:
        rec.fail(f"not valid UTF-8 (byte {e.start} of the line)")
        return rec
    try:
        data = json.loads(line)
    except json.JSONDecodeError as e:
        rec.fail(f"malformed JSON ({e.msg})")
        return rec
    if not isinstance(data, dict):
        rec.fail("a record must be a JSON object")
        return rec
    if "id" in data and data["id"] is not None:
        if isinstance(data["id"], dict | list):
            rec.fail("'id' must be a string or a number")
            return rec
        rec.id = data["id"]
    else:
        rec.id = n
        rec.warnings.append(f"no 'id': the line number {n} is used")
    for name, required in fields.items():
        value = data.get(name)
        if value is None:
            if required:
                rec.fail(f"'{name}' is missing")
            continue
        if not isinstance(value, str):
            rec.fail(f"'{name}' must be a string, got {type(value).__name__}")
            continue
        rec.fields[name] = value
    return rec


def _mark_ids(records: list[Record]) -> None:
    """Warn on every repeated id (each record is still screened and gets its own line)."""
    first: dict[str, int] = {}
    for rec in records:
        k = id_key(rec.id)
        if k in first:
            rec.warnings.append(f"duplicate id {json.dumps(rec.id)} (first on line {first[k]})")
        else:
            first[k] = rec.line


def id_key(rid: Any) -> str:
    """A hashable key for an id of any JSON type (1 and "1" stay different)."""
    return json.dumps(rid)


def occurrence_keys(ids: list[Any]) -> list[tuple[str, int]]:
    """(id, n-th time this id is seen): what tells two records with the same id apart on resume."""
    seen: Counter[str] = Counter()
    keys = []
    for rid in ids:
        k = id_key(rid)
        keys.append((k, seen[k]))
        seen[k] += 1
    return keys
