"""Scan code for CWE vulnerabilities: static analysis, then dynamic probes in the sandbox, then the judge.

``scan_code`` scans one source text; ``scan_paths`` walks files and directories (respecting
``.gitignore``) with parallel workers. Without a sandbox dynamic testing is refused with one note in
the evidence and the static findings stand.
"""

from __future__ import annotations

import ast
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from bluecodeagent.batch.files import discover
from bluecodeagent.code.dynamic.base import ProbeResult, probe_for
from bluecodeagent.code.judge import KnowledgeSignal, finding_key, judge
from bluecodeagent.code.sandbox import Sandbox
from bluecodeagent.code.static.base import get_analyzer
from bluecodeagent.config import Settings
from bluecodeagent.errors import InputError, SandboxUnavailable, describe_os_error
from bluecodeagent.knowledge.store import KnowledgeBase
from bluecodeagent.llm.backend import LLMError
from bluecodeagent.subject import decode_bytes, validate_text
from bluecodeagent.verdict import Decision, Evidence, Finding, Status, Task, Verdict

if TYPE_CHECKING:
    from bluecodeagent.code.llm.engine import LLMRoute

MAX_FILE_BYTES = Settings.model_fields["max_input_bytes"].default  # the one setting, max_input_bytes
EXTENSIONS = {".py": "python", ".pyw": "python", ".pyi": "python"}
# A hook returns signals, or an object with ``signals`` plus ``constitution`` and neighbours for the evidence.
KnowledgeHook = Callable[[str, list[Finding]], Sequence[KnowledgeSignal] | Any]

_sandbox_lock = threading.Lock()
_sandbox_cache: dict[str, Sandbox | str] = {}


def default_sandbox() -> Sandbox:
    """The process-wide sandbox (detected once); raises SandboxUnavailable with the reason."""
    with _sandbox_lock:
        if "box" not in _sandbox_cache:
            try:
                _sandbox_cache["box"] = Sandbox.detect()
            except SandboxUnavailable as e:
                _sandbox_cache["box"] = str(e)
        box = _sandbox_cache["box"]
    if isinstance(box, str):
        raise SandboxUnavailable(box)
    return box


def runnable_source(code: str) -> str:
    """``code`` if it compiles; else the analyzer's repaired parse, unparsed (broken blocks dropped)."""
    try:
        compile(code, "<subject>", "exec", dont_inherit=True)
        return code
    except (SyntaxError, ValueError):
        from bluecodeagent.code.static.python.analyzer import parse

        tree = parse(code)
        return ast.unparse(tree) if tree is not None else code


def unparsed_reason(code: str, language: str) -> str | None:
    """Why ``code`` cannot be analysed as written (None when it parses): a syntax error, Python 2."""
    if language.lower() not in ("python", "py", "python3"):
        return None
    try:
        compile(code, "<subject>", "exec", dont_inherit=True, flags=ast.PyCF_ONLY_AST)
        return None
    except (SyntaxError, ValueError) as e:
        where = f" at line {e.lineno}" if isinstance(e, SyntaxError) and e.lineno else ""
        msg = e.msg if isinstance(e, SyntaxError) else str(e)
        py2 = isinstance(e, SyntaxError) and (
            "Missing parentheses" in msg or "print" in (e.text or "") or "except " in (e.text or "")
        )
        hint = " (Python 2 code?)" if py2 else ""
        return f"does not parse as Python 3{where}: {msg}{hint}"


def run_probes(
    code: str, findings: Sequence[Finding], sandbox: Sandbox
) -> dict[tuple[str | None, str | None], ProbeResult]:
    """One probe run per (function, CWE) among ``findings`` that a probe covers."""
    groups: dict[tuple[str | None, str | None], list[str]] = {}
    for f in findings:
        key = finding_key(f)
        if key[0] is None or probe_for(f.cwe) is None:
            continue
        params = groups.setdefault(key, [])
        params += [p for p in f.details.get("params") or [] if p not in params]
    if not groups:
        return {}
    source = runnable_source(code)
    out: dict[tuple[str | None, str | None], ProbeResult] = {}
    for (function, cwe), params in groups.items():
        probe = probe_for(cwe)
        assert probe is not None
        out[(function, cwe)] = probe.run(sandbox, source, function, params, cwe)
    return out


