"""How pgvector's HNSW graph parameters change recall on one big partition of clustered vectors.

``python benchmarks/pg_hnsw_params.py --rows 450000 --graphs 16/64,32/128 --ef-search 40,100,400,1000,40``

One table of ``--rows`` vectors drawn like ``kb_scale``'s clustered ones (the skewed 1M run's queried
partition holds 450k), one HNSW index per ``m/ef_construction`` pair in turn (built with the memory
``PgKnowledgeBase`` would give it: ``hnsw_build_memory_mb`` for that m), and top-3 queries timed per
``ef_search`` against exact search. A throwaway PostgreSQL (pgserver).

``--product``: each graph in a fresh database through ``PgKnowledgeBase`` instead (all rows one (task,
label) partition, inserted with ``add_vectors``, so the index is the product's own: its ``WITH (m,
ef_construction)``, its ``maintenance_work_mem`` sizing; searched with ``search_hnsw``). Prints whether the
build spilled out of memory (pgvector's notice).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from bluecodeagent.bench.kb_scale import DIM, K, SyntheticEmbedder, VectorSource
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
    p.add_argument("--product", action="store_true", help="build and search through PgKnowledgeBase")
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
            if a.product:
                for m, efc in _graphs(a.graphs):
                    _product(server, m, efc, vectors, queries, truth, _ints(a.ef_search))
                return
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
                memory = hnsw_build_memory_mb(a.rows, DIM, m=m)
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


def _product(
    server: Any, m: int, efc: int, vectors: np.ndarray, queries: np.ndarray, truth: list[set[int]], efs: list[int]
) -> None:
    """One graph through the product: a fresh database, one partition, ``add_vectors``, ``search_hnsw``."""
    import psycopg

    from bluecodeagent.knowledge.item import KnowledgeItem
    from bluecodeagent.knowledge.pg_store import PgKnowledgeBase, partition_index_name

    name = f"graph_{m}_{efc}"
    with psycopg.connect(server.get_uri(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    kb = PgKnowledgeBase(
        server.get_uri().replace("/postgres?", f"/{name}?", 1), SyntheticEmbedder(), m=m, ef_construction=efc
    )
    notices: list[str] = []
    kb._conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    items = [KnowledgeItem(uid=f"r{i}", task="malicious", label="unsafe", text=f"row {i}") for i in range(len(vectors))]
    memory = hnsw_build_memory_mb(len(vectors), DIM, kb.build_memory_mb, m=m)
    _say(f"inserting {len(items)} rows, then building m={m} ef_construction={efc} with {memory} MB")
    t0 = time.perf_counter()
    kb.add_vectors(items, vectors)
    total, build = time.perf_counter() - t0, kb.index_build_s
    size = kb._q("SELECT pg_relation_size(%s)", (partition_index_name("malicious", "unsafe"),))[0][0] / 2**20
    spilled = [n for n in notices if "no longer fits" in n]
    _say(f"insert+index {total:.0f} s, of it index {build:.0f} s; {memory} MB; spilled: {spilled or 'no'}")
    for ef in efs:
        kb.search_hnsw(queries[0], K, task="malicious", label="unsafe", ef_search=ef)  # warm
        times, found = [], 0
        for q, want in zip(queries, truth, strict=True):
            t = time.perf_counter()
            uids = {u for u, _ in kb.search_hnsw(q, K, task="malicious", label="unsafe", ef_search=ef)}
            times.append((time.perf_counter() - t) * 1000)
            found += len({int(u[1:]) for u in uids} & want)
        print(
            f"{m:<3} {efc:>10}  {build:>7.0f}  {size:>8.0f}  {ef:>9}  {percentile(times, 50) or 0:>6.2f}  "
            f"{percentile(times, 95) or 0:>6.2f}  {found / (K * len(queries)):>8.3f}",
            flush=True,
        )
    kb.close()


if __name__ == "__main__":
    main()
