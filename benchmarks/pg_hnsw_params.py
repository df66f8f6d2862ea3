"""How pgvector's HNSW graph parameters change recall on one big partition of clustered vectors.

``python benchmarks/pg_hnsw_params.py --rows 450000 --graphs 16/64,32/128 --ef-search 40,100,400,1000,40``

One table of ``--rows`` vectors drawn like ``kb_scale``'s clustered ones (the skewed 1M run's queried
partition holds 450k), one HNSW index per ``m/ef_construction`` pair in turn (built with the memory
``PgKnowledgeBase`` would give it, doubled above m=16), and top-3 queries timed per ``ef_search`` against
exact search. A throwaway PostgreSQL (pgserver); the product's indexes use pgvector's defaults, 16/64.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from bluecodeagent.bench.kb_scale import DIM, K, VectorSource
from bluecodeagent.bench.metrics import percentile
from bluecodeagent.knowledge.pg_store import hnsw_build_memory_mb

SEARCH = "SELECT id FROM t ORDER BY v <#> %s LIMIT 3"


def _ints(value: str) -> list[int]:
    return [int(v) for v in value.split(",") if v.strip()]


def _graphs(value: str) -> list[tuple[int, int]]:
    pairs = [v.split("/") for v in value.split(",") if v.strip()]
    return [(int(m), int(efc)) for m, efc in pairs]


def _say(message: str) -> None:
    print(f"pg-hnsw: {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=450_000)
    p.add_argument("--graphs", default="16/64,32/128", help="m/ef_construction pairs")
    p.add_argument("--ef-search", default="40,100,400,1000,40", help="a value again: measured warm")
    p.add_argument("--queries", type=int, default=100)
    a = p.parse_args()

    import pgserver
    import psycopg
    from pgvector.psycopg import register_vector

    source = VectorSource("clustered", 0)
    vectors, queries = source.draw(a.rows), source.draw(a.queries)
    truth = [set(np.argsort(-(vectors @ q))[:K].tolist()) for q in queries]
    print("m   ef_constr.  build s  index MB  ef_search  p50 ms  p95 ms  recall@3")
    with tempfile.TemporaryDirectory(prefix="bluecode-pg-hnsw-") as tmp:
        server = pgserver.get_server(str(Path(tmp) / "pg"), cleanup_mode="delete")
        try:
            conn = psycopg.connect(server.get_uri(), autocommit=True)
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            register_vector(conn)
            conn.execute(f"CREATE TABLE t (id BIGINT PRIMARY KEY, v vector({DIM}))")
            _say(f"copying {a.rows} rows")
            with conn.cursor().copy("COPY t (id, v) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "vector"])
                for i, row in enumerate(vectors):
                    copy.write_row([i, row])
            conn.execute("ANALYZE t")
            for m, efc in _graphs(a.graphs):
                conn.execute("DROP INDEX IF EXISTS t_hnsw")
                memory = hnsw_build_memory_mb(a.rows, DIM) * (2 if m > 16 else 1)
                conn.execute(f"SET maintenance_work_mem = '{memory}MB'")
                _say(f"building m={m} ef_construction={efc}")
                t0 = time.perf_counter()
                with_ = f"WITH (m = {m}, ef_construction = {efc})"
                conn.execute(f"CREATE INDEX t_hnsw ON t USING hnsw (v vector_ip_ops) {with_}")
                build = time.perf_counter() - t0
                size = conn.execute("SELECT pg_relation_size('t_hnsw')").fetchone()[0] / 2**20
                for ef in _ints(a.ef_search):
                    conn.execute(f"SET hnsw.ef_search = {ef}")
                    conn.execute(SEARCH, (queries[0],)).fetchall()  # warm
                    times, found = [], 0
                    for q, want in zip(queries, truth, strict=True):
                        t = time.perf_counter()
                        ids = {r[0] for r in conn.execute(SEARCH, (q,)).fetchall()}
                        times.append((time.perf_counter() - t) * 1000)
                        found += len(ids & want)
                    print(
                        f"{m:<3} {efc:>10}  {build:>7.0f}  {size:>8.0f}  {ef:>9}  {percentile(times, 50) or 0:>6.2f}  "
                        f"{percentile(times, 95) or 0:>6.2f}  {found / (K * len(queries)):>8.3f}",
                        flush=True,
                    )
            conn.close()
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
