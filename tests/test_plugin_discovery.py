"""A module dropped into a plug-in package, and an entry point of an installed distribution, are found
for every kind, without editing any list; modules shipped into the sandbox are never imported."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bluecodeagent import plugins
from bluecodeagent.cli.list_plugins import list_plugins

# kind -> (the package a module is dropped into, the plug-in module's source; {n} names the double)
SOURCES: dict[str, tuple[str, str]] = {
    "rules": (
        "bluecodeagent.code.static.python.rules",
        '''
        from bluecodeagent.code.static.base import rule

        @rule("test-double.{n}", "CWE-1", severity="low")
        def check(fc):
            """Test double of a {n} rule."""
            return iter(())
        ''',
    ),
    "probes": (
        "bluecodeagent.code.dynamic",
        '''
        from bluecodeagent.code.dynamic.base import Probe, register

        @register
        class DoubleProbe(Probe):
            """Test double of a {n} probe."""

            name = "test-double-{n}"
            cwes = ("CWE-1",)

            @staticmethod
            def inside(rt, fn, params):
                return {{"outcome": "not_exercised", "why": "a test double"}}
        ''',
    ),
    "mutators": (
        "bluecodeagent.redteam.mutators",
        '''
        from bluecodeagent.redteam.mutators import Mutator, register

        @register
        class DoubleMutator(Mutator):
            """Test double of a {n} mutator."""

            name = "test-double-{n}"
            family = "test"
            description = "Test double of a {n} mutator."

            def apply(self, text, rng):
                return text.upper()
        ''',
    ),
    "embedders": (
        "bluecodeagent.knowledge.embedders",
        '''
        from bluecodeagent.knowledge.embedders.base import embedder

        @embedder("test-double-{n}")
        def make(model, base_url):
            """Test double of a {n} embedder."""
            raise NotImplementedError
        ''',
    ),
    "backends": (
        "bluecodeagent.llm",
        '''
        from bluecodeagent.llm.backend import register_backend

        @register_backend("test-double-{n}")
        def build(settings):
            """Test double of a {n} backend."""
            raise NotImplementedError
        ''',
    ),
    "formats": (
        "bluecodeagent.formats",
        '''
        from bluecodeagent.formats.base import register

        @register("test-double-{n}")
        def report(items, options):
            """Test double of a {n} format."""
            return "double\\n"
        ''',
    ),
    "tasks": (
        "bluecodeagent.tasks",
        """
        from bluecodeagent.tasks.base import TaskSpec

        SPEC = TaskSpec(name="test-double-{n}", description="Test double of a {n} task.")
        """,
    ),
    "engines": (
        "bluecodeagent.engines",
        '''
        from bluecodeagent.engines.base import register_engine

        @register_engine("test-double-{n}")
        def build(kb, settings):
            """Test double of a {n} engine."""
            raise NotImplementedError
        ''',
    ),
}


def _names(kind: str) -> set[str]:
    """What the product's own lister of ``kind`` returns."""
    if kind == "rules":
        from bluecodeagent.code.static.base import rules

        return {r.id.replace("test-double.", "test-double-") for r in rules()}
    if kind == "probes":
        from bluecodeagent.code.dynamic import probes

        return {p.name for p in probes()}
    if kind == "mutators":
        from bluecodeagent.redteam.mutators import mutators

        return {m.name for m in mutators()}
    if kind == "embedders":
        from bluecodeagent.knowledge.embedders import embedders

        return set(embedders())
    if kind == "backends":
        from bluecodeagent.llm.backend import backends

        return {b.name for b in backends()}
    if kind == "formats":
        from bluecodeagent.formats.base import formats

        return {f.name for f in formats()}
    if kind == "tasks":
        from bluecodeagent.tasks import tasks

        return set(tasks())
    from bluecodeagent.engines.base import engines

    return {e.name for e in engines()}


def _registries() -> list[dict]:
    from bluecodeagent import tasks
    from bluecodeagent.code.dynamic import base as probes
    from bluecodeagent.code.static import base as rules
    from bluecodeagent.engines import base as engines
    from bluecodeagent.formats import base as formats
    from bluecodeagent.knowledge.embedders import base as embedders
    from bluecodeagent.llm import backend
    from bluecodeagent.redteam.mutators import base as mutators

    return [rules._RULES, probes._PROBES, mutators._MUTATORS, embedders.FACTORIES, backend.BACKENDS,
            formats.FORMATS, tasks._SPECS, engines.ENGINES]  # fmt: skip


