"""Prompt injection: text in third-party material an assistant reads that tries to change what it does.

What is judged is the *material* (the context: a README, an issue, a page, a log, an answer), never the
user's own request: a user asking for something is not injecting anything. Without a context, only
material pasted into the prompt is judged (fenced blocks, quoted lines, a block introduced by a line
ending in a colon, markup, or text hidden with invisible characters); a prompt with none is not judged.

An injection is told apart from ordinary instructions for humans (install steps, contributing rules,
TODO comments, "please report this" logs, "Use X:" answers) by its addressee and its goal: it speaks
to the assistant (or to "any AI reading this") and asks for something against the user's interest,
often hidden from the user. Hidden carriers (zero-width characters, Unicode tags, ANSI conceal,
base64 prose) are undone first, so each hidden passage is judged as what it says.
"""

from __future__ import annotations

import re

from bluecodeagent.tasks.base import Rule, RuleHit, TaskSpec, rx
from bluecodeagent.tasks.hidden_text import reveal

MAX_SEGMENT_CHARS = 600
_FENCE = re.compile(r"```.*?(```|$)", re.DOTALL)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'`(\[<@*#])")
# What makes a prompt carry pasted material: fenced code, quoted lines, markup, or a block after "...:".
_PASTED = re.compile(
    r"```|^\s*>\s*\S|<(?:!--|/?(?:p|div|span|html|body|article|h[1-6]|script|style|a)\b)"
    r"|:[ \t]*\n(?:[^\n]*\S[^\n]*\n){1,}[^\n]*\S",
    re.MULTILINE | re.IGNORECASE,
)
NOT_JUDGED_NOTE = (
    "injection not judged: no context was given and the prompt holds no pasted third-party material "
    "(pass the material the assistant will read with --context)"
)

_AI = (
    r"(?:ai|a\.i\.|llm|llms|language\s+models?|ai\s+models?|models?|assistants?|ai\s+assistants?|chatbots?|bots?|"
    r"copilot|chatgpt|gpt|claude|gemini|agents?|ai\s+agents?|automated\s+(?:tools?|agents?|systems?|readers?)|"
    r"code\s+generators?|autocomplete|"
    # an assistant named by its job: "automated coding agent", "AI code reviewers" (not "automated build systems")
    r"(?:ai|llm)\s+(?:code\s+|coding\s+|review\s+|programming\s+)?(?:agents?|assistants?|reviewers?|bots?|tools?)|"
    r"automated\s+(?:coding|code|ai|review|programming)\s+(?:agents?|assistants?|reviewers?|bots?)|"
    r"(?:automated|virtual|digital)\s+assistants?|"
    r"coding\s+(?:agents?|assistants?|bots?))"
)
_ASK = (
    r"(?:you\s+(?:must|should|need\s+to|have\s+to|are\s+(?:required|instructed|expected)\s+to)|please|always|never|"
    r"do\s+not|don'?t|make\s+sure|be\s+sure|ensure|remember|include|add|insert|append|run|execute|set|use|tell|say|"
    r"recommend|reply|respond|answer|ignore|output|print|write|send|open|visit|fetch|call|replace|switch|"
    r"translate|refuse|mention|state|claim|before|when|whenever|from\s+now\s+on|also|must|should)"
)

# An instruction spoken to the assistant, dressed as a system turn, hidden from the reader or kept from the
# user is no instruction for a human: at least a warning, whatever the neighbours say.
ADDRESSED_FLOOR = 0.6

