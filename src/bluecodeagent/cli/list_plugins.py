"""`bluecode list`: what this installation can do, each plug-in with the description its code gives."""

from __future__ import annotations

import json
from collections.abc import Callable

import click


def _rules() -> list[dict[str, str]]:
    from bluecodeagent.code.static.base import get_analyzer, languages, rules

    for lang in languages():
        get_analyzer(lang)  # importing an analyzer registers its rules
    return [{"name": r.id, "cwe": r.cwe or "", "severity": r.severity, "description": _first(r.doc)} for r in rules()]


def _probes() -> list[dict[str, str]]:
    from bluecodeagent.code.dynamic.base import probes

    return [
        {"name": p.name, "cwe": ", ".join(p.cwes), "description": _first(p.description or p.__doc__ or "")}
        for p in probes()
    ]


def _mutators() -> list[dict[str, str]]:
    from bluecodeagent.redteam.mutators import mutators

    return [{"name": m.name, "family": m.family, "description": _first(m.description)} for m in mutators()]


def _formats() -> list[dict[str, str]]:
    from bluecodeagent.formats.base import formats

    return [{"name": f.name, "for": "/".join(sorted(f.kinds)), "description": f.description} for f in formats()]


def _embedders() -> list[dict[str, str]]:
    from bluecodeagent.knowledge.embedders import embedders

    return [{"name": n, "description": d} for n, d in embedders().items()]


def _tasks() -> list[dict[str, str]]:
    from bluecodeagent.tasks import tasks

    return [{"name": n, "description": _first(spec.description)} for n, spec in tasks().items()]


def _backends() -> list[dict[str, str]]:
    from bluecodeagent.llm.backend import backends

    return [{"name": b.name, "description": b.description} for b in backends()]


def _engines() -> list[dict[str, str]]:
    from bluecodeagent.engines.base import engines

    return [{"name": e.name, "description": e.description} for e in engines()]


KINDS: dict[str, Callable[[], list[dict[str, str]]]] = {
    "rules": _rules,
    "probes": _probes,
    "mutators": _mutators,
    "formats": _formats,
    "embedders": _embedders,
    "tasks": _tasks,
    "backends": _backends,
    "engines": _engines,
}


def _first(doc: str) -> str:
    lines = [line.strip() for line in (doc or "").strip().splitlines()]
    return lines[0] if lines else ""


@click.command("list")
@click.argument("kind", type=click.Choice(sorted(KINDS)))
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_plugins(kind: str, fmt: str) -> None:
    """List the static rules, dynamic probes, red-team mutators, output formats, embedders, prompt tasks,
    LLM backends or engines.

    \b
    Built-in plug-ins and those third-party packages add through entry points (groups
    bluecodeagent.rules, .probes, .mutators, .formats, .embedders, .tasks, .backends, .engines)
    are listed alike.

    \b
    Examples:
      bluecode list rules              # id, CWE, severity and what each rule looks for
      bluecode list mutators -f json
    """
    rows = KINDS[kind]()
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    width = max((len(r["name"]) for r in rows), default=0)
    for r in rows:
        extra = "  ".join(f"{v}" for k, v in r.items() if k not in ("name", "description") and v)
        click.echo(f"{r['name']:<{width}}  {extra + '  ' if extra else ''}{r['description']}")
