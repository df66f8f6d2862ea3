"""Prompt-screening speed with windows: cold start, p50/p95 for 1 KB and 10 KB prompts, batched rate.

Prints a table; never run as a test. Prompts are synthetic (our own filler text), so no data set is read.

    nice -n 10 .venv/bin/python benchmarks/prompt_speed.py [--task malicious] [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

FILLER = (
    "Our team keeps a small service that turns weather readings into daily summaries for farmers. "
    "It reads CSV files, cleans missing values, and writes a report with charts. "
)


def prompt_of(size: int, n: int) -> str:
    """A prompt of exactly ``size`` characters whose sentences all differ (identical windows would be embedded once)."""
    tail = f" Request {n}: write a function that averages the readings per day."
    parts, i = [], 0
    while sum(map(len, parts)) < size:
        parts.append(f"Note {i} of prompt {n}. {FILLER}")
        i += 1
    return ("".join(parts))[: size - len(tail)] + tail


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="malicious")
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()

    t0 = time.perf_counter()
    from bluecodeagent.agent import BlueCodeAgent

    agent = BlueCodeAgent()
    agent.warm_up((args.task,))
    cold = time.perf_counter() - t0
    rows = [("cold start (import + model + detector)", f"{cold:.2f} s")]
    for size in (1_000, 10_000):
        times = []
        for i in range(args.runs):
            text = prompt_of(size, i)
            s = time.perf_counter()
            v = agent.check(text, args.task)
            times.append((time.perf_counter() - s) * 1000)
        q = statistics.quantiles(times, n=20)
        pieces = int(v.evidence.signals.get("segments", 1))
        rows.append(
            (
                f"{size // 1000} KB prompt ({pieces} pieces)",
                f"p50 {statistics.median(times):.1f} ms, p95 {q[18]:.1f} ms",
            )
        )
    batch = [(f"Write a function number {i} that reverses a list of words and counts them.", None) for i in range(256)]
    s = time.perf_counter()
    for i in range(0, len(batch), 32):
        agent.check_many(batch[i : i + 32], args.task)
    rows.append(("batched short prompts (32 a call)", f"{len(batch) / (time.perf_counter() - s):.0f} prompts/s"))
    width = max(len(r[0]) for r in rows)
    print(f"prompt speed, task {args.task}")
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