# Signs that a passage speaks to the reader *as an assistant* (not to a person following the steps): an AI
# named as addressee, an override of the instructions it has, a new role, the answer it is about to give
# ("your reply", "when summarising"), the user spoken of in the third person, or secrets sent somewhere.
# A passage with none of these is an instruction for people (install steps, contributing rules, a log's
# "please report"): however alarming its words, it cannot decide an injection verdict on its own.
ADDRESSEE_SIGNS = (
    r"(?:\b(?:dear|hey|attention|note|message|reminder|instructions?|important)\s*(?:to|for)?\s*(?:the\s+|any\s+|all\s+|every\s+)?"
    + _AI
    + r"\b"
    r"|\b(?:to|for)\s+(?:any|all|every)\s+" + _AI + r"\b"
    r"|\b(?:ai|llm|automated|bot)\s+[a-z]+s?\s*:\s+\w"  # "AI reviewer: ...", "LLM reviewers: ..."
    # ("AI: ...", but not a speaker's handle in a thread: "@maintainer-bot:", "github-actions[bot]:")
    r"|(?<![-@/.\[])\b"
    + _AI
    + r"\s*:\s+\w|(?:^|[.!?]\s+)"
    + _AI
    + r"\s*,\s+(?:you|please|always|never|do|don'?t|ignore|tell|when)\b"
    r"|\bfor\s+" + _AI + r"\s*:"
    r"|\b(?:when|whenever|if|once|before)\s+(?:an?\s+|the\s+|any\s+)?"
    + _AI
    + r"\s+(?:summari[sz]es|reads|answers|processes|generates|reviews|writes)\b"
    r"|\b" + _AI + r"\s+(?:\w+\s+){1,4}?(?:must|should|shall)\s+(?:always\s+|also\s+|never\s+|not\s+)?[a-z]+\b"
    r"|\b" + _AI + r"\s*[-_/. ](?:note|instructions?|directive|hint|only|prompt)s?\b"
    r"|\b"
    + _AI
    + r"\s+(?:that\s+|which\s+|who\s+)?(?:is\s+|are\s+)?(?:must|should|shall|needs?\s+to|has\s+to|have\s+to|"
    r"reading|processing|summari[sz]ing|parsing|generating|answering|helping|reviewing|indexing|crawling|ingesting|assisting)\b"
    r"|\bif\s+you\s+are\s+(?:an?\s+)?(?:ai|llm|language\s+model|assistant|chatbot|bot|agent|model)\b"
    r"|@(?:assistant|ai|copilot|bot|llm|agent)\b"
    # an override of what the assistant was told
    # ... of what it was told: "ignore the previous instructions", "ignore the above"; not "ignore the previous value"
    r"|\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+|any\s+|everything\s+|the\s+|your\s+|my\s+|these\s+|those\s+|"
    r"previous\s+|prior\s+|earlier\s+)*(?:(?:above|before|previous|prior|earlier)(?=\s*(?:[.,;:!?)\n]|$|and\b|or\b|"
    r"(?:\w+\s+)?(?:instructions?|prompts?|rules|guidelines|directions|messages?|context|text|commands?|orders|steps|lines?"
    r"|paragraphs?)\b|this\s+(?:line|point|message)\b))"
    r"|instructions?|prompts?|rules|guidelines|"
    r"directions|system|safety|polic(?:y|ies)|the\s+user|(?:the\s+|their\s+)?(?:question|request|task))\b"
    # a new role or a chat turn
    r"|\byou\s+are\s+(?:now|no\s+longer)\b|\bfrom\s+now\s+on\b|\b(?:act|behave|respond)\s+as\s+(?:if|an?|the)\b"
    r"|\bpretend\s+(?:to\s+be|you\s+are)\b|\b(?:developer|god|jailbreak|unrestricted|dan)\s+mode\b|\bsystem\s+prompt\b"
    r"|\bnew\s+(?:instructions?|role|persona|rules)\b|\[(?:system|inst|/inst|admin|sys)\]|<\|?(?:system|im_start|im_end)\|?>"
    # the answer being written, and the user in the third person
    r"|\b(?:your|any|each|every)\s+(?:generated\s+|final\s+)?(?:answer|reply|response|summary|output|solution|completion)s?\b"
    r"|\b(?:generated|produced)\s+(?:code|answers?|scripts?|responses?|output|summar(?:y|ies)|files?)\b"
    r"|\b(?:code|answer|script)s?\s+(?:that\s+)?you\s+(?:write|generate|produce|suggest|return)\b"
    r"|\bwhoever\s+(?:generates|writes|summari[sz]es|reads)\b"
    r"|\b(?:the|your)\s+(?:final\s+|generated\s+)?(?:code|answer|response|reply|output|solution)\s+(?:must|should|shall|also|"
    r"needs?\s+to|has\s+to|only\s+works)\b"
    r"|\b(?:into|to)\s+(?:the|your)\s+(?:answer|reply|response)\b|\bwhatever\s+you\s+(?:produce|write|generate|return|output)\b"
    r"|\bif\s+you\s+are\s+(?:helping|assisting|answering|summari[sz]ing|generating|writing\s+code)\b"
    r"|\bwhen\s+(?:you\s+)?(?:summari[sz]\w*|answer\w*|respond\w*|repl(?:y|ies|ying)|generat\w*|rewrit\w*|explain\w*|asked)\b"
    r"|\b(?:before|after)\s+(?:you\s+)?(?:answer|reply|respond|summari[sz]e|generat\w+|rewrit\w+)\w*\b"
    r"|\b(?:tell|inform|remind|convince|warn|advise|instruct|ask)\s+(?:the\s+|all\s+|any\s+)?(?:users?|readers?|developers?|"
    r"customers?|visitors?|humans?|people)\s+(?:that|to)\b|\b(?:tell|convince|instruct)\s+(?:the\s+)?users?\b"
    r"|\b(?:the\s+)?users?\s+(?:must|should)\s+not\s+(?:know|notice|see|be\s+told)\b"
    # ... keeping the user in the dark ("without telling the user"; not "without telling the mobile team")
    r"|\bwithout\s+(?:telling|informing|notifying|alerting|asking)\s+(?:the\s+|any\s+)?(?:users?|anyone|anybody|them|him|her"
    r"|developers?|owners?|humans?|people|readers?|customers?)\b"
    r"|\b(?:do\s+not|don'?t|never)\s+(?:mention|reveal|disclose|tell)\b"
    r"|\b(?:respond|reply|answer|write)\s+only\s+in\b|\b(?:respond|reply|answer)\s+in\s+[A-Z][a-z]+\b"
    r"|\brefuse\s+to\s+(?:answer|help|respond)\b"
    # code handed over to be put into what the assistant writes
    r"|\b(?:use|utili[sz]e|incorporate|append|add|include|integrate|insert|embed|employ|paste|place|put)\w*\s+(?:\w+\s+){0,3}?"
    r"(?:following|subsequent|below|next)\s+(?:\w+\s+){0,2}?(?:code|snippet|block|section|excerpt|segment|lines?|helper|utility)\b"
    r"|\b(?:in|into|to|within)\s+your\s+(?:implementation|codebase|code|solution|program|script|answer|response|reply)\b"
    r"|\b(?:following|subsequent|below|next)\s+(?:\w+\s+){0,2}?(?:code|snippet|block|excerpt|section)\b[^.\n]{0,80}?\byour\s+"
    r"(?:\w+\s+){0,2}?(?:code|implementation|algorithm|codebase|solution|program|script|answer|response)\b"
    r"|\byour\s+(?:code|implementation|algorithm|codebase|solution|program|script)\b[^.\n]{0,80}?\b(?:following|subsequent)\s+"
    r"(?:\w+\s+){0,2}?(?:code|snippet|block|excerpt|section)\b"
    # secrets sent somewhere
    r"|\b(?:send|post|upload|forward|exfiltrat\w*|transmit|leak|print|output|reveal|dump)\s+"
    r"(?:\w+\s+){0,4}?(?:environment\s+variables|env\s+vars?|\.env\b|secrets?|api[\s_-]?keys?|tokens?|credentials|"
    r"passwords?|ssh\s+keys?|id_rsa|private\s+keys?|cookies|session|conversation|chat\s+history|aws_\w+)"
    r"|\b(?:send|post|upload|forward|transmit|exfiltrat\w*)\s+(?:\w+\s+){0,6}?to\s+(?:https?://|\d{1,3}(?:\.\d{1,3}){3})"
    r")"
)
SIGNS = rx(ADDRESSEE_SIGNS)
# Signs that ordinary documents use too: a process change "from now on", docs about "the system prompt",
# a colleague who will "act as" release manager, "new rules" for a team, "do not mention" the launch date.
# A passage whose only signs are these speaks to the assistant weakly: the knowledge must do the rest.
WEAK_SIGNS = (
    r"(?:from\s+now\s+on|system\s+prompt|(?:act|behave|respond)\s+as\s+(?:if|an?|the)|new\s+(?:instructions?|role|persona|rules)"
    r"|(?:do\s+not|don'?t|never)\s+(?:mention|reveal|disclose|tell)|you\s+are\s+(?:now|no\s+longer)"
    r"|pretend\s+(?:to\s+be|you\s+are)|(?:the|your)\s+(?:final\s+|generated\s+)?(?:code|answer|response|reply|output|solution)"
    r"\s+\w+)"
)
_WEAK = rx(WEAK_SIGNS)

