"""The knowledge layer stands alone, and one helper opens the knowledge base for every caller.

Both checks read the package's source (an AST walk), so an import hidden inside a function counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bluecodeagent

PACKAGE = Path(bluecodeagent.__file__).parent
FORBIDDEN = ("bluecodeagent.redteam", "bluecodeagent.code")
OPENER = PACKAGE / "kb_open.py"


def _modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def _imported(tree: ast.AST, path: Path) -> list[str]:
    """Every module an ``import`` or ``from ... import`` names (relative ones resolved against ``path``)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
                base = ".".join(parts[: len(parts) - node.level])
                names.append(f"{base}.{node.module}" if node.module else base)
            else:
                names.append(node.module or "")
            names += [f"{names[-1]}.{a.name}" for a in node.names]
    return names


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and (
            (isinstance(n.func, ast.Name) and n.func.id == name)
            or (isinstance(n.func, ast.Attribute) and n.func.attr == name)
        )
    ]


def test_knowledge_imports_nothing_from_redteam_or_code():
    offenders = []
    for path in _modules(PACKAGE / "knowledge"):
        for name in _imported(ast.parse(path.read_text(encoding="utf-8")), path):
            if name.startswith(FORBIDDEN) and name.split(".")[1] in ("redteam", "code"):
                offenders.append(f"{path.relative_to(PACKAGE)}: {name}")
    assert not offenders, "knowledge/ must stand alone:\n" + "\n".join(offenders)


def test_the_import_check_sees_an_import_inside_a_function(tmp_path):
    """The walk is not fooled by the old trick (an import inside a function body) nor by a relative one."""
    src = "def f():\n    from bluecodeagent.redteam.generate import builtin_items\n    from ..code import scanner\n"
    fake = PACKAGE / "knowledge" / "fake.py"
    names = _imported(ast.parse(src), fake)
    assert "bluecodeagent.redteam.generate" in names and "bluecodeagent.code" in names


def _settings_embedder_calls(tree: ast.AST) -> list[ast.Call]:
    """``get_embedder(x.embedder, x.embedder_model)``: building the embedder the settings name."""
    return [
        c
        for c in _calls(tree, "get_embedder")
        if c.args and isinstance(c.args[0], ast.Attribute) and c.args[0].attr == "embedder"
    ]


