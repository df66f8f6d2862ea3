"""Policy-based generation of built-in knowledge (offline, deterministic for a seed).

Policies, vocabularies and templates live in ``knowledge/policies/<task>.toml``. A template has
an ``unsafe`` and/or ``safe`` text with ``${slot}`` placeholders; both sides of a template are
rendered from the same slot choices, so the safe item is the unsafe item's matched counterpart
(same domain, same form) without the element that makes it unsafe.

Slot syntax: ``${name}`` picks one value from the first list called ``name`` in the policy, the
frame, then ``[vocab]`` (values may contain slots themselves). A name picked once keeps its value
within one draw; ``safe_x`` takes the same index as ``x`` when both lists have equal length, which
pairs unsafe and safe vocabulary; ``other_x`` picks a value of ``x`` different from ``${x}``.
A template's ``policies`` and a policy's ``templates`` (glob patterns) restrict which pairs render.
Operators: ``${name|cap}`` (capitalise), ``${name|list}``
(2-4 distinct values joined in prose; remembered per name), ``${name|list+other}`` (the same
sample with one ``other`` value inserted), ``${name|steps}`` (3-5 values in order, numbered),
``${name|bullets}`` (the same as bullet points) and ``${name|ident}`` (a snake_case identifier).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.knowledge.policies import load_policies
from bluecodeagent.redteam.paraphrase import paraphrase

PROMPT_TASKS: tuple[str, ...] = ("bias", "malicious", "injection")
GENERATOR = "policy-template"
BENIGN_CATEGORY = "benign-coding"

_SLOT = re.compile(r"\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?:\|([a-z]+)(?:\+([a-zA-Z_][a-zA-Z0-9_]*))?)?\}")
_MAX_DEPTH = 6


class TemplateError(ValueError):
    """A template refers to an unknown slot or operator."""


class _Draw:
    """Slot choices for one draw (shared by the unsafe and the safe rendering)."""

    def __init__(self, rng: random.Random, scopes: Sequence[Mapping[str, Any]]) -> None:
        self.rng = rng
        self.scopes = scopes
        self.index: dict[str, int] = {}
        self.values: dict[str, str] = {}
        self.samples: dict[str, list[str]] = {}

    def _list(self, name: str) -> list[str]:
        for scope in self.scopes:
            val = scope.get(name)
            if isinstance(val, list):
                return [str(v) for v in val]
            if isinstance(val, str):
                return [val]
        raise TemplateError(f"unknown slot {name!r}")

    def pick(self, name: str) -> str:
        if name in self.values:
            return self.values[name]
        if name.startswith("other_"):
            return self._pick_other(name)
        options = self._list(name)
        i = None
        if name.startswith("safe_") and name[5:] in self.index:
            j = self.index[name[5:]]
            if len(self._list(name[5:])) == len(options):
                i = j
        elif "safe_" + name in self.index:
            j = self.index["safe_" + name]
            if len(self._list("safe_" + name)) == len(options):
                i = j
        if i is None:
            i = self.rng.randrange(len(options))
        self.index[name] = i
        self.values[name] = self.expand(options[i])
        return self.values[name]

    def _pick_other(self, name: str) -> str:
        base = name[6:]
        first = self.pick(base)
        options = [o for o in self._list(base) if self.expand(o) != first] or self._list(base)
        self.values[name] = self.expand(options[self.rng.randrange(len(options))])
        return self.values[name]

    def sample(self, name: str, lo: int, hi: int, ordered: bool) -> list[str]:
        key = f"{name}|{lo}|{hi}"
        if key not in self.samples:
            options = self._list(name)
            k = min(len(options), self.rng.randint(lo, hi))
            idx = (
                sorted(self.rng.sample(range(len(options)), k)) if ordered else self.rng.sample(range(len(options)), k)
            )
            self.samples[key] = [self.expand(options[i]) for i in idx]
        return self.samples[key]

    def expand(self, text: str, depth: int = 0) -> str:
        if depth > _MAX_DEPTH:
            raise TemplateError(f"slot recursion too deep in {text[:60]!r}")

        def repl(m: re.Match[str]) -> str:
            name, op, extra = m.group(1), m.group(2), m.group(3)
            if op is None:
                return self.pick(name)
            if op == "cap":
                v = self.pick(name)
                return v[:1].upper() + v[1:]
            if op == "ident":
                return re.sub(r"[^a-z0-9]+", "_", self.pick(name).lower()).strip("_")
            if op == "list":
                vals = list(self.sample(name, 2, 4, ordered=False))
                if extra:
                    vals.insert(self.rng.randint(0, len(vals)), self.pick(extra))
                return _prose_list(vals, self.rng)
            if op in ("steps", "bullets"):
                vals = self.sample(name, 3, 5, ordered=True)
                if op == "steps":
                    return "\n".join(f"    {n}. {v}" for n, v in enumerate(vals, 1))
                return "\n".join(f"- {v}" for v in vals)
            raise TemplateError(f"unknown operator {op!r} in slot {name!r}")

        out = _SLOT.sub(repl, text)
        return self.expand(out, depth + 1) if _SLOT.search(out) else out


def _prose_list(vals: list[str], rng: random.Random) -> str:
    if len(vals) == 1:
        return vals[0]
    return ", ".join(vals[:-1]) + rng.choice((", and ", " and ", ", ")) + vals[-1]


def _frames_for(template: Mapping[str, Any], frames: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    wanted = template.get("frames")
    if not frames:
        return [{}]
    if not wanted:
        return list(frames)
    return [f for f in frames if f.get("id") in wanted]


def _policies_for(template: Mapping[str, Any], policies: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    wanted = template.get("policies")
    skip = set(template.get("skip_policies", ()))
    out = [p for p in policies if (not wanted or any(fnmatch(p["id"], w) for w in wanted)) and p["id"] not in skip]
    # A policy may name the templates it renders with (glob patterns), e.g. only its own family's.
    return [p for p in out if not p.get("templates") or any(fnmatch(template["id"], g) for g in p["templates"])]


def generate_items(
    task: str, *, seed: int = 0, policy_file: Path | None = None, doc: Mapping[str, Any] | None = None
) -> list[KnowledgeItem]:
    """Generate the knowledge items one policy file describes, deterministically for ``seed``.

    ``task="benign"`` yields the generic coding pool once per prompt task (``task`` set to that
    prompt task, label ``safe``, category ``benign-coding``), since every item needs a real task.
    """
    doc_task, raws = _generate_raw(task, seed=seed, policy_file=policy_file, doc=doc)
    if doc_task in PROMPT_TASKS:
        return [KnowledgeItem(task=doc_task, **raw) for raw in raws]
    return [
        KnowledgeItem(task=t, **{**raw, "category": BENIGN_CATEGORY, "label": "safe"})
        for t in PROMPT_TASKS
        for raw in raws
    ]


def _generate_raw(
    task: str, *, seed: int, policy_file: Path | None, doc: Mapping[str, Any] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Render every template of a policy file (or an already loaded ``doc``); returns its task and item fields."""
    if doc is None:
        doc = load_policies(task, policy_file)
    meta = doc.get("meta", {})
    doc_task = str(meta.get("task", task))
    vocab = doc.get("vocab", {})
    policies = doc.get("policy", [])
    frames = doc.get("frame", [])
    templates = doc.get("template", [])
    if not policies or not templates:
        raise TemplateError(f"policy file for {task!r} needs [[policy]] and [[template]] entries")
    default_para = bool(meta.get("paraphrase", True))

    raws: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for tpl in templates:
        tid = tpl["id"]
        count = int(tpl.get("count", 10))
        use_para = bool(tpl.get("paraphrase", default_para))
        for pol in _policies_for(tpl, policies):
            frames_here = _frames_for(tpl, frames)
            made = 0
            for attempt in range(max(count * 4, 20)):
                if made >= count:
                    break
                rng = random.Random(f"{seed}:{doc_task}:{pol['id']}:{tid}:{attempt}")
                frame = frames_here[rng.randrange(len(frames_here))]
                draw = _Draw(rng, (pol, frame, vocab))
                unsafe = _render(draw, tpl.get("unsafe"))
                safe = _render(draw, tpl.get("safe"))
                if use_para:
                    para_seed = rng.random()
                    unsafe = paraphrase(unsafe, random.Random(para_seed)) if unsafe else unsafe
                    safe = paraphrase(safe, random.Random(para_seed)) if safe else safe
                if unsafe and safe and unsafe == safe:
                    raise TemplateError(f"template {tid!r} renders identical unsafe and safe text")
                category = tpl.get("category") or pol.get("category") or pol["id"]
                prov: dict[str, Any] = {"generator": GENERATOR, "policy": pol["id"], "template": tid, "seed": seed}
                if frame.get("id"):
                    prov["frame"] = frame["id"]
                new = False
                for label, text, other in (("unsafe", unsafe, safe), ("safe", safe, unsafe)):
                    if not text or (label, text) in seen:
                        continue
                    seen.add((label, text))
                    new = True
                    raws.append(
                        {
                            "label": label,
                            "category": tpl.get(f"{label}_category") or category,
                            "text": text,
                            "counterpart": other or None,
                            "policy": pol["id"],
                            "principle": pol.get("principle", ""),
                            "provenance": dict(prov),
                            "batch": "builtin",
                        }
                    )
                made += int(new)
    # A text may not carry both labels: drop any such collision from the safe side.
    unsafe_texts = {r["text"] for r in raws if r["label"] == "unsafe"}
    return doc_task, [r for r in raws if not (r["label"] == "safe" and r["text"] in unsafe_texts)]


def _render(draw: _Draw, text: str | None) -> str:
    if not text:
        return ""
    return draw.expand(text).strip()


def builtin_items(tasks: Iterable[str] | None = None, *, seed: int = 0) -> list[KnowledgeItem]:
    """All built-in knowledge: generated items for each prompt task plus the benign pool.

    The benign coding pool is emitted once per task (``task`` set to that prompt task, label
    ``safe``, category ``benign-coding``), so each task's knowledge has ordinary negatives.
    """
    wanted = list(tasks) if tasks is not None else list(PROMPT_TASKS)
    unknown = [t for t in wanted if t not in PROMPT_TASKS]
    if unknown:
        raise ValueError(f"unknown prompt task(s): {', '.join(unknown)}")
    _, benign = _generate_raw("benign", seed=seed, policy_file=None)
    out: list[KnowledgeItem] = []
    for task in wanted:
        task_items = generate_items(task, seed=seed)
        texts = {it.text for it in task_items}
        out.extend(task_items)
        out.extend(
            KnowledgeItem(task=task, **{**raw, "category": BENIGN_CATEGORY, "label": "safe"})
            for raw in benign
            if raw["text"] not in texts
        )
    return out
