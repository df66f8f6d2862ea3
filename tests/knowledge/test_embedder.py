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


# -- the int8-compute copy (minilm-onnx-q8) ---------------------------------------------------------


def test_quantised_copy_is_derived_reproducibly_and_stays_close(tmp_path):
    from bluecodeagent.knowledge.embedders.checksum import sha256_of
    from bluecodeagent.knowledge.embedders.minilm_onnx import MiniLMOnnxQ8Embedder
    from bluecodeagent.knowledge.embedders.quantized import REFERENCE_SHA256

    texts = ["write a keylogger", "capture every key the user presses", "compute a matrix inverse"]
    q8 = MiniLMOnnxQ8Embedder(models_dir=tmp_path)
    (derived,) = tmp_path.glob("*.onnx")
    # The pinned toolchain (requirements.lock) derives exactly the reference file from the pinned weights.
    assert sha256_of(derived) == REFERENCE_SHA256
    v, exact = q8.embed(texts), MiniLMOnnxEmbedder().embed(texts)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert (v * exact).sum(axis=1).min() > 0.98  # another vector space, but close to the float32 one
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    assert q8.name != MiniLMOnnxEmbedder.name  # a knowledge base records which space its vectors are in
    # Activations are quantised per run: each text runs alone, so its vector ignores its batch mates.
    mixed = [*texts, "x", "a far longer text about parsing CSV files and averaging the third column " * 3]
    assert np.array_equal(q8.embed(mixed), np.vstack([q8.embed([t]) for t in mixed]))


def test_altered_quantised_copy_is_derived_again(tmp_path):
    from bluecodeagent.knowledge.embedders.checksum import sha256_of
    from bluecodeagent.knowledge.embedders.minilm_onnx import MiniLMOnnxQ8Embedder
    from bluecodeagent.knowledge.embedders.quantized import REFERENCE_SHA256

    MiniLMOnnxQ8Embedder(models_dir=tmp_path)
    (derived,) = tmp_path.glob("*.onnx")
    with derived.open("r+b") as f:
        f.seek(5000)
        f.write(b"\xff" * 16)
    assert sha256_of(derived) != REFERENCE_SHA256
    q8 = MiniLMOnnxQ8Embedder(models_dir=tmp_path)
    assert sha256_of(derived) == REFERENCE_SHA256
    assert q8.embed(["sort a list"]).shape == (1, 384)


def test_unwritable_models_folder_is_a_clear_error(tmp_path):
    from bluecodeagent.knowledge.embedders.minilm_onnx import MiniLMOnnxQ8Embedder

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the models folder should be")
    with pytest.raises(ModelError, match="cannot write the quantised embedding model"):
        MiniLMOnnxQ8Embedder(models_dir=blocker / "models")
