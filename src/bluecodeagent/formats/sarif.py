"""SARIF 2.1.0 output for code scanning verdicts (GitHub code scanning and other CI consumers)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bluecodeagent.formats.base import Items, ReportOptions, register
from bluecodeagent.verdict import Finding, Status, Verdict

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
VERSION = "2.1.0"
_LEVEL = {"high": "error", "medium": "warning", "low": "note"}
_SECURITY_SEVERITY = {"high": "8.0", "medium": "5.5", "low": "3.0"}


def _cwe_number(cwe: str | None) -> str | None:
    m = re.fullmatch(r"CWE-(\d+)", cwe or "")
    return m.group(1) if m else None


def _rule(f: Finding, docs: dict[str, str]) -> dict[str, Any]:
    num = _cwe_number(f.cwe)
    title = docs.get(f.rule_id) or f.message
    rule: dict[str, Any] = {
        "id": f.rule_id,
        "name": "".join(p.capitalize() for p in re.split(r"[^A-Za-z0-9]+", f.rule_id) if p),
        "shortDescription": {"text": title},
        "fullDescription": {"text": title},
        "defaultConfiguration": {"level": _LEVEL.get(f.severity, "warning")},
        "properties": {
            "tags": ["security", *([f.cwe, f"external/cwe/cwe-{num}"] if num else [])],
            "security-severity": _SECURITY_SEVERITY.get(f.severity, "5.5"),
        },
    }
    if num:
        rule["helpUri"] = f"https://cwe.mitre.org/data/definitions/{num}.html"
    return rule


def _rule_docs() -> dict[str, str]:
    try:
        from bluecodeagent.code.static.base import rules

        return {r.id: r.title for r in rules()}
    except Exception:
        return {}


SRCROOT = "%SRCROOT%"


def artifact_location(path: str | None, root: Path) -> dict[str, Any]:
    """A URI relative to ``%SRCROOT%`` (the scan's root) when the file is under it, else an absolute file URI.

    Code-scanning UIs resolve relative URIs against the checkout, so uploads from CI work.
    """
    if not path:
        return {"uri": "stdin"}
    p = Path(path)
    absolute = p if p.is_absolute() else Path(os.path.abspath(p))
    try:
        rel = absolute.relative_to(root)
    except ValueError:
        return {"uri": absolute.as_uri()}
    return {"uri": rel.as_posix(), "uriBaseId": SRCROOT}


def _notification(message: str, root: Path) -> dict[str, Any]:
    """A tool execution notification for a file that failed or was not analysed."""
    path, _, _ = message.partition(": ")
    note: dict[str, Any] = {
        "level": "error",
        "message": {"text": message},
        "descriptor": {"id": "not-analysed" if "not analysed" in message else "scan-error"},
    }
    if path and path != "stdin" and ("/" in path or "." in path):
        note["locations"] = [{"physicalLocation": {"artifactLocation": artifact_location(path, root)}}]
    return note


def to_sarif(
    items: Iterable[tuple[str | None, Verdict]],
    tool_version: str = "0",
    *,
    problems: Sequence[str] = (),
    root: Path | None = None,
) -> dict[str, Any]:
    """One SARIF run over (artifact path, verdict) pairs.

    ``problems`` are files that failed (unreadable, too large, not analysed: one line each); they
    become tool execution notifications and mark the invocation unsuccessful. ``root`` (default the
    working directory) is ``%SRCROOT%``, the base of every relative artifact URI.
    """
    items = list(items)
    base = Path(os.path.abspath(root or Path.cwd()))
    problems = [*problems]
    for path, verdict in items:
        if verdict.status != Status.ANALYSED:
            line = f"{path or 'stdin'}: not analysed: {verdict.status_reason or 'unknown reason'}"
            if line not in problems:
                problems.append(line)
    docs = _rule_docs()
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for path, verdict in items:
        for f in verdict.findings:
            if f.rule_id not in rules:
                rules[f.rule_id] = _rule(f, docs)
            region: dict[str, Any] = {"startLine": max(1, f.line or 1)}
            if f.end_line and f.end_line >= region["startLine"]:
                region["endLine"] = f.end_line
            if f.snippet:
                region["snippet"] = {"text": f.snippet}
            dyn = f.details.get("dynamic") or {}
            text = f.message + (f" — confirmed in the sandbox: {dyn.get('evidence')}" if f.confirmed else "")
            results.append(
                {
                    "ruleId": f.rule_id,
                    "ruleIndex": list(rules).index(f.rule_id),
                    "level": _LEVEL.get(f.severity, "warning"),
                    "message": {"text": text},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": artifact_location(f.path or path, base),
                                "region": region,
                            }
                        }
                    ],
                    "properties": {
                        "confirmed": f.confirmed,
                        "confidence": f.confidence,
                        "cwe": f.cwe,
                        "source": f.source,
                    },
                }
            )
    return {
        "$schema": SCHEMA,
        "version": VERSION,
        "runs": [
            {
                "tool": {"driver": {"name": "BlueCodeAgent", "version": tool_version, "rules": list(rules.values())}},
                "originalUriBaseIds": {SRCROOT: {"uri": base.as_uri() + "/"}},
                "invocations": [
                    {
                        "executionSuccessful": not problems,
                        "toolExecutionNotifications": [_notification(m, base) for m in problems],
                    }
                ],
                "results": results,
            }
        ],
    }


@register("sarif", kinds=("code",))
def report_sarif(items: Items, options: ReportOptions) -> str:
    """SARIF 2.1.0 for code-scanning UIs: relative URIs under %SRCROOT%, unreadable files as notifications."""
    import json

    return json.dumps(to_sarif(items, options.tool_version, problems=options.problems), indent=2) + "\n"
