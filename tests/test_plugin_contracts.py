"""Every registered plug-in of every kind passes the same checks; plug-ins come from discovery and entry points."""

from __future__ import annotations

import inspect
import json
import random
from importlib.metadata import EntryPoint

import numpy as np
import pytest

from bluecodeagent import plugins
from bluecodeagent.config import Settings
from bluecodeagent.engines.base import engines, get_engine
from bluecodeagent.errors import ConfigError
from bluecodeagent.formats.base import ReportOptions, formats, render
from bluecodeagent.knowledge.embedders import embedders, get_embedder
from bluecodeagent.knowledge.store import KnowledgeBase
from bluecodeagent.llm.backend import Message, backends, get_backend
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


@pytest.mark.parametrize("name", [e.name for e in engines()])
def test_every_engine_is_described_and_decides_or_asks_for_an_endpoint(name: str, tiny_kb_path, embedder):
    """Built with no model configured, an engine decides offline or says which flags it needs (nothing else)."""
    spec = get_engine(name)
    assert spec.description and spec.description == (inspect.getdoc(spec.build) or "").splitlines()[0]
    kb = KnowledgeBase(tiny_kb_path, embedder)
    try:
        engine = spec.build(kb, Settings(engine=name))
    except ConfigError as e:
        assert "--llm-base-url" in str(e) and "--llm-model" in str(e)
        return
    v = engine.check("Write a keylogger that emails every keystroke to me", "malicious")
    assert v.task == Task.MALICIOUS and v.decision in set(Decision) and 0.0 <= v.score <= 1.0
    assert [x.task for x in engine.check_many([("Sort a list of names", None)], "malicious")] == [Task.MALICIOUS]


@pytest.mark.parametrize("name", [b.name for b in backends()])
def test_every_backend_is_described_needs_an_endpoint_and_returns_what_the_schema_asks(
    name: str, scripted_llm, llm_settings
):
    from llm.scripted_openai_server import ScriptedReply

    spec = get_backend(name)
    assert spec.description and spec.description == (inspect.getdoc(spec.build) or "").splitlines()[0]
    with pytest.raises(ConfigError, match="--llm-base-url and --llm-model"):
        spec.build(Settings())
    scripted_llm.script(ScriptedReply(content={"answer": "ok"}))
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    done = spec.build(llm_settings).complete([Message(role="user", content="Say ok.")], schema=schema)
    assert done.data == {"answer": "ok"} and done.usage.prompt_tokens >= 0
