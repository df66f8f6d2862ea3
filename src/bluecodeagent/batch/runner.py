"""Running a batch: chunks in input order, one output line per record, resume, a closing summary.

The runner knows nothing about prompts or code. A command hands it the records and a function
that turns a chunk of usable records into one result dict each; the runner writes results in
input order, gives every unusable record its ``error`` line, skips what an earlier run finished
(``resume``) and counts what happened. A local loop, a thread pool or a cluster can all sit
behind the chunk function.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bluecodeagent.batch.records import Record, occurrence_keys
from bluecodeagent.errors import InputError

SEVERITY_KEY = "_severity"  # a chunk function's result may carry this; the runner pops it


class PartialChunk(Exception):
    """Raised by a chunk function that must stop the run: ``done`` holds the leading results it has."""

    def __init__(self, done: list[dict[str, Any]], cause: BaseException) -> None:
        super().__init__(str(cause))
        self.done, self.cause = done, cause


ChunkFn = Callable[[list[Record]], list[dict[str, Any]]]


@dataclass
class Outcome:
    """What a batch run did."""

    total: int = 0
    resumed: int = 0
    written: int = 0
    errors: int = 0
    warned: int = 0
    worst: int = 0
    error_lines: list[int] = field(default_factory=list)

    def summary(self, verb: str, output: str) -> str:
        """One closing line for stderr: every input record is accounted for."""
        done = f"{verb} {self.written} of {self.total} record(s)"
        parts = [done + (f" ({self.resumed} already in {output})" if self.resumed else "")]
        parts.append(f"{self.errors} error(s)" + (f" (lines {_lines(self.error_lines)})" if self.errors else ""))
        if self.warned:
            parts.append(f'{self.warned} with warnings (see their "warnings" field)')
        return ", ".join(parts) + f"; results in {output}"


def _lines(lines: list[int], most: int = 8) -> str:
    shown = ", ".join(map(str, lines[:most]))
    return shown + (f" and {len(lines) - most} more" if len(lines) > most else "")


@dataclass
class Resume:
    """What an earlier run's JSONL output already holds."""

    done: set[tuple[str, int]] = field(default_factory=set)
    worst: int = 0


def read_finished(path: Path, severity_of: Callable[[dict[str, Any]], int]) -> Resume:
    """Records with a result (not an ``error``) in an earlier run's output, told apart by occurrence."""
    if not path.exists():
        return Resume()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise InputError(f"cannot read {path} to resume: {e.strerror or e}") from e
    finished: list[dict[str, Any]] = []
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # cut off when the earlier run stopped: that record is screened again
        if isinstance(rec, dict) and "id" in rec:
            finished.append(rec)
    keys = occurrence_keys([r["id"] for r in finished])
    out = Resume()
    for key, rec in zip(keys, finished, strict=True):
        if "error" not in rec:
            out.done.add(key)
            out.worst = max(out.worst, severity_of(rec))
    return out


def pending(records: list[Record], resume: Resume) -> list[Record]:
    """The records an earlier run did not finish (the n-th record with an id matches its n-th result)."""
    keys = occurrence_keys([r.id for r in records])
    return [r for r, k in zip(records, keys, strict=True) if k not in resume.done]


@contextmanager
def append_to(path: Path) -> Iterator[TextIO]:
    """``path`` opened for appending, first ending a line an interrupted run left unfinished."""
    try:
        fh = path.open("a+", encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot append to {path}: {e.strerror or e}") from e
    with fh:
        if fh.tell() > 0:
            fh.seek(fh.tell() - 1)
            if fh.read(1) != "\n":
                fh.write("\n")
        yield fh


def run(
    records: list[Record],
    process: ChunkFn,
    out: TextIO,
    fmt: str,
    chunk_size: int,
    *,
    unit: str = "record",
    desc: str = "screening",
    outcome: Outcome | None = None,
) -> Outcome:
    """Process ``records`` chunk by chunk and write one line each (``jsonl``) or one array (``json``)."""
    from tqdm import tqdm

    done = outcome or Outcome(total=len(records))
    collected: list[dict[str, Any]] = []
    bar = tqdm(total=len(records), desc=desc, unit=unit, file=sys.stderr, disable=None)

    def emit(rec: Record, result: dict[str, Any]) -> None:
        done.worst = max(done.worst, int(result.pop(SEVERITY_KEY, 0)))
        line = rec.result(result) if rec.ok else rec.error_result()
        if "error" in line:
            done.errors += 1
            done.error_lines.append(rec.line)
        done.warned += bool(rec.warnings)
        done.written += 1
        if fmt == "jsonl":
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        else:
            collected.append(line)

    try:
        for start in range(0, len(records), chunk_size):
            chunk = records[start : start + chunk_size]
            usable = [r for r in chunk if r.ok]
            try:
                results = process(usable) if usable else []
            except PartialChunk as stop:
                finished = iter(stop.done)
                for rec in _leading(chunk, len(stop.done)):
                    emit(rec, next(finished) if rec.ok else {})
                out.flush()
                raise stop.cause from None
            if len(results) != len(usable):
                raise RuntimeError(f"a chunk of {len(usable)} record(s) gave {len(results)} result(s)")
            by_record = iter(results)
            for rec in chunk:
                emit(rec, next(by_record) if rec.ok else {})
            out.flush()
            bar.update(len(chunk))
    finally:
        bar.close()
    if fmt == "json":
        out.write(json.dumps(collected, indent=2, ensure_ascii=False) + "\n")
    return done


def run_resumable(
    records: list[Record],
    process: ChunkFn,
    out: TextIO,
    fmt: str,
    chunk_size: int,
    resume: bool,
    severity_of: Callable[[dict[str, Any]], int],
    *,
    unit: str = "record",
    desc: str = "screening",
    verb: str = "screen",
) -> Outcome:
    """:func:`run`; with ``resume``, only the records ``out`` (a JSONL file) lacks, appended to it."""
    if not resume:
        return run(records, process, out, fmt, chunk_size, unit=unit, desc=desc)
    name = getattr(out, "name", "-")
    earlier = read_finished(Path(name), severity_of)
    todo = pending(records, earlier)
    print(f"resume: {len(records) - len(todo)} record(s) already in {name}, {len(todo)} to {verb}", file=sys.stderr)
    outcome = Outcome(total=len(records), resumed=len(records) - len(todo), worst=earlier.worst)
    with append_to(Path(name)) as appended:  # never truncate what is already there
        done = run(todo, process, appended, fmt, chunk_size, unit=unit, desc=desc, outcome=outcome)
    done.written += done.resumed
    return done


def _leading(chunk: list[Record], n_done: int) -> list[Record]:
    """The records of ``chunk`` up to and including the ``n_done``-th usable one."""
    taken, seen = [], 0
    for rec in chunk:
        if rec.ok:
            if seen == n_done:
                break
            seen += 1
        taken.append(rec)
    return taken