@pytest.fixture
def clean() -> Iterator[None]:
    """Leave every registry and ``sys.modules`` as the other tests expect them."""
    for kind in SOURCES:  # built-ins imported first: none may snapshot a list holding a double
        _names(kind)
    plugins.forget()
    yield
    for registry in _registries():
        for key in [k for k in registry if "test-double" in k and k != "test-double-shouting"]:
            del registry[key]
    for mod in [m for m in sys.modules if "test_double" in m]:
        del sys.modules[mod]
    plugins.forget()


@pytest.fixture
def dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean: None) -> None:
    """A module dropped into each plug-in package (a second directory of the package's ``__path__``)."""
    for kind, (package, source) in SOURCES.items():
        folder = tmp_path / "dropped" / kind
        folder.mkdir(parents=True)
        (folder / "test_double_dropped.py").write_text(textwrap.dedent(source.format(n="dropped")))
        pkg = importlib.import_module(package)
        monkeypatch.setattr(pkg, "__path__", [*pkg.__path__, str(folder)])
    importlib.invalidate_caches()


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean: None) -> None:
    """A separate distribution on ``sys.path`` whose entry points name one module per kind."""
    site = tmp_path / "site"
    pkg = site / "bluecode_test_double"
    info = site / "bluecode_test_double-0.1.dist-info"
    pkg.mkdir(parents=True)
    info.mkdir()
    (pkg / "__init__.py").write_text("")
    groups = []
    for kind, (_, source) in SOURCES.items():
        (pkg / f"{kind}.py").write_text(textwrap.dedent(source.format(n="packaged")))
        groups.append(f"[{plugins.GROUPS[kind]}]\npackaged = bluecode_test_double.{kind}\n")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bluecode-test-double\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("\n".join(groups))
    monkeypatch.syspath_prepend(str(site))


def test_every_kind_has_a_group_and_a_source() -> None:
    assert set(SOURCES) == set(plugins.GROUPS)


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_a_module_dropped_into_the_package_is_found(kind: str, dropped: None) -> None:
    assert "test-double-dropped" in _names(kind)


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_an_entry_point_of_an_installed_distribution_is_found(kind: str, installed: None) -> None:
    assert "test-double-packaged" in _names(kind)


def test_built_in_plug_ins_stay_beside_the_added_ones(dropped: None, installed: None) -> None:
    assert {"test-double-dropped", "test-double-packaged", "sarif", "jsonl"} <= _names("formats")
    assert {"test-double-dropped", "test-double-packaged", "bias", "malicious", "injection"} <= _names("tasks")
    assert {"test-double-dropped", "test-double-packaged", "offline", "llm", "hybrid"} <= _names("engines")


@pytest.mark.parametrize("kind", ["rules", "probes", "formats", "tasks", "engines", "backends"])
def test_bluecode_list_shows_the_added_plug_ins(kind: str, dropped: None, installed: None) -> None:
    out = CliRunner().invoke(list_plugins, [kind])
    assert out.exit_code == 0, out.output
    assert "test-double" in out.output and "dropped" in out.output and "packaged" in out.output
    assert f"Test double of a dropped {kind[:-1]}" in out.output


def test_an_added_engine_is_accepted_by_the_settings(dropped: None) -> None:
    from bluecodeagent.config import Settings

    assert Settings(engine="test-double-dropped").engine == "test-double-dropped"
    with pytest.raises(ValueError, match=r"unknown engine 'nope' \(choose .*offline.*test-double-dropped"):
        Settings(engine="nope")


@pytest.mark.parametrize("command", ["scan", "check", "bench"])
def test_engine_option_offers_the_registered_engines(command: str, dropped: None) -> None:
    """``--engine`` is a choice built from the engine registry: an added engine is listed and accepted."""
    from bluecodeagent.cli import cli

    out = CliRunner().invoke(cli, [command, "--help"])
    assert out.exit_code == 0, out.output
    assert "[hybrid|llm|offline|test-double-dropped]" in "".join(out.output.split())
    bad = CliRunner().invoke(cli, [command, "--engine", "nope"])
    assert bad.exit_code == 2 and "'nope' is not one of" in bad.output and "test-double-dropped" in bad.output


def test_discovering_probes_never_imports_the_sandbox_sources(clean: None) -> None:
    from bluecodeagent.code.dynamic import base

    assert base.probes()
    assert {"runtime", "integrity"} <= base.SANDBOX_SOURCES
    assert "bluecodeagent.code.dynamic.runtime" not in sys.modules
    assert base.runtime_source().startswith('"""The harness runtime')  # shipped as text, read from its file
