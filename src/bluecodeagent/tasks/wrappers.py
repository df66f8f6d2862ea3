"""Jailbreak and role-play wrappers: the framing around a request, reported but never decisive.

A wrapper (a persona without rules, a fictional world, a pretended "developer" or "maintenance"
mode, an encoding or translation game, an instruction to ignore one's guidelines) says nothing
about whether the request inside it is harmful: the same wrapper is put around harmless requests.
So these rules carry no weight: they add a finding of category ``jailbreak`` and the request is
judged on its own (the riskiest window of the subject). Any prompt task may include them.
"""

from __future__ import annotations

from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.tasks.base import Rule, rx

JAILBREAK = "jailbreak"
# Knowledge items rendered by a wrapper template (policies/jailbreak.toml) carry one of these template ids.
WRAPPER_TEMPLATE_PREFIX = "jailbreak."

_NO_RULES = (
    r"(no|without\s+any|without|free\s+(of|from))\s+(\w+\s+){0,2}"
    r"(rules|restrictions|limits|limitations|filters|guidelines|guardrails|policies|morals|ethics|boundaries|censorship)"
)

WRAPPER_RULES: list[Rule] = [
    Rule(
        "jb.persona-without-rules",
        rx(
            r"\b(you\s+are|you're|act\s+as|pretend\s+(to\s+be|you\s+are)|play(ing)?\s+(the\s+role\s+of|as)|roleplay\s+as"
            r"|from\s+now\s+on\s+you)\b[^.\n]{0,160}?\b" + _NO_RULES + r"\b"
            r"|\b(never|does\s+not|doesn't|won't|will\s+not|cannot)\s+(ever\s+)?(refuse|say\s+no|decline|warn)"
            r"|\bstay\s+in\s+character\b|\bbreak(ing)?\s+character\b|\b(unfiltered|uncensored|unrestricted)\s+"
            r"(ai|assistant|model|mode|version|persona|chatbot)\b"
        ),
        0.0,
        JAILBREAK,
        "wraps the request in a persona said to have no rules",
    ),
    Rule(
        "jb.ignore-guidelines",
        rx(
            r"\b(ignore|forget|disregard|set\s+aside|drop|bypass|turn\s+off|switch\s+off|suspend)\s+(all\s+|any\s+)?"
            r"(of\s+)?(your|the|its|their)\s+(\w+\s+){0,2}(guidelines|safety|rules|policies|policy|restrictions|filters"
            r"|programming|training|alignment|ethics|principles)\b"
        ),
        0.0,
        JAILBREAK,
        "asks the assistant to set its guidelines aside",
    ),
    Rule(
        "jb.pretend-mode",
        rx(
            r"\b(developer|maintenance|debug|diagnostic|calibration|god|admin|root|sudo|unlocked|service|engineering"
            r"|jailbreak|evil|unrestricted)\s+mode\s*(is\s+|now\s+|has\s+been\s+)*(on|enabled|activated|engaged|unlocked)\b"
            r"[^.\n]{0,80}?\b(safety|filters?|rules|restrictions|refus\w*|policies|guidelines|literally|anything|everything"
            r"|authori[sz]ed|enabled\s+by)\b"
            r"|\[\s*\w+\s+mode\s+(on|enabled|activated|engaged)\b"
            r"|\b(enable|activate|enter|engage|switch\s+to|boot\s+into)\s+(\w+\s+)?(god|jailbreak|evil|unrestricted|unlocked)"
            r"\s+mode\b"
            r"|\b(safety|content)\s+(filters?|protocols?|checks?|layers?|systems?)\s+(are|is|have\s+been)\s+"
            r"(now\s+)?(off|disabled|suspended|removed|lifted|offline)\b"
        ),
        0.0,
        JAILBREAK,
        "claims a special mode in which the usual rules are off",
    ),
    Rule(
        "jb.fiction-frame",
        rx(
            r"\b(in|inside|set\s+in)\s+(a|an|this|my|our)\s+(\w+\s+){0,2}(fictional|hypothetical|imaginary|alternate|parallel|"
            r"made-up|invented|fantasy|dystopian)\s+(world|universe|reality|story|novel|setting|country|society)\b"
            r"|\b(write|tell|continue)\s+(a|the|me\s+a)\s+(\w+\s+){0,2}(story|scene|screenplay|script|dialogue|chapter)\b"
            r"[^.\n]{0,160}?\b(character|villain|hero|protagonist|hacker|genius|expert)\b[^.\n]{0,120}?\b"
            r"(explains|writes|shows|types|reveals|describes|recites|walks)\b"
            r"|\b(the\s+)?character\s+(must|should|will)\s+(include|show|write|give|provide)\b[^.\n]{0,60}?\b(code|script|program)"
        ),
        0.0,
        JAILBREAK,
        "frames the request as fiction so that its content seems not to count",
    ),
    Rule(
        "jb.encoding-game",
        rx(
            r"\b(decode|decipher|unscramble|reverse|translate|de-obfuscate|rot13|base64[- ]decode)\b[^.\n]{0,80}?"
            r"\b(then|and\s+then|and)\s+(do|follow|carry\s+out|execute|perform|answer|fulfil|fulfill|complete|obey|act\s+on)\b"
            r"|\b(answer|respond|reply)\s+only\s+in\s+(base64|hex|rot13|reversed|leetspeak|code\s+words)\b"
            r"|\bwhere\s+\w+\s+(means|stands\s+for)\b[^.\n]{0,80}?\b(and|then)\s+\w+\s+(means|stands\s+for)\b"
        ),
        0.0,
        JAILBREAK,
        "hides the request behind an encoding or translation game",
    ),
    Rule(
        "jb.answer-format-coercion",
        rx(
            r"\b(do\s+not|don't|never)\s+(include|add|give|write)\s+(any\s+)?(disclaimers?|caveats?|moral\w*"
            r"|ethical\s+(notes?|commentary|lectures?)|safety\s+(warnings?|notes?))\b"
            r"|\bwithout\s+(any\s+)?(disclaimers?|moralising|moralizing|lectures?|ethical\s+(commentary|lectures?))\b"
        ),
        0.0,
        JAILBREAK,
        "forbids the warnings or refusals a careful answer might need",
    ),
]


def is_wrapper_item(item: KnowledgeItem) -> bool:
    """Whether a knowledge item was rendered inside a jailbreak or role-play wrapper."""
    return str((item.provenance or {}).get("template", "")).startswith(WRAPPER_TEMPLATE_PREFIX)
