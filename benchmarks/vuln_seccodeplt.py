"""Vulnerable-code detection on SecCodePLT: per CWE, ablation (static / + dynamic), Bandit, speed.

Usage: python benchmarks/vuln_seccodeplt.py [--data-dir ../shared/datasets] [--limit N] [--cwe 78]
       [--no-dynamic] [--no-bandit] [--jobs 2] [--json out.json] [--no-knowledge] [--withhold-seed 0]
       [--kept-aside CWE-120,CWE-347,...]

``--kept-aside`` names CWEs the rules were not designed against (see docs/code-scanning.md): they
are marked in the per-CWE tables and reported in their own row.

Knowledge arms use a base built in a temporary folder from the product's CWE-card pairs only (never
from this dataset). With ``--withhold-seed`` the cards/pairs of half the card CWEs (seeded) are left
out of the base and those CWEs are reported as "unseen".
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from bluecodeagent.bench.vuln import load_tasks, parse_cwes, report, run, seen_split

KEPT_ASIDE = "CWE-120,CWE-347,CWE-400,CWE-601,CWE-862,CWE-915"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"))
    ap.add_argument("--limit", type=int, default=0, help="first N tasks only")
    ap.add_argument("--cwe", action="append", default=[], help="only these CWEs (repeatable)")
    ap.add_argument("--no-dynamic", action="store_true")
    ap.add_argument("--no-bandit", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", help="write per-sample results here")
    ap.add_argument("--no-knowledge", action="store_true")
    ap.add_argument("--withhold-seed", type=int, default=None, help="withhold half the CWEs' knowledge (seeded)")
    ap.add_argument(
        "--kept-aside",
        default=KEPT_ASIDE,
        help=f"CWEs kept aside from rule design, reported apart (default {KEPT_ASIDE}; '' for none)",
    )
    args = ap.parse_args()
    kept_aside = parse_cwes(args.kept_aside)
    if not (Path(args.data_dir) / "seccodeplt" / "data_dev.json").is_file():
        sys.exit(f"vuln_seccodeplt: no seccodeplt/data_dev.json under {args.data_dir} (pass --data-dir)")
    tasks = load_tasks(args.data_dir, args.limit, args.cwe)
    t0 = time.perf_counter()
    kb_path, unseen = None, set()
    tmp = tempfile.TemporaryDirectory()
    if not args.no_knowledge:
        from bluecodeagent.knowledge.builder import build_kb
        from bluecodeagent.knowledge.cards import load_cards
        from bluecodeagent.redteam.vulns import vulnerable_pairs

        cwes = [c.id for c in load_cards()]
        if args.withhold_seed is not None:
            unseen = set(random.Random(args.withhold_seed).sample(cwes, len(cwes) // 2))
        kept = [c for c in cwes if c not in unseen]
        kb_path = str(Path(tmp.name) / "kb.sqlite")
        build_kb(kb_path, vulnerable_pairs(kept)).close()
        print(f"knowledge base: {len(kept)} CWEs; withheld (unseen): {', '.join(sorted(unseen)) or 'none'}")
    samples = run(tasks, dynamic=not args.no_dynamic, bandit=not args.no_bandit, jobs=args.jobs, kb_path=kb_path)
    print(report(samples, time.perf_counter() - t0, kept_aside))
    if unseen:
        print("\nSeen/unseen (by CWE):\n" + seen_split(samples, unseen))
    tmp.cleanup()
    if args.json:
        Path(args.json).write_text(json.dumps([s.model_dump() for s in samples]), encoding="utf-8")


if __name__ == "__main__":
    main()
