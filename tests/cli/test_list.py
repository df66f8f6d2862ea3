"""`bluecode list KIND` shows what discovery found, each with its own description."""

from __future__ import annotations

import json

import pytest

from tests_helpers import run


@pytest.mark.parametrize("kind", ["rules", "probes", "mutators", "formats", "embedders", "tasks"])
def test_every_kind_lists_named_and_described_plugins(kind: str):
    proc = run("list", kind, "-f", "json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows and all(r["name"] and r["description"] for r in rows), [r for r in rows if not r["description"]]
    assert len({r["name"] for r in rows}) == len(rows)
