"""Embeddings from any OpenAI-compatible ``/v1/embeddings`` endpoint (opt-in: needs a server and often a key)."""

from __future__ import annotations

import os

import numpy as np

from bluecodeagent.errors import ConfigError, ModelError
from bluecodeagent.knowledge.embedders.base import embedder, normalise


class OpenAICompatEmbedder:
    """Calls ``client.embeddings.create``; base URL from ``OPENAI_BASE_URL`` or the argument."""

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY"):
        try:
            from openai import OpenAI
        except ImportError as e:
            raise ConfigError("the openai embedder needs: pip install 'bluecodeagent[openai]'") from e
        self.model = model or "text-embedding-3-small"
        self.name = f"openai:{self.model}"
        self._client = OpenAI(base_url=base_url, api_key=os.environ.get(api_key_env, "not-needed"))
        self.dim = int(self.embed(["dimension probe"]).shape[1])

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        try:
            resp = self._client.embeddings.create(model=self.model, input=texts)
        except Exception as e:  # the client raises many transport-specific types
            raise ModelError(f"embedding endpoint failed: {e}") from e
        return normalise(np.array([d.embedding for d in resp.data], dtype=np.float32))


@embedder("openai")
def _make(model: str | None = None, base_url: str | None = None) -> OpenAICompatEmbedder:
    """Any OpenAI-compatible /v1/embeddings endpoint (network; pip install 'bluecodeagent[openai]')."""
    return OpenAICompatEmbedder(model=model, base_url=base_url)