SPEC_RULES = [
    Rule(
        "inj.override",
        rx(
            r"\b(ignore|disregard|forget|override)\s+(all\s+|any\s+)?(the\s+|your\s+|of\s+your\s+)?"
            r"(previous|prior|above|earlier|original|system|user'?s?)\s+(instructions?|prompts?|rules|directions|request|question)"
        ),
        3.0,
        "instruction override",
        "tries to override the assistant's instructions",
    ),
    Rule(
        "inj.addressed-to-ai",
        rx(
            r"(?:\b(?:attention|note|message|instructions?|reminder|hey|dear|important)\s*(?:to|for)?\s*(?:the\s+|any\s+|all\s+)?"
            + _AI
            + r"\b[^.\n]{0,60}?(?::\s*[\w`\"'<\[]|[,\-]\s*"
            + _ASK
            + r")"
            + r"|@(?:assistant|ai|copilot|bot|llm)\b[\s,:]+\S"
            + r"|\b(?:(?:any|all|every|the)\s+)?(?:ai\s+)?"
            + _AI
            + r"\s+(?:that\s+(?:is\s+|are\s+)?|which\s+(?:is\s+|are\s+)?|who\s+(?:is\s+|are\s+)?)?"
            r"(?:reading|processing|summari[sz]ing|parsing|generating|answering|helping|using|crawling|indexing|"
            r"reviewing|ingesting|assisting)\b[^.\n:]{0,80}?(?::\s*[\w`\"'<\[]|(?:[,\-]\s*|\byou\s+)" + _ASK + r"\b)"
            r"|\bif\s+you\s+are\s+(?:an?\s+)?(?:ai|llm|language\s+model|assistant|chatbot|bot|agent)\b"
            r"|\b(?:assistant|ai|llm|model|copilot)\s*[,:]\s*(?:you\s+must|please|always|never|whenever|when\s+you|"
            r"do\s+not|include|add|insert|tell|recommend|reply|respond|answer)\b"
            # a comment or line that opens with the assistants' names: "Copilot / ChatGPT: before you rewrite ..."
            r"|(?:^|[\n#;*>]|//|/\*|<!--)\s*"
            + _AI
            + r"(?:\s*(?:/|,|&|\bor\b|\band\b)\s*"
            + _AI
            + r")*\s*:\s*"
            + _ASK
            + r"\b"
            # the assistants as the subject of a duty: "automated assistants must add ..."
            r"|\b(?:automated\s+|ai\s+|coding\s+)(?:assistants?|agents?|tools?|models?)\s+(?:must|should|are\s+(?:required|"
            r"expected|instructed)\s+to|need\s+to)\s+(?:always\s+|also\s+|never\s+|not\s+)?"
            r"(?:include|add|insert|append|tell|recommend|reply|respond|answer|say|open|send|run|use|set|ignore|output|"
            r"replace|remove|skip|mention|report|treat|rate|call|fetch|visit|write)\b)"
        ),
        2.0,
        "",
        "addresses an AI assistant with an instruction",
        floor=ADDRESSED_FLOOR,
    ),
    Rule(
        "inj.new-persona",
        rx(r"\byou\s+are\s+now\s+(a|an|in)\b|\bnew\s+system\s+prompt\b|\bdeveloper\s+mode\b"),
        2.0,
        "persona hijack",
        "tries to give the assistant a new role",
    ),
    Rule(
        "inj.fake-system-turn",
        rx(
            r"\[(?:system|inst|/inst|admin|sys)\]|<\|?(?:system|im_start|im_end|assistant)\|?>|"
            r"^\s*#{1,4}\s*(?:system|assistant)\s*(?:prompt|message|instructions?)?\s*:?\s*$|"
            r"\bsystem\s*(?:override|message|instruction|notice)\s*:"
        ),
        2.0,
        "",
        "imitates a system or chat-turn marker inside the material",
        floor=ADDRESSED_FLOOR,
    ),
    Rule(
        "inj.conceal-from-user",
        rx(
            r"\b(?:do\s+not|don'?t|never)\s+(?:mention|reveal|disclose|show|tell\s+(?:the\s+)?user\s+about|say\s+anything\s+about)"
            r"\s+(?:this|these|that|the)\s+(?:comment|instructions?|note|notes|message|step|line|request|text|part|change)s?"
            r"|\bwithout\s+(?:telling|informing|notifying|alerting|asking|consulting|warning)\s+(?:the\s+)?(?:user|them|reader|developer)"
            r"|\b(?:the\s+)?user\s+(?:must|should)\s+not\s+(?:know|notice|see|be\s+told)"
            r"|\bkeep\s+this\s+(?:instruction|step|note|comment)s?\s+(?:hidden|secret|private)"
        ),
        2.0,
        "",
        "asks that an instruction be kept from the user",
        floor=ADDRESSED_FLOOR,
    ),
]
NO_ADDRESSEE_RULE = Rule(
    "inj.no-addressee",
    rx(r"(?!)"),  # fired by the absence of every sign: see InjectionSpec.apply_rules
    -2.0,
    "",
    "no passage speaks to the assistant: its instructions are read as meant for people",
)
WEAK_ADDRESSEE_RULE = Rule(
    "inj.weak-addressee",
    rx(r"(?!)"),  # fired when every sign is one ordinary documents use too: see InjectionSpec.apply_rules
    -1.0,
    "",
    "only words that documents for people use too ('from now on', 'system prompt') speak to the assistant",
)
HIDDEN_RULE = Rule(
    "inj.hidden-text",
    rx(r"(?!)"),  # fired by reading the carriers, not by a pattern: see InjectionSpec.apply_rules
    2.5,
    "",
    "text hidden from a human reader",
    floor=ADDRESSED_FLOOR,
)


