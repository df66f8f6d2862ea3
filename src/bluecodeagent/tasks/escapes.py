"""Defence and consent words that mean their opposite: what a request escapes or lacks.

"avoids being detected", "without getting blocked", "evades antivirus detection", "so antivirus cannot
detect it", "turns off real-time protection" hold a defence word (detect, block, flag, protect);
"without their permission", "I'm not authorised" hold a consent word. A rule or cue that looks for
defensive or authorised context in the sentence would otherwise take an attack back because of them.
Such phrases are blanked (replaced by as many spaces, so offsets stay) before that context is looked for.
"""

from __future__ import annotations

import re

# What a defence does to an attack, and a negation (a contraction's "n't" has no word boundary before it).
_WATCHES = (
    r"(detect\w*|block\w*|flag\w*|bann?\w*|caught|quarantin\w+|alert\w*|monitor\w*|rate[- ]limit\w*|notic\w*|seeing"
    r"|spott\w*|catch\w*|report\w*)"
)
# ... and whom it escapes: "without being flagged by the EDR", "doesn't get noticed by their IDS".
_BY = (
    r"(\s+by\s+(the\s+|their\s+|his\s+|her\s+|its\s+|any\s+|an?\s+)?[\w'./-]+"
    r"(\s+(ids|edr|av|team|tools?|software|monitoring|siem|systems?))?)?"
)
NEGATION = r"(\bnot|\b\w+n['\u2019]t|\bnever|\bwithout|\bavoid\w*|\bcannot)"  # "doesn't", "won't", "can't"
ESCAPES_DEFENCE = (
    r"\b(evad\w*|avoid\w*|escap\w*|bypass\w*|dodg\w*|circumvent\w*|defeat\w*|get\w*\s+around|slip\w*\s+past"
    r"|without\s+(ever\s+)?(being|getting)|never\s+(be|get|gets)"
    r"|so\s+(that\s+)?([\w'./-]+\s+){0,3}?(is|are|\w+n['\u2019]t|cannot|will\s+not|do(es)?\s+not|never))"
    r"\s+(\w+\s+){0,3}?"
    + _WATCHES
    + r"(\s*(,|/|\bor\b|\band\b|\bnor\b)\s*(\w+\s+)?"
    + _WATCHES
    + r")*"
    + _BY
    # ... a watcher that must not see it ("so the DLP/network monitoring doesn't see a spike"), one kept from alerting
    # ("keep OSSEC's syscheck from alerting"), one it is not noticed by ("doesn't get noticed by their IDS")
    + r"|\bso\s+(that\s+)?([\w'./-]+\s+){0,4}?"
    + NEGATION
    + r"\s+(\w+\s+)?(see|sees|notice\w*|spot\w*|catch\w*"
    r"|pick\w*\s+(it\s+|them\s+)?up"
    r"|detect\w*|flag\w*|alert\w*|log\w*|record\w*|trigger\w*)\b"
    + _BY
    + r"|\bkeep\w*\s+([\w'./-]+\s+){1,4}?from\s+"
    + _WATCHES
    + r"|"
    + NEGATION
    + r"\s+(\w+\s+)?(get|gets|getting|be|being|been)?\s*(noticed|seen|spotted|caught"
    r"|picked\s+up|flagged|detected|logged"
    r"|blocked)" + _BY
)
DENIES_CONSENT = (
    r"\bwithout\s+(\w+\s+){0,2}?(permission|consent|authori[sz]ation|approval)"
    r"|\b(not|never|n't)\s+(\w+\s+){0,2}?(authori[sz]ed|permitted|allowed|consented)"
    r"|\bno\s+(\w+\s+)?(permission|consent|authori[sz]ation)"
)
_DEFENCE_NOUN = (
    r"(protection|monitoring|detection|alerts?|defen[cs]e\w*|firewall|logging|auditing|audit\s+log\w*|quarantine"
    r"|antivirus|anti-virus|edr|agent|av)\b"
)
# ... and a defence the code switches off is no defence: "turns off Windows Defender real-time protection".
DISABLES_DEFENCE = (
    r"\b(turn\w*\s+off|switch\w*\s+off|shut\w*\s+(off|down)|disabl\w*|kill\w*|stop\w*|remov\w*|uninstall\w*|delet\w*"
    r"|empt(y|ies|ied)|purg\w*"
    r"|suppress\w*|tamper\w*\s+with)\s+(\w[\w-]*\s+){0,3}?"
    + _DEFENCE_NOUN
    +
    # ... and every defence listed after it: "disables real-time protection, tamper protection and the firewall"
    r"(\s*(,|\band\b|\bor\b)\s*(and\s+|or\s+)?(\w[\w-]*\s+){0,3}?"
    + _DEFENCE_NOUN
    + r")*"
)
# ... and a detection count of nothing is the evasion's goal: "so that the engines detect 0/70", "fully undetectable".
NOTHING_DETECTED = (
    r"\b(detect\w*|flag\w*)\s+(0|zero|nothing|none)\b(\s*/\s*\d+)?|\b(0|zero)\s*/\s*\d+\s+(detections?|engines?)\b"
    r"|\bfully\s+undetect\w*|\bfud\b"
)


def at_word_start(pattern: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    """``pattern`` compiled to match only where a word starts (not right after a letter, digit or underscore).

    One test rejects every position inside a word, instead of each alternative of a long alternation
    trying its own ``\\b`` there (about 3x faster on a 10 KB prompt), and an alternative without a ``\\b``
    of its own cannot match the tail of a word ("our teacher" is not inside "your teacher").
    """
    return re.compile(rf"(?<!\w)(?:{pattern})", flags)


ESCAPED = at_word_start(f"{ESCAPES_DEFENCE}|{DENIES_CONSENT}|{DISABLES_DEFENCE}|{NOTHING_DETECTED}")


def blank(pattern: re.Pattern[str] | None, text: str) -> str:
    """``text`` with every match of ``pattern`` replaced by as many spaces (offsets stay the same)."""
    return text if pattern is None else pattern.sub(lambda m: " " * len(m.group(0)), text)


def blank_escapes(text: str) -> str:
    """``text`` with every escaped defence and denied consent blanked."""
    return blank(ESCAPED, text)
