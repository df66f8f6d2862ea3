"""The red-to-blue report in one command: diversity, hardening by optimisation, validated CWE pairs.

    python benchmarks/redteam_loop.py                       # shipped KB, ../shared/datasets
    python benchmarks/redteam_loop.py --n 500 --seeds 40 --budget 30 --rounds 3 --dev-limit 200 --jobs 2 --vuln-limit 20

Works on copies of the knowledge base (the given one is never changed); prints one markdown
report and writes it with the raw numbers (JSON) under --out.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from bluecodeagent.bench.datasets import resolve_data_dir
from bluecodeagent.bench.redteam import adversarial, diversity, render, vuln_pairs_effect
from bluecodeagent.config import load_settings
from bluecodeagent.kb_open import open_kb, settings_embedder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kb", type=Path, help="Knowledge base to start from (default: the shipped one, built if needed).")
    ap.add_argument("--data-dir", type=Path, help="Public dev data (default $BLUECODE_DATA_DIR or ../shared/datasets).")
    ap.add_argument("--n", type=int, default=500, help="Generated unsafe items per task for (a).")
    ap.add_argument("--seeds", type=int, default=40, help="Policy-generated seeds per set (A adds the shipped).")
    ap.add_argument("--budget", type=int, default=30, help="Target queries per seed.")
    ap.add_argument("--rounds", type=int, default=3, help="Hardening rounds on seeds A.")
    ap.add_argument("--dev-limit", type=int, default=200, help="Dev prompt samples per task for F1/FPR.")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--vuln-limit", type=int, default=20, help="SecCodePLT tasks per CWE for (c) (0 = all).")
    ap.add_argument("--tasks", default="malicious,bias", help="Tasks for (b).")
    ap.add_argument("--parts", default="a,b,c", help="Which parts to run: a (diversity), b (hardening), c (CWE pairs).")
    ap.add_argument("--out", type=Path, default=Path("reports/redteam"))
    args = ap.parse_args()

    settings = load_settings()
    data_dir = resolve_data_dir(args.data_dir)
    embedder = settings_embedder(settings)
    base = args.kb or settings.resolved_kb_path()
    open_kb(
        settings.model_copy(update={"kb_path": base, "kb_url": None}), auto_build=args.kb is None, embedder=embedder
    ).close()
    t0 = time.perf_counter()
    parts = {p.strip() for p in args.parts.split(",")}
    div = []
    if "a" in parts:
        print("(a) diversity ...", file=sys.stderr)
        div = diversity(["bias", "malicious", "injection"], args.n, 11, embedder)
    adv = []
    vuln = None
    with tempfile.TemporaryDirectory(prefix="bluecode-redteam-") as tmp:
        for task in [t.strip() for t in args.tasks.split(",") if t.strip() and "b" in parts]:
            print(f"(b) adversarial: {task} ...", file=sys.stderr)
            with tqdm(desc=f"optimising {task}", unit="seed", file=sys.stderr, disable=None) as bar:
                row = adversarial(
                    base,
                    Path(tmp),
                    task,
                    settings,
                    n_seeds=args.seeds,
                    budget=args.budget,
                    rounds=args.rounds,
                    data_dir=data_dir,
                    dev_limit=args.dev_limit,
                    progress=bar.update,
                )
                adv.append(row)
        if "c" in parts:
            print("(c) vulnerable/secure pairs ...", file=sys.stderr)
            vuln = vuln_pairs_effect(
                base, Path(tmp), data_dir, jobs=args.jobs, limit_per_cwe=args.vuln_limit, progress=True
            )
    text = render(div, adv, vuln) + f"\n\nTotal {time.perf_counter() - t0:.0f} s.\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.md").write_text(text, encoding="utf-8")
    raw = {
        "diversity": [r.model_dump() for r in div],
        "adversarial": [r.model_dump() for r in adv],
        "vulns": vuln.model_dump() if vuln else None,
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    (args.out / "results.json").write_text(json.dumps(raw, indent=2), encoding="utf-8")
    print(f"written to {args.out}/report.md and results.json", file=sys.stderr)


if __name__ == "__main__":
    main()
