"""Print how knowledge-base search scales: ``python benchmarks/kb_scale.py [10000,100000,1000000]``.

Pins BLAS to one thread (as the product's measurements do) before numpy loads.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from bluecodeagent.bench.kb_scale import run_scale, scale_table


def main() -> None:
    sizes = [int(s) for s in (sys.argv[1] if len(sys.argv) > 1 else "10000,100000,1000000").split(",")]
    print(scale_table(run_scale(sizes)))


if __name__ == "__main__":
    main()
