"""The review step: proposed items go to a JSONL file a person edits before anything enters the KB.

Each line is a knowledge item plus ``"review": "pending"``. Set it to ``"accept"`` or ``"reject"``
(or delete the line); ``bluecode redteam add FILE`` then adds the accepted items as one batch and
refuses while any line is still pending (unless told to accept the pending ones).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from bluecodeagent.errors import InputError
from bluecodeagent.knowledge.item import KnowledgeItem

DECISIONS = ("pending", "accept", "reject")


def write_review(path: Path, items: list[KnowledgeItem]) -> int:
    """Write ``items`` for review (all pending)."""
    with path.open("w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps({"review": "pending", **it.model_dump()}, ensure_ascii=False) + "\n")
    return len(items)


def read_items(path: Path, *, accept_pending: bool = False) -> tuple[list[KnowledgeItem], dict[str, int]]:
    """Items to add from a review file or a plain items file (lines without ``review`` count as accepted)."""
    if not path.is_file():
        raise InputError(f"file not found: {path}")
    items: list[KnowledgeItem] = []
    counts = dict.fromkeys(DECISIONS, 0)
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                raise TypeError("not an object")
            decision = str(rec.pop("review", "accept")).lower()
            if decision not in DECISIONS:
                raise InputError(f"{path}:{n}: review must be one of {', '.join(DECISIONS)}, not {decision!r}")
            counts[decision] += 1
            if decision == "reject" or (decision == "pending" and not accept_pending):
                continue
            items.append(KnowledgeItem(**rec))
        except (json.JSONDecodeError, TypeError, ValidationError) as e:
            raise InputError(f"{path}:{n}: not a valid knowledge item ({str(e).splitlines()[0]})") from e
    if counts["pending"] and not accept_pending:
        raise InputError(
            f'{path}: {counts["pending"]} item(s) still pending review; set "review" to accept or reject '
            "(or pass --accept-pending)"
        )
    return items, counts
