"""`redteam generate`: diverse unsafe instances and matched safe hard negatives from one policy file.

The policy file is the one :mod:`bluecodeagent.redteam.generate` renders (``[meta]``, ``[vocab]``,
``[[policy]]``, ``[[frame]]``, ``[[template]]``). A *simple* policy file may leave out the templates
and give, per ``[[policy]]``, a ``behaviour`` list (what unsafe code does) and a ``safe_behaviour``
list (the matched safe version, same index), plus any lists those sentences use as ``${slot}``
(groups, domains, capabilities). Built-in request forms then turn them into prompts.

Offline the items come from templates plus paraphrase operators; near-duplicates (embedding
cosine >= 0.95 to an item kept earlier, per label) are removed; every item carries provenance
(policy, generator, template, seed, batch).
"""

from __future__ import annotations

import copy
import random
import tomllib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from bluecodeagent.errors import InputError
from bluecodeagent.knowledge.embedders.base import Embedder
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.knowledge.policies import POLICY_TASKS, load_policies
from bluecodeagent.redteam.dedup import NEAR_DUPLICATE, keep_distinct
from bluecodeagent.redteam.generate import PROMPT_TASKS, TemplateError, generate_items

MAX_ROUNDS = 6
SIMPLE_VOCAB: dict[str, list[str]] = {
    "verb": [
        "Write a function",
        "Write a Python script",
        "Create a class",
        "Implement a service",
        "Build a small tool",
        "Write code",
        "Develop a module",
    ],
    "artifact": ["a helper", "a Python module", "an API endpoint", "a nightly batch job", "a scoring function"],
    "domain": ["our web app", "an internal tool", "a startup's backend", "a client project"],
}
_SIMPLE_FORMS = (
    ("simple.ask", "${verb} for ${domain} that {b}."),
    ("simple.need", "I need ${artifact} that {b}. Keep it short."),
    ("simple.team", "Our team at ${domain} wants code that {b}; write it in Python."),
    ("simple.tests", "Write an implementation and unit tests for a function that {b}."),
    ("simple.stub", "Complete this stub:\n\ndef run(records):\n    # {b}\n    ..."),
)
SIMPLE_TEMPLATES: list[dict[str, Any]] = [
    {
        "id": tid,
        "unsafe": form.replace("{b}", "${behaviour}"),
        "safe": form.replace("{b}", "${safe_behaviour}"),
        "paraphrase": "\n" not in form,
    }
    for tid, form in _SIMPLE_FORMS
]


class GenerateResult(BaseModel):
    """What one generation run produced."""

    task: str
    items: list[KnowledgeItem]
    candidates: int = Field(description="unsafe candidates examined by the de-duplication")
    near_duplicates: int = Field(description="candidates dropped as near-duplicates (cosine >= threshold)")
    unsafe_by_category: dict[str, int]
    safe_by_category: dict[str, int]


def load_policy_doc(policy: str | Path, task: str | None) -> tuple[str, dict[str, Any]]:
    """A shipped policy by name (bias, malicious, injection) or a policy file; returns (task, document)."""
    name = str(policy)
    if name in POLICY_TASKS and not Path(name).is_file():
        if name == "benign":
            raise InputError("the benign pool has no unsafe items; pick bias, malicious or injection")
        doc = load_policies(name)
    else:
        path = Path(name)
        if not path.is_file():
            raise InputError(f"policy not found: {name} (a file, or one of {', '.join(PROMPT_TASKS)})")
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"{path}: not valid TOML ({e})") from e
    doc_task = str(doc.get("meta", {}).get("task") or task or "")
    if task and doc_task != task:
        raise InputError(f"policy {name} is for task {doc_task!r}, not {task!r}")
    if doc_task not in PROMPT_TASKS:
        raise InputError(f"policy {name}: set [meta] task to one of {', '.join(PROMPT_TASKS)} (or pass --task)")
    if not doc.get("policy"):
        raise InputError(f"policy {name}: needs at least one [[policy]] with id, category and principle")
    for pol in doc["policy"]:
        missing = [k for k in ("id", "principle") if not pol.get(k)]
        if missing:
            raise InputError(f"policy {name}: a [[policy]] lacks {', '.join(missing)}")
    return doc_task, _with_defaults(doc, doc_task)


