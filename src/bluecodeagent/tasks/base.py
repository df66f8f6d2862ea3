"""What every prompt task defines: how a subject is cut into pieces to embed, and exact rules.

Rules are for patterns that are unambiguous on their own (they add evidence; they never hide a
subject from the learned detector). Cues name the features a constitution principle can be
checked against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bluecodeagent.tasks.escapes import ESCAPED, blank_escapes
from bluecodeagent.tasks.windows import sentence_around

# The user's words hand the request over to the material: "implement the spec below", "do what it says".
DEFERS_TO_CONTEXT = re.compile(
    r"\b(implement|build|write|code|create|make|do|follow|carry\s+out|complete|finish|fulfil+)\s+(\w+\s+){0,3}?"
    r"(what|everything|all)\s+(\w+\s+){0,3}?(says?|describes?|asks?|lists?|wants?|requests?|specif\w+)\b"
    r"|\b(as|what(ever)?|everything)\s+(\w+\s+){0,2}(described|specified|requested|asked\s+for|listed|written)\s+"
    r"(below|above|there|in\s+(the|this|that|it))\b"
    r"|\b(implement|build|write|code|create|make|follow|complete)\s+(the|this|that|these)\s+"
    r"(\w+\s+)?(spec\w*|ticket|issue|task|request|requirements?|instructions?|steps|description|design|brief|story)\b"
    # Rewriting code produces that code again: "port this script to Go", "rewrite it in Rust", "optimize this".
    r"|\b(translate|port|convert|rewrite|refactor|complete|finish|extend|optimi[sz]e|speed\s+up|clean\s+up|tidy\s+up"
    r"|moderni[sz]e|paralleli[sz]e)\s+(\w+\s+){0,2}?(this|the|that|these|my|our|attached|following|below)\s+"
    r"(\w+\s+){0,2}?(code|script|program|function|module|snippet|class|implementation|source)s?\b"
    r"|\b(translate|port|convert|rewrite)\s+(it|this|that|the\s+attached)\s+(\w+\s+)?(to|into|in)\s+"
    r"(python|go|golang|rust|c\+\+|c#|java|javascript|typescript|kotlin|swift|ruby|php|powershell|bash|perl|lua|scala|node)\b"
    r"|\b(make|get)\s+(this|it|the\s+(code|script|program))\s+(\w+\s+)?(faster|async|asynchronous|parallel|concurrent)\b"
    r"|\b(optimi[sz]e|refactor|speed\s+up)\s+(this|it|the\s+attached)\s*([.?!]|$)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Rule:
    """An exact pattern with the evidence it adds (a logit bonus) and the category it implies."""

    id: str
    pattern: re.Pattern[str]
    weight: float
    category: str = ""
    message: str = ""
    floor: float = 0.0  # the least score a subject gets when this rule fires (0: evidence only)
    unless: re.Pattern[str] | None = None  # a match in the same sentence takes the hit back


@dataclass(frozen=True)
class RuleHit:
    rule: Rule
    match: str
    start: int


@dataclass
class TaskSpec:
    """A prompt task: its labels, exact rules and how to pick the text to embed."""

    name: str
    description: str
    rules: list[Rule] = field(default_factory=list)
    unsafe_label: str = "unsafe"
    request: re.Pattern[str] | None = None  # what a piece that asks for something mentions (None: every piece)
    # Whether each request sentence of a long subject is also read alone (``windows.requests``): for tasks
    # about what the user asks for; injection reads third-party material, where nothing is a request.
    reads_requests_alone: bool = False

    def subject(self, text: str, context: str | None) -> str:
        """What this task judges: the user's words, plus the context when the words hand the request to it.

        A context is material the assistant reads (a README, a log, a web page). Whether it carries
        planted instructions is the injection task's question; a request for malware or for unfair
        code is the user's. Only when the user asks to carry out what the material describes
        ("implement the ticket below") is the material part of the request.
        """
        if not context:
            return text
        return f"{text}\n{context}" if DEFERS_TO_CONTEXT.search(text) else text

    def segments(self, text: str, context: str | None) -> list[str]:
        """The pieces of the subject to embed and score (the maximum-risk piece decides).

        A subject the model reads whole (up to ``WHOLE_CHARS``) is one piece; a longer one is read in
        overlapping windows of whole sentences (the embedder would otherwise see only its first 256
        word pieces). A subject that lists several steps also has each step as a piece of its own.
        """
        from bluecodeagent.tasks.windows import WHOLE_CHARS, steps, windows

        whole = self.subject(text, context)
        pieces = [whole] if len(whole) <= WHOLE_CHARS else windows(whole)
        return list(dict.fromkeys([*pieces, *steps(whole)])) or [whole]

    def requests_alone(self, text: str, context: str | None) -> list[str]:
        """The subject's request sentences to be read alone (none unless the task reads them)."""
        from bluecodeagent.tasks.windows import requests

        return requests(self.subject(text, context)) if self.reads_requests_alone else []

    def asks(self, piece: str) -> bool:
        """Whether ``piece`` asks for something this task judges (every piece does, unless ``request`` says)."""
        return self.request is None or self.request.search(piece) is not None

    def fingerprint(self) -> str:
        """Changes whenever a rule changes, so detectors trained with the old rules are retrained."""
        import hashlib

        text = ESCAPED.pattern + "|".join(
            f"{r.id}:{r.pattern.pattern}:{r.weight}" + (f":{r.unless.pattern}" if r.unless is not None else "")
            for r in self.rules
        )
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def item_rules(self, text: str) -> list[RuleHit]:
        """The rules that fire on a knowledge item of this task (an item is read as a whole subject)."""
        return self.apply_rules(text)

    def apply_rules(self, text: str, context: str | None = None) -> list[RuleHit]:
        hay = self.subject(text, context)
        hits = []
        for rule in self.rules:
            for m in rule.pattern.finditer(hay):
                # A defence the request escapes ("avoids being detected") is no defensive context.
                if rule.unless is not None and rule.unless.search(
                    blank_escapes(sentence_around(hay, m.start(), m.end()))
                ):
                    continue
                hits.append(RuleHit(rule, m.group(0)[:120], m.start()))
                break
        return hits


def rx(pattern: str) -> re.Pattern[str]:
    """Compile a case-insensitive, verbose-free pattern."""
    return re.compile(pattern, re.IGNORECASE | re.DOTALL)
