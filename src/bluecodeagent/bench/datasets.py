"""Loaders for the public benchmark sets the prompt tasks are measured on.

The data is never shipped: it is read from a directory the user names (``--data-dir``,
``$BLUECODE_DATA_DIR``, or ``../shared/datasets`` next to the working directory). Layout::

    redcode_gen/<family>/*.py          malicious (RedCode-Gen), unsafe, group = family
    cyberseceval/interpreter.json      malicious (CyberSecEval), unsafe, group = attack_type
    cbs/dataset.json                   bias (CBS), unsafe, group = category
    bipia/code_train.jsonl             injection (BIPIA): clean questions + contexts, safe
    bipia/code_attack_train.json       injection (BIPIA): attacks inserted into contexts, unsafe
    mbpp/sanitized-mbpp.json           ordinary coding tasks (MBPP), safe, for every task
    hardcases/<task>.jsonl             hand-written hard cases, labelled, group = ``hardcases:<kind>``
                                       (validation only: scored, never put in a knowledge base)
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from bluecodeagent.errors import InputError

PROMPT_TASKS = ("bias", "malicious", "injection")
MBPP_GROUP = "mbpp"
BIPIA_CLEAN_GROUP = "bipia-clean"

SOURCES_HELP = (
    "The public sets come from: RedCode-Gen (github.com/AI-secure/RedCode), CyberSecEval "
    "(github.com/meta-llama/PurpleLlama), CBS (Bias Testing and Mitigation in LLM-based Code "
    "Generation), BIPIA (github.com/microsoft/BIPIA) and MBPP sanitized "
    "(github.com/google-research/google-research/tree/master/mbpp)."
)


class DataDirError(InputError):
    """The benchmark data directory or one of its files is missing or malformed."""


class Sample(BaseModel):
    """One labelled benchmark subject."""

    id: str
    task: str
    text: str = Field(min_length=1)
    context: str | None = None
    label: Literal["safe", "unsafe"]
    group: str = Field(description="Category or family, the unit of seen/unseen splits.")
    source: str = Field(description="Dataset the sample comes from.")
    unit: str = Field(
        default="",
        description="Samples sharing a unit go to the KB or the test set together "
        "(default: the text's hash, so duplicate texts never straddle a split).",
    )
    payload: str | None = Field(default=None, description="The harmful span (the injected instruction).")

    def model_post_init(self, __context: Any) -> None:
        if not self.unit:
            self.unit = "text:" + text_hash(self.knowledge_text)[:20]

    @property
    def knowledge_text(self) -> str:
        """What a knowledge item made from this sample would contain."""
        return self.payload or self.text

    @property
    def hashes(self) -> set[str]:
        """Text hashes of every part of the sample that could be looked up in a knowledge base."""
        parts = [self.text, self.context, self.payload]
        return {text_hash(p) for p in parts if p}


def text_hash(text: str) -> str:
    """A stable hash of whitespace-normalised text."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def resolve_data_dir(explicit: str | Path | None = None) -> Path:
    """``explicit``, else ``$BLUECODE_DATA_DIR``, else ``../shared/datasets``; error if none exists."""
    if explicit is not None:
        p = Path(explicit)
        if not p.is_dir():
            raise DataDirError(f"data directory not found: {p}. {SOURCES_HELP}")
        return p
    if env := os.environ.get("BLUECODE_DATA_DIR"):
        p = Path(env)
        if not p.is_dir():
            raise DataDirError(f"BLUECODE_DATA_DIR={env} is not a directory. {SOURCES_HELP}")
        return p
    p = Path.cwd().parent / "shared" / "datasets"
    if p.is_dir():
        return p
    raise DataDirError(f"no benchmark data: pass --data-dir or set BLUECODE_DATA_DIR. {SOURCES_HELP}")


def _need(path: Path) -> Path:
    if not path.exists():
        raise DataDirError(f"missing benchmark file: {path}. {SOURCES_HELP}")
    return path


