"""Print how knowledge-base search scales on both backends.

``python benchmarks/kb_scale.py --sizes 10000,100000,1000000 --vectors random,clustered
--tasks even,skewed --backends sqlite,postgres --ef-search 40,100,400`` (the ``--ef-search`` values are also
the ``sqlite-ann`` rows' usearch expansions)

Pins BLAS to one thread (as the product's measurements do) before numpy loads. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from bluecodeagent.bench.kb_scale import run_scale, scale_table


def _list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--backends", default="", help="sqlite, postgres (default: both, or what is installed)")
    p.add_argument("--vectors", default="random,clustered")
    p.add_argument("--tasks", default="even,skewed", help="how items spread over tasks: even, skewed")
    p.add_argument("--ef-search", default="100", help="pgvector hnsw.ef_search values to measure")
    p.add_argument("--queries", type=int, default=100)
    p.add_argument(
        "--ann-min-rows", type=int, default=None, help="smallest partition search_ann indexes (default: the product's)"
    )
    a = p.parse_args()
    results = run_scale(
        [int(s) for s in _list(a.sizes)],
        backends=_list(a.backends) or None,
        vectors=_list(a.vectors),
        distributions=_list(a.tasks),
        ef_search=[int(e) for e in _list(a.ef_search)],
        queries=a.queries,
        ann_min_rows=a.ann_min_rows,
    )
    print(scale_table(results))


if __name__ == "__main__":
    main()
