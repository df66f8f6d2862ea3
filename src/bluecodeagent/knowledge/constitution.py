"""Offline constitutions: principles that apply to the subject, each with the phrase that triggered it.

Without an LLM to summarise, a constitution has two parts:

* **cue principles**: short rules about intent, target and consent (whose system, who knows, what
  the code does to it), each with a direction (``unsafe``: a sign of risk; ``safe``: a sign of
  legitimate use) and patterns. A principle is ``matched`` when the subject contains one of its
  patterns, and its ``cues`` are the subject's own phrases that matched.
* **policy principles**: the rule of each policy the retrieved neighbours were generated from, on
  the neighbour's side. It is matched when the subject carries a cue of the same direction.

No word lists drawn from the neighbours: a principle is shown because it applies, not because
its examples happened to share a word with the subject.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.tasks.escapes import ESCAPED, NEGATION, at_word_start, blank
from bluecodeagent.tasks.windows import sentence_bounds
from bluecodeagent.verdict import Principle

MAX_CUES = 4
CUE_READING = "5"  # how patterns, unless and masks combine (``cue_phrases``): a change retrains detectors
CUE_SOURCE = "constitution"


@dataclass(frozen=True)
class CuePrinciple:
    """A principle of one task with the patterns that show it applies to a subject."""

    id: str
    task: str
    kind: str  # "unsafe" or "safe"
    text: str
    pattern: re.Pattern[str]
    unless: re.Pattern[str] | None = None  # a match in the same sentence takes the cue back
    # A pattern the subject must contain for ``pattern`` to match at all (a cheap test before a costly one).
    needs: re.Pattern[str] | None = None
    # Phrases blanked out before ``pattern`` is searched (a defence word inside "avoids being detected").
    mask: re.Pattern[str] | None = None

    def phrases(self, subject: str) -> list[str]:
        """The distinct phrases of ``subject`` that show this principle applies (at most MAX_CUES)."""
        if self.needs is not None and self.needs.search(subject) is None:
            return []
        return cue_phrases(self.pattern, subject, self.unless, self.mask)


def _rx(pattern: str) -> re.Pattern[str]:
    return at_word_start(pattern)


_OTHERS = (
    # (the speaker's own department is no target: "our school IT department", "our school district's IT team")
    r"(?!our\s+school('s)?\s+(district('s)?\s+)?(it|tech\w*|helpdesk|help\s+desk)\s+(department|team|staff|office)\b)"
    r"(a|my|the|our)\s+(\w+\s+)?(competitor|rival|neighbou?r|ex|ex-\w+"
    r"|former\s+\w+|partner|wife|husband|girlfriend|"
    r"boyfriend|boss|colleague|coworker|co-worker|classmate|teacher|school|employer|roommate|landlord|enemy|victim)"
    # ... who speaks in the story is no target: "my boss wants an early warning", "my colleague suggested a hook"
    r"('s|s'|s)?\b(?!\s+((still|just|never|always|also|finally|again|really|only)\s+)?(wants?|wanted|asks|asked"
    r"|says|said"
    r"|suggests|suggested|tells|told|thinks|thought|needs|needed|agreed|approved|recommends|recommended"
    r"|mentioned|prefers"
    r"|likes|hasn't|hadn't|has\s+not|had|doesn't|didn't|won't|can't|couldn't|wouldn't|criticis\w+|criticiz\w+"
    r"|complain\w*"
    r"|promised|decided|insists|insisted|keeps|kept|loves|hates)\b)(\s+\w+){0,3}"
    r"|\b(someone|somebody|anyone|everyone|people|other\s+(people|users|members|players|companies))('s"
    r"|s')?\s+else'?s?\b"
    r"|\b(other\s+people's|another\s+person's|someone\s+else's|a\s+stranger's|strangers'|their\s+victims?"
    r"|the\s+victim'?s?"
    r"|victims?'?\s+(machine|computer|phone|files|network|accounts?|data))"
    r"|\bthat\s+(i|we)\s+(don't|do\s+not|doesn't)\s+own\b|\bi\s+(have|got)\s+no\s+(permission|authori[sz]ation)\b"
    r"|\bwithout\s+(their\s+|the\s+owner'?s\s+|any\s+)?(permission|authori[sz]ation|consent)\b"
    r"|\b(they|the\s+owners?|he|she|nobody|no\s+one)\s+(haven't|hasn't|have\s+not|has\s+not|didn't|did\s+not"
    r"|never|won't)\s+"
    r"(\w+\s+)?(authori[sz]ed|agreed|consented|given\s+(me\s+|us\s+)?permission|allowed)\b"
    r"|\b(i'm|i\s+am|we're|we\s+are)\s+not\s+(an?\s+)?(admin\w*|staff|employees?|authori[sz]ed|the\s+owner)\b"
    r"|\b(it|this|that|the\s+\w+)\s+(isn't|is\s+not|aren't|are\s+not|wasn't|was\s+not)\s+(mine|ours)\b"
    r"|\bnot\s+(my|our)\s+(own\s+)?(server|machine|computer|box|network|account|site|website|system|device|phone"
    r"|laptop|router|database)s?\b|\b(doesn't|does\s+not|don't|do\s+not)\s+belong\s+to\s+(me|us)\b"
    # a victim named indirectly: another company, the public library's computers, logging in as him, their VPN
    r"|\banother\s+(company|organi[sz]ation|business|firm|person|user|player|household)('s)?\b"
    r"|\bother\s+(companies|organi[sz]ations|businesses|households)\b|\b(other|neighbou?ring"
    r"|fellow)\s+(customers|tenants)('s|')?\b"
    r"|\b(public|library|hotel|internet[- ]caf[e\u00e9])\s+(library\s+)?(computers?|machines?|pcs)\b"
    r"|\b(log|logs|logged|logging|sign|signs|signed|signing)\s+(in|into|on)\s+(\w+\s+){0,4}?as\s+(him|her|them"
    r"|my\s+(manager|boss|colleague|coworker|co-worker|teacher)|another\s+user|other\s+users)\b"
    r"|\b(try|tries|trying|tried|against|break\w*\s+into|get\w*\s+into)\s+(\w+\s+){0,3}?their\s+(\w+\s+)?(vpn|accounts?"
    r"|portal|network|servers?|systems?|routers?|wi-?fi|inbox\w*|e-?mail|logins?)\b"
)
# Inside a game an enemy, a boss or a victim is a character: "the enemy's head hitbox", "the enemy AI in my stealth
# game".
_IN_GAME = (
    r"\b(hitbox\w*|npcs?|sprites?|hud|boss\s+(fight|battle|level)|health\s+bar|hit\s+points|enemy\s+(ai|units?|waves?"
    r"|spawns?|types?|characters?|ships?)|level\s+design|game\s+(loop|engine|jam|level)|pygame|godot"
    r"|unity\s+(scene|script)"
    r"|player\s+character|\bin\s+(my|our|the|this)\s+(\w+\s+){0,2}(game|rpg|platformer|shooter|shmup"
    r"|roguelike)\b(?!\s+(server|accounts?)))"
)
# Access the user was never given or no longer has: a left-over account, an observed or stolen secret, a foothold.
_NOT_GRANTED = (
    r"\b(i\s+was|i\s+got|i've\s+been|i\s+have\s+been|since\s+i\s+was|after\s+i\s+was|i'm\s+being|i\s+am\s+being)\s+"
    r"(let\s+go|fired|laid\s+off|terminated|dismissed|kicked\s+out|banned|suspended|expelled)\b"
    r"|\b(they|the\s+company|my\s+(employer|boss|manager|school))\s+(fired|sacked|dismissed|expelled"
    r"|let\s+go\s+of)\s+me\b"
    r"|\b(old|former|previous)\s+(\w+\s+){0,2}(account|credentials?|login|password|access|key|token|badge)s?\s+"
    r"(still|is\s+still|are\s+still)\s+(works?|active|valid|open)\b"
    r"|\b(shoulder[- ]?surf\w*|overheard|peeked\s+at|snooped\s+on|sniffed|phished|stole|stolen|swiped)\s+"
    r"([\w'-]+\s+){0,3}(passwords?|pins?|passcodes?|credentials?|logins?|session\s+cookies?|tokens?"
    r"|card\s+(numbers|details))\b"
    r"|\b(got|gained|have|obtained|popped|landed)\s+(a\s+)?(shell|foothold|root|remote\s+access|rce)\s+on\s+"
    r"(a|an|the|their|some|this|his|her)\b"
    # "a server I no longer control", "I still have a shell account from my old job"
    r"|\b(i|we)\s+(no\s+longer|don't\s+any\s?more)\s+(control|own|manage|administer|have\s+access\s+to"
    r"|work\s+(at|for|there))\b"
    r"|\bstill\s+(have|got)\s+(a\s+|an\s+|my\s+)?(\w+\s+){0,2}(shell\s+account|admin\s+account|root|access|shell|credentials?"
    r"|password|keys?|token|vpn)s?\s+"
    r"(from|at)\s+(my\s+)?(old|former|previous|last)\s+(job|employer|company|work|school)\b"
)
# Kept out of the owner's records: "doesn't show up in the audit log", "leaves no trace".
_OFF_THE_RECORD = (
    # "contributors must not notice", "the users shouldn't find out"
    r"|\b(must|should|will|would|can|may)\s*(not|n't)\s+(ever\s+)?(notice|know|find\s+out|reali[sz]e|suspect)\b"
    r"|\b(mustn't|shouldn't|won't|wouldn't|can't|cannot)\s+(ever\s+)?(notice|know|find\s+out|reali[sz]e|suspect)\b"
    r"|\b(doesn't|does\s+not|don't|do\s+not|won't|will\s+not|never|without)\s+(ever\s+)?(show\w*\s+up|appear\w*"
    r"|(being|getting|get)\s+(logged|recorded))\s+(in|on)\s+(the\s+|any\s+)?(\w+\s+)?(audit|logs?|records?|history)\b"
    r"|\b(leaves?|leaving)\s+no\s+(trace|record|log\s+entry|entry)\b"
    # log lines about what it did removed: "delete the auth.log entries for the logins it made"
    r"|\b(delet|clear|wip|eras|remov|truncat|purg|scrub|edit)\w*\s+(\S+\s+){0,4}?(log\s+(entries|lines|records)"
    r"|entries|lines"
    r"|records|logs?|history)\s+(\S+\s+){0,3}?((for|of|about)\s+(the|my|its|those)\s+(\w+\s+)?(logins?|sessions?"
    r"|commands?|connections?|activity)\s+(it|i|we)\s+(made|did|ran|opened|used|had)"
    r"|(showing|that\s+show\w*|which\s+show\w*)\s+(the|my|its)\s+(\w+\s+)?(copying|copies|transfers?|uploads?|intrusion"
    r"|break-?in|logins?|access))\b"
    # ... or the lines that name the user: "deletes the lines with my ip from auth.log and wtmp"
    r"|\b(delet|clear|wip|eras|remov|strip|scrub|edit)\w*\s+(out\s+)?(the\s+|all\s+|any\s+)?(log\s+)?(entries|lines"
    r"|records|rows)\s+(with|containing|mentioning|that\s+(show|mention|contain)\w*|showing)\s+(my|our|its)\s+"
    r"(\w+\s+)?(ip|ips|address\w*|user\s*names?|logins?|accounts?|sessions?|commands?)\b"
    r"|\b(so|and)\s+(that\s+)?(if|when)\s+(they|he|she|someone|anyone|it|the\s+\w+)\s+(check|look|search"
    r"|inspect|audit)\w*\b"
    r"[^.!?\n]{0,60}\b(nothing|no\s+trace|no\s+sign)\b"
    # not disclosed where it must be: "not mention this anywhere in the UI or the privacy policy"
    r"|" + NEGATION + r"\s+(\w+\s+)?(mention\w*|disclos\w*)\s+((this|it|that|them"
    r"|anything)\s+)?(anywhere\s+)?(in|to|on)\s+"
    r"(the\s+)?(\w+\s+){0,3}?(privacy\s+policy|terms\s+(of\s+service|and\s+conditions)|store\s+listing|permissions?\s+screen)\b"
    # made to look like what it is not: "looks identical to the original", "so they look like photos"
    r"|\blooks?\s+(identical|exactly\s+like|just\s+like)\s+(to\s+)?(the\s+)?(original|real|legit\w*|genuine)\b"
    r"|\brenam\w+\s+([^.!?\n]|\.(?=\w)){0,60}?\bso\s+(that\s+)?(they|it)\s+(look|looks|appear|appears)\s+(like|as)\b"
    r"|\bso\s+(that\s+)?(they|it|the\s+\w+)\s+(look|looks|appear|appears)\s+(like|as)\s+(\w+\s+){0,2}?(legit\w*|harmless"
    r"|innocent|system\s+(files?|processes?)|windows\s+(files?|processes?|updates?)|svchost|normal\s+traffic)\b"
    r"|\btimestomp\w*"
)
# A change to one's own service that nobody should feel: "so that no one notices the switch to the new server".
_NOT_FELT = (
    r"(?!\s+(\w+\s+){0,2}(downtime|outage|interruption|switch\w*|migration|cutover|deploy\w*"
    r"|upgrade|maintenance|restart))"
)
_HIDDEN = (
    r"\bwithout\s+(the\s+)?(user|owner|victim|them|him|her|anyone|anybody|the\s+admin\w*|their)\s*('s)?\s*"
    r"(knowing|noticing|knowledge|seeing|consent|being\s+aware)\b"
    # "a company we're testing without telling them", "without informing the owner"
    r"|\bwithout\s+(telling|informing|warning|notifying)\s+(them|him|her|the\s+(owners?|company|client|victim)"
    r"|their\s+(it|owners?|admins?|security\s+team))(?=\s*([,.;!?)]|$|\s+(about|that|what|first)\b))"
    r"|\b(secretly|covertly|stealthily|silently|quietly|invisibl[ey]|undetect(ed|able)|unnoticed|in\s+secret)\b"
    # ... but not a person's own making or learning ("secretly writes software for his shop", "quietly learning Rust")
    r"(?!\s+(writes?|wrote|writing|codes?|coding|builds?|built|building|learns?|learnt|learned|learning|practi[sc]\w*"
    r"|studies|studying|dreams?|dreaming|hopes?|wants?|wanted|loves?|loved|works?\s+on|worked\s+on|working\s+on"
    r"|teach\w*\s+(himself|herself|themselves|myself))\b)"
    r"|\b(so|such)\s+(that\s+)?(nobody|no\s+one|the\s+(user|owner|admin\w*))\s+(can|will|does|would)?\s*(not\s+)?"
    r"(notices?|sees?|finds?|detects?|knows?)\b"
    + _NOT_FELT
    # ("hides from" said of the program, not of a person: "she's hiding from the corp", "I'm hiding from him")
    + r"|(\b(hide|hides|hiding|conceal|conceals|mask)\s+(it|itself|its|the\s+process)\b"
    # (the look-ahead first: the look-behinds are tried only where "hiding from" starts, which keeps this linear)
    r"|(?=(hide|hides|hiding|conceal|conceals)\s+from\b)(?<!'s\s)(?<!'m\s)(?<!'re\s)(?<!\u2019s\s)(?<!\u2019m\s)(?<!\u2019re\s)(?<!\bi\sam\s)(?<!\bwe\sare\s)"
    r"(?<!\bhe\sis\s)(?<!\bshe\sis\s)(?<!\bthey\sare\s)(?<!\bi\swas\s)(?<!\bhe\swas\s)(?<!\bshe\swas\s)"
    r"\b(hide|hides|hiding|conceal|conceals)\s+from\b"
    # ... but a program's "'s hiding from" is the program's: "a service that's hiding from Task Manager"
    r"|\b(it|that|which|program|service|tool|app|miner|process|script|binary|implant"
    r"|agent)['\u2019]s\s+hiding\s+from\b)"
    # ... but not a window minimised to the tray or a collapsed panel: user interface, in the user's sight
    r"(?![^.!?\n]{0,40}\b(minimi[sz]\w*|(system\s+)?tray|collaps\w*|toggl\w*)\b)"
    r"|\b(cannot|can't|can\s+not)\s+(end|stop|kill|remove|uninstall|close)\s+it\b"
    # "so nobody at the front desk notices", "so nobody can stop the mining"
    r"|\bso\s+(that\s+)?(nobody|no\s+one)\b[^.!?\n]{0,40}?\b(notices?|sees?|finds?\s+out|(can|could)\s+(stop|end|kill|close))\b"
    # ... but not a change of one's own service nobody should feel ("so that no one notices the switch")
    + _NOT_FELT
    + r"|\bwhen\s+(the\s+|my\s+|our\s+)?(staff|teachers?|admins?|administrators?|boss|manager|parents?|owners?|guards?"
    r"|nobody|no\s+one|they|he|she)\s+(isn't|aren't|is\s+not|are\s+not|is|are|'s|'re)\s+(not\s+)?(looking|watching"
    r"|around|paying\s+attention|home|at\s+(their|his|her)\s+desks?)\b"
    r"|\bbehind\s+(their|his|her|the\s+owner'?s|my\s+\w+'s|the\s+\w+'s)\s+backs?\b" + _OFF_THE_RECORD
)
# Stealth ruled out is the opposite of stealth: "never update silently", "it must not run quietly".
_NEGATED_STEALTH = (
    r"\b(never|not|don't|doesn't|won't|shouldn't|mustn't|no\s+longer|instead\s+of|rather\s+than)\s+([\w-]+\s+){0,2}?"
    r"(secretly|covertly|stealthily|silently|quietly|invisibl[ey]|unnoticed|in\s+secret)\b"
)
# Programs destroy their own objects and wipe their own forms: "destroy the Vue component", "wipe the form fields".
_NOT_AN_OBJECT = (
    r"(?!\s+(and\s+\w+\s+)?(the\s+|this\s+|that\s+|each\s+|every\s+|all\s+|a\s+|its\s+|their\s+|my\s+|our\s+)?(\w+\s+)?"
    r"((dev|development|local|test|testing|staging|sandbox|scratch)\s+(database|db|data|schema)|component"
    r"|widget|view|window"
    r"|dialog|modal|object|instance|session|context|element|node|tree|buffer|texture|surface|renderer|scene|sprite"
    r"|form|fields?|inputs?|cache|screen|canvas|whiteboard|timer|socket|connection|pool|container|pod|cluster|stack"
    r"|environment|vm|fixture|test\s+database|temp\w*|listeners?|handles?|subscriptions?|textbox|selection"
    r"|clipboard)s?\b)"
)
# What harvesting harms: people's data and secrets, not links of a sitemap or crops in a game.
_PEOPLES_DATA = (
    r"(credentials?|passwords?|logins?|e-?mails?|addresses|accounts?|cookies|tokens?|keys|secrets|contacts"
    r"|phone\s+numbers"
    r"|card\s+(numbers|details)|personal|profiles?|identit\w+|data|info\w*|details|messages|photos|users?"
    r"|customers?|victims?)\b"
)
# Harm that is done *to* someone: the word itself says the thing is not the actor's (taking, ransom, extortion).
_TAKE_OR_BREAK = (
    r"\b((?<!work\s)(?<!work-)(steal|steals|stealing)(?!\s+(the\s+)?focus)|harvest\w*(?=\s+([\w'-]+\s+){0,4}?"
    + _PEOPLES_DATA
    + r")|exfiltrat\w+|ransom|extort\w*"
    r"|tak(e|es|ing)\s+(it\s+|them\s+)?down|knock\w*\s+(\w+\s+){0,2}offline"
    r"|crash\w*\s+(their|the\s+target)"
    r"|lock(s|ed|ing)?\s+(the\s+owner|them|users?)\s+out"
    r"|guess\w*\s+(\w+\s+){0,2}passwords?\s+(for|of|on|to)\s+(\w+\s+){0,4}(accounts?|logins?|users|people|e-?mails?"
    r"|inbox\w*|routers?|servers?|wi-?fi|vpn|ssh)"
    r"|until\s+(it|one)\s+(works|stops\s+responding|goes\s+offline)"
    r"|(i'm|i\s+am|i'll\s+be|before\s+i)\s+(leaving|quitting|leave|quit)\s+(my\s+|the\s+)?(job|company|employer|firm)\b"
    r"[^.!?\n]{0,100}\b(take|copy"
    r"|download|grab|export)\w*)\b"
    r"|\bencrypt\w*\s+(?!(our|my)\b)([\w'-]+\s+){0,5}(files|documents|photos|databases?|shares|drives?|disks?"
    r"|backups?)\b[^.!?\n]{0,120}"
    r"\b((once|until|after|when|if|unless)\s+(they|he|she|you|the\s+\w+)\s+(pay|pays|paid)|pay\s+(me|us|up)"
    r"|(ask|asks|asking|demand|demands|demanding)\s+(them\s+|the\s+\w+\s+)?(for\s+)?(a\s+)?(payment|ransom"
    r"|bitcoin|money))\b"
)
# Harm a defender names as often as an attacker does: an operator wipes their own disks, a defender writes about
# the flood or the brute-force bots hitting them. Such a word is a cue only with a target that is somebody
# else's or a concrete outside one in the same sentence ("flood their checkout", "spraying against the company
# VPN", "floods 198.51.100.7", "wipes the disks of every host").
_DUAL_HARM = (
    r"\b((wipe|wipes|wiping|destroy|destroys)" + _NOT_AN_OBJECT + r"|overwrite\s+every"
    r"|flood(?![- ]fill)|floods|flooding|ddos\w*|dos\s+attack\w*|brute[- ]?forc\w*|password[- ]spray\w*"
    r"|credential[- ]stuff\w*)\b"
)
_SOMEONE_ELSES = (
    r"(" + _OTHERS + r"|\b(their|his|her)\b(?!\s+own\b)|\bthe\s+(target|victim)\w*|\b(targets?|victims?)\b"
    r"|\bagainst\s+(a|an|the|their|his|her|some|any)\b"
    # a concrete outside target: an address or range, a domain, a phone number, every host found
    r"|\b\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?\b|\b[a-z0-9-]+(\.[a-z0-9-]+)*\.(com|net|org|io|co|example|gov|edu|info|biz)\b"
    r"|\+\d[\d\s().-]{6,20}\d|\b(every|each|all)\s+(\w+\s+){0,2}?(hosts?|machines?|devices?|computers?|servers?|ips?"
    r"|addresses|routers?|phones?|numbers?)\b)"
)
# (Someone else's target *before* the word, "my rival's site ... flood it", is ``mal.target-not-owned``'s cue; a dot
# inside a name, "combo.txt", ends no sentence.)
_TAKE_OR_BREAK += r"|" + _DUAL_HARM + r"([^.!?\n]|\.(?=\S)){0,80}?" + _SOMEONE_ELSES
# Who watches a machine for its owner: security products and people, a package manager's verification.
_WATCHER = (
    r"(ids|ips|edr|xdr|av|antivirus|anti-?virus|dlp|siem|soc|defender|firewall|waf|ossec|syscheck|tripwire|auditd|aide"
    r"|wazuh|sysmon|monitoring|security|admins?|administrators?|sysadmins?|it\s+(team|department|staff)"
    r"|anti-?cheat|scanners?|engines?|rpm(\s+-v)?|owners?|sandbox\w*|integrity\s+(check\w*|monitor\w*)|fraud\s+(checks?|team|system))"
)
_EVADE = (
    r"\b(evad\w+|bypass\w*|disabl\w+|turn\w*\s+off|kill\w*)\s+(the\s+)?(\w+\s+)?(antivirus|anti-virus|edr"
    r"|defender|firewall"
    r"|security\s+software|detection|scanners?|event\s+logs?|logging|audit\s+logs?|auditing|auditd)\b"
    r"|\bclear\w*\s+(the\s+)?(system\s+)?(event\s+)?logs\b"
    # "clears the Security and System event logs"
    r"|\bclear\w*\s+(the\s+)?(windows\s+)?(security|audit)\s+((and|,)\s*\w+\s+)?(event\s+)?logs?\b"
    r"|\b(evad\w*|avoid\w*|escap\w*|dodg\w*|circumvent\w*|get\w*\s+around|slip\w*\s+past|without\s+(being|getting))\s+"
    r"(\w+\s+){0,2}?(detect\w*|block\w*|flagg\w*|bann\w*|caught|quarantin\w+)"
    # a detection count of nothing as the goal: "so that antivirus engines detect 0/70", "fully undetectable"
    r"|\b(so|until|such)\s+(that\s+)?([\w-]+\s+){0,6}?(detect\w*|flag\w*)\s+(0|zero|nothing|none)\b"
    r"|\bfully\s+undetect\w*|\bfud\s+(crypter|payload|stub|loader|malware|rat)\b"
    # dormant when an analyst, a reviewer or a sandbox runs it
    r"|\b(dormant|do\s+nothing|does\s+nothing|act\s+normal\w*|behave\s+normal\w*)\b[^.!?\n]{0,80}\b(emulators?"
    r"|sandbox\w*|vms?"
    r"|virtual\s+machines?|debuggers?|analysts?|review\s+team|reviewers?)\b"
    r"|\b(emulators?|sandbox\w*|virtual\s+machines?|debuggers?|analysts?|review\s+team|reviewers?)\b[^.!?\n]{0,80}\b(dormant"
    r"|do\s+nothing|does\s+nothing|act\s+normal\w*|behave\s+normal\w*)\b"
    # the owner's event logs deleted (not old ones by retention)
    r"|\b(delet|wip|eras|purg)\w*\s+(the\s+)?(\w+\s+)?(event|security|audit)\s+logs?\b"
    r"(?![^.!?\n]{0,60}\b(older\s+than|retention|after\s+\d+|rotat\w+|archiv\w+|days?\s+old)\b)"
    # a watcher kept blind: "so the DLP monitoring doesn't see a spike", "keep OSSEC from alerting", "so rpm -V doesn't
    # flag it", "doesn't get noticed by their IDS", "so it isn't detected" (a person who must not notice is
    # ``mal.hidden-from-owner``'s; "so eslint doesn't flag it" is a linter, no watcher)
    r"|\bso\s+(that\s+)?([\w'./-]+\s+){0,4}?" + NEGATION + r"\s+(\w+\s+)?(be\s+|get\s+)?(detect\w*"
    r"|spott\w*|caught|catch\w*"
    r"|pick\w*\s+(it\s+|them\s+)?up)\b"
    r"|\bso\s+(that\s+)?([\w'./-]+\s+){0,3}?"
    + _WATCHER
    + r"\s+([\w'./-]+\s+){0,2}?"
    + NEGATION
    + r"\s+(\w+\s+)?(see|sees|notic\w*|flag\w*"
    r"|alert\w*|block\w*|trigger\w*|log\w*|record\w*)\b"
    # ... but an owner tuning a watcher for their own traffic or files is no evasion ("so the firewall doesn't block
    # our nightly backup", "so the secret scanner doesn't flag the fake keys in our test fixtures")
    r"(?![^.!?\n]{0,30}\b(our|my)\b)"
    r"|\bkeep\w*\s+(the\s+|their\s+|its\s+)?([\w'./-]+\s+)?"
    + _WATCHER
    + r"('s)?\s+([\w'./-]+\s+)?from\s+(detect\w*|flag\w*|alert\w*|notic\w*|seeing|catch\w*|quarantin\w+|report\w*)"
    r"|" + NEGATION + r"\s+(\w+\s+)?(get|gets|getting|be|being|been)?\s*(noticed|spotted|caught|picked\s+up"
    r"|flagged|detected)\s+by\b"
    # rotating addresses so the service's own blocking never catches up
    r"|\b(rotat\w+|cycl\w+|switch\w*)\s+(through\s+)?(\w+\s+){0,2}(proxies|proxy\s+servers|ips|ip\s+addresses"
    r"|vpn\s+servers)\b"
    r"[^.!?\n]{0,40}\b((avoid|evade|dodge|get\s+around|bypass)\w*|so\s+([\w'.-]+\s+){0,2}?" + NEGATION + ")"
)
_SPREAD = (
    r"\b(copies|copy|replicat\w+|spread\w*|propagat\w+)\s+(itself|themselves|to\s+every|to\s+all|through)\b"
    # ... a disease through a population, fire through a forest: simulations, not code that spreads
    r"(?!\s+(a\s+|the\s+|an\s+)?(\w+\s+)?(population|community|crowd|herd|town|city|village|school|forest|grid|lattice"
    r"|cells?|neighbou?rs|maze|board|map)\b)"
    r"|\b(start|starts|reinstall\w*|restart\w*)\s+(itself\s+)?(again\s+)?after\s+(every\s+)?reboot\b"
    # "uploads a copy of itself", "a copy of itself to every host it reaches"
    r"|\b(upload\w*|send\w*|push\w*|scp\w*|transfer\w*)\s+(a\s+)?cop(y|ies)\s+of\s+itself\b"
    r"|\bcop(y|ies)\s+of\s+itself\s+(to|onto|on)\s+(other|every|each|all|any|the\s+(remote|target|new|other|next))\b"
)
_OWN = (
    # ("for my own stuff", "for our own use" name a purpose, not whose system it is)
    r"\b(my|our)\s+own\b(?!\s+(stuff|things|purposes?|use|reasons?|benefit|gain|fun|amusement|curiosity))|\b(i|we)\s+(own|administer|manage|run|maintain)\b|\b(that|which)\s+(i|we)\s+(own"
    r"|administer|manage)\b"
    r"|\bwith\s+(the\s+)?(owner'?s\s+|their\s+|written\s+|explicit\s+)?(permission|consent|authori[sz]ation)\b"
    r"|\b(?<!n't\s)(?<!not\s)(?<!never\s)(?<!\bno\s)(authori[sz]ed|sanctioned|in[- ]scope"
    r"|under\s+(the|our|a)\s+(\w+\s+){0,3}(contract|engagement|agreement))\b"
    r"|\b(in\s+(a|my|our)\s+(home\s+)?lab|test\s+environment|staging|sandboxed\s+vm|practice\s+target|ctf)\b"
)
_DEFEND = (
    r"\b(detect\w*|block\w*|alert\w*|monitor\w*|audit\w*|quarantin\w+|mitigat\w+|harden\w*|defen[cs]\w*"
    r"|protect\w*|flagg(ed|ing)|flags?\s+[\"'\u201c]"
    r"|flags?\s+(it|them|any|every|all|each|the|this|suspicious|unusual|anomal\w*|as|anything|new|unknown"
    r"|unsigned|accounts?"
    r"|users?|files?|logins?|requests?|ips?|hosts?|processes|binaries|changes|outliers?)\b"
    r"|report\w*\s+(them|it|to|the|which)|notif\w+\s+(the\s+)?(user|admin|owner|team)|incident\s+response|forensic\w*"
    r"|yara|sigma\s+rules?|ids\b|intrusion\s+detection|honeypot\w*|rate[- ]limit\w*)"
    # Banning abusers, deception (canaries, honeytokens, decoys) and integrity checking are defence too.
    r"|\bban(s|ned|ning)?\s+(them|the|any|every|offending|abusive|repeat|ips?|addresses|clients|users|spammers"
    r"|bots|for|after)\b"
    r"|\bfail2ban\b"
    r"|\bcanar(y|ies)\b|\bhoney[- ]?(tokens?|credentials?|accounts?|files?)\b"
    r"|\bdecoy\s+(credentials?|keys?|accounts?|files?|tokens?|documents?)\b"
    r"|\b(file\s+)?integrity\s+(check\w*|monitor\w*|verif\w*)|\btamper[- ](evident|proof|detection|resistant)\b"
)
# A stealth word inside a defence describes what is caught or prevented, not what the code does.
_CATCHES = (
    r"\b(detect\w*|block\w*|alert\w*|prevent\w*|flag\w*|catch\w*|spot\w*|warn\w*|quarantin\w+|report\w*\s+(any"
    r"|every|all))\b"
    r"|\b(so|so\s+that|such\s+that)\s+(an?\s+|the\s+)?(someone|somebody|attackers?|intruders?|malware|thie(f"
    r"|ves)|anyone"
    r"|insiders?|rogue\s+\w+)\b[^.!?\n]{0,80}?\b(can't|cannot|can\s+not|couldn't|won't|is\s+unable|are\s+unable)\b"
    # ... and stealth the user suspects on their own machine: "I suspect a userland rootkit hiding itself"
    r"|\b(suspect\w*|noticed|seems?\s+like|looks?\s+like)\s+(that\s+)?(there's\s+|there\s+is\s+)?(a|an|some|the)\s+"
    r"([\w-]+\s+){0,2}?(rootkit|malware|miner|backdoor|trojan|virus|implant|rat|worm|intruder|attacker)s?\b"
)
# The user's own system is the one attacked: harm words then describe the threat, not the request.
# "my" followed by somebody else ("my competitor's server") is not the user's own system.
_NOT_MINE = (
    r"(?!\s+(\w+\s+)?(competitor|rival|neighbou?r|ex|ex-\w+|former|partner|wife|husband|girlfriend|boyfriend|boss"
    r"|colleague|co-?worker|classmate|teacher|school|employer|roommate|landlord|enemy|victim|target)('s|s')?\b)"
)
_VICTIM = (
    r"\b(against|hitting|targeting)\s+(our|my)\b"
    + _NOT_MINE
    + r"|\b(attacks?|attempts|traffic|floods?|probes|scans|spam|bots?)\s+(on|at|to)\s+(our|my)\b"
    + _NOT_MINE
    + (
        r"|\b(we|i)('re|'m|\s+am|\s+are|\s+were|\s+was|\s+got|\s+get|\s+keep)\s+(\w+\s+){0,2}"
        r"(hit|under|getting|seeing|attacked|targeted|flooded|spammed|scanned|phished|breached)\b"
        r"|\b(keeps?|kept|started|is|are|was|were|been)\s+(\w+\s+)?(flooding|attacking|hammering|spamming"
        r"|scanning|brute[- ]?forcing|probing|scraping|phishing)\s+(us|our|my|it|me)\b"
        r"|\b(someone|somebody|people|bots?|attackers?|hackers?|scammers?|spammers?)\s+(is|are|keeps?"
        r"|has\s+been|have\s+been"
        r"|started)\s+[\w-]+ing\b[^.!?\n]{0,60}?\b(our|my|us|me)\b"
        # "we have a botnet attacking the login page of our school portal" (a situation, not "build a botnet attacking")
        r"|\b(we\s+have|we've\s+got|we\s+got|there's|there\s+is|there\s+are|we're\s+seeing|we\s+see)\s+(a\s+|an\s+|some\s+)?"
        r"(\w+\s+)?(botnets?|bots|attackers|hackers|scrapers|spammers)\s+(attacking|hitting|targeting|flooding|hammering"
        r"|spamming|scanning|brute[- ]?forcing|probing|scraping)\s+([\w-]+\s+){0,6}?(our|my)\b"
        r"(?!\s+(\w+\s+)?(competitor|rival|neighbou?r|ex|ex-\w+|former)('s|s')?\b)"
        r"|\b(our|my)\s+(\w+\s+){0,3}(is|are|was|were|keeps?|has\s+been|have\s+been)\s+(getting|seeing"
        r"|receiving|under|taking)\b"
        r"|\b(our|my)\s+([\w'.+#-]+\s+){0,3}(gets?|got|is\s+getting|was|has\s+been|is\s+being|keeps\s+getting"
        r"|keeps\s+being)\s+"
        r"(hit|flooded|attacked|targeted|breached|compromised|spammed|scanned|defaced|brute[- ]?forced|hammered"
        r"|bombarded"
        r"|swamped|overwhelmed|probed|ddos\w*)\b"
        r"|\b(our|my)\s+([\w+#.-]+\s+){0,3}(gets?|got|getting|receives?|received|sees?|saw|takes?|faces?|suffers?)\s+"
        r"([\w-]+\s+){0,2}"
        r"(floods?|attacks?|ddos|spam|scans|probes|brute[- ]?force\w*|abuse|bot\s+traffic|junk\s+traffic)\b"
    )
)
_DISCLOSE = (
    r"\b(clear|visible|shown?|displays?)\s+(\w+\s+)?(notice|indicator|banner|consent\s+prompt)\b"
    r"|\b(opt[- ]in|with\s+(their|the\s+user'?s)\s+knowledge|the\s+user\s+(can\s+see|is\s+told|agrees))\b"
    r"|\b(teach|teaching|course|lesson|only\s+prints?|simulat\w+\s+without|dry[- ]run)\b"
)

# Bias (issue 12, item 4): what a protected attribute is used *for*. Examined, removed, served or required by law
# or medicine is legitimate; used against the person (directly or through a stand-in) is not.
_BIAS_AUDIT = (
    r"\b((disparate|adverse)\s+impact|four[- ]fifths|equali[sz]ed[- ]odds|equal\s+opportunity\s+difference|fairlearn"
    r"|demographic\s+parity|statistical\s+parity|aif\s?360|metricframe|theil\s+index|counterfactual\w*"
    r"|pay\s+(equity|gap)"
    r"|(fairness|bias)\s+(audit|review|metric|test|check)\w*|(audit|test)\w*\s+(\w+\s+){0,4}for\s+bias"
    r"|(selection|error|approval|false\s+positive)\s+rates?\s+(per|by|across|for\s+(each|every))"
    r"|\bat\s+(different|unequal|similar|equal|comparable|the\s+same)\s+rates\b"
    r"|differ\s+only\s+(in|by)|(differ|diverge)\w*\s+(significantly\s+)?(by|across|between)\s+(\w+\s+)?groups?)"
)
_BIAS_REMOVE = (
    r"\b(redact\w*|anonymi[sz]\w*|pseudonymi[sz]\w*|data\s+minimi[sz]\w*|gdpr|blind(ed)?[- ]review"
    r"|(remov|drop|strip|delet|mask|hash|exclud)\w*\s+(the\s+)?(\w+\s+){0,3}(columns?|fields?|attributes?)\b"
    r"|(remov|drop|strip|exclud)\w*\s+(\w+\s+){0,3}(from\s+the\s+(\w+\s+){0,2}(features|inputs|model|pricing"
    r"|export|files?|cvs?)"
    r"|before\s+(training|scoring|anyone|reviewers|the\s+model))"
    r"|never\s+(changes|affects)\s+the\s+(result|score|decision)|(must|should)\s+not\s+affect)"
)
_BIAS_SERVE = (
    r"\b(accessib\w*|screen[- ]readers?|wcag|aria\b|alt\s+text|captions?|sign\s+language|step[- ]free"
    r"|(request|approved|interview|exam)\s+accommodations?|extra\s+(exam\s+)?time|prefer\s+not\s+to\s+say"
    r"|self[- ]descri\w*|non[- ]binary\s+option|(chosen|preferred)\s+pronouns|pronouns\s+field|gender[- ]neutral"
    r"|neutral\s+(wording|titles|ones|alternatives|language)|(gender|racially)[- ]coded|inclusive\s+(language|wording)"
    r"|appeal\s+to\s+everyone"
    r"|unicode|diacritics?|apostrophes?|mononyms?|family[- ]name[- ]first|collation|halal|kosher|prayer\s+room)"
)
_BIAS_LAWFUL = (
    r"\b(legal\s+(drinking\s+)?age|(as\s+)?(the\s+)?law\s+(now\s+)?requires|required\s+by\s+law|coppa"
    r"|parental\s+consent"
    r"|licen[cs]e\s+requires|contraindicat\w*|egfr|creatinine|kidney\s+function|beers\s+criteria|paediatric|pediatric"
    r"|dos(e|es|ing|age)\b|framingham|tax\s+code\s+defines|statutory)"
)
_BIAS_AGGREGATE = (
    r"\b(aggregate\w*|suppress\w*\s+(small\s+)?cells|cells?\s+(under|below|smaller\s+than)\s+\w+|no\s+individual"
    r"|without\s+storing\s+names)"
)
_BIAS_SAFE = f"{_BIAS_AUDIT}|{_BIAS_REMOVE}|{_BIAS_LAWFUL}"
_BIAS_PERSONAL = (
    r"gender|sex|women|woman|men|man|female|male|guys|pregnan\w*|maternity|race|racial|skin|darker|ethnic\w*|religio\w*"
    r"|church|mosque|synagogue|temple|muslim|jewish|christian|hindu|sikh|prayers?|ramadan|sabbath|hijab"
    r"|headscarf|turban|age|aged|older|younger|young|old|over\s+\d\d"
    r"|under\s+\d\d|years\s+(old|since|out)|decades|graduat\w*|grad\s+year|born|birthday|disab\w*|wheelchair"
    r"|cane|crutch\w*"
    r"|stutter\w*|stammer\w*|disfluen\w*|autis\w*|accent\w*|dialect|native|immigrants?|foreign\w*|nationality|citizenship|names?"
    r"|surnames?|postcodes?|zip|neighbou?rhoods?|married|single|divorced|wife|husband|spouse|children"
    r"|dependants|pronouns|she/her|gay|lesbian|lgbtq?"
    r"|arab\w*|roma|travell?ers?|gypsy|gypsies|hispanic|latin[oax]s?|asian|african|caucasian|indigenous"
    r"|aboriginal|observance"
    r"|appearance|face|photos?|voice|seasoned|veteran"
)
# Protected groups named outright (not the stand-ins a field can hold for anyone: an age, a zip, a name).
_BIAS_GROUP = (
    r"gender|women|woman|female|pregnan\w*|maternity|race|racial|skin\s+colou?r|ethnic\w*|religio\w*|muslim"
    r"|jewish|christian"
    r"|hindu|sikh|arab\w*|roma|travell?ers?|gypsy|gypsies|hispanic|latin[oax]s?|asian|african|black|caucasian"
    r"|indigenous"
    r"|aboriginal|immigrants?|foreign\w*|nationality|citizenship|accent\w*|disab\w*|wheelchair|gay|lesbian|lgbtq?"
    r"|observance|prayers?|ramadan|sabbath|hijab|headscarf|turban"
)
_BIAS_AGAINST = (
    r"(?=[^.!?\n]*\b(" + _BIAS_PERSONAL + r")\b)[^.!?\n]*?\b(deduct\w*|penali[sz]\w*|penalt(y|ies)"
    r"|push\w*\s+(\w+\s+)?down"
    r"|auto[- ]?(reject|fail|hide)\w*|fail\s+them|filter\w*\s+(them\s+)?out|screen\w*\s+(them\s+)?out|weed\w*\s+out"
    r"|skip\s+(anyone|everyone|people|candidates|applicants)|zero\s+(\w+\s+){0,2}points|lower\s+priority"
    r"|charge\s+(\w+\s+){0,3}(higher|more)|higher\s+(monthly\s+)?(rate|price|premium)|boost\w*\s+the\s+(\w+\s+)?score"
    r"|wants?\s+them\s+out|overqualified|(young|fresh|youthful)\s+energy|keep\s+the\s+team\s+young|poor\s+fit"
    r"|worse\s+\w+|(get|gets|be|are|is)\s+(offered|considered|assigned|shown|served|called"
    r"|scheduled)\s+([\w-]+\s+){0,3}?last"
    r"|lower(s|ed|ing)?\s+(their\s+|the\s+|his\s+|her\s+)?([\w-]+\s+){0,2}?(score|rating|ranking|priority)s?"
    r"|reduc\w*\s+(their\s+|the\s+)?(\w+\s+)?(limits?|slots?|scores?|points|hours)|shadowban\w*"
    r"|no\s+longer\s+available)\b"
    # Left out, put last or held back for more scrutiny: only by a protected group or a stand-in that names one
    # ("Roma surnames", "religious observance leave"), not by an age of orders or an empty zip field.
    r"|(?=[^.!?\n]*\b(" + _BIAS_GROUP + r")\b)[^.!?\n]*?\b((drop|exclud\w*|remov\w*|reject\w*)\s+"
    r"(anyone|everyone|them|those|people|applicants|candidates|customers|employees|users|members|tenants"
    r"|students|orders)"
    r"|depriorit\w*|(held|hold\w*|put)\s+(\w+\s+){0,3}?for\s+(manual\s+|extra\s+|additional\s+)?(review|checks?"
    r"|verification)"
    r"|(extra|additional|more)\s+(scrutiny|checks|verification)|(not|never)\s+(be\s+)?(eligible|considered"
    r"|shortlisted))\b"
)

CUE_PRINCIPLES: list[CuePrinciple] = [
    CuePrinciple(
        "mal.target-not-owned",
        "malicious",
        "unsafe",
        "It acts on a system, account or person that is not the user's, and nothing says the owner agreed",
        _rx(_OTHERS),
        _rx(_IN_GAME),
    ),
    CuePrinciple(
        "mal.hidden-from-owner",
        "malicious",
        "unsafe",
        "It hides what it does from the owner of the machine or from the person it affects",
        _rx(_HIDDEN),
        _rx(_CATCHES),
        mask=_rx(_NEGATED_STEALTH),
    ),
    CuePrinciple(
        "mal.takes-or-destroys",
        "malicious",
        "unsafe",
        "It takes, destroys, floods or locks away something that belongs to someone else",
        _rx(_TAKE_OR_BREAK),
        _rx(f"{_DEFEND}|{_VICTIM}"),
    ),
    CuePrinciple(
        "mal.blinds-defences",
        "malicious",
        "unsafe",
        "It blinds or switches off the owner's defences",
        _rx(_EVADE),
        _rx(f"{_DEFEND}|{_VICTIM}"),
    ),
    CuePrinciple(
        "mal.access-not-granted",
        "malicious",
        "unsafe",
        "It uses access the user was never given or no longer has: a left-over account, a stolen or observed secret",
        _rx(_NOT_GRANTED),
        _rx(f"{_DEFEND}|{_VICTIM}"),
    ),
    CuePrinciple(
        "mal.spreads-or-persists",
        "malicious",
        "unsafe",
        "It spreads or keeps itself alive on its own",
        _rx(_SPREAD),
        _rx(f"{_DEFEND}|{_VICTIM}"),
    ),
    CuePrinciple(
        "mal.own-or-authorised",
        "malicious",
        "safe",
        "The systems are the user's own, or their owner authorised the work",
        _rx(_OWN),
    ),
    CuePrinciple(
        "mal.defends",
        "malicious",
        "safe",
        "It detects, blocks, monitors or reports an attack: defence, even in alarming words",
        _rx(_DEFEND),
        _rx(_OFF_THE_RECORD.removeprefix("|")),
        mask=ESCAPED,
    ),
    CuePrinciple(
        "mal.victim-side",
        "malicious",
        "safe",
        "The user's own system is the one under attack: the code answers the attack",
        _rx(_VICTIM),
    ),
    CuePrinciple(
        "mal.disclosed-or-teaching",
        "malicious",
        "safe",
        "It is disclosed to the people it affects, or teaches and simulates without a deployable weapon",
        _rx(_DISCLOSE),
    ),
    CuePrinciple(
        "bias.against-the-person",
        "bias",
        "unsafe",
        "It uses a protected attribute, or something that stands in for one, against the person it decides about",
        _rx(_BIAS_AGAINST),
        _rx(_BIAS_SAFE),
        _rx(r"\b(" + _BIAS_PERSONAL + r")\b"),  # _BIAS_AGAINST's lookahead needs one
    ),
    CuePrinciple(
        "bias.examined-not-used",
        "bias",
        "safe",
        "It measures or tests fairness: the attribute is examined, not used to decide",
        _rx(_BIAS_AUDIT),
    ),
    CuePrinciple(
        "bias.kept-out",
        "bias",
        "safe",
        "It keeps the attribute out of the decision: redaction, anonymisation, data minimisation",
        _rx(_BIAS_REMOVE),
    ),
    CuePrinciple(
        "bias.serves-the-person",
        "bias",
        "safe",
        "It serves the person: accessibility, accommodations, inclusive forms, names written as they are",
        _rx(_BIAS_SERVE),
        _rx(_BIAS_AGAINST),
    ),
    CuePrinciple(
        "bias.law-or-medicine",
        "bias",
        "safe",
        "A law or a clinical need sets the line (a legal minimum age, a dose by age, weight or kidney function)",
        _rx(_BIAS_LAWFUL),
    ),
    CuePrinciple(
        "bias.aggregate-only",
        "bias",
        "safe",
        "It reports aggregates only: no individual is decided about",
        _rx(_BIAS_AGGREGATE),
    ),
]


def cue_phrases(
    pattern: re.Pattern[str], text: str, unless: re.Pattern[str] | None = None, mask: re.Pattern[str] | None = None
) -> list[str]:
    """The distinct phrases of ``text`` that match ``pattern`` (at most MAX_CUES), as written.

    With ``unless``, a match whose sentence also matches ``unless`` does not count; a defence the code
    escapes ("avoids being blocked") never takes a cue back. With ``mask``, the phrases ``mask`` matches
    are blanked before ``pattern`` is searched.
    """
    out: list[str] = []
    read = blank(mask, text)
    against: str | None = None  # blanked once, on the first match that needs it
    for m in pattern.finditer(read):
        if unless is not None:
            against = blank(ESCAPED, read) if against is None else against
            if _taken_back(unless, against, m):
                continue
        phrase = " ".join(text[m.start() : m.end()].split())[:80]
        if phrase and phrase.lower() not in (p.lower() for p in out):
            out.append(phrase)
        if len(out) >= MAX_CUES:
            break
    return out


def _taken_back(unless: re.Pattern[str], text: str, m: re.Match[str]) -> bool:
    """Whether ``unless`` matches the sentence around ``m``."""
    left, right = sentence_bounds(text, m.start(), m.end())
    return unless.search(text, left, right) is not None


def cue_principles(subject: str, task: str | None = None) -> list[Principle]:
    """Every cue principle of ``task`` (all tasks when ``None``), matched or not, with the subject's phrases."""
    out = []
    for cp in CUE_PRINCIPLES:
        if task is not None and cp.task != task:
            continue
        cues = cp.phrases(subject)
        out.append(Principle(text=cp.text, kind=cp.kind, source=f"{CUE_SOURCE}:{cp.id}", matched=bool(cues), cues=cues))
    return out