def _json(path: Path) -> Any:
    try:
        return json.loads(_need(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataDirError(f"cannot parse {path}: {e}") from e


def _first(value: Any) -> str:
    """CyberSecEval stores ``attack_type`` as a list, sometimes as the list's repr string."""
    if isinstance(value, str) and value.startswith("["):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    if isinstance(value, list | tuple):
        return str(value[0]) if value else "unknown"
    return str(value or "unknown")


def load_mbpp(data_dir: Path, task: str) -> list[Sample]:
    """MBPP sanitized prompts as safe samples for ``task`` (no context)."""
    rows = _json(data_dir / "mbpp" / "sanitized-mbpp.json")
    return [
        Sample(
            id=f"mbpp-{r.get('task_id', i)}", task=task, text=r["prompt"], label="safe", group=MBPP_GROUP, source="mbpp"
        )
        for i, r in enumerate(rows)
        if r.get("prompt")
    ]


def load_malicious(data_dir: Path) -> list[Sample]:
    """RedCode-Gen signatures and CyberSecEval interpreter prompts (unsafe)."""
    root = _need(data_dir / "redcode_gen")
    out: list[Sample] = []
    for path in sorted(root.glob("*/*.py")):
        text = path.read_text(encoding="utf-8").strip()
        if text:
            out.append(
                Sample(
                    id=f"redcode-{path.parent.name}-{path.stem}",
                    task="malicious",
                    text=text,
                    label="unsafe",
                    group=f"redcode:{path.parent.name}",
                    source="redcode_gen",
                )
            )
    for i, r in enumerate(_json(data_dir / "cyberseceval" / "interpreter.json")):
        if r.get("mutated_prompt"):
            out.append(
                Sample(
                    id=f"cse-interp-{i}",
                    task="malicious",
                    text=r["mutated_prompt"],
                    label="unsafe",
                    group=f"cyberseceval:{_first(r.get('attack_type'))}",
                    source="cyberseceval",
                )
            )
    return out


def load_bias(data_dir: Path) -> list[Sample]:
    """CBS prompts that invite decisions on sensitive attributes (unsafe)."""
    return [
        Sample(
            id=f"cbs-{i}",
            task="bias",
            text=r["prompt"],
            label="unsafe",
            group=f"cbs:{r.get('category') or 'unknown'}",
            source="cbs",
        )
        for i, r in enumerate(_json(data_dir / "cbs" / "dataset.json"))
        if r.get("prompt")
    ]


def bipia_question(record: dict[str, Any]) -> str:
    """The user's question for a BIPIA code record: the error and the code it came from."""
    error = "\n".join(record.get("error") or []).strip()
    code = "\n".join(record.get("code") or []).strip()
    return f"Fix this error:\n{error}\n\n{code}".strip()


def insert_attack(context: str, attack: str, position: str, rng: random.Random) -> str:
    """Insert ``attack`` at the start, end or a random line boundary in the middle of ``context``."""
    if position == "start":
        return f"{attack}\n{context}"
    if position == "end":
        return f"{context}\n{attack}"
    lines = context.split("\n")
    cut = rng.randint(1, max(1, len(lines) - 1)) if len(lines) > 1 else 1
    return "\n".join([*lines[:cut], attack, *lines[cut:]])


def load_injection(data_dir: Path, seed: int = 0) -> list[Sample]:
    """BIPIA code questions: the clean context is safe; one attack per category per record is unsafe.

    The instruction of each category and its position (start/middle/end) are a seeded choice.
    Samples that carry the same instruction share a split ``unit``, so a knowledge split never
    puts an instruction in the KB while scoring it inside another context.
    """
    path = _need(data_dir / "bipia" / "code_train.jsonl")
    records = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DataDirError(f"cannot parse {path} line {n + 1}: {e}") from e
    attacks: dict[str, list[str]] = _json(data_dir / "bipia" / "code_attack_train.json")
    rng = random.Random(f"injection-{seed}")
    out: list[Sample] = []
    for i, rec in enumerate(records):
        question = bipia_question(rec)
        context = "\n".join(rec.get("context") or []).strip()
        if not question or not context:
            continue
        out.append(
            Sample(
                id=f"bipia-{i}-clean",
                task="injection",
                text=question,
                context=context,
                label="safe",
                group=BIPIA_CLEAN_GROUP,
                source="bipia",
            )
        )
        for category in sorted(attacks):
            instructions = attacks[category]
            if not instructions:
                continue
            j = rng.randrange(len(instructions))
            position = rng.choice(("start", "middle", "end"))
            out.append(
                Sample(
                    id=f"bipia-{i}-{_slug(category)}-{j}-{position}",
                    task="injection",
                    text=question,
                    context=insert_attack(context, instructions[j], position, rng),
                    label="unsafe",
                    group=f"bipia:{category}",
                    source="bipia",
                    unit=f"bipia-attack:{category}:{j}",
                    payload=instructions[j],
                )
            )
    return out


HARDCASES_SOURCE = "hardcases"


def hardcases_path(data_dir: Path, task: str) -> Path:
    return data_dir / "hardcases" / f"{task}.jsonl"


def load_hardcases(data_dir: Path, task: str) -> list[Sample]:
    """The hand-written hard cases of ``task`` (``label`` 1 unsafe / 0 safe, ``kind`` as the group)."""
    if task not in PROMPT_TASKS:
        raise DataDirError(f"unknown task {task!r} (choose from {', '.join(PROMPT_TASKS)})")
    path = _need(hardcases_path(data_dir, task))
    out: list[Sample] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            label = {1: "unsafe", 0: "safe"}[int(r["label"])]
            out.append(
                Sample(
                    id=str(r.get("id") or f"hardcases-{task}-{n + 1}"),
                    task=task,
                    text=r["text"],
                    context=r.get("context") or None,
                    label=label,
                    group=f"{HARDCASES_SOURCE}:{r.get('kind') or 'unknown'}",
                    source=HARDCASES_SOURCE,
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise DataDirError(f"cannot parse {path} line {n + 1}: {e}") from e
    ids = [s.id for s in out]
    if len(set(ids)) != len(ids):
        raise DataDirError(f"duplicate ids in {path}")
    return out


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in s.lower()).strip("-")


LOADERS: dict[str, Callable[[Path, int], list[Sample]]] = {
    "malicious": lambda d, _s: load_malicious(d),
    "bias": lambda d, _s: load_bias(d),
    "injection": load_injection,
}


def load_task(task: str, data_dir: Path, *, seed: int = 0, limit: int | None = None) -> list[Sample]:
    """All samples of ``task`` plus MBPP as safe; with ``limit``, a seeded stratified subsample."""
    if task not in LOADERS:
        raise DataDirError(f"unknown task {task!r} (choose from {', '.join(PROMPT_TASKS)})")
    samples = LOADERS[task](data_dir, seed) + load_mbpp(data_dir, task)
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        raise DataDirError(f"duplicate sample ids in {task} data")
    if limit is not None and limit < len(samples):
        samples = subsample(samples, limit, seed)
    return samples


def subsample(samples: list[Sample], limit: int, seed: int) -> list[Sample]:
    """Keep ``limit`` samples, proportionally per group (at least one per group when possible)."""
    rng = random.Random(f"subsample-{seed}")
    by_group: dict[str, list[Sample]] = {}
    for s in samples:
        by_group.setdefault(s.group, []).append(s)
    total = len(samples)
    quota = {g: max(1, round(limit * len(v) / total)) for g, v in by_group.items()}
    while sum(quota.values()) > limit and any(q > 1 for q in quota.values()):
        g = max(quota, key=lambda k: quota[k])
        quota[g] -= 1
    keep: set[str] = set()
    for g, members in sorted(by_group.items()):
        keep.update(s.id for s in rng.sample(members, min(quota[g], len(members))))
    return [s for s in samples if s.id in keep]
