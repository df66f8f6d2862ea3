import shutil

import numpy as np
import pytest

from bluecodeagent.errors import ModelError
from bluecodeagent.knowledge.embedders.minilm_onnx import MiniLMOnnxEmbedder, model_files


def test_vectors_are_unit_length_and_semantic(embedder):
    v = embedder.embed(["write a keylogger", "capture every key the user presses", "compute a matrix inverse"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_batch_and_single_agree(embedder):
    texts = ["short", "a much longer sentence about sorting lists of integers in python"]
    batch = embedder.embed(texts)
    single = np.vstack([embedder.embed([t]) for t in texts])
    assert np.allclose(batch, single, atol=1e-3)


def test_tampered_weights_are_refused(tmp_path, monkeypatch):
    model, _ = model_files()
    bad = tmp_path / "model.onnx"
    shutil.copy(model, bad)
    with bad.open("r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02\x03")
    monkeypatch.setenv("BLUECODE_MODEL_FILE", str(bad))
    with pytest.raises(ModelError, match="checksum mismatch"):
        MiniLMOnnxEmbedder()


def test_missing_weights_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("BLUECODE_MODEL_FILE", str(tmp_path / "absent.onnx"))
    with pytest.raises(ModelError, match="missing"):
        MiniLMOnnxEmbedder()


_INHERITED: list = []  # what a forked child sees of the parent (a fork copies memory, not threads)


def test_batches_still_embed_in_a_forked_child(embedder):
    """Process pools fork after the parent has embedded: the child must not wait on threads it lacks."""
    import multiprocessing as mp

    texts = ["write a keylogger", "sort a list of names", "read a file", "open a socket"]
    expected = np.asarray(embedder.embed(texts))  # the parent's helper threads now exist
    _INHERITED[:] = [embedder]
    with mp.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(_embed_in_child, (texts,)).get(timeout=60)
    assert np.allclose(got, expected)


def _embed_in_child(texts):
    return np.asarray(_INHERITED[0].embed(texts))
