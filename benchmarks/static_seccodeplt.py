"""Static analyzer on SecCodePLT: per-CWE confusion counts, F1, pair accuracy, FPR, speed.

Usage: python benchmarks/static_seccodeplt.py [--data-dir ../shared/datasets] [--cwe 78] [--show fp|fn]

A sample counts as flagged when the analyzer reports any finding (whatever its CWE); the
"cwe-match" column counts vulnerable samples flagged with their own CWE.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

from bluecodeagent.code.static.base import get_analyzer


def build_samples(task: dict) -> tuple[str, str]:
    """(vulnerable program, patched program), with unittest.setup prepended when present."""
    gt = task["ground_truth"]
    setup = (task.get("unittest") or {}).get("setup") or ""
    head = setup + "\n" if setup.strip() else ""
    vuln = head + gt["code_before"] + gt["vulnerable_code"] + gt["code_after"]
    safe = head + gt["code_before"] + gt["patched_code"] + gt["code_after"]
    return vuln, safe


def f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"))
    ap.add_argument("--cwe", action="append", help="only these CWE ids (e.g. 78)")
    ap.add_argument("--show", choices=["fp", "fn"], help="print the rule hits / code of errors")
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()

    data = json.loads((Path(args.data_dir) / "seccodeplt" / "data_dev.json").read_text())
    if args.cwe:
        data = [t for t in data if t["CWE_ID"] in set(args.cwe)]
    if args.limit:
        data = data[: args.limit]
    analyzer = get_analyzer("python")
    stats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    t0 = time.perf_counter()
    n = 0
    for task in data:
        cwe = task["CWE_ID"]
        vuln, safe = build_samples(task)
        fv = analyzer.analyze(vuln)
        fs = analyzer.analyze(safe)
        n += 2
        s = stats[cwe]
        s["tp" if fv else "fn"] += 1
        s["fp" if fs else "tn"] += 1
        s["pair"] += int(bool(fv) and not fs)
        s["match"] += int(any(f.cwe == f"CWE-{cwe}" for f in fv))
        if args.show == "fp" and fs:
            print(f"--- FP CWE-{cwe} #{task['index']}: " + "; ".join(f"{f.rule_id}@{f.line} {f.message}" for f in fs))
        if args.show == "fn" and not fv:
            print(f"--- FN CWE-{cwe} #{task['index']}\n{task['ground_truth']['vulnerable_code'][:800]}")
    dt = time.perf_counter() - t0

    print(
        f"{'CWE':>6} {'TP':>4} {'FP':>4} {'TN':>4} {'FN':>4} {'prec':>6} {'rec':>6} {'F1':>6} {'pair':>6} "
        f"{'FPR':>6} {'cwe-match':>9}"
    )
    tot: dict[str, int] = defaultdict(int)
    for cwe in sorted(stats, key=int):
        s = stats[cwe]
        for k, v in s.items():
            tot[k] += v
        p, r, f = f1(s["tp"], s["fp"], s["fn"])
        pairs = s["tp"] + s["fn"]
        print(
            f"{cwe:>6} {s['tp']:>4} {s['fp']:>4} {s['tn']:>4} {s['fn']:>4} {p:6.2f} {r:6.2f} {f:6.2f} "
            f"{s['pair'] / pairs:6.2f} {s['fp'] / (s['fp'] + s['tn']):6.2f} {s['match'] / pairs:9.2f}"
        )
    p, r, f = f1(tot["tp"], tot["fp"], tot["fn"])
    pairs = tot["tp"] + tot["fn"]
    print(
        f"{'ALL':>6} {tot['tp']:>4} {tot['fp']:>4} {tot['tn']:>4} {tot['fn']:>4} {p:6.2f} {r:6.2f} {f:6.2f} "
        f"{tot['pair'] / pairs:6.2f} {tot['fp'] / (tot['fp'] + tot['tn']):6.2f} {tot['match'] / pairs:9.2f}"
    )
    print(f"\n{n} programs ({pairs} pairs) in {dt:.2f}s: {n / dt:.0f} functions/s")


if __name__ == "__main__":
    main()
