"""A static word-piece table distilled from the pinned MiniLM itself (model2vec-style).

Every word piece of MiniLM's vocabulary is run through the verified ONNX model once, alone
(``[CLS] piece [SEP]``), and the hidden state at the piece's position becomes its row. A text is then
read without the transformer: its pieces' rows, looked up and averaged (``knowledge/first_reader.py``).
This is the cheap first reader of the cascade; it never replaces MiniLM for a risky piece.

The table is derived on this machine from the verified weights (about half a minute on two cores)
and kept under ``$BLUECODE_HOME/models`` with a sidecar holding the source digests and its own
SHA-256; a table that no longer matches its sidecar, or was made from other weights, is derived again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from bluecodeagent.errors import ModelError
from bluecodeagent.knowledge.embedders.checksum import sha256_of

RECIPE = "token-position-hidden-f16-v1"
RUN_ROWS = 512  # pieces per ONNX run (float32 rows do not depend on their batch mates)


def table_path(model_sha256: str, tokenizer_sha256: str, models_dir: Path) -> Path:
    return models_dir / f"minilm-static-{model_sha256[:12]}-{tokenizer_sha256[:8]}.npy"


def table_digest() -> str:
    """Names the table's recipe and sources: a reader trained over one table is not used with another."""
    import hashlib

    from bluecodeagent.knowledge.embedders.minilm_onnx import MODEL_SHA256, TOKENIZER_SHA256

    return hashlib.sha256(f"{RECIPE}:{MODEL_SHA256}:{TOKENIZER_SHA256}".encode()).hexdigest()


def static_table(models_dir: Path | None = None) -> np.ndarray:
    """The (vocabulary, 384) float16 table for the pinned model, deriving it when missing or altered."""
    from bluecodeagent.config import default_home
    from bluecodeagent.knowledge.embedders.minilm_onnx import MODEL_SHA256, TOKENIZER_SHA256, model_files, verify

    models_dir = models_dir or default_home() / "models"
    target = table_path(MODEL_SHA256, TOKENIZER_SHA256, models_dir)
    sidecar = target.with_suffix(".json")
    if _matches(target, sidecar, MODEL_SHA256, TOKENIZER_SHA256):
        return np.load(target)
    model, tok = model_files()
    verify(model, MODEL_SHA256)
    verify(tok, TOKENIZER_SHA256)
    table = derive(model, tok)
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, table)
        digest = sha256_of(tmp)
        os.replace(tmp, target)
        meta = {"recipe": RECIPE, "model_sha256": MODEL_SHA256, "tokenizer_sha256": TOKENIZER_SHA256, "sha256": digest}
        side_tmp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.tmp")
        side_tmp.write_text(json.dumps(meta))
        os.replace(side_tmp, sidecar)
    except OSError as e:
        raise ModelError(f"cannot write the static word-piece table under {models_dir}: {e.strerror or e}") from e
    return table


def derive(model_path: Path, tokenizer_path: Path, threads: int | None = None) -> np.ndarray:
    """Run every vocabulary piece through the model alone; its position's hidden state is its row."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_path))
    vocab = tok.get_vocab_size()
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    if cls_id is None or sep_id is None:
        raise ModelError(f"tokenizer {tokenizer_path} has no [CLS]/[SEP] pieces")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types
        raise ModelError(f"cannot load embedding model {model_path}: {e}") from e
    out = np.zeros((vocab, 384), dtype=np.float16)
    for start in range(0, vocab, RUN_ROWS):
        ids = np.arange(start, min(vocab, start + RUN_ROWS), dtype=np.int64)
        batch = np.stack([np.full_like(ids, cls_id), ids, np.full_like(ids, sep_id)], axis=1)
        feeds = {"input_ids": batch, "attention_mask": np.ones_like(batch), "token_type_ids": np.zeros_like(batch)}
        hidden = session.run(None, feeds)[0]
        out[ids] = hidden[:, 1, :].astype(np.float16)
    return out


def _matches(target: Path, sidecar: Path, model_sha256: str, tokenizer_sha256: str) -> bool:
    try:
        meta = json.loads(sidecar.read_text())
        return (
            meta.get("recipe") == RECIPE
            and meta.get("model_sha256") == model_sha256
            and meta.get("tokenizer_sha256") == tokenizer_sha256
            and target.is_file()
            and sha256_of(target) == meta.get("sha256")
        )
    except (OSError, ValueError, AttributeError):
        return False
