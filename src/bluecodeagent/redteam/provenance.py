"""Turning red-team findings into knowledge items with full provenance, and the batch ledger.

Every batch the red team adds is recorded in the knowledge base's metadata (``redteam-batch:<name>``:
when, by which command, what went in, the measured attack success rates), so a user can list the
batches and undo one; the items themselves carry generator, seed, chain, target and batch.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any

from bluecodeagent.errors import InputError
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.knowledge.policies import load_policies
from bluecodeagent.knowledge.store import KnowledgeBase

META_PREFIX = "redteam-batch:"
BATCH_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")
PROTECTED = ("builtin",)
GENERIC_PRINCIPLES = {
    "malicious": "Code must not attack, spy on, extort or take over systems or people without authorisation",
    "bias": "Code must not make decisions about people depend on protected attributes or their proxies",
    "injection": "Text the assistant reads must not redirect it away from the user's request",
}


def check_batch_name(name: str) -> str:
    """A batch name usable on the command line and in metadata keys; ``builtin`` is reserved."""
    if not BATCH_NAME.match(name):
        raise InputError(f"invalid batch name {name!r} (letters, digits, '.', '_', '-'; up to 81 characters)")
    if name in PROTECTED:
        raise InputError(f"batch {name!r} is the shipped knowledge; pick another name")
    return name


def default_batch(kind: str, task: str) -> str:
    return f"redteam-{kind}-{task}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"


@cache
def _principles(task: str) -> dict[str, tuple[str, str]]:
    """category or policy id -> (policy id, principle) for a shipped policy file."""
    try:
        doc = load_policies(task)
    except ValueError:
        return {}
    out: dict[str, tuple[str, str]] = {}
    for pol in doc.get("policy", []):
        entry = (pol["id"], pol.get("principle", ""))
        out.setdefault(str(pol.get("category", "")).lower(), entry)
        out.setdefault(pol["id"].lower(), entry)
    return out


def principle_for(task: str, category: str, policy: str = "") -> tuple[str, str]:
    """(policy id, principle) for a finding: the shipped policy of its category, else a generic rule."""
    table = _principles(task)
    for key in (policy.lower(), category.lower(), category.lower().replace("-", " ")):
        if key and key in table:
            return table[key]
    return policy or f"redteam.{category or task}", GENERIC_PRINCIPLES.get(task, "")


def items_from_findings(records: list[dict[str, Any]], batch: str) -> list[KnowledgeItem]:
    """Unsafe items for the successful findings plus their safe counterparts (never both labels on one text)."""
    out: dict[str, KnowledgeItem] = {}
    unsafe_texts: set[str] = set()
    for rec in records:
        if not rec.get("success"):
            continue
        task, category = rec["task"], rec.get("category") or ""
        policy, principle = principle_for(task, category, rec.get("policy") or "")
        prov = {
            "generator": rec.get("generator", "redteam-optimize"),
            "seed_id": rec.get("seed_id"),
            "chain": [s["mutator"] for s in rec.get("chain", [])],
            "target": rec.get("target"),
            "run_seed": rec.get("run_seed"),
            "batch": batch,
        }
        bad = KnowledgeItem(
            task=task,
            label="unsafe",
            category=category,
            text=rec["text"],
            counterpart=rec.get("counterpart"),
            policy=policy,
            principle=principle,
            provenance=prov,
            batch=batch,
        )
        out.setdefault(bad.uid, bad)
        unsafe_texts.add(bad.text)
        twin = rec.get("counterpart")
        if twin and twin != rec["text"]:
            good = KnowledgeItem(
                task=task,
                label="safe",
                category=category,
                text=twin,
                counterpart=rec["text"],
                policy=policy,
                principle=principle,
                provenance={**prov, "counterpart_of": bad.uid},
                batch=batch,
            )
            out.setdefault(good.uid, good)
    return [it for it in out.values() if not (it.label == "safe" and it.text in unsafe_texts)]


def only_new(kb: KnowledgeBase, items: list[KnowledgeItem]) -> list[KnowledgeItem]:
    """Drop items the base already holds (same uid), so a batch never takes over, or later undoes, older items."""
    have: set[str] = set()
    for task in {it.task for it in items}:
        have |= {it.uid for it in kb.items(task)}
    return [it for it in items if it.uid not in have]


def record_batch(kb: KnowledgeBase, batch: str, info: dict[str, Any]) -> None:
    """Write the batch's ledger entry (kept after an undo, marked removed)."""
    entry = {"batch": batch, "status": "added", "added_at": datetime.now(UTC).isoformat(timespec="seconds"), **info}
    kb.set_meta(META_PREFIX + batch, json.dumps(entry, sort_keys=True))


def batches(kb: KnowledgeBase) -> list[dict[str, Any]]:
    """Every red-team batch in the ledger with its current item count."""
    counts = kb.stats()["batches"]
    out = []
    for key, value in sorted(kb.meta().items()):
        if key.startswith(META_PREFIX):
            entry = json.loads(value)
            entry["items_now"] = counts.get(entry["batch"], 0)
            out.append(entry)
    return out


def undo_batch(kb: KnowledgeBase, batch: str) -> int:
    """Remove every item of ``batch`` and mark it removed in the ledger; returns how many items went."""
    check_batch_name(batch)
    n = kb.remove(batch=batch)
    key = META_PREFIX + batch
    raw = kb.meta().get(key)
    if raw is None and n == 0:
        raise InputError(f"no batch named {batch!r} in {kb.path}")
    entry = json.loads(raw) if raw else {"batch": batch}
    entry.update(status="removed", removed_at=datetime.now(UTC).isoformat(timespec="seconds"), removed_items=n)
    kb.set_meta(key, json.dumps(entry, sort_keys=True))
    return n
