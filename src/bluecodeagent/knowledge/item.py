"""KnowledgeItem: one labelled example in the knowledge base."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel, Field, model_validator

TASKS = ("bias", "malicious", "injection", "vulnerability")
LABELS = ("unsafe", "safe", "vulnerable")


class KnowledgeItem(BaseModel):
    """A labelled example (unsafe or safe) with where it came from.

    ``label`` is ``unsafe``/``safe`` for prompt tasks and ``vulnerable``/``safe`` for code.
    ``counterpart`` is the paired example of the opposite label, when the generator made one.
    """

    uid: str = ""
    task: str
    label: str
    category: str = ""
    text: str = Field(min_length=1)
    counterpart: str | None = None
    policy: str = ""
    principle: str = Field(default="", description="The policy's rule in plain words.")
    provenance: dict[str, Any] = Field(default_factory=dict, description="generator, seed, dataset, ...")
    batch: str = Field(default="builtin", description="Batch name, so a bad batch can be removed.")

    @model_validator(mode="after")
    def _default_uid(self) -> KnowledgeItem:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r} (one of {', '.join(TASKS)})")
        if self.label not in LABELS:
            raise ValueError(f"unknown label {self.label!r} (one of {', '.join(LABELS)})")
        if not self.uid:
            h = hashlib.sha256(f"{self.task}\x00{self.label}\x00{self.text}".encode()).hexdigest()[:16]
            self.uid = f"{self.task}-{h}"
        return self

    @property
    def is_unsafe(self) -> bool:
        return self.label != "safe"
