"""SARIF 2.1.0 output for code scanning verdicts (GitHub code scanning and other CI consumers)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bluecodeagent.verdict import Finding, Verdict

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


def to_sarif(items: Iterable[tuple[str | None, Verdict]], tool_version: str = "0") -> dict[str, Any]:
    """One SARIF run over (artifact path, verdict) pairs."""
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
                                "artifactLocation": {"uri": (f.path or path or "stdin").replace("\\", "/")},
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
                "results": results,
            }
        ],
    }
