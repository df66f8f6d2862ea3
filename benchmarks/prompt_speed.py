"""Prompt-screening speed with windows: cold start, p50/p95 for 1 KB and 10 KB prompts, batched rate.

Prints a table; never run as a test. Prompts are synthetic (our own filler text), so no data set is read.
``--task all`` screens every prompt task per prompt (as plain ``bluecode check`` does); ``--no-cascade``
turns the first reader off (every piece embedded by MiniLM); ``--profile`` adds where the time goes.

    nice -n 10 .venv/bin/python benchmarks/prompt_speed.py [--task malicious|bias|injection|all] [--runs 20]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time

FILLER = (
    "Our team keeps a small service that turns weather readings into daily summaries for farmers. "
    "It reads CSV files, cleans missing values, and writes a report with charts. "
)
# Where a profile's time goes, by the functions that do the work (cumulative seconds of each).
STAGES = {
    "tokenize": ("encode_batch",),
    "MiniLM (ONNX)": ("run",),
    "segmentation": ("segments",),
    "rules": ("apply_rules",),
    "cue reading": ("cue_balance",),
    "constitution": ("build_constitution",),
    "first reader": ("first_read",),
    "neighbours / detector": ("score",),
}


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
    ap.add_argument("--no-cascade", action="store_true", help="every piece embedded by MiniLM (no first reader)")
    ap.add_argument("--profile", action="store_true", help="also print where the time of each size goes")
    args = ap.parse_args()

    t0 = time.perf_counter()
    from bluecodeagent.agent import BlueCodeAgent
    from bluecodeagent.tasks import PROMPT_TASKS

    agent = BlueCodeAgent(prompt_cascade=not args.no_cascade)
    tasks = PROMPT_TASKS if args.task == "all" else (args.task,)
    agent.warm_up(tasks)
    cold = time.perf_counter() - t0

    def screen(text: str) -> list:
        return agent.check_all(text) if args.task == "all" else [agent.check(text, args.task)]

    rows = [("cold start (import + model + detector)", f"{cold:.2f} s")]
    profiles = []
    for size in (1_000, 10_000):
        times = []
        for i in range(args.runs):
            text = prompt_of(size, i)
            s = time.perf_counter()
            verdicts = screen(text)
            times.append((time.perf_counter() - s) * 1000)
        q = statistics.quantiles(times, n=20)
        sig = [(v.task.value, v.evidence.signals) for v in verdicts if "segments" in v.evidence.signals]
        read = ", ".join(f"{t} {int(s.get('minilm_pieces', 0))}/{int(s['segments'])}" for t, s in sig)
        rows.append(
            (
                f"{size // 1000} KB prompt (MiniLM pieces/pieces: {read or 'none judged'})",
                f"p50 {statistics.median(times):.1f} ms, p95 {q[18]:.1f} ms",
            )
        )
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            for i in range(5):
                screen(prompt_of(size, 1000 + i))
            prof.disable()
            profiles.append((size, _stages(pstats.Stats(prof), 5)))
    batch = [(f"Write a function number {i} that reverses a list of words and counts them.", None) for i in range(256)]
    s = time.perf_counter()
    for t in tasks:
        for i in range(0, len(batch), 32):
            agent.check_many(batch[i : i + 32], t)
    rows.append(("batched short prompts (32 a call)", f"{len(batch) / (time.perf_counter() - s):.0f} prompts/s"))
    width = max(len(r[0]) for r in rows)
    print(f"prompt speed, task {args.task}, cascade {'off' if args.no_cascade else 'on'}")
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")
    for size, stages in profiles:
        print(f"where the time goes, {size // 1000} KB prompt (ms per prompt, cumulative, stages overlap)")
        for name, ms in stages:
            print(f"  {name.ljust(24)} {ms:7.1f}")


def _stages(stats: pstats.Stats, n: int) -> list[tuple[str, float]]:
    """Cumulative milliseconds per prompt of each stage's functions."""
    out = []
    for stage, names in STAGES.items():
        total = sum(v[3] for (_, _, fn), v in stats.stats.items() if _named(fn, names))  # type: ignore[attr-defined]
        out.append((stage, total * 1000 / n))
    return out


def _named(fn: str, names: tuple[str, ...]) -> bool:
    """A profiled function called one of ``names`` (a Python function, or a built-in method such as ``run``)."""
    return fn in names or any(f"method '{n}'" in fn or fn.endswith(f".{n}>") for n in names)


if __name__ == "__main__":
    main()
