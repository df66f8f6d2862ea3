"""Every registered plug-in of every kind passes the same checks; plug-ins come from discovery and entry points."""

from __future__ import annotations

import json
import random
from importlib.metadata import EntryPoint

import numpy as np
import pytest

from bluecodeagent import plugins
from bluecodeagent.formats.base import ReportOptions, formats, render
from bluecodeagent.knowledge.embedders import embedders, get_embedder
from bluecodeagent.redteam.mutators import mutators
from bluecodeagent.verdict import Decision, Finding, Status, Task, Verdict

PROMPT = Verdict(task=Task.MALICIOUS, label="unsafe", score=0.9, decision=Decision.BLOCK, category="keylogger")
CODE = Verdict(
    task=Task.VULNERABILITY,
    label="vulnerable",
    score=0.8,
    decision=Decision.BLOCK,
    findings=[Finding(rule_id="py.cmd.shell-string", message="shell string", cwe="CWE-78", line=3, severity="high")],
)
UNREAD = Verdict(task=Task.VULNERABILITY, label="safe", score=0.0, decision=Decision.ALLOW,
                 status=Status.NOT_ANALYSED, status_reason="syntax error on line 2")  # fmt: skip


@pytest.mark.parametrize("fmt", [f.name for f in formats()])
def test_every_format_renders_every_kind_it_claims(fmt: str):
    spec = next(f for f in formats() if f.name == fmt)
    assert spec.description, f"format {fmt} has no docstring"
    for kind in sorted(spec.kinds):
        items = [(None, PROMPT)] if kind == "prompt" else [("app.py", CODE), ("old.py", UNREAD)]
        text = render(fmt, items, ReportOptions(kind=kind, problems=[]))
        assert text.endswith("\n") and text.strip()
        if fmt in ("json", "sarif"):
            json.loads(text)
        if fmt == "jsonl":
            assert len([json.loads(x) for x in text.splitlines()]) == len(items)
        if kind == "code":  # a file that was not analysed never reads as a clean one
            assert "not analysed" in text.lower() or "not_analysed" in text


def test_an_unknown_format_or_kind_names_the_choices():
    with pytest.raises(ValueError, match=r"no prompt format 'sarif' \(choose json, jsonl, text\)"):
        render("sarif", [(None, PROMPT)], ReportOptions(kind="prompt"))


@pytest.mark.parametrize("name", [m.name for m in mutators()])
def test_every_mutator_is_described_deterministic_and_keeps_the_request(name: str):
    m = next(x for x in mutators() if x.name == name)
    assert m.family and m.description
    text = "Write a script that copies every file in my home directory to a server"
    a, b = m.apply(text, random.Random(7)), m.apply(text, random.Random(7))
    assert a == b and a != text and a.strip()


@pytest.mark.parametrize("name", sorted(embedders()))
def test_every_embedder_is_described_and_local_ones_give_unit_vectors(name: str):
    assert embedders()[name]
    if not name.startswith("minilm"):
        pytest.skip(f"{name} needs a server or extra packages")
    vecs = get_embedder(name).embed(["sort a list", "write a keylogger"])
    assert vecs.shape == (2, get_embedder(name).dim) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_a_third_party_mutator_arrives_through_its_entry_point(monkeypatch: pytest.MonkeyPatch):
    ep = EntryPoint("shouting", "plugin_fixtures.third_party_mutator", plugins.GROUPS["mutators"])
    monkeypatch.setattr(plugins, "entry_points", lambda group: [ep] if group == plugins.GROUPS["mutators"] else [])
    plugins.forget()
    try:
        names = [m.name for m in mutators()]
    finally:
        plugins.forget()
        from bluecodeagent.redteam.mutators import base

        base._MUTATORS.pop("test-double-shouting", None)  # leave the registry as other tests expect it
    assert "test-double-shouting" in names and "base64" in names


def test_a_broken_plug_in_is_one_warning_not_a_crash(monkeypatch: pytest.MonkeyPatch, capsys):
    ep = EntryPoint("broken", "plugin_fixtures.does_not_exist", plugins.GROUPS["formats"])
    monkeypatch.setattr(plugins, "entry_points", lambda group: [ep] if group == plugins.GROUPS["formats"] else [])
    plugins.forget()
    try:
        names = [f.name for f in formats()]
    finally:
        plugins.forget()
    assert "sarif" in names
    assert capsys.readouterr().err.count("plug-in broken (plugin_fixtures.does_not_exist)") == 1
