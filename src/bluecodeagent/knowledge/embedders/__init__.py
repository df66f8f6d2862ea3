"""Embedding backends. ``get_embedder(name)`` returns one; the default is the offline ONNX MiniLM with int8 compute."""

from __future__ import annotations

from functools import cache

from bluecodeagent.errors import ConfigError
from bluecodeagent.knowledge.embedders.base import Embedder


@cache
def get_embedder(name: str = "minilm-onnx-q8", model: str | None = None, base_url: str | None = None) -> Embedder:
    """Build (once per process) the embedder called ``name``."""
    if name == "minilm-onnx":
        from bluecodeagent.knowledge.embedders.minilm_onnx import MiniLMOnnxEmbedder

        return MiniLMOnnxEmbedder()
    if name == "minilm-onnx-q8":
        from bluecodeagent.knowledge.embedders.minilm_onnx import MiniLMOnnxQ8Embedder

        return MiniLMOnnxQ8Embedder()
    if name == "openai":
        from bluecodeagent.knowledge.embedders.openai_compat import OpenAICompatEmbedder

        return OpenAICompatEmbedder(model=model, base_url=base_url)
    if name == "sentence-transformers":
        from bluecodeagent.knowledge.embedders.sentence_transformers import SentenceTransformersEmbedder

        return SentenceTransformersEmbedder(model=model)
    raise ConfigError(
        f"unknown embedder {name!r} (choose minilm-onnx, minilm-onnx-q8, openai or sentence-transformers)"
    )


__all__ = ["Embedder", "get_embedder"]
