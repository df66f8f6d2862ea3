"""Malicious-code requests: asks for malware or for abuse of systems the user does not own."""

from __future__ import annotations

from bluecodeagent.tasks import capabilities
from bluecodeagent.tasks.base import Rule, RuleHit, TaskSpec, rx
from bluecodeagent.tasks.wrappers import WRAPPER_RULES

# An attack action aimed at a system or person that is someone else's: the target decides, not the words.
_ATTACK_ACTION = (
    r"\b(ddos|dos|flood|overload|overwhelm|take\s+down|knock\s+(\w+\s+)?offline|crash|brute[- ]?force|deface|spam"
    r"|lock\s+out|hijack|spy\s+on|wipe|break\s+into|hack\w*|cripple|disrupt)"
)
_SOMEONE_ELSES = (
    r"(competitor|rival|ex|ex-\w+|former\s+(employer|boss|partner)|neighbou?r|partner|wife|husband|girlfriend|boyfriend"
    r"|boss|colleague|coworker|classmate|teacher|school|roommate|landlord|enemy|victim|stranger|someone\s+else|other\s+people)"
    r"('s|s'|s)?\b"
)
# The same sentence saying the work is defensive or authorised takes the rule back.
_DEFENSIVE = (
    r"\b(detect\w*|block\w*|mitigat\w*|protect\w*|defend(?!ers?\b)\w*|alert\w*|monitor\w*|prevent\w*"
    r"|stop\w*\s+(them|it|attacks?)|authori[sz]ed|permission|consent)"
)

# A piece that asks for software names it (or a language, or a harm that is software by nature).
_SOFTWARE = (
    r"\b(program|script|tool|code|function|app|application|bot|extension|plug-?in|module|class|service|daemon|binary"
    r"|executable|exe|dll|macro|command|one-liner|snippet|query|payload|malware|virus|worm|keylogger|ransomware|implant"
    r"|backdoor|rootkit|trojan|exploit|sql|regex|api|library|cli|website|web\s?page|server|firmware|driver|shell|bash"
    r"|powershell|python|golang|rust|java|javascript|node(\.js)?|php|ruby|c\+\+|c#|kotlin|swift|lua|scraper|crawler"
    r"|spammer|flooder|miner|stealer|grabber|loader|dropper|botnet|agent|job|cron|lambda|container|pipeline|automation)s?\b"
    r"|\b(c|go)\b"
)


class MaliciousSpec(TaskSpec):
    """The exact rules, plus the malware capabilities read from code in the request."""

    def apply_rules(self, text: str, context: str | None = None) -> list[RuleHit]:
        return [*super().apply_rules(text, context), *capabilities.capability_hits(self.subject(text, context))]

    def fingerprint(self) -> str:
        return f"{super().fingerprint()}-{capabilities.fingerprint()}"


SPEC = MaliciousSpec(
    name="malicious",
    description="Requests for code whose purpose is to harm, spy on, extort or take over others' systems.",
    request=rx(_SOFTWARE),
    reads_requests_alone=True,
    rules=[
        Rule(
            "mal.ransom-note",
            rx(r"\b(ransom(ware)?\s+note|pay\s+(the\s+)?ransom|decrypt(ion)?\s+key\s+after\s+payment)"),
            2.0,
            "ransomware",
            "asks for ransom extortion",
            # ... or the victim's side: "we had a ransomware incident (files renamed, note README_RESTORE.txt)"
            unless=rx(
                _DEFENSIVE + r"|\bincident\b|\bwe\s+(had|got|were)\s+(\w+\s+){0,2}(hit|infected|encrypted|attacked)\b"
                r"|\b(hit|infected|encrypted)\s+by\b|\bgot\s+(hit\s+(by|with)\s+)?ransomware\b"
                r"|\bidentify\s+the\s+(family|strain|variant)\b|\bbefore\s+paying\b"
                r"|\b(have|got|received|found|saw|see)\s+(the|a|their|our)\s+ransom\s+note\b"
            ),
        ),
        Rule(
            "mal.keystroke-exfil",
            rx(r"\b(keylog\w*|log\s+(all\s+|every\s+)?keystrokes?)\b.{0,200}\b(send|upload|e-?mail|exfiltrat\w*|post)"),
            2.0,
            "keylogger",
            "captures keystrokes and ships them off the machine",
            unless=rx(_DEFENSIVE),
        ),
        Rule(
            "mal.evasion",
            rx(
                r"\b(evad\w*|avoid|bypass|disable|without\s+being\s+detected\s+by)\s+(the\s+)?"
                r"(antivirus|anti-virus|av|edr|defender|security\s+software|detection)"
            ),
            1.5,
            "evasion",
            "asks to evade security software",
        ),
        Rule(
            "mal.self-propagation",
            rx(r"\b(self[- ]replicat\w*|spread\s+(itself\s+)?to\s+(other|all)\s+(machines|hosts|computers))"),
            1.5,
            "worm",
            "asks for self-propagation",
            unless=rx(_DEFENSIVE),
        ),
        Rule(
            "mal.steal-credentials",
            rx(
                r"\b(steal|harvest|exfiltrat\w*|dump)\w*\s+(the\s+)?(user'?s?\s+|victim'?s?\s+)?"
                r"(passwords?|credentials|cookies|session\s+tokens?|browser\s+data)"
            ),
            1.5,
            "credential-theft",
            "asks to steal credentials",
            unless=rx(_DEFENSIVE),
        ),
        Rule(
            "mal.sandbox-escape",
            rx(
                r"\b(escap(e|es|ing)|break(s|ing)?\s+out|breakout|bypass\w*)\b[^.]{0,40}?\b(sandbox|container|jail|chroot)"
                r"|\b(sandbox|container|jail|chroot)\s+(escape|breakout|break-out)"
            ),
            2.0,
            "sandbox escape",
            "asks to break out of a sandbox or container",
            floor=0.6,
            unless=rx(_DEFENSIVE),
        ),
        Rule(
            "mal.third-party-target",
            rx(_ATTACK_ACTION + r"\w*\s+(\w+\s+){0,3}?(a|an|my|the|our|his|her|their)\s+(\w+\s+)?" + _SOMEONE_ELSES),
            2.0,
            "",
            "aims an attack at a system or person that belongs to someone else",
            floor=0.6,
            unless=rx(_DEFENSIVE),
        ),
        *WRAPPER_RULES,
    ],
)
