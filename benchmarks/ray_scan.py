"""Scanning N files on a local Ray cluster (a head and two one-CPU workers) against a local scan.

The files are generated here (small functions; one in ten builds a shell command or an SQL query from
its input, so the sandbox attacks it). Prints the wall time of each run, whether the findings are the
same, and the overhead per file: (Ray wall time x workers - local wall time) / files, the worker time a
file costs on the cluster beyond its scan (start-up of the cluster reported on its own line).

    nice -n 19 python benchmarks/ray_scan.py [--files 1000] [--no-dynamic]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

SAFE = "def f{i}(xs):\n    return sorted(x * {i} for x in xs)\n"
SHELL = "import os\n\ndef ping{i}(host):\n    os.system('ping -c 1 ' + host)\n"
SQL = 'def find{i}(db, name):\n    return db.execute("SELECT * FROM t WHERE n = \'" + name + "\'").fetchall()\n'


def make_tree(root: Path, n: int) -> list[Path]:
    files = []
    for i in range(n):
        text = (SHELL if i % 20 == 0 else SQL if i % 20 == 10 else SAFE).format(i=i)
        p = root / f"pkg{i % 25}" / f"mod{i}.py"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        files.append(p)
    return sorted(files, key=lambda p: (str(p.parent), p.name))


def findings(results: list) -> list[tuple[str, list[Any]]]:
    return [
        (r.path, [(f.rule_id, f.cwe, f.line, f.confirmed) for f in r.verdict.findings] if r.verdict else [r.error])
        for r in results
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--no-dynamic", action="store_true", help="static analysis only")
    args = ap.parse_args()
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    from ray.cluster_utils import Cluster

    from bluecodeagent.batch.ray_runner import RayCluster
    from bluecodeagent.cli.ray_jobs import SourceSpec, scan_files
    from bluecodeagent.code.scanner import MAX_FILE_BYTES, scan_paths

    dynamic = not args.no_dynamic
    with tempfile.TemporaryDirectory(prefix="ray-scan-") as tmp:
        files = make_tree(Path(tmp), args.files)
        t0 = time.perf_counter()
        local = scan_paths(files, None, dynamic)
        t_local = time.perf_counter() - t0
        t0 = time.perf_counter()
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
        workers = 2
        for _ in range(workers):
            cluster.add_node(num_cpus=1, object_store_memory=80 * 1024**2)
        cluster.wait_for_nodes()
        t_start = time.perf_counter() - t0
        try:
            with RayCluster(cluster.address) as ray:
                spec = SourceSpec(language=None, dynamic=dynamic, max_bytes=MAX_FILE_BYTES)
                scan_files(ray, files[:4], spec)  # workers up and imported: start-up is not per file
                t0 = time.perf_counter()
                on_ray = scan_files(ray, files, spec)
                t_ray = time.perf_counter() - t0
        finally:
            cluster.shutdown()
    same = findings(local) == findings(on_ray)
    n_find = sum(len(r.verdict.findings) for r in local if r.verdict)
    overhead = (t_ray * workers - t_local) / len(files) * 1000
    print(f"| files | dynamic | findings | local s | Ray ({workers} workers) s | speed-up | same findings |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {len(files)} | {dynamic} | {n_find} | {t_local:.1f} | {t_ray:.1f} | {t_local / t_ray:.2f}x | {same} |")
    print(f"overhead per file on Ray: {overhead:.1f} ms of worker time; cluster start-up {t_start:.1f} s")
    print(f"cpus: {os.cpu_count()}, load: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