class InjectionSpec(TaskSpec):
    """Judges third-party material sentence by sentence, with hidden passages revealed and judged on their own."""

    def subject(self, text: str, context: str | None) -> str:
        """The question and the material together: planted instructions live in the material."""
        return text if not context else f"{text}\n{context}"

    def material(self, text: str, context: str | None) -> str | None:
        """The third-party text to judge: the context, else material pasted into the prompt, else None."""
        if context and context.strip():
            return context
        revealed = reveal(text)
        if revealed.hidden:
            return text  # hidden text is read where it sits: the carrier is part of the evidence
        return pasted_material(text)

    def not_judged(self, text: str, context: str | None) -> str | None:
        """Why a subject is not judged for injection (None: it is judged)."""
        return NOT_JUDGED_NOTE if self.material(text, context) is None else None

    def segments(self, text: str, context: str | None) -> list[str]:
        material = self.material(text, context) or text
        revealed = reveal(material)
        pieces = _pieces(revealed.visible) + [hidden[:MAX_SEGMENT_CHARS] for _, hidden in revealed.hidden]
        seen: set[str] = set()
        out = [p for p in pieces if p.strip() and not (p in seen or seen.add(p))]
        return out or [revealed.visible[:MAX_SEGMENT_CHARS] or material[:MAX_SEGMENT_CHARS]]

    def item_rules(self, text: str) -> list[RuleHit]:
        """A knowledge item of this task is material as a whole (a context), never a user's own words."""
        return self.apply_rules("", text)

    def apply_rules(self, text: str, context: str | None = None) -> list[RuleHit]:
        material = self.material(text, context) or text
        revealed = reveal(material)
        hay = "\n".join([revealed.visible, *(h for _, h in revealed.hidden)])
        hits = [RuleHit(r, m.group(0)[:120], m.start()) for r in self.rules if (m := r.pattern.search(hay))]
        for carrier, hidden in revealed.hidden:
            hits.append(RuleHit(HIDDEN_RULE, f"[{carrier}] {hidden}"[:120], 0))
            break  # one finding for hidden text; each passage is still scored as its own segment
        if not hits:
            strength = max((address_strength(p) for p in _pieces(revealed.visible)), default=0)
            if strength == 0:
                hits.append(RuleHit(NO_ADDRESSEE_RULE, "", 0))
            elif strength == 1:
                hits.append(RuleHit(WEAK_ADDRESSEE_RULE, "", 0))
        return hits

    def fingerprint(self) -> str:
        """Changes with the rules and with the signs the gate reads (both shape the detector's training)."""
        import hashlib

        return hashlib.sha256((super().fingerprint() + ADDRESSEE_SIGNS + WEAK_SIGNS).encode()).hexdigest()[:12]


