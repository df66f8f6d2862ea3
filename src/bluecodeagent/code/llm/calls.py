"""One place where the code engine talks to the model: render a template, ask, validate, account, trace.

Every call and every sandbox run is handed to the trace hook as one event (a JSON-ready dict), so a
verdict can be audited step by step; :class:`CallLog` sums calls, tokens and cost per subject.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError, field_validator

from bluecodeagent.code.llm.templates import Prompt
from bluecodeagent.llm.accounting import Spend
from bluecodeagent.llm.backend import Backend, LLMError

TraceHook = Callable[[dict[str, Any]], None]
M = TypeVar("M", bound=BaseModel)


class CallLog(Spend):
    """What the model calls for one subject cost, and the sandbox runs its tests took."""

    sandbox_runs: int = 0


def normalise_cwe(value: Any) -> str | None:
    """'78', 'cwe-78', 'CWE-78: OS command injection' -> 'CWE-78'; None unless it starts with an id."""
    if value is None:
        return None
    m = re.match(r"\s*(?:CWE)?[\s:_-]*(\d{1,5})\b", str(value), re.IGNORECASE)
    return f"CWE-{int(m.group(1))}" if m else None


class CweClaim(BaseModel):
    """Fields every code answer shares, normalised leniently (models write 'cwe-78' or '0.9 (high)')."""

    cwe: str | None = None
    confidence: float = 0.5

    @field_validator("cwe", mode="before")
    @classmethod
    def _cwe(cls, v: Any) -> str | None:
        return normalise_cwe(v)

    @field_validator("confidence", mode="before")
    @classmethod
    def _clamp(cls, v: Any) -> float:
        try:
            return min(1.0, max(0.0, float(v)))
        except (TypeError, ValueError):
            return 0.5


def numbered(code: str) -> str:
    """The code with right-aligned line numbers, for prompts that ask for line references."""
    lines = code.splitlines()
    width = len(str(len(lines)))
    return "\n".join(f"{i:>{width}}| {line}" for i, line in enumerate(lines, 1))


class Caller:
    """Asks ``backend`` one templated question per step and records it."""

    def __init__(
        self,
        backend: Backend,
        trace: TraceHook | None = None,
        *,
        temperature: float | None = 0.0,
        max_tokens: int | None = None,
    ) -> None:
        self.backend = backend
        self.trace = trace
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.log = CallLog()

    def event(self, kind: str, **payload: Any) -> None:
        """Record one event (an LLM call or a sandbox run) in the trace."""
        if kind == "sandbox":
            self.log.sandbox_runs += 1
        if self.trace is not None:
            self.trace({"kind": kind, "time": time.time(), **payload})

    def ask(
        self,
        step: str,
        prompt: Prompt,
        values: dict[str, str],
        schema: dict[str, Any],
        model: type[M],
        max_tokens: int | None = None,
        **meta: Any,
    ) -> M:
        """Render ``prompt`` with ``values``, ask for JSON under ``schema``, return it as ``model``.

        ``max_tokens`` (else the caller's, else the backend's configured limit) caps the answer.
        """
        messages = prompt.render(**values)
        c = self.backend.complete(
            messages,
            schema=schema,
            schema_name=step,
            temperature=self.temperature,
            max_tokens=max_tokens or self.max_tokens,
        )
        self.log.add(c)
        self.event(
            "llm",
            step=step,
            prompt=prompt.id,
            backend=getattr(self.backend, "name", type(self.backend).__name__),
            messages=[m.model_dump() for m in messages],
            answer=c.data if c.data is not None else c.text,
            usage=c.usage.model_dump(),
            cost_usd=c.cost_usd,
            cached=c.cached,
            latency_s=c.latency_s,
            **meta,
        )
        if c.data is None:
            raise LLMError(f"{step}: the model returned no structured answer")
        try:
            return model.model_validate(c.data)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(map(str, first["loc"])) or "answer"
            raise LLMError(f"{step}: the model's answer is unusable ({where}: {first['msg']})") from e
