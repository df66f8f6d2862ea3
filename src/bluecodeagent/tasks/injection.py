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
    r"code\s+generators?|autocomplete)"
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
            r"|\bwithout\s+(?:telling|informing|notifying|alerting)\s+(?:the\s+)?(?:user|them|reader|developer)"
            r"|\b(?:the\s+)?user\s+(?:must|should)\s+not\s+(?:know|notice|see|be\s+told)"
            r"|\bkeep\s+this\s+(?:instruction|step|note|comment)s?\s+(?:hidden|secret|private)"
        ),
        2.0,
        "",
        "asks that an instruction be kept from the user",
        floor=ADDRESSED_FLOOR,
    ),
]
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
        if revealed.hidden or _PASTED.search(text):
            return text
        return None

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

    def apply_rules(self, text: str, context: str | None = None) -> list[RuleHit]:
        material = self.material(text, context) or text
        revealed = reveal(material)
        hay = "\n".join([revealed.visible, *(h for _, h in revealed.hidden)])
        hits = [RuleHit(r, m.group(0)[:120], m.start()) for r in self.rules if (m := r.pattern.search(hay))]
        for carrier, hidden in revealed.hidden:
            hits.append(RuleHit(HIDDEN_RULE, f"[{carrier}] {hidden}"[:120], 0))
            break  # one finding for hidden text; each passage is still scored as its own segment
        return hits


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
    rules=[*SPEC_RULES, HIDDEN_RULE],  # the hidden-text rule matches no pattern; listed so its weight is fingerprinted
)
