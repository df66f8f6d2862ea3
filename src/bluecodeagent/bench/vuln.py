"""Vulnerable-code detection on SecCodePLT: static only, + dynamic (+ a knowledge slot), Bandit side by side.

Vulnerable and patched versions of each task are separate samples; a sample is flagged when the
judge reports any finding. Dynamic testing runs in the sandbox for functions static analysis suspects.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bluecodeagent.code.judge import judge
from bluecodeagent.code.scanner import default_sandbox, run_probes
from bluecodeagent.code.static.base import get_analyzer
from bluecodeagent.errors import SandboxUnavailable

ARMS = ("static", "knowledge", "dynamic", "full", "bandit")
_ENGINES: dict[str, Any] = {}


class Sample(BaseModel):
    """Per-sample outcome of every arm."""

    task: int
    cwe: str
    vulnerable: bool
    flags: dict[str, bool | None]
    static_s: float
    dynamic_s: float | None = None
    probed: bool = False


def build_samples(task: dict[str, Any]) -> tuple[str, str]:
    """(vulnerable program, patched program), with unittest.setup prepended when present."""
    gt = task["ground_truth"]
    setup = (task.get("unittest") or {}).get("setup") or ""
    head = setup + "\n" if setup.strip() else ""
    return (
        head + gt["code_before"] + gt["vulnerable_code"] + gt["code_after"],
        head + gt["code_before"] + gt["patched_code"] + gt["code_after"],
    )


def load_tasks(data_dir: str | Path, limit: int = 0, cwes: Iterable[str] = ()) -> list[dict[str, Any]]:
    data = json.loads((Path(data_dir) / "seccodeplt" / "data_dev.json").read_text(encoding="utf-8"))
    wanted = {c.removeprefix("CWE-") for c in cwes}
    if wanted:
        data = [t for t in data if t["CWE_ID"] in wanted]
    return data[:limit] if limit else data


def _bandit_flags(code: str) -> bool | None:
    try:
        from bandit.core import config as b_config
        from bandit.core import manager as b_manager
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "subject.py"
        f.write_text(code, encoding="utf-8")
        mgr = b_manager.BanditManager(b_config.BanditConfig(), "file", quiet=True)
        mgr.discover_files([str(f)])
        mgr.run_tests()
        return bool(mgr.get_issue_list())


def _engine(kb_path: str | None) -> Any:
    """The code-knowledge engine over ``kb_path``, opened once per process."""
    if not kb_path:
        return None
    if kb_path not in _ENGINES:
        from bluecodeagent.code.knowledge import knowledge_hook
        from bluecodeagent.knowledge.embedders import get_embedder
        from bluecodeagent.knowledge.store import KnowledgeBase

        _ENGINES[kb_path] = knowledge_hook(KnowledgeBase(kb_path, get_embedder()))
    return _ENGINES[kb_path]


def _run_task(args: tuple[dict[str, Any], bool, bool, str | None]) -> list[Sample]:
    task, dynamic, bandit, kb_path = args
    analyzer = get_analyzer("python")
    engine = _engine(kb_path)
    out = []
    for vulnerable, code in zip((True, False), build_samples(task), strict=True):
        t0 = time.perf_counter()
        static = analyzer.analyze(code)
        static_flag = bool(judge(static).findings)
        t1 = time.perf_counter()
        flags: dict[str, bool | None] = {
            "static": static_flag,
            "knowledge": None,
            "dynamic": None,
            "full": None,
            "bandit": None,
        }
        signals = list(engine(code, static).signals) if engine is not None and static else []
        if engine is not None:
            flags["knowledge"] = bool(judge(static, None, signals).findings)
        dyn_s = None
        probed = False
        if dynamic:
            try:
                box = default_sandbox()
            except SandboxUnavailable:
                box = None
            if box is not None:
                results = run_probes(code, static, box) if static else {}
                probed = bool(results)
                flags["dynamic"] = bool(judge(static, results).findings)
                if engine is not None:
                    flags["full"] = bool(judge(static, results, signals).findings)
                dyn_s = time.perf_counter() - t0
        if bandit:
            flags["bandit"] = _bandit_flags(code)
        out.append(
            Sample(
                task=task["index"],
                cwe=task["CWE_ID"],
                vulnerable=vulnerable,
                flags=flags,
                static_s=t1 - t0,
                dynamic_s=dyn_s,
                probed=probed,
            )
        )
    return out


def run(
    tasks: list[dict[str, Any]], dynamic: bool = True, bandit: bool = True, jobs: int = 2, kb_path: str | None = None
) -> list[Sample]:
    """Every sample of ``tasks`` through every arm, on ``jobs`` processes (knowledge arms when ``kb_path``)."""
    items = [(t, dynamic, bandit, kb_path) for t in tasks]
    if jobs <= 1:
        return [s for it in items for s in _run_task(it)]
    with ProcessPoolExecutor(jobs) as pool:
        return [s for chunk in pool.map(_run_task, items, chunksize=4) for s in chunk]


def confusion(samples: Iterable[Sample], arm: str) -> dict[str, float]:
    """TP/FP/TN/FN, precision, recall, F1, FPR on patched, pair accuracy for one arm."""
    c: dict[str, int] = defaultdict(int)
    pairs: dict[int, dict[bool, bool]] = defaultdict(dict)
    for s in samples:
        flag = s.flags.get(arm)
        if flag is None:
            continue
        key = ("tp" if flag else "fn") if s.vulnerable else ("fp" if flag else "tn")
        c[key] += 1
        pairs[s.task][s.vulnerable] = flag
    tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    full = [v for v in pairs.values() if len(v) == 2]
    return {
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "fpr": fp / (fp + tn) if fp + tn else 0.0,
        "pair": sum(v[True] and not v[False] for v in full) / len(full) if full else 0.0,
    }


_NAMES = {
    "static": "static only",
    "knowledge": "+ knowledge/constitution",
    "dynamic": "+ dynamic (sandbox)",
    "full": "+ knowledge + dynamic",
    "bandit": "Bandit (side by side)",
}
_SHORT = {"static": "static", "knowledge": "+know", "dynamic": "+dyn", "full": "+k+dyn", "bandit": "bandit"}


def _cwe_key(c: str) -> int:
    return int(c) if c.isdigit() else 0


def parse_cwes(text: str | Iterable[str]) -> set[str]:
    """``"CWE-611, 918"`` (or a list of such) as bare ids ``{"611", "918"}``."""
    parts = text.split(",") if isinstance(text, str) else [p for t in text for p in t.split(",")]
    return {p.strip().upper().removeprefix("CWE-") for p in parts if p.strip()}


def removed_by_dynamic(samples: Iterable[Sample], before: str = "static", after: str = "dynamic") -> dict[str, int]:
    """How many true findings (vulnerable samples) and false ones (patched) the ``after`` arm dropped."""
    out = {"true_removed": 0, "false_removed": 0, "true_added": 0}
    for s in samples:
        b, a = s.flags.get(before), s.flags.get(after)
        if b is None or a is None:
            continue
        if b and not a:
            out["true_removed" if s.vulnerable else "false_removed"] += 1
        elif a and not b and s.vulnerable:
            out["true_added"] += 1
    return out


def _side_by_side(groups: list[tuple[str, list[Sample]]], arms: list[str]) -> list[str]:
    """One line per group: n, then F1 / recall / FPR / pair for every arm, side by side."""
    head = f"{'CWE':>10} {'n':>4}" + "".join(
        f" | {_SHORT[a] + ' F1':>10} {'rec':>5} {'FPR':>5} {'pair':>5}" for a in arms
    )
    lines = [head]
    for name, part in groups:
        cells = []
        for a in arms:
            m = confusion(part, a)
            cells.append(f" | {m['f1']:10.2f} {m['recall']:5.2f} {m['fpr']:5.2f} {m['pair']:5.2f}")
        lines.append(f"{name:>10} {len(part):>4}" + "".join(cells))
    return lines


def report(samples: list[Sample], wall_s: float, kept_aside: Iterable[str] = ()) -> str:
    """The tables: per CWE with every arm side by side, kept-aside CWEs apart, the ablation,
    what dynamic testing removed, and speed."""
    kept = parse_cwes(list(kept_aside))
    arms = [a for a in ARMS if any(s.flags.get(a) is not None for s in samples)]
    main = next(a for a in ("full", "dynamic", "knowledge", "static") if a in arms) if arms else "static"
    head = f"{'CWE':>6} {'TP':>4} {'FP':>4} {'TN':>4} {'FN':>4} {'prec':>6} {'rec':>6} {'F1':>6} {'pair':>6} {'FPR':>6}"
    lines = [f"Per CWE ({main}):", head]
    by_cwe: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_cwe[s.cwe].append(s)

    def row(name: str, m: dict[str, float]) -> str:
        return (
            f"{name:>6} {m['tp']:>4} {m['fp']:>4} {m['tn']:>4} {m['fn']:>4} {m['precision']:6.2f} "
            f"{m['recall']:6.2f} {m['f1']:6.2f} {m['pair']:6.2f} {m['fpr']:6.2f}"
        )

    for cwe in sorted(by_cwe, key=_cwe_key):
        lines.append(row(cwe + ("*" if cwe in kept else ""), confusion(by_cwe[cwe], main)))
    lines.append(row("ALL", confusion(samples, main)))
    if kept:
        lines.append("(* kept aside: not studied while writing rules)")
    side = [a for a in arms if a != "bandit"] + (["bandit"] if "bandit" in arms else [])
    groups = [(c + ("*" if c in kept else ""), by_cwe[c]) for c in sorted(by_cwe, key=_cwe_key)]
    if kept:
        groups.append(("kept-aside", [s for s in samples if s.cwe in kept]))
        groups.append(("studied", [s for s in samples if s.cwe not in kept]))
    groups.append(("ALL", samples))
    lines += ["", "Per CWE, arms side by side:", *_side_by_side(groups, side)]
    lines += ["", "Ablation:", f"{'arm':<34} {'prec':>6} {'rec':>6} {'F1':>6} {'pair':>6} {'FPR':>6} {'FP':>4}"]
    table = {a: confusion(samples, a) for a in arms}
    for a in ("static", "knowledge", "dynamic", "full"):
        if a in table:
            m = table[a]
            lines.append(
                f"{_NAMES[a]:<34} {m['precision']:6.2f} {m['recall']:6.2f} {m['f1']:6.2f} {m['pair']:6.2f} "
                f"{m['fpr']:6.2f} {m['fp']:>4}"
            )
    if "knowledge" not in table:
        lines.append(f"{'+ knowledge/constitution':<34} {'(no knowledge base given)':>30}")
    if "bandit" in table:
        m = table["bandit"]
        lines.append(
            f"{_NAMES['bandit']:<34} {m['precision']:6.2f} {m['recall']:6.2f} {m['f1']:6.2f} {m['pair']:6.2f} "
            f"{m['fpr']:6.2f} {m['fp']:>4}"
        )
    else:
        lines.append(f"{'Bandit':<34} {'(skipped, or not installed: pip install bandit)':>30}")
    if "static" in table and "dynamic" in table:
        s, d = table["static"], table["dynamic"]
        removed = (s["fp"] - d["fp"]) / s["fp"] if s["fp"] else 0.0
        r = removed_by_dynamic(samples)
        lines += [
            "",
            f"dynamic removes {removed:.0%} of static FPs ({s['fp']} -> {d['fp']}), "
            f"loses {100 * (s['recall'] - d['recall']):.1f} points of recall",
            f"true findings removed by dynamic testing: {r['true_removed']} (false ones removed: {r['false_removed']})",
        ]
    static_s = [s.static_s for s in samples]
    lines.append(f"static only: {len(static_s) / sum(static_s):.0f} functions/s (one core)" if sum(static_s) else "")
    dyn = [s.dynamic_s for s in samples if s.dynamic_s is not None]
    if dyn:
        lines.append(
            f"with dynamic: median {statistics.median(dyn):.3f} s per function, "
            f"p95 {sorted(dyn)[int(0.95 * (len(dyn) - 1))]:.3f} s"
        )
        probed = [s.dynamic_s for s in samples if s.probed and s.dynamic_s is not None]
        if probed:
            lines.append(
                f"functions run in the sandbox: {len(probed)}, median {statistics.median(probed):.3f} s, "
                f"max {max(probed):.2f} s"
            )
    lines.append(f"{len(samples)} samples in {wall_s:.1f} s wall on {os.cpu_count()} cores")
    return "\n".join(lines)


def seen_split(samples: list[Sample], unseen: set[str]) -> str:
    """The ablation arms on CWEs whose knowledge was in the base (seen) and withheld (unseen)."""
    arms = [a for a in ARMS if a != "bandit" and any(s.flags.get(a) is not None for s in samples)]
    lines = [f"{'split':<8} {'arm':<12} {'n':>5} {'prec':>6} {'rec':>6} {'F1':>6} {'pair':>6} {'FPR':>6}"]
    for name, keep in (("seen", False), ("unseen", True)):
        part = [s for s in samples if (f"CWE-{s.cwe}" in unseen) == keep]
        for a in arms:
            m = confusion(part, a)
            lines.append(
                f"{name:<8} {a:<12} {len(part):>5} {m['precision']:6.2f} {m['recall']:6.2f} {m['f1']:6.2f} "
                f"{m['pair']:6.2f} {m['fpr']:6.2f}"
            )
    return "\n".join(lines)
