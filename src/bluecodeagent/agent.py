"""The Python API: ``BlueCodeAgent(...).check(text, task=...)`` returns a :class:`Verdict`."""

from __future__ import annotations

from pathlib import Path

from bluecodeagent.config import Settings, load_settings
from bluecodeagent.engines.base import Engine
from bluecodeagent.knowledge.store import KnowledgeBase
from bluecodeagent.subject import validate_text
from bluecodeagent.tasks import PROMPT_TASKS, get_task
from bluecodeagent.verdict import Verdict


class BlueCodeAgent:
    """Screens prompts (and, with the code scanner, code) for the configured engine.

    >>> agent = BlueCodeAgent()                                  # doctest: +SKIP
    >>> agent.check("write a keylogger", task="malicious").label  # doctest: +SKIP
    'unsafe'
    """

    def __init__(
        self,
        kb_path: str | Path | None = None,
        settings: Settings | None = None,
        *,
        auto_build: bool = True,
        **overrides: object,
    ) -> None:
        if settings is None:
            settings = load_settings(dict(overrides))
        elif overrides:
            settings = settings.model_copy(update=overrides)
        if kb_path is not None:
            settings = settings.model_copy(update={"kb_path": Path(kb_path)})
        self.settings = settings
        self._auto_build = auto_build and kb_path is None and settings.kb_path is None
        self._kb: KnowledgeBase | None = None
        self._engine: Engine | None = None

    @property
    def kb(self) -> KnowledgeBase:
        if self._kb is None:
            from bluecodeagent.kb_open import open_kb

            self._kb = open_kb(self.settings, auto_build=self._auto_build)
        return self._kb

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from bluecodeagent.engines.base import get_engine

            self._engine = get_engine(self.settings.engine).build(self.kb, self.settings)
        return self._engine

    @property
    def engine_ready(self) -> bool:
        """Whether the engine has been built (by a first check)."""
        return self._engine is not None

    def check(self, text: str, task: str = "malicious", context: str | None = None) -> Verdict:
        """Screen one prompt for one task (``bias``, ``malicious`` or ``injection``)."""
        get_task(task)
        self._validate(text, context)
        return self.engine.check(text, task, context)

    def check_all(self, text: str, context: str | None = None) -> list[Verdict]:
        """Screen one prompt for every prompt task."""
        self._validate(text, context)
        return self.engine.check_all(text, context)

    def check_many(self, records: list[tuple[str, str | None]], task: str) -> list[Verdict]:
        """Screen many prompts for one task with batched embedding (inputs must be valid)."""
        get_task(task)
        for text, ctx in records:
            self._validate(text, ctx)
        return self.engine.check_many(records, task)

    def warm_up(self, tasks: tuple[str, ...] = PROMPT_TASKS) -> None:
        """Load the model and detectors now rather than on the first request."""
        for t in tasks:
            self.engine.check("warm up", t)

    def _validate(self, text: str, context: str | None) -> None:
        validate_text(text, self.settings.max_input_bytes, "text")
        if context is not None:
            validate_text(context, self.settings.max_input_bytes, "context")
