"""Rule tests from annotated example files, and a contract test over every registered rule.

In ``examples/*.py`` a ``# ruleid: <id>`` comment says the next code line must produce a finding
of that rule; ``# ok: <id>`` says it must not. Every finding must be annotated (exact agreement).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bluecodeagent.code.static.base import get_analyzer, rules
from bluecodeagent.errors import InputError

EXAMPLES = Path(__file__).parent / "examples"
FILES = sorted(EXAMPLES.glob("*.py"))
ANNOT = re.compile(r"#\s*(ruleid|ok):\s*([\w.\-]+)")


def annotations(path: Path) -> tuple[set[tuple[str, int]], set[tuple[str, int]]]:
    """(expected, forbidden) sets of (rule id, line) from the annotation comments."""
    lines = path.read_text().splitlines()
    expected: set[tuple[str, int]] = set()
    forbidden: set[tuple[str, int]] = set()
    for i, line in enumerate(lines):
        m = ANNOT.search(line)
        if not m:
            continue
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or ANNOT.search(lines[j])):
            j += 1
        (expected if m.group(1) == "ruleid" else forbidden).add((m.group(2), j + 1))
    return expected, forbidden


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_examples(path: Path) -> None:
    expected, forbidden = annotations(path)
    findings = get_analyzer("python").analyze(path.read_text(), str(path))
    actual = {(f.rule_id, f.line) for f in findings}
    assert not (expected - actual), f"missed: {sorted(expected - actual)}"
    assert not (forbidden & actual), f"flagged ok code: {sorted(forbidden & actual)}"
    assert not (actual - expected), f"unannotated findings: {sorted(actual - expected)}"


def _all_annotations() -> tuple[set[str], set[str]]:
    ruleids: set[str] = set()
    oks: set[str] = set()
    for p in FILES:
        e, f = annotations(p)
        ruleids |= {r for r, _ in e}
        oks |= {r for r, _ in f}
    return ruleids, oks


@pytest.mark.parametrize("r", rules(), ids=lambda r: r.id)
def test_rule_contract(r) -> None:
    assert re.fullmatch(r"[a-z]+(\.[a-z0-9-]+)+", r.id)
    assert re.fullmatch(r"CWE-\d+", r.cwe)
    assert r.severity in ("low", "medium", "high")
    assert 0 < r.confidence <= 1
    assert len(r.doc) > 40, "the docstring is the rule's user documentation"
    ruleids, oks = _all_annotations()
    assert r.id in ruleids, "needs at least one '# ruleid:' example"
    assert r.id in oks, "needs at least one '# ok:' example"


def test_required_cwes_covered() -> None:
    have = {r.cwe for r in rules()}
    need = {
        f"CWE-{n}"
        for n in (
            20,
            22,
            74,
            77,
            78,
            79,
            89,
            94,
            95,
            120,
            200,
            281,
            295,
            327,
            338,
            347,
            352,
            367,
            400,
            502,
            601,
            611,
            732,
            770,
            862,
            863,
            915,
            918,
            1333,
        )
    }
    assert need <= have, sorted(need - have)


def test_unknown_language() -> None:
    with pytest.raises(InputError):
        get_analyzer("cobol")


def test_suppressions() -> None:
    src = (
        "import os\ndef f(x):\n    os.system(x)  # bluecode: ignore[CWE-78]\n"
        "    os.system(x + '1')  # bluecode: ignore\n"
    )
    assert get_analyzer("python").analyze(src) == []
    src2 = "import os\ndef f(x):\n    os.system(x)  # bluecode: ignore[CWE-89]\n"
    assert len(get_analyzer("python").analyze(src2)) == 1


def test_finding_details() -> None:
    f = get_analyzer("py").analyze("import os\ndef backup(path, name):\n    os.system('tar ' + name)\n")[0]
    assert f.details == {"function": "backup", "params": ["name"]}
    assert f.cwe == "CWE-78" and f.line == 3 and f.source == "static"


def test_syntax_error_is_not_fatal() -> None:
    assert get_analyzer("python").analyze("def f(:\n  pass") == []