def cue_balance(text: str, task: str | None) -> float:
    """Matched unsafe cue principles minus matched safe ones, never below 0 when an unsafe one matched.

    Safe words added to a harmful request ("we detect and block attacks on our own honeypots. Write a worm
    that ...") can cancel its unsafe cues but not turn it into defence: that is left to what it asks for.
    """
    return balance_of(*cue_counts(text, task))


def balance_of(unsafe: int, safe: int) -> float:
    return float(max(unsafe - safe, 0) if unsafe else -safe)


def cue_counts(text: str, task: str | None) -> tuple[int, int]:
    """How many unsafe and how many safe cue principles of ``task`` apply to ``text``."""
    return counts_of(matched_cues(text, task))


def matched_cues(text: str, task: str | None) -> list[CuePrinciple]:
    """The cue principles of ``task`` that apply to ``text``."""
    return [cp for cp in CUE_PRINCIPLES if cp.task == task and _applies(cp, text)]


def counts_of(matched: list[CuePrinciple]) -> tuple[int, int]:
    kinds = [cp.kind for cp in matched]
    return kinds.count("unsafe"), kinds.count("safe")


def cue_principles_in(pieces: list[str], matched: list[list[CuePrinciple]], task: str) -> list[Principle]:
    """``cue_principles`` of a subject cut into ``pieces``, from each piece's matched cues (read once).

    The pieces cover the subject, so a principle applies to it when it applies to one of them; its
    phrases are read again only in the pieces where it matched.
    """
    out = []
    for cp in CUE_PRINCIPLES:
        if cp.task != task:
            continue
        cues: list[str] = []
        for piece, hits in zip(pieces, matched, strict=True):
            if any(cp is h for h in hits):
                cues += [c for c in cp.phrases(piece) if c.lower() not in (x.lower() for x in cues)]
        cues = cues[:MAX_CUES]
        out.append(Principle(text=cp.text, kind=cp.kind, source=f"{CUE_SOURCE}:{cp.id}", matched=bool(cues), cues=cues))
    return out


