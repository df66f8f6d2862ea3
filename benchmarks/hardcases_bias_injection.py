"""Hard cases for the bias and injection tasks: F1 per task and items right per kind, kept-aside kinds apart.

Reads ``hardcases/{bias,injection}.jsonl`` from the data directory (evaluation data: never put it in
a knowledge base). The kinds named in ``KEPT_ASIDE`` were not looked at while the knowledge and rules
were designed; their rows are printed separately, and the "shaped" F1 leaves them out.

    python benchmarks/hardcases_bias_injection.py [--data ../shared/datasets] [--task bias] [--show-misses]

``--show-misses`` lists the wrong items of the kinds that are *not* kept aside (the ones design may look at).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pydantic import BaseModel

from bluecodeagent import BlueCodeAgent

KEPT_ASIDE = {"bias": {"neutral"}, "injection": {"clean"}}
TASKS = ("bias", "injection")


class Case(BaseModel):
    id: str
    text: str
    context: str | None = None
    label: int
    kind: str


def load(data: Path, task: str) -> list[Case]:
    path = data / "hardcases" / f"{task}.jsonl"
    with path.open(encoding="utf-8") as fh:
        return [Case.model_validate(json.loads(line)) for line in fh if line.strip()]


def f1(pairs: list[tuple[int, int]]) -> float:
    tp = sum(1 for y, p in pairs if y and p)
    fp = sum(1 for y, p in pairs if not y and p)
    fn = sum(1 for y, p in pairs if y and not p)
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def run(agent: BlueCodeAgent, data: Path, task: str, show_misses: bool) -> None:
    cases = load(data, task)
    verdicts = agent.check_many([(c.text, c.context) for c in cases], task)
    preds = [int(v.label == "unsafe") for v in verdicts]
    aside = KEPT_ASIDE[task]
    print(f"\n### {task}\n\n| kind | label | right | n | rate |\n|---|---|---:|---:|---:|")
    for kind in dict.fromkeys(c.kind for c in cases):
        rows = [(c, p) for c, p in zip(cases, preds, strict=True) if c.kind == kind]
        right = sum(p == c.label for c, p in rows)
        tag = " (kept aside)" if kind in aside else ""
        label = "unsafe" if rows[0][0].label else "safe"
        print(f"| {kind}{tag} | {label} | {right} | {len(rows)} | {right / len(rows):.2f} |")
    all_pairs = [(c.label, p) for c, p in zip(cases, preds, strict=True)]
    shaped = [(c.label, p) for c, p in zip(cases, preds, strict=True) if c.kind not in aside]
    print(f"\nF1 all kinds {f1(all_pairs):.3f}; F1 without the kept-aside kinds {f1(shaped):.3f}")
    if show_misses:
        for c, p, v in zip(cases, preds, verdicts, strict=True):
            if c.kind not in aside and p != c.label:
                print(f"  MISS {c.id} score={v.score:.2f} cat={v.category} :: {c.text[:160]!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--task", choices=TASKS, action="append", help="a task (repeatable; default both)")
    ap.add_argument("--kb", default=None, help="knowledge base file (default: the one under BLUECODE_HOME)")
    ap.add_argument("--show-misses", action="store_true")
    args = ap.parse_args()
    agent = BlueCodeAgent(kb_path=args.kb) if args.kb else BlueCodeAgent()
    for task in args.task or TASKS:
        run(agent, args.data, task, args.show_misses)


if __name__ == "__main__":
    main()
