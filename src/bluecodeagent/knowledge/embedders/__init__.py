"""Embedding backends, one module each, found by discovery (plug-ins: entry-point group
``bluecodeagent.embedders``). ``get_embedder(name)`` returns one; the default is the offline ONNX
MiniLM with int8 compute."""

from __future__ import annotations

from functools import cache

from bluecodeagent.errors import ConfigError
from bluecodeagent.knowledge.embedders.base import FACTORIES, Embedder, embedder
from bluecodeagent.plugins import discover


def embedders() -> dict[str, str]:
    """Registered embedder names and their one-line descriptions."""
    discover("bluecodeagent.knowledge.embedders", "embedders")
    return {name: doc for name, (_, doc) in sorted(FACTORIES.items())}


@cache
def get_embedder(name: str = "minilm-onnx-q8", model: str | None = None, base_url: str | None = None) -> Embedder:
    """Build (once per process) the embedder called ``name``."""
    names = embedders()
    if name not in FACTORIES:
        raise ConfigError(f"unknown embedder {name!r} (choose {', '.join(names)})")
    return FACTORIES[name][0](model, base_url)


__all__ = ["Embedder", "embedder", "embedders", "get_embedder"]
