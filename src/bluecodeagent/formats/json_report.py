"""JSON (one document) and JSON Lines (one compact record per subject)."""

from __future__ import annotations

import json
from typing import Any

from bluecodeagent.formats.base import Items, ReportOptions, register
from bluecodeagent.verdict import Finding, Status, Verdict


@register("json")
def report_json(items: Items, options: ReportOptions) -> str:
    """Every verdict in full: evidence, neighbours, constitution, findings (one object, or a list)."""
    if options.kind == "code":
        return json.dumps([{"path": p, **v.model_dump(mode="json")} for p, v in items], indent=2) + "\n"
    payload = [v.model_dump(mode="json") for _, v in items]
    return json.dumps(payload[0] if len(payload) == 1 else payload, indent=2) + "\n"


@register("jsonl")
def report_jsonl(items: Items, options: ReportOptions) -> str:
    """One compact record per line (for prompts the verdict summary, for code the findings)."""
    if options.kind == "code":
        rows = [{"id": p or "stdin", **code_record(v)} for p, v in items]
    else:
        rows = [v.summary() for _, v in items]
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def finding_record(f: Finding) -> dict[str, Any]:
    """A finding as batch output shows it."""
    dyn = f.details.get("dynamic") or {}
    rec = {
        "cwe": f.cwe,
        "line": f.line,
        "confirmed": f.confirmed,
        "severity": f.severity,
        "confidence": f.confidence,
        "message": f.message,
        "rule_id": f.rule_id,
    }
    if dyn:
        rec["dynamic"] = dyn.get("outcome")
        if dyn.get("evidence"):
            rec["evidence"] = dyn["evidence"]
    return rec


def code_record(v: Verdict) -> dict[str, Any]:
    """A code verdict as one compact record; code that was not analysed carries an ``error``."""
    rec: dict[str, Any] = {
        "label": v.label,
        "score": round(v.score, 4),
        "findings": [finding_record(f) for f in v.findings],
        "notes": v.evidence.notes,
        "latency_ms": round(v.latency_ms, 1),
    }
    if v.status != Status.ANALYSED:  # no verdict on code that was not read: an error for the exit code
        rec |= {"status": v.status.value, "error": f"not analysed: {v.status_reason or 'unknown reason'}"}
    return rec
