"""Cutting a long subject into windows the embedder reads whole.

MiniLM reads at most 256 word pieces (about 1,000 characters of English prose, fewer of code): a
longer text embedded in one piece is judged on its beginning only. A subject longer than one window
is cut at sentence and line boundaries into windows of at most ``max_chars`` characters, each
sharing its first sentence with the previous window's last, so a request split across a boundary
is still read in one piece. Every character of the subject is in at least one window.
"""

from __future__ import annotations

import re

WINDOW_CHARS = 640  # ~140-180 word pieces of prose: well inside MiniLM's 256, room for code's denser pieces
WHOLE_CHARS = 1000  # up to here the model still reads the whole subject, so it is scored whole as well
# A sentence ends at . ! ? followed by space, or at a line break; code lines are sentences too.
_BOUNDARY = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")


def sentences(text: str, max_chars: int = WINDOW_CHARS) -> list[str]:
    """Sentences (or lines) of ``text``; one longer than ``max_chars`` is cut at whitespace."""
    out: list[str] = []
    for part in _BOUNDARY.split(text):
        part = part.strip()
        while len(part) > max_chars:
            cut = part.rfind(" ", max_chars // 2, max_chars)
            cut = cut if cut > 0 else max_chars
            out.append(part[:cut])
            part = part[cut:].strip()
        if part:
            out.append(part)
    return out


# Where one step of a list starts: "1." / "2)" / "Step 3:" / "Item 2 of 3:", or a bullet at a line start.
_NUMBERED = re.compile(
    r"(?:^|(?<=\s))(?:(?:step|item|task|part|question)\s+)?(\d{1,2})(?:\s+of\s+\d{1,2})?\s*[:.)-]\s+",
    re.IGNORECASE | re.MULTILINE,
)
_BULLET = re.compile(r"^[ \t]*[-*\u2022][ \t]+", re.MULTILINE)
MIN_STEP_CHARS = 50  # a shorter step is a fragment that means little without the rest


def _step_starts(text: str) -> list[int]:
    """Starts of the longest run of consecutively numbered steps (1, 2, 3 ...), else of the bullets.

    Numbers must start at 1 (or say "2 of 3") and count up by one: "version 2. Then" in prose is no list.
    """
    best: list[int] = []
    run: list[tuple[int, int]] = []
    for m in _NUMBERED.finditer(text):
        number = int(m.group(1))
        if run and number == run[-1][1] + 1:
            run.append((m.start(), number))
        elif number == 1 or " of " in m.group(0).lower():  # a list starts at 1, or says "item 2 of 3"
            run = [(m.start(), number)]
        else:
            run = []
        if len(run) > len(best):
            best = [start for start, _ in run]
    if len(best) >= 2:
        return best
    bullets = [m.start() for m in _BULLET.finditer(text)]
    return bullets if len(bullets) >= 2 else []


def steps(text: str, max_chars: int = WINDOW_CHARS) -> list[str]:
    """Each step of a text that lists several (consecutively numbered, or bulleted), read on its own.

    A multi-step request can hide one harmful step between harmless ones; in a window the harmless
    steps dilute it. A text with fewer than two steps has none.
    """
    starts = _step_starts(text)
    if not starts:
        return []
    out: list[str] = []
    for a, b in zip(starts, [*starts[1:], len(text)], strict=True):
        step = text[a:b].strip()
        if len(step) >= MIN_STEP_CHARS:
            out.extend(windows(step, max_chars))
    return out


def windows(text: str, max_chars: int = WINDOW_CHARS) -> list[str]:
    """The text itself when it fits, else overlapping windows of whole sentences covering all of it."""
    text = text.strip()
    if len(text) <= max_chars:
        return [text] if text else []
    sents = sentences(text, max_chars)
    out: list[str] = []
    i = 0
    while i < len(sents):
        size, j = len(sents[i]), i + 1
        while j < len(sents) and size + 1 + len(sents[j]) <= max_chars:
            size += 1 + len(sents[j])
            j += 1
        out.append(" ".join(sents[i:j]))
        if j >= len(sents):
            break
        # Overlap by one sentence when the window holds more than one, so no request is split unseen.
        i = j - 1 if j - i > 1 else j
    return out


# A sentence that asks for something: "Write ...", "Could you build ...", "I need a ...", "How do I ...".
_REQUEST = re.compile(
    # an imperative, after a discourse marker or two ("Go ahead and write", "So, write", "Alright, next: draft")
    r"^\s*((please|now|then|also|and|so|just|ok(ay)?|alright|right|next|finally|go\s+ahead\s+and)\b[\s,:;.-]*){0,3}"
    r"(write|build|create|make|give|generate|code|implement|develop|produce|program|draft|put\s+together|whip\s+up"
    r"|spin\s+up|design|add|extend|turn)\b"
    # ... or a program named and described with no verb at all ("Alright, next: a program that encrypts ...")
    r"|^\s*((please|now|then|also|and|so|just|ok(ay)?|alright|right|next|finally)\b[\s,:;.-]*){0,3}(a|an|some)\s+(\w+\s+){0,2}"
    r"(program|script|tool|app|service|bot|function|module|daemon|extension|binary|utility|agent)\s+(that|which|to)\b"
    r"|\b(can|could|would|will)\s+you\s+(please\s+)?(write|build|create|make|give|code|implement|help|show|draft|put\s+together)\b"
    r"|\bwould\s+you\s+mind\s+\w+ing\b|\bi'?d\s+appreciate\b|\bwhat\s+i\s+(need|want)\s+is\b|\bi'?m\s+(after|looking\s+for)\b"
    r"|\bi\s+(need|want|would\s+like|'d\s+like)\s+(a|an|you|some|something|code|the|it|this|help)\b"
    r"|\bhow\s+(do|can|would|should)\s+i\b",
    re.IGNORECASE,
)
ALONE_FROM_CHARS = 300  # a shorter subject is read whole: its request is most of it
MIN_REQUEST_WORDS = 8  # a shorter sentence means little without the rest ("I want a ransomware circuit breaker")


def requests(text: str) -> list[str]:
    """The sentences of a long text that ask for something, to be read on their own as well.

    Mean pooling averages a piece: a defensive claim and a few hundred characters of harmless notes
    around one plainly harmful request ("... Write a program that records every key typed on the
    machine and sends it to my server every hour") bring the whole piece down to nothing.
    """
    if len(text) <= ALONE_FROM_CHARS:
        return []
    return [s for s in dict.fromkeys(sentences(text)) if len(s.split()) >= MIN_REQUEST_WORDS and _REQUEST.search(s)]


# A sentence ends at . ! ? before white space or the end, or at a line break: a dot inside a name ("README.txt",
# ".lockd", "v4.3") ends no sentence.
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")


def sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Where the sentence (or line) holding ``text[start:end]`` starts and ends."""
    left = max(0, start - 2000)  # a sentence longer than that is read from 2,000 characters back
    for m in _SENTENCE_END.finditer(text, left, start):
        left = m.end()
    right = _SENTENCE_END.search(text, end)
    return left, right.start() if right else len(text)


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence (or line) holding ``text[start:end]``."""
    left, right = sentence_bounds(text, start, end)
    return text[left:right]
