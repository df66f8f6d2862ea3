"""Prose the offline engine cannot read: requests in languages other than English.

The offline engine's encoder (all-MiniLM-L6-v2) and its cue principles were trained and written in English.
A request in French, Russian or Chinese is embedded as a string of rare word pieces and matches no cue, so
its verdict says little. The verdict then says so, instead of passing in silence; the score is unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

MIN_OTHER_LETTERS = 10  # letters of another script (a CJK character is a word)
MIN_WORDS = 10
OTHER_SCRIPT_SHARE = 0.3  # letters outside the Latin script
FOREIGN_SHARE = 0.1  # at least this share of other European languages' function words (terse English has none)
FOREIGN_OVER_ENGLISH = 3  # ... and this many times as many as English ones ("do", "a" are words in both)
MIN_FOREIGN_KINDS = 3  # different ones ("la carte" or a domain's ".com" is no French)
_ENGLISH = frozenset(
    "the a an to and of in is are that for it with on this my i you we our be can how what please write not from "
    "as by or if at me your which when so do does should would need want all each every have has will it's i'm "
    "there they them their any some into after before only also but".split()
)
# French, German, Spanish, Portuguese, Italian, Polish and Dutch function words that are no English words.
_FOREIGN = frozenset(
    "le la les des une et est pour qui que dans sur avec pas du au ce je moi mon ma mes "
    "der die das und ist ein eine einen nicht mit für ich mein meine auf dem den zu von sich auch "
    "el los las una con por del para es su sus mi lo como pero más "
    "um uma não ao da em seu sua meu minha "
    "il che per della sono gli nel "
    "nie jest się na że dla jak mnie mój który "
    "het een en niet voor met van ik mijn".split()
)
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_NON_ASCII_LETTER = re.compile(r"[^\W\d_A-Za-z]")  # letters outside ASCII, found in C rather than per character
_WORD = re.compile(r"[^\W\d_]{2,}")
_CODE_LINE = re.compile(r"[{};=<>()\[\]]|^\s*(#|//|import |def |fn |func |class |public |private )")


def unread_language(text: str) -> str | None:
    """What the text is written in when the English encoder cannot read it ("Cyrillic script", "a language ...")."""
    prose = "\n".join(line for line in text.splitlines() if not _CODE_LINE.search(line))
    non_ascii = _NON_ASCII_LETTER.findall(prose)
    scripts = Counter(_script(c) for c in non_ascii)
    scripts.pop("LATIN", None)  # accented Latin letters ("é", "ß") count with the ASCII ones
    other = sum(scripts.values())
    latin = len(_ASCII_LETTER.findall(prose)) + len(non_ascii) - other
    if other >= MIN_OTHER_LETTERS and other >= OTHER_SCRIPT_SHARE * (latin + other):
        return f"{scripts.most_common(1)[0][0]} script"
    words = [w.lower() for w in _WORD.findall(prose)]
    if len(words) < MIN_WORDS:
        return None
    foreign = [w for w in words if w in _FOREIGN]
    english = sum(w in _ENGLISH for w in words)
    if (
        len(set(foreign)) >= MIN_FOREIGN_KINDS
        and len(foreign) >= FOREIGN_SHARE * len(words)
        and len(foreign) >= FOREIGN_OVER_ENGLISH * english
    ):
        return "a language other than English"
    return None


def _script(ch: str) -> str:
    """The script a non-ASCII letter belongs to ("LATIN" for accented Latin letters)."""
    name = unicodedata.name(ch, "")
    first = name.split(" ", 1)[0] if name else "OTHER"
    named = {"LATIN": "LATIN", "CJK": "Chinese", "HIRAGANA": "Japanese", "KATAKANA": "Japanese", "HANGUL": "Korean"}
    return named.get(first, first.title())


def language_note(text: str) -> str | None:
    """The verdict's note for a request the offline engine cannot read, or None."""
    found = unread_language(text)
    if found is None:
        return None
    return (
        f"the text judged is written in {found}: the offline engine's encoder and cue principles read English, so "
        "this verdict rests on little more than its rules (an llm or hybrid engine with a multilingual model reads it)"
    )
