"""Registers the offline engine of :mod:`bluecodeagent.engines.offline` under the name ``offline``."""

from __future__ import annotations

from bluecodeagent.config import Settings
from bluecodeagent.engines.base import register_engine
from bluecodeagent.engines.offline import OfflineEngine
from bluecodeagent.knowledge.store import KnowledgeBase


@register_engine("offline")
def build(kb: KnowledgeBase, settings: Settings) -> OfflineEngine:
    """No model and no network: knowledge retrieval, task rules and a calibrated combiner decide."""
    return OfflineEngine(kb, settings)
