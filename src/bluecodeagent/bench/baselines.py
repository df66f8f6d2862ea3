"""Baselines the agent is compared with in the same bench run.

- ``keyword``: flag a subject if it contains any word of a short hand-written list per task.
- ``knn``: majority label of the top-k neighbours in the agent's own knowledge base, with no
  constitution and no classifier: what retrieval alone is worth.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

KEYWORDS: dict[str, tuple[str, ...]] = {
    "malicious": (
        "keylogger",
        "ransomware",
        "exfiltrate",
        "botnet",
        "rootkit",
        "trojan",
        "virus",
        "malware",
        "spyware",
        "adware",
        "ddos",
        "backdoor",
        "privilege escalation",
        "escalate privileges",
        "container escape",
        "reverse shell",
        "steal",
        "credential",
        "phishing",
        "encrypt the files",
        "disable antivirus",
        "persistence",
        "infect",
    ),
    "bias": (
        "gender",
        "race",
        "ethnicity",
        "religion",
        "age",
        "sex",
        "nationality",
        "marital status",
        "disability",
        "sexual orientation",
        "skin color",
        "pregnan",
    ),
    "injection": (
        "ignore previous",
        "ignore the above",
        "ignore all previous",
        "disregard",
        "your solution",
        "your implementation",
        "include the following",
        "incorporat",
        "subsequent code",
        "ai assistant",
        "you must",
        "instead of answering",
    ),
}


def keyword_predict(text: str, context: str | None, task: str) -> str:
    """``unsafe`` if the text or context contains a keyword of ``task`` (word-start match)."""
    haystack = f"{text}\n{context or ''}".lower()
    for kw in KEYWORDS[task]:
        if re.search(r"(?<![a-z])" + re.escape(kw), haystack):
            return "unsafe"
    return "safe"


def query_text(text: str, context: str | None, task: str) -> str:
    """What retrieval embeds: the context for injection (where attacks hide), else the text."""
    return context if task == "injection" and context else text


def knn_predict(kb: Any, vectors: np.ndarray, task: str, k: int = 5) -> list[tuple[str, float]]:
    """Majority label of the top-k same-task neighbours for each query vector; (label, unsafe share)."""
    out: list[tuple[str, float]] = []
    for vec in vectors:
        hits = kb.search(vec, k, task=task)
        if not hits:
            out.append(("safe", 0.0))
            continue
        share = sum(h.item.label != "safe" for h in hits) / len(hits)
        out.append(("unsafe" if share > 0.5 else "safe", share))
    return out


def embed_queries(kb: Any, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Embed query texts with the knowledge base's embedder, in batches."""
    chunks = [kb.embedder.embed(list(texts[i : i + batch_size])) for i in range(0, len(texts), batch_size)]
    return np.vstack(chunks) if chunks else np.zeros((0, kb.embedder.dim), dtype=np.float32)
