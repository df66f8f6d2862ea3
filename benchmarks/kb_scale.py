"""Print how knowledge-base search scales on both backends.

``python benchmarks/kb_scale.py --sizes 10000,100000,1000000 --vectors random,clustered
--tasks even,skewed --backends sqlite,postgres --ef-search 40,100,400`` (the ``--ef-search`` values are also
the ``sqlite-ann`` rows' usearch expansions). The same options as ``bluecode bench --kb-scale`` (``--tasks``
is also spelled ``--spread``, the CLI's name), through the same ``run_scale_options``.

Pins BLAS to one thread (as the product's measurements do) before numpy loads. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from bluecodeagent.bench import kb_scale as ks


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    h = ks.OPTION_HELP
    p.add_argument("--sizes", default=ks.DEFAULT_SIZES, help=h["sizes"])
    p.add_argument("--backends", default=None, help=h["backends"])
    p.add_argument("--vectors", default=ks.DEFAULT_VECTORS, help=h["vectors"])
    p.add_argument("--spread", "--tasks", dest="spread", default=ks.DEFAULT_SPREAD, help=h["spread"])
    p.add_argument("--ef-search", default=ks.DEFAULT_EF_SEARCH, help=h["ef_search"])
    p.add_argument("--queries", type=int, default=ks.DEFAULT_QUERIES, help=h["queries"])
    p.add_argument("--ann-min-rows", type=int, default=None, help=h["ann_min_rows"])
    a = p.parse_args()
    try:
        results = ks.run_scale_options(**vars(a))  # the options are named as its parameters
    except ValueError as e:
        p.error(str(e))
    print(ks.scale_table(results))


if __name__ == "__main__":
    main()
