"""Vulnerable-code detection on SecCodePLT: per CWE, ablation (static / + dynamic), Bandit, speed.

Usage: python benchmarks/vuln_seccodeplt.py [--data-dir ../shared/datasets] [--limit N] [--cwe 78]
       [--no-dynamic] [--no-bandit] [--jobs 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bluecodeagent.bench.vuln import load_tasks, report, run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"))
    ap.add_argument("--limit", type=int, default=0, help="first N tasks only")
    ap.add_argument("--cwe", action="append", default=[], help="only these CWEs (repeatable)")
    ap.add_argument("--no-dynamic", action="store_true")
    ap.add_argument("--no-bandit", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", help="write per-sample results here")
    args = ap.parse_args()
    tasks = load_tasks(args.data_dir, args.limit, args.cwe)
    t0 = time.perf_counter()
    samples = run(tasks, dynamic=not args.no_dynamic, bandit=not args.no_bandit, jobs=args.jobs)
    print(report(samples, time.perf_counter() - t0))
    if args.json:
        Path(args.json).write_text(json.dumps([s.model_dump() for s in samples]), encoding="utf-8")


if __name__ == "__main__":
    main()