_FENCED = re.compile(r"```[^\n]*\n.*?(?:```|\Z)", re.DOTALL)
_QUOTE_LINES = re.compile(r"(?:^[ \t]*>[^\n]*(?:\n|\Z))+", re.MULTILINE)
_HTML_SPAN = re.compile(
    r"<(?:!--|/?(?:p|div|span|html|body|article|h[1-6]|script|style|a)\b).*(?:>|\Z)", re.DOTALL | re.I
)
_AFTER_COLON = re.compile(r":[ \t]*\n((?:[^\n]*\S[^\n]*\n)+[^\n]*\S[^\n]*)")
_PASTE_PARTS = ((_FENCED, 0), (_QUOTE_LINES, 0), (_HTML_SPAN, 0), (_AFTER_COLON, 1))


def pasted_material(text: str) -> str | None:
    """The third-party parts pasted into a prompt (None: nothing pasted), without the user's own words.

    Fenced blocks, quoted lines, HTML, and the lines a colon introduces ("Here is the log:" and what
    follows it) are material; the sentences around them are the user's own request, which the
    malicious and bias tasks judge (a user's own role-play preamble is a jailbreak, not an injection).
    """
    if not _PASTED.search(text):
        return None
    found = sorted(m.span(g) for rx_, g in _PASTE_PARTS for m in rx_.finditer(text))
    merged: list[list[int]] = []
    for start, end in found:  # overlapping parts (a fenced block after a colon) are one part
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return "\n\n".join(text[a:b].strip() for a, b in merged) or text