def scan_code(
    code: str,
    language: str = "python",
    path: str | None = None,
    dynamic: bool = True,
    sandbox: Sandbox | None = None,
    knowledge: KnowledgeHook | KnowledgeBase | None = None,
    id: str | None = None,
    llm: LLMRoute | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> Verdict:
    """Scan one source text and return a vulnerability verdict that explains itself.

    With ``llm`` the LLM (or hybrid) engine decides; this offline scan is its fallback and first stage.
    """
    start = time.perf_counter()
    validate_text(code, max_bytes, path or "code")
    if llm is not None:
        from bluecodeagent.code.llm.engine import scan_llm

        def offline() -> Verdict:
            return scan_code(code, language, path, dynamic, sandbox, knowledge, id)

        return scan_llm(code, llm.scanner, llm.options, offline, path, id, llm.stats)
    analyzer = get_analyzer(language)
    static = analyzer.analyze(code, path)
    notes: list[str] = []
    results: dict[tuple[str | None, str | None], ProbeResult] = {}
    if dynamic and static:
        try:
            box = sandbox or default_sandbox()
        except SandboxUnavailable as e:
            notes.append(f"dynamic testing refused: {e}")
        else:
            if language.lower() in ("python", "py", "python3"):
                results = run_probes(code, static, box)
            else:
                notes.append(f"dynamic testing not available for {language}")
    elif not dynamic:
        notes.append("dynamic testing disabled")
    if isinstance(knowledge, KnowledgeBase):
        from bluecodeagent.code.knowledge import knowledge_hook

        knowledge = knowledge_hook(knowledge)
    kres = knowledge(code, static) if knowledge else None
    signals = list(getattr(kres, "signals", kres) or [])
    j = judge(static, results, signals)
    confirmed = any(f.confirmed for f in j.findings)
    label = "vulnerable" if j.findings else "safe"
    unparsed = unparsed_reason(code, language)
    status, status_reason = Status.ANALYSED, None
    if unparsed and not j.findings:
        # nothing found in code that could not be read as written is no evidence of safety
        status, status_reason = Status.NOT_ANALYSED, unparsed
        notes.append(f"not analysed: {unparsed}")
    elif unparsed:
        notes.append(f"analysed from a repaired parse: {unparsed}")
    if status == Status.NOT_ANALYSED:
        decision = Decision.WARN
    elif not j.findings:
        decision = Decision.ALLOW
    elif confirmed or any(f.severity == "high" for f in j.findings):
        decision = Decision.BLOCK
    else:
        decision = Decision.WARN
    evidence = Evidence(
        static=[f.model_dump(mode="json") for f in static],
        dynamic=[r.model_dump(mode="json") for r in results.values()],
        notes=notes + [k.note for k in signals if k.note],
        constitution=getattr(kres, "constitution", []),
        unsafe_neighbours=getattr(kres, "vulnerable_neighbours", []),
        safe_neighbours=getattr(kres, "safe_neighbours", []),
        signals={
            "static_max": max((f.confidence for f in static), default=0.0),
            "confirmed": float(sum(f.confirmed for f in j.findings)),
            "refuted": float(sum(r.outcome == "rejected" for r in results.values())),
            "tampered": float(sum(r.outcome == "tampered" for r in results.values())),
        },
    )
    return Verdict(
        task=Task.VULNERABILITY,
        label=label,
        score=j.score,
        decision=decision,
        category=j.findings[0].cwe if j.findings else None,
        findings=j.findings,
        evidence=evidence,
        latency_ms=(time.perf_counter() - start) * 1000,
        id=id,
        status=status,
        status_reason=status_reason,
    )


# -- files and directories ------------------------------------------------------------------------------


class ScanResult(BaseModel):
    """One scanned file: a verdict, or the error that stopped it."""

    path: str
    verdict: Verdict | None = None
    error: str | None = None


def language_for(path: str | Path) -> str | None:
    """The language of a file from its extension, or None if unsupported."""
    return EXTENSIONS.get(Path(path).suffix.lower())


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Explicit files as given; directories walked for supported files, honouring every .gitignore.

    Paths that cannot be walked are left out here; ``scan_paths`` reports them as errors.
    """
    yield from discover([str(p) for p in paths], lambda p: language_for(p) is not None).files


def scan_file(
    path: str | Path,
    language: str | None = None,
    dynamic: bool = True,
    sandbox: Sandbox | None = None,
    llm: LLMRoute | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> ScanResult:
    """Scan one file; every problem becomes the result's ``error`` (nothing is raised)."""
    p = Path(path)
    try:  # an unsupported file is reported as such, before (and without) reading it
        raw, size = read_source(p, max_bytes) if (language or language_for(p)) is not None else (b"", 0)
    except InputError as e:
        return ScanResult(path=str(p), error=str(e))
    return scan_source(p, raw, size, language, dynamic, sandbox, llm, max_bytes)


def read_source(p: Path, max_bytes: int = MAX_FILE_BYTES) -> tuple[bytes, int]:
    """A file's first ``max_bytes + 1`` bytes and its size (a clear ``InputError`` when it cannot be read)."""
    try:
        with p.open("rb") as fh:
            return fh.read(max_bytes + 1), os.fstat(fh.fileno()).st_size
    except OSError as e:
        raise InputError(f"cannot read {describe_os_error(p, e)}") from e


def scan_source(
    p: Path,
    raw: bytes,
    size: int,
    language: str | None = None,
    dynamic: bool = True,
    sandbox: Sandbox | None = None,
    llm: LLMRoute | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> ScanResult:
    """Scan a file's bytes read by :func:`read_source` (wherever they are scanned); errors become ``error``."""
    try:
        lang = language or language_for(p)
        if lang is None:
            raise InputError(
                f"{p}: unsupported language (extension {p.suffix or 'none'!r}); pass --language to force one"
            )
        text = decode_bytes(raw, max_bytes, str(p), size)
        if not text.strip():
            raise InputError(f"{p} is empty")
        verdict = scan_code(text, lang, str(p), dynamic, sandbox, id=str(p), llm=llm, max_bytes=max_bytes)
        return ScanResult(path=str(p), verdict=verdict)
    except InputError as e:
        return ScanResult(path=str(p), error=str(e))
    except LLMError:  # the endpoint (or the budget) failed: every other file would fail too
        raise
    except Exception as e:  # a crash on one file must not lose the others
        return ScanResult(path=str(p), error=f"{p}: internal error: {type(e).__name__}: {e}")


def scan_paths(
    paths: Iterable[str | Path],
    language: str | None = None,
    dynamic: bool = True,
    sandbox: Sandbox | None = None,
    jobs: int = 1,
    progress: Callable[[ScanResult], None] | None = None,
    llm: LLMRoute | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> list[ScanResult]:
    """Scan files and directories with ``jobs`` parallel workers; results in walk order.

    A path that cannot be walked (missing, unreadable, a symlink loop) is a result with its ``error``.
    With ``llm``, workers are threads (the model client is shared) and model errors propagate.
    """
    found = discover([str(p) for p in paths], lambda p: language_for(p) is not None)
    unwalked = [ScanResult(path=msg.partition(": ")[0], error=msg) for msg in found.problems]
    files = found.files
    if jobs <= 1 or len(files) <= 1:
        out = list(unwalked)
        for f in files:
            r = scan_file(f, language, dynamic, sandbox, llm, max_bytes)
            if progress:
                progress(r)
            out.append(r)
        return out
    pool: Executor = ProcessPoolExecutor(jobs) if sandbox is None and llm is None else ThreadPoolExecutor(jobs)
    with pool:
        futures = [pool.submit(scan_file, f, language, dynamic, sandbox, llm, max_bytes) for f in files]
        results = list(unwalked)
        for fut in futures:
            r = fut.result()
            if progress:
                progress(r)
            results.append(r)
    return results
