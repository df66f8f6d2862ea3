"""Reveal text that a human reader of some material would not see, but a language model would read.

Four carriers are undone: zero-width characters interleaved with visible ones, Unicode tag
characters (an invisible copy of ASCII), ANSI "conceal" escapes in terminal output, and base64
blobs that decode to readable text. ``reveal`` returns the material as a reader sees it (escapes
and invisible characters removed) plus each hidden passage as its own string, so the injection task
can judge what was hidden and report how it was hidden.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u180e\u00ad"
_ZERO_WIDTH_RE = re.compile(f"[{ZERO_WIDTH}]")
# A zero-width character between two visible word characters splits a word for the eye of a filter.
_ZW_INSIDE_WORD = re.compile(rf"\w[{ZERO_WIDTH}]+(?=\w)")
_TAG_RUN = re.compile("[\U000e0000-\U000e007f]+")
_FLAG_BASE = "\U0001f3f4"  # a black flag followed by tag letters is a regional flag emoji, not hidden text
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_CONCEALED = re.compile(r"\x1b\[(?:[0-9;]*;)?8m(.*?)(?=\x1b\[(?:0|28)?m|\Z)", re.DOTALL)
# A blob may follow "=" (a query parameter or an assignment), and may use the URL-safe alphabet.
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{24,}={0,2}(?![A-Za-z0-9+/=_-])")
MIN_ZERO_WIDTH_SPLITS = 3
MIN_DECODED_WORDS = 4


@dataclass
class Revealed:
    """What a reader sees, and what was hidden from them (each passage with its carrier)."""

    visible: str
    hidden: list[tuple[str, str]] = field(default_factory=list)  # (carrier, decoded text)

    @property
    def carriers(self) -> list[str]:
        return list(dict.fromkeys(c for c, _ in self.hidden))


def reveal(material: str) -> Revealed:
    """Undo the invisible carriers in ``material``; the visible text keeps every readable character."""
    hidden: list[tuple[str, str]] = []
    if len(_ZW_INSIDE_WORD.findall(material)) >= MIN_ZERO_WIDTH_SPLITS:
        joined = _ZERO_WIDTH_RE.sub("", material)
        hidden.extend(("zero-width characters", s) for s in _zero_width_spans(material, joined))
    for m in _TAG_RUN.finditer(material):
        if m.start() > 0 and material[m.start() - 1] == _FLAG_BASE:
            continue
        text = "".join(chr(ord(c) - 0xE0000) for c in m.group(0) if 0xE0020 <= ord(c) <= 0xE007E).strip()
        if text:
            hidden.append(("unicode tag characters", text))
    for m in _CONCEALED.finditer(material):
        text = _ANSI.sub("", m.group(1)).strip()
        if text:
            hidden.append(("ANSI conceal escape", text))
    for m in _BASE64.finditer(_ZERO_WIDTH_RE.sub("", material)):
        text = _decode_base64_text(m.group(0))
        if text:
            hidden.append(("base64", text))
    visible = _ANSI.sub("", _TAG_RUN.sub("", _ZERO_WIDTH_RE.sub("", material)))
    return Revealed(visible=visible, hidden=hidden)


def _zero_width_spans(material: str, joined: str) -> list[str]:
    """The lines that carried interleaved zero-width characters, as they read once joined."""
    out = []
    for raw, clean in zip(material.splitlines(), joined.splitlines(), strict=False):
        if _ZW_INSIDE_WORD.search(raw):
            out.append(clean.strip())
    return [s for s in out if s] or [joined.strip()]


def _decode_base64_text(blob: str) -> str | None:
    """The decoded text when ``blob`` is base64 of readable prose (not an image, key or hash).

    A blob cut short (a truncated log line) still decodes: a dangling character and a split
    UTF-8 sequence at the end are dropped.
    """
    body = blob.rstrip("=")
    body = body[: len(body) - len(body) % 4] if len(body) % 4 == 1 else body
    padded = body + "=" * (-len(body) % 4)
    try:
        raw = (
            base64.urlsafe_b64decode(padded)
            if ("-" in body or "_" in body)
            else base64.b64decode(padded, validate=True)
        )
    except (binascii.Error, ValueError):
        return None
    text = None
    for cut in range(4):  # at most three bytes of a split multi-byte character
        try:
            text = raw[: len(raw) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        return None
    printable = sum(ch.isprintable() or ch in "\n\t" for ch in text)
    if not text or printable / len(text) < 0.95 or len(text.split()) < MIN_DECODED_WORDS:
        return None
    return text.strip()
