"""Prompt injection: text in the material an assistant reads that tries to change what it does."""

from __future__ import annotations

import re

from bluecodeagent.tasks.base import Rule, TaskSpec, rx

MAX_SEGMENT_CHARS = 600
_FENCE = re.compile(r"```.*?(```|$)", re.DOTALL)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'`(])")


class InjectionSpec(TaskSpec):
    """Cuts the context into sentences and code blocks, so one injected line cannot hide in a long page."""

    def segments(self, text: str, context: str | None) -> list[str]:
        material = context if context else text
        pieces: list[str] = []
        pos = 0
        for m in _FENCE.finditer(material):
            pieces.extend(_prose(material[pos : m.start()]))
            block = m.group(0)
            # Keep a code block with the sentence that introduces it: that is where injected
            # "include the following snippet" instructions live.
            pieces.append(f"{pieces[-1]}\n{block}"[:MAX_SEGMENT_CHARS] if pieces else block[:MAX_SEGMENT_CHARS])
            pos = m.end()
        pieces.extend(_prose(material[pos:]))
        seen: set[str] = set()
        out = [p for p in pieces if p.strip() and not (p in seen or seen.add(p))]
        return out or [material[:MAX_SEGMENT_CHARS]]


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
    description="Instructions hidden in context (comments, docs, issues, web pages) that redirect the assistant.",
    rules=[
        Rule(
            "inj.override",
            rx(
                r"\b(ignore|disregard|forget|override)\s+(all\s+|any\s+)?(the\s+|your\s+)?"
                r"(previous|prior|above|earlier|original|system)\s+(instructions?|prompts?|rules|directions)"
            ),
            3.0,
            "instruction-override",
            "tries to override the assistant's instructions",
        ),
        Rule(
            "inj.addressed-to-ai",
            rx(
                r"\b(attention|note\s+to|hey|dear)?\s*(ai|llm|language\s+model|assistant|chatgpt|copilot)"
                r"\s*[:,]\s*(you\s+must|please|always|now|do\s+not|include|add|insert)"
            ),
            2.0,
            "persona-hijack",
            "addresses the AI assistant directly",
        ),
        Rule(
            "inj.new-persona",
            rx(r"\byou\s+are\s+now\s+(a|an|in)\b|\bnew\s+system\s+prompt\b|\bdeveloper\s+mode\b"),
            2.0,
            "persona-hijack",
            "tries to give the assistant a new role",
        ),
    ],
)