def test_one_opener_for_the_knowledge_base():
    """Only kb_open.py calls ensure_kb or builds the settings' embedder; every caller goes through open_kb."""
    offenders = []
    for path in [*_modules(PACKAGE), *_modules(PACKAGE.parent.parent / "benchmarks")]:
        if path == OPENER or (path.parent.name == "knowledge" and path.name == "builder.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in _calls(tree, "ensure_kb") + _settings_embedder_calls(tree):
            offenders.append(f"{path.name}:{call.lineno}")
    assert not offenders, "open the knowledge base with bluecodeagent.kb_open.open_kb:\n" + "\n".join(offenders)
    callers = {
        p.relative_to(PACKAGE).as_posix()
        for p in _modules(PACKAGE)
        if _calls(ast.parse(p.read_text(encoding="utf-8")), "open_kb")
    }
    # The five places that opened the base by hand before now share the helper.
    assert {"agent.py", "code/llm/engine.py", "cli/kb.py", "cli/bench.py", "cli/redteam.py"} <= callers


def test_opener_follows_the_settings_to_either_backend(tmp_path, embedder, monkeypatch):
    """kb_url wins over kb_path (PostgreSQL), else the file; a missing file is not built when a path was given."""
    from bluecodeagent import kb_open
    from bluecodeagent.config import Settings
    from bluecodeagent.errors import KnowledgeError

    seen, ann, built = [], [], []

    class Opened:
        def configure_ann(self, **settings):
            ann.append(settings)

    def fake_ensure_kb(loc, emb, shipped, auto_build, ef_search, build_memory_mb, hnsw_graph):
        seen.append((loc, auto_build))
        built.append((build_memory_mb, hnsw_graph))
        return Opened()

    monkeypatch.setattr(kb_open, "ensure_kb", fake_ensure_kb)
    kb_open.open_kb(
        Settings(
            kb_path=tmp_path / "a.sqlite",
            kb_url="postgresql://u@h/db",
            kb_hnsw_build_memory_mb=1024,
            kb_hnsw_m=24,
            kb_hnsw_ef_construction=96,
        ),
        embedder=embedder,
    )
    kb_open.open_kb(Settings(kb_path=tmp_path / "a.sqlite", kb_ann_expansion=77, kb_ann_min_rows=5), embedder=embedder)
    kb_open.open_kb(Settings(), embedder=embedder)
    assert seen[0] == ("postgresql://u@h/db", False)
    assert seen[1] == (tmp_path / "a.sqlite", False)
    assert seen[2][1] is True and str(seen[2][0]).endswith("knowledge.sqlite")
    assert ann[1] == {"expansion": 77, "min_rows": 5}  # search_ann's settings reach the opened base
    assert built[0] == (1024, (24, 96))  # PostgreSQL's index build memory and graph reach the opener
    monkeypatch.undo()
    with pytest.raises(KnowledgeError, match=r"missing\.sqlite"):
        kb_open.open_kb(Settings(kb_path=tmp_path / "missing.sqlite"), embedder=embedder)
    assert not (tmp_path / "missing.sqlite").exists()


def test_builder_refreshes_from_what_it_is_handed(tmp_path, embedder):
    """The fingerprint/refresh logic over a handed-in ShippedKnowledge: a new version re-syncs the built-in
    batch and keeps added batches; the same version, a custom base or auto_build=False change nothing."""
    from bluecodeagent.knowledge.builder import ShippedKnowledge, build_kb, ensure_kb
    from bluecodeagent.knowledge.item import KnowledgeItem

    def item(text: str, batch: str = "builtin") -> KnowledgeItem:
        return KnowledgeItem(task="malicious", label="safe", category="c", text=text, batch=batch)

    old = ShippedKnowledge(items=lambda: [item("Sort a list of names")], version=lambda: "v1")
    new = ShippedKnowledge(items=lambda: [item("Return the n-th Fibonacci number")], version=lambda: "v2")
    path = tmp_path / "kb.sqlite"
    ensure_kb(path, embedder, old).close()  # first use: built from what was handed in
    kb = ensure_kb(path, embedder, old)
    assert kb.meta()["knowledge_version"] == "v1" and [it.text for it in kb.items()] == ["Sort a list of names"]
    kb.add([item("Parse a CSV file", batch="mine")])
    kb.close()
    kb = ensure_kb(path, embedder, new, auto_build=False)
    assert kb.meta()["knowledge_version"] == "v1"
    kb.close()
    kb = ensure_kb(path, embedder, new)
    assert kb.meta()["knowledge_version"] == "v2"
    assert sorted(it.text for it in kb.items()) == ["Parse a CSV file", "Return the n-th Fibonacci number"]
    kb.close()
    custom = tmp_path / "custom.sqlite"
    build_kb(custom, [item("Sort a list of names", batch="tiny")], embedder).close()
    kb = ensure_kb(custom, embedder, new)
    assert kb.meta()["knowledge_version"] == "custom" and [it.text for it in kb.items()] == ["Sort a list of names"]
    kb.close()


def test_shipped_fingerprint_covers_policies_cards_and_generators():
    """The wiring's fingerprint reads the same inputs as before the move (policies, cards, the three generators)."""
    from bluecodeagent.kb_open import SHIPPED, SHIPPED_GENERATORS, knowledge_version

    assert SHIPPED.version is knowledge_version and len(knowledge_version()) == 16
    assert all((PACKAGE / "redteam" / name).is_file() for name in SHIPPED_GENERATORS)