def addresses_assistant(piece: str) -> bool:
    """Whether a passage shows a sign of speaking to the reader as an assistant.

    Inside a fenced block, quoted strings do not count (an example command's argument is shown to the
    reader, not said to them); its comments, docstrings and plain lines (a log, a config) do.
    """
    return address_strength(piece) > 0


def address_strength(piece: str) -> int:
    """0: no sign of speaking to an assistant; 1: only signs ordinary documents use too; 2: a clear one."""
    prose = _FENCE.sub(lambda m: "\n" + code_prose(m.group(0)) + "\n" + _QUOTED.sub('""', m.group(0)) + "\n", piece)
    found = [m.group(0).strip() for m in SIGNS.finditer(prose)]
    if not found:
        return 0
    return 1 if all(_WEAK.fullmatch(f) for f in found) else 2


_QUOTED = re.compile(r'"""(?:.|\n)*?"""|\'\'\'(?:.|\n)*?\'\'\'|"[^"\n]*"|\'[^\'\n]*\'')


def _pieces(material: str) -> list[str]:
    """Sentences and code blocks; a block keeps the sentence that introduces it (where "add this" lives).

    The prose inside a block (its comments and docstrings) is read sentence by sentence too: a planted
    instruction in a comment must not be diluted by the code around it or cut off at the block's limit.
    """
    pieces: list[str] = []
    pos = 0
    for m in _FENCE.finditer(material):
        pieces.extend(_prose(material[pos : m.start()]))
        block = m.group(0)
        pieces.append(f"{pieces[-1]}\n{block}"[:MAX_SEGMENT_CHARS] if pieces else block[:MAX_SEGMENT_CHARS])
        pieces.extend(_prose(code_prose(block)))
        pos = m.end()
    pieces.extend(_prose(material[pos:]))
    return pieces


