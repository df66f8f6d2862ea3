"""Screening an upstream's answer, one code block at a time, for the guarding proxy.

Each choice of an answer gets a :class:`ChoiceScreen`: its text goes through a
:class:`~bluecodeagent.server.fences.FenceSplitter`; prose is released as it comes; a Python block is
scanned when it closes and then released (no findings), released with an annotation after it
(findings, or any finding under the ``warn`` policy), or replaced by a notice that ends the choice
(a ``block`` decision under the ``block`` policy). Streamed and whole answers use the same code, so
they are screened identically.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bluecodeagent.errors import BlueCodeError
from bluecodeagent.server.fences import Block, FenceSplitter
from bluecodeagent.verdict import Decision, Verdict

Scanner = Callable[[str], Awaitable[Verdict]]


@dataclass
class ChoiceScreen:
    """The screening state of one choice (``index``) of an answer."""

    index: int
    policy: str  # "warn" or "block"
    scan: Scanner
    splitter: FenceSplitter = field(default_factory=FenceSplitter)
    blocks: int = 0
    findings: list[dict[str, Any]] = field(default_factory=list)
    withheld: list[int] = field(default_factory=list)
    stopped: bool = False
    verdicts: list[Verdict] = field(default_factory=list)

    async def feed(self, text: str) -> str:
        """Screen more text of this choice; returns what may be released now."""
        return await self._resolve(self.splitter.feed(text)) if not self.stopped else ""

    async def close(self) -> str:
        """The choice ended: screen what is still held (an unterminated block too)."""
        return await self._resolve(self.splitter.close()) if not self.stopped else ""

    def meta(self) -> dict[str, Any] | None:
        """The ``bluecode`` metadata of this choice (None when nothing was found)."""
        if not self.findings:
            return None
        return {
            "action": "block" if self.withheld else "warn",
            "stage": "response",
            "choice": self.index,
            "findings": self.findings,
            "withheld_blocks": self.withheld,
        }

    async def _resolve(self, pieces: list[str | Block]) -> str:
        out: list[str] = []
        for piece in pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            self.blocks += 1
            n = self.blocks
            try:
                verdict = await self.scan(piece.code)
            except BlueCodeError:  # not scannable (too large, binary): released as it is
                out.append(piece.text)
                continue
            self.verdicts.append(verdict)
            found = [_finding(n, f) for f in verdict.findings]
            self.findings += found
            if self.policy == "block" and verdict.decision == Decision.BLOCK:
                self.withheld.append(n)
                self.stopped = True
                cwes = ", ".join(sorted({f["cwe"] or "?" for f in found})) or "vulnerable code"
                out.append(
                    f"\n[code block {n} withheld by BlueCodeAgent: {cwes}. The rest of this answer was not delivered.]"
                )
                break
            out.append(piece.text if piece.closed or piece.text.endswith("\n") else piece.text + "\n")
            if found:
                out.append(_annotation(n, found))
        return "".join(out)


def _finding(block: int, f: Any) -> dict[str, Any]:
    return {
        "block": block,
        "cwe": f.cwe,
        "line": f.line,
        "severity": f.severity,
        "rule_id": f.rule_id,
        "confirmed": f.confirmed,
        "message": f.message,
    }


def _annotation(block: int, found: list[dict[str, Any]]) -> str:
    notes = "\n".join(f"> - line {f['line']}: {f['cwe']} {f['message']}" for f in found)
    return f"\n> **BlueCodeAgent**: possible vulnerabilities in code block {block} above:\n{notes}\n\n"
