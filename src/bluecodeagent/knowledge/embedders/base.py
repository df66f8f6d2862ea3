"""The embedder interface: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit vectors. ``name`` identifies the vector space stored in a knowledge base."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dim), float32, each row of unit length."""
        ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale rows to unit length (zero rows stay zero)."""
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return v / norms


# name -> factory(model, base_url); filled by the ``@embedder`` decorator of each module and plug-in.
EmbedderFactory = Callable[[str | None, str | None], Embedder]
FACTORIES: dict[str, tuple[EmbedderFactory, str]] = {}


def embedder(name: str) -> Callable[[EmbedderFactory], EmbedderFactory]:
    """Register a factory ``(model, base_url) -> Embedder`` under ``name``; its docstring describes it."""

    def decorate(factory: EmbedderFactory) -> EmbedderFactory:
        if name in FACTORIES and FACTORIES[name][0] is not factory:
            raise ValueError(f"embedder name {name!r} is already registered")
        FACTORIES[name] = (factory, (factory.__doc__ or "").strip().splitlines()[0] if factory.__doc__ else "")
        return factory

    return decorate
