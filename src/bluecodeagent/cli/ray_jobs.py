"""``--ray``: the work of ``check -i``, ``scan`` and ``bench`` on Ray workers, with the functions of a local run.

The driver reads the input, opens (or builds) the knowledge base once, and writes every result in input
order, so the output and ``--resume`` are those of a local run. Each worker process opens the agent
(knowledge base, engine, trained detectors) once per settings and keeps it for all its later tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from bluecodeagent.batch.ray_runner import RayCluster, lost_message, per_process
from bluecodeagent.batch.records import Record
from bluecodeagent.config import Settings
from bluecodeagent.errors import ConfigError, InputError

if TYPE_CHECKING:
    from bluecodeagent.agent import BlueCodeAgent
    from bluecodeagent.code.scanner import ScanResult
    from bluecodeagent.verdict import Verdict

CHECK_GROUP = 16  # prompts per Ray task: batched embedding, and little to redo when a worker dies
SCAN_GROUP = 1  # sources per Ray task: each one runs its sandbox tests
RAY_CHUNK = 256  # records the batch runner hands over at once, then writes and flushes


def cluster_for(settings: Settings) -> RayCluster:
    """The cluster of ``settings.ray_address`` (offline engine only: an LLM run is bound by its endpoint)."""
    if settings.engine != "offline":
        raise ConfigError(f"--ray runs the offline engine; engine {settings.engine!r} is bound by its endpoint")
    assert settings.ray_address is not None
    return RayCluster(settings.ray_address)


def pinned(settings: Settings) -> Settings:
    """The settings for workers: the knowledge base location resolved here (never built there), no Ray."""
    update: dict[str, Any] = {"ray_address": None}
    if settings.kb_url is None:
        update["kb_path"] = settings.resolved_kb_path()
    return settings.model_copy(update=update)


def _agent(settings: Settings) -> BlueCodeAgent:
    from bluecodeagent.agent import BlueCodeAgent

    return per_process("agent " + settings.model_dump_json(), lambda: BlueCodeAgent(settings=settings))


class CheckSpec(BaseModel):
    """What every ``check -i`` task needs besides its records."""

    settings: Settings
    tasks: list[str]


def screen_group(spec: CheckSpec, records: list[Record]) -> list[dict[str, Any]]:
    """On a worker: the records screened as ``check -i`` screens a chunk locally."""
    from bluecodeagent.cli.check import _screen_chunk

    return _screen_chunk(_agent(spec.settings), spec.tasks, records)


def _lost_record(rec: Record, reason: str) -> dict[str, Any]:
    return {"error": lost_message(rec.line, reason)}


def screen_chunks(cluster: RayCluster, agent: BlueCodeAgent, tasks: list[str]) -> Callable[[list[Record]], list[Any]]:
    """A chunk function for the batch runner that screens on the cluster."""
    _ = agent.kb  # opened, or built on first run, here and once: workers only open it
    spec = CheckSpec(settings=pinned(agent.settings), tasks=tasks)
    return lambda chunk: list(cluster.map(screen_group, spec, chunk, _lost_record, CHECK_GROUP))


def scan_group(options: Any, records: list[Record]) -> list[dict[str, Any]]:
    """On a worker: ``scan -i`` records, each as a local run scans it."""
    from bluecodeagent.cli.scan import _scan_record

    return [_scan_record(options, None, rec) for rec in records]


def scan_chunks(cluster: RayCluster, options: Any) -> Callable[[list[Record]], list[Any]]:
    """A chunk function for the batch runner that scans ``-i`` records on the cluster."""
    return lambda chunk: list(cluster.map(scan_group, options, chunk, _lost_record, SCAN_GROUP))


class SourceSpec(BaseModel):
    """How every file of a ``scan PATH...`` is scanned."""

    language: str | None
    dynamic: bool
    max_bytes: int


Source = tuple[str, bytes, int, str | None]  # path, first bytes, size, the error that stopped reading


def scan_sources(spec: SourceSpec, sources: list[Source]) -> list[ScanResult]:
    """On a worker: files read by the driver, scanned as ``scan PATH`` scans them locally."""
    from bluecodeagent.code.scanner import ScanResult, scan_source

    return [
        ScanResult(path=path, error=error)
        if error is not None
        else scan_source(Path(path), raw, size, spec.language, spec.dynamic, max_bytes=spec.max_bytes)
        for path, raw, size, error in sources
    ]


def _read(files: Iterable[Path], spec: SourceSpec) -> Iterator[Source]:
    from bluecodeagent.code.scanner import language_for, read_source

    for f in files:
        try:
            raw, size = read_source(f, spec.max_bytes) if (spec.language or language_for(f)) else (b"", 0)
        except InputError as e:
            yield (str(f), b"", 0, str(e))
            continue
        yield (str(f), raw, size, None)


def scan_files(
    cluster: RayCluster,
    files: list[Path],
    spec: SourceSpec,
    progress: Callable[[ScanResult], None] | None = None,
) -> list[ScanResult]:
    """The files scanned on the cluster (read here, so workers need not see this file system), in order."""
    from bluecodeagent.code.scanner import ScanResult

    def lost(source: Source, reason: str) -> ScanResult:
        return ScanResult(path=source[0], error=f"{source[0]}: {lost_message(None, reason)}")

    results = []
    for r in cluster.map(scan_sources, spec, _read(files, spec), lost, SCAN_GROUP):
        if progress:
            progress(r)
        results.append(r)
    return results


class BenchSpec(BaseModel):
    """The agent (its settings) and task of one ``bench`` scoring run."""

    settings: Settings
    task: str


def check_group(spec: BenchSpec, pairs: list[tuple[str, str | None]]) -> list[Verdict]:
    """On a worker: verdicts for (text, context) pairs, as ``BlueCodeAgent.check_many`` gives them."""
    return _agent(spec.settings).check_many(pairs, spec.task)


class RayAgent:
    """An agent whose batched checks run on the cluster; single checks (timed for latency) stay here."""

    def __init__(self, local: BlueCodeAgent, cluster: RayCluster) -> None:
        self.local, self.cluster = local, cluster

    @property
    def kb(self) -> Any:
        return self.local.kb

    def check(self, text: str, task: str, context: str | None = None) -> Verdict:
        return self.local.check(text, task, context)

    def check_all(self, text: str, context: str | None = None) -> list[Verdict]:
        return self.local.check_all(text, context)

    def check_many(self, records: list[tuple[str, str | None]], task: str) -> list[Verdict]:
        _ = self.local.kb
        spec = BenchSpec(settings=pinned(self.local.settings), task=task)

        def lost(pair: tuple[str, str | None], reason: str) -> Verdict:
            raise RuntimeError(f"a bench sample was {lost_message(None, reason)}")

        return list(self.cluster.map(check_group, spec, records, lost, CHECK_GROUP))


def ray_factory(factory: Callable[[Path | None], Any], cluster: RayCluster) -> Callable[[Path | None], RayAgent]:
    """``bench``'s agent factory, its agents checking on the cluster."""
    return lambda kb_path: RayAgent(factory(kb_path), cluster)
