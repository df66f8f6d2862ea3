"""`bluecode doctor` end to end through the real entry point."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests_helpers import run


def _env(**changes: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(changes)
    return env


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed (apt-get install -y bubblewrap)")
def test_healthy_install_exits_zero_with_layers() -> None:
    res = run("doctor", "--format", "json", env=_env())
    assert res.returncode == 0, res.stdout.decode() + res.stderr.decode()
    report = json.loads(res.stdout)
    assert report["ok"] is True and report["package_version"]
    names = {c["name"]: c for c in report["checks"]}
    assert names["embedding model"]["ok"] and names["tokenizer"]["ok"]
    assert report["sandbox"]["available"] is True
    layers = report["sandbox"]["layers"]
    assert layers["namespaces"] and layers["no_network"] and layers["wall_timeout"]
    assert report["sandbox"]["python_inside"].startswith("/usr/bin/python3 3.")


def test_missing_bwrap_is_degraded_with_install_line(tmp_path: Path) -> None:
    res = run("doctor", env=_env(BLUECODE_BWRAP=str(tmp_path / "no-bwrap")))
    out = res.stdout.decode()
    assert res.returncode == 1, out
    assert "[FAIL] sandbox" in out
    assert "apt-get install -y bubblewrap" in out
    assert "degraded" in out.splitlines()[-1]


def test_tampered_model_is_reported(tmp_path: Path) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not the model")
    res = run("doctor", "--format", "json", env=_env(BLUECODE_MODEL_FILE=str(fake)))
    assert res.returncode == 1
    report = json.loads(res.stdout)
    model = next(c for c in report["checks"] if c["name"] == "embedding model")
    assert model["ok"] is False and "checksum mismatch" in model["detail"] and "reinstall" in model["fix"]


def test_knowledge_base_path_reported(tmp_path: Path) -> None:
    kb = tmp_path / "kb.sqlite"
    missing = json.loads(run("doctor", "--format", "json", env=_env(BLUECODE_KB_PATH=str(kb))).stdout)
    detail = next(c for c in missing["checks"] if c["name"] == "knowledge base")["detail"]
    assert str(kb) in detail and "not built yet" in detail
    kb.write_bytes(b"x" * 1000)
    present = json.loads(run("doctor", "--format", "json", env=_env(BLUECODE_KB_PATH=str(kb))).stdout)
    detail = next(c for c in present["checks"] if c["name"] == "knowledge base")["detail"]
    assert str(kb) in detail and "not built yet" not in detail