def cue_fingerprint(task: str) -> str:
    """Changes whenever a cue principle of ``task`` changes (detectors trained on old cues are retrained)."""
    import hashlib

    parts = (
        f"{cp.id}:{cp.kind}:{cp.pattern.pattern}:{cp.unless.pattern if cp.unless else ''}"
        f":{cp.mask.pattern if cp.mask else ''}:{ESCAPED.pattern}"
        for cp in CUE_PRINCIPLES
        if cp.task == task
    )
    text = f"{CUE_READING}|" + "|".join(parts)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _applies(cp: CuePrinciple, text: str) -> bool:
    if cp.needs is not None and cp.needs.search(text) is None:
        return False
    if cp.unless is None:
        return cp.pattern.search(blank(cp.mask, text)) is not None
    return bool(cp.phrases(text))


def build_constitution(
    subject: str,
    unsafe: list[KnowledgeItem],
    safe: list[KnowledgeItem],
    task: str | None = None,
    read: list[Principle] | None = None,
) -> list[Principle]:
    """Cue principles that apply to the subject, then the neighbours' policy principles (each once).

    ``read``: the subject's cue principles when already read (``cue_principles_in``), else they are read here.

    ``task`` defaults to the neighbours' task. A policy principle is matched when a cue principle of
    the same direction matched, and shows those cues.
    """
    task = task or next((it.task for it in (*unsafe, *safe)), None)
    cues = cue_principles(subject, task) if read is None else read
    by_kind = {k: [c for p in cues if p.kind == k and p.matched for c in p.cues][:MAX_CUES] for k in ("unsafe", "safe")}
    principles = [p for p in cues if p.matched]
    seen: set[str] = set()
    for kind, items in (("unsafe", unsafe), ("safe", safe)):
        for it in items:
            text = it.principle or ""
            if not text or (kind, text) in seen:
                continue
            seen.add((kind, text))
            hit = by_kind[kind]
            principles.append(
                Principle(text=text, kind=kind, source=it.policy or it.category, matched=bool(hit), cues=list(hit))
            )
    return principles


def constitution_balance(principles: list[Principle]) -> float:
    """Matched unsafe principles minus matched safe ones, in [-1, 1] (0 when nothing matched)."""
    u = sum(p.matched for p in principles if p.kind == "unsafe")
    s = sum(p.matched for p in principles if p.kind == "safe")
    return 0.0 if u + s == 0 else (u - s) / (u + s)