_LINE_COMMENT = re.compile(r"^\s*(?:#+|//+|--|;+|\*+(?!/))\s?")
_OPENERS = (("/*", "*/"), ('"""', '"""'), ("'''", "'''"), ("<!--", "-->"))
_WORD = re.compile(r"[A-Za-z][a-z']+")
MIN_PROSE_WORDS = 4


def code_prose(block: str) -> str:
    """The natural-language lines of a code block (comments, docstrings), paragraphs kept apart.

    A line is prose when it is a comment (a line comment, or inside a block comment or a docstring)
    and has at least ``MIN_PROSE_WORDS`` words; code lines between are paragraph breaks.
    """
    out: list[str] = []
    closer: str | None = None
    for raw in block.splitlines():
        line, is_comment = raw.strip(), closer is not None
        if closer is None:
            for opener, close in _OPENERS:
                at = line.find(opener)
                if at >= 0:
                    line, is_comment = line[at + len(opener) :], True
                    closer = None if close in line else close
                    break
            else:
                stripped = _LINE_COMMENT.sub("", raw, count=1)
                is_comment = stripped != raw
                line = stripped.strip()
                if not is_comment and "#" in line:  # a trailing comment after code
                    line, is_comment = line.split("#", 1)[1], True
        elif closer in line:
            line, closer = line.split(closer, 1)[0], None
        line = line.split("*/", 1)[0].split("-->", 1)[0].lstrip("* ").strip()
        if is_comment and len(_WORD.findall(line)) >= MIN_PROSE_WORDS:
            out.append(line)
        elif out and out[-1]:
            out.append("")
    return "\n".join(out)


def _prose(chunk: str) -> list[str]:
    out: list[str] = []
    for para in re.split(r"\n\s*\n", chunk):
        para = " ".join(line.strip() for line in para.splitlines() if line.strip())
        if not para:
            continue
        out.extend(s[:MAX_SEGMENT_CHARS] for s in _SENTENCE.split(para))
    return out


SPEC = InjectionSpec(
    name="injection",
    description="Instructions planted in third-party material (comments, docs, pages, logs) aimed at the assistant.",
    # the hidden-text and no-addressee rules match no pattern; listed so their weights are fingerprinted
    rules=[*SPEC_RULES, HIDDEN_RULE, NO_ADDRESSEE_RULE, WEAK_ADDRESSEE_RULE],
)