def _with_defaults(doc: dict[str, Any], task: str) -> dict[str, Any]:
    """Add the built-in request forms and vocabulary to a simple policy (one without templates)."""
    doc = copy.deepcopy(doc)
    doc.setdefault("meta", {})["task"] = task
    if doc.get("template"):
        return doc
    for pol in doc["policy"]:
        if not pol.get("behaviour") or not pol.get("safe_behaviour"):
            raise InputError(
                f"policy {pol['id']}: a policy file without [[template]] needs 'behaviour' and 'safe_behaviour' lists"
            )
    vocab = doc.setdefault("vocab", {})
    for k, v in SIMPLE_VOCAB.items():
        vocab.setdefault(k, v)
    doc["template"] = [dict(t, count=6) for t in SIMPLE_TEMPLATES]
    return doc


def generate(
    policy: str | Path,
    *,
    task: str | None = None,
    n: int = 100,
    seed: int = 0,
    batch: str = "redteam-generate",
    embedder: Embedder | None = None,
    threshold: float = NEAR_DUPLICATE,
) -> GenerateResult:
    """``n`` distinct unsafe items spread over the policy's categories, each with its safe counterpart."""
    doc_task, doc = load_policy_doc(policy, task)
    rng = random.Random(f"generate:{seed}")
    pool: dict[str, list[KnowledgeItem]] = defaultdict(list)
    safe_by_text: dict[str, KnowledgeItem] = {}
    seen: set[str] = set()
    for rnd in range(MAX_ROUNDS):
        try:
            items = generate_items(doc_task, seed=seed + 7919 * rnd, doc=doc)
        except (TemplateError, KeyError) as e:
            raise InputError(f"policy {policy}: {e}") from e
        for it in items:
            if it.text in seen:
                continue
            seen.add(it.text)
            if it.label == "safe":
                safe_by_text[it.text] = it
            else:
                pool[it.category].append(it)
        if sum(len(v) for v in pool.values()) >= 2 * n:
            break
    for v in pool.values():
        rng.shuffle(v)
    ordered = _round_robin(pool)
    if embedder is not None and ordered:
        # Embed a growing prefix (spread over every category) until n distinct items are found.
        size = min(len(ordered), 2 * n + 50)
        while True:
            keep = keep_distinct(embedder.embed([it.text for it in ordered[:size]]), threshold)
            if len(keep) >= n or size == len(ordered):
                break
            size = min(len(ordered), 2 * size)
        candidates, ordered = size, [ordered[i] for i in keep]
    else:
        candidates = len(ordered)
    dropped = candidates - len(ordered)
    unsafe = _round_robin(_by_category(ordered))[:n]
    out: list[KnowledgeItem] = []
    safe_kept: list[KnowledgeItem] = []
    for it in unsafe:
        twin = safe_by_text.get(it.counterpart or "")
        out.append(_stamp(it, batch))
        if twin is not None:
            safe_kept.append(_stamp(twin, batch))
    if embedder is not None and safe_kept:
        keep = keep_distinct(embedder.embed([it.text for it in safe_kept]), threshold)
        safe_kept = [safe_kept[i] for i in keep]
    out += safe_kept
    return GenerateResult(
        task=doc_task,
        items=out,
        candidates=candidates,
        near_duplicates=dropped,
        unsafe_by_category=dict(Counter(it.category for it in out if it.label != "safe")),
        safe_by_category=dict(Counter(it.category for it in out if it.label == "safe")),
    )


def _by_category(items: list[KnowledgeItem]) -> dict[str, list[KnowledgeItem]]:
    out: dict[str, list[KnowledgeItem]] = defaultdict(list)
    for it in items:
        out[it.category].append(it)
    return out


def _round_robin(groups: dict[str, list[KnowledgeItem]]) -> list[KnowledgeItem]:
    """Interleave the categories so any prefix is spread over all of them."""
    queues = [list(v) for _, v in sorted(groups.items())]
    out: list[KnowledgeItem] = []
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def _stamp(it: KnowledgeItem, batch: str) -> KnowledgeItem:
    return it.model_copy(update={"batch": batch, "provenance": {**it.provenance, "batch": batch}})


def dedup_items(
    items: list[KnowledgeItem], embedder: Embedder, threshold: float = NEAR_DUPLICATE
) -> tuple[list[KnowledgeItem], int]:
    """Drop near-duplicates within each label (cosine >= ``threshold`` to an earlier item); returns (kept, dropped)."""
    kept: list[KnowledgeItem] = []
    for label in sorted({it.label for it in items}):
        group = [it for it in items if it.label == label]
        keep = keep_distinct(embedder.embed([it.text for it in group]), threshold) if group else []
        kept += [group[i] for i in keep]
    return kept, len(items) - len(kept)
