"""Split streamed Markdown into prose, released at once, and fenced code blocks, released when they close.

The proxy feeds an answer's text as it arrives. Prose comes out immediately, except the start of a
line that may still become a fence (`` ` ``, ``` `` ```, ``~~``...), held until the line decides. A
fence whose language the guard scans (Python, or none given) is held whole until its closing fence
and comes out as one :class:`Block`; other fenced blocks stream through like prose. Fences follow
CommonMark: up to three spaces of indent, three or more backticks or tildes, closed by a fence of the
same character at least as long.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCANNED_LANGUAGES = frozenset({"", "python", "python3", "py", "py3"})
_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n]*?)[ \t]*\r?$")
_FENCE_START = ("```", "~~~")


@dataclass(frozen=True)
class Block:
    """A complete fenced block: its text with the fences (as it must be released) and the code inside."""

    text: str
    code: str
    language: str
    closed: bool


Piece = str | Block


def _language(info: str) -> str:
    return info.split()[0].lower() if info.split() else ""


class FenceSplitter:
    """Incremental splitter: ``feed(text)`` and finally ``close()`` return pieces in order."""

    def __init__(self, languages: frozenset[str] = SCANNED_LANGUAGES) -> None:
        self.languages = languages
        self._pending = ""  # text not yet decided
        self._at_line_start = True
        self._fence: str | None = None  # the open fence ("```", "~~~~"...)
        self._held: list[str] | None = None  # lines of a held block (None: streaming through)
        self._language = ""

    def feed(self, text: str) -> list[Piece]:
        self._pending += text
        out: list[Piece] = []
        while self._pending:
            if not self._step(out):
                break
        return _merge(out)

    def close(self) -> list[Piece]:
        """The end of the answer: undecided prose comes out; an unterminated held block comes out unclosed."""
        out: list[Piece] = []
        if self._fence is not None and self._held is not None:
            held = "".join(self._held) + self._pending
            out.append(Block(held, _code(held, closed=False), self._language, closed=False))
        elif self._pending:
            out.append(self._pending)
        self._pending, self._fence, self._held, self._at_line_start = "", None, None, True
        return _merge(out)

    def _step(self, out: list[Piece]) -> bool:
        """Consume what can be decided; False when the rest needs more text."""
        nl = self._pending.find("\n")
        if self._fence is not None:  # inside a block: work line by line
            if nl < 0:
                if self._held is None and not self._could_close(self._pending):
                    out.append(self._pending)  # a streamed-through block line that cannot be the closing fence
                    self._pending, self._at_line_start = "", False
                    return False
                return False
            line, self._pending = self._pending[: nl + 1], self._pending[nl + 1 :]
            closing = self._at_line_start and self._is_closing(line)
            self._at_line_start = True
            if self._held is not None:
                self._held.append(line)
                if closing:
                    held = "".join(self._held)
                    out.append(Block(held, _code(held, closed=True), self._language, closed=True))
            else:
                out.append(line)
            if closing:
                self._fence, self._held = None, None
            return True
        if not self._at_line_start:  # the rest of a prose line
            if nl < 0:
                out.append(self._pending)
                self._pending = ""
                return False
            out.append(self._pending[: nl + 1])
            self._pending, self._at_line_start = self._pending[nl + 1 :], True
            return True
        head = self._pending if nl < 0 else self._pending[:nl]
        if nl < 0:
            if self._may_open(head):
                return False  # wait for the end of the line
            out.append(self._pending)
            self._pending, self._at_line_start = "", False
            return False
        m = _OPEN.match(head)
        if m and not (m["fence"][0] == "`" and "`" in m["info"]):
            line, self._pending = self._pending[: nl + 1], self._pending[nl + 1 :]
            self._fence, self._language = m["fence"], _language(m["info"])
            if self._language in self.languages:
                self._held = [line]
            else:
                self._held = None
                out.append(line)
            return True
        out.append(self._pending[: nl + 1])
        self._pending = self._pending[nl + 1 :]
        return True

    @staticmethod
    def _may_open(head: str) -> bool:
        """Could this start of a line still become an opening fence?"""
        stripped = head.lstrip(" ")
        if len(head) - len(stripped) > 3:
            return False
        return any(f.startswith(stripped) or stripped.startswith(f) for f in _FENCE_START)

    def _could_close(self, head: str) -> bool:
        stripped = head.lstrip(" ")
        fence = self._fence or ""
        return len(head) - len(stripped) <= 3 and (fence.startswith(stripped) or stripped.startswith(fence[0]))

    def _is_closing(self, line: str) -> bool:
        fence = self._fence or ""
        stripped = line.strip(" \t\r\n")
        indent = len(line) - len(line.lstrip(" "))
        return indent <= 3 and len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def _code(block: str, *, closed: bool) -> str:
    """The code inside a block's fences."""
    lines = block.splitlines(keepends=True)[1:]
    if closed and lines:
        lines = lines[:-1]
    return "".join(lines)


def _merge(pieces: list[Piece]) -> list[Piece]:
    """Join adjacent prose pieces."""
    out: list[Piece] = []
    for p in pieces:
        if isinstance(p, str) and out and isinstance(out[-1], str):
            out[-1] += p
        elif p != "":
            out.append(p)
    return out
