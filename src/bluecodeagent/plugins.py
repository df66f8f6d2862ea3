"""Plugin discovery: every module of a plugin package is imported, then the entry points of its group.

Each kind of plugin (static rule, dynamic probe, mutator, embedder, LLM backend, output format,
prompt task) lives in a package whose modules register themselves with a decorator. Discovery
imports every module of that package, so adding a file is enough, and then loads the Python
entry points of the kind's group, so a third-party package can add its own:

.. code-block:: toml

    [project.entry-points."bluecodeagent.mutators"]
    my_mutators = "my_package.mutators"   # a module whose import registers them

A plugin that fails to import is reported once on stderr and skipped; the built-in ones still load.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from bluecodeagent.errors import ConfigError

GROUPS = {
    "rules": "bluecodeagent.rules",
    "probes": "bluecodeagent.probes",
    "mutators": "bluecodeagent.mutators",
    "embedders": "bluecodeagent.embedders",
    "backends": "bluecodeagent.backends",
    "formats": "bluecodeagent.formats",
    "tasks": "bluecodeagent.tasks",
    "engines": "bluecodeagent.engines",
}

_lock = threading.RLock()
_done: set[tuple[str, str]] = set()
_failed: set[str] = set()


def discover(
    package: str, kind: str, *, skip: frozenset[str] = frozenset(), collect: Callable[[Any], None] | None = None
) -> None:
    """Import every module of ``package`` (not ``skip``ped), then the entry points of ``kind`` (once).

    ``collect`` is handed each imported module and each loaded entry-point object, for kinds whose
    plug-ins are found by what a module holds rather than by a decorator they call.
    """
    key = (package, kind)
    with _lock:
        if key in _done:
            return
        _done.add(key)
        pkg = importlib.import_module(package)
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            if info.name.startswith("_") or info.name in skip:
                continue
            module = importlib.import_module(f"{package}.{info.name}")
            if collect is not None:
                collect(module)
        load_entry_points(kind, collect)


def load_entry_points(kind: str, collect: Callable[[Any], None] | None = None) -> list[str]:
    """Load the entry points of a kind's group (each handed to ``collect``); returns the names that loaded."""
    loaded = []
    for ep in entry_points(group=GROUPS[kind]):
        try:
            obj = ep.load()
            if collect is not None:
                collect(obj)
        except Exception as e:  # a broken plug-in must not take the product down
            if ep.value not in _failed:
                _failed.add(ep.value)
                print(f"warning: plug-in {ep.name} ({ep.value}) of {GROUPS[kind]} failed to load: {e}", file=sys.stderr)
            continue
        loaded.append(ep.name)
    return loaded


def forget() -> None:
    """Discover again on next use (tests that install a plug-in)."""
    with _lock:
        _done.clear()
        _failed.clear()


F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Spec(Generic[F]):
    """One registered factory: its name, the factory, and its docstring's first line."""

    name: str
    build: F
    description: str


class Registry(Generic[F]):
    """Named factories of one kind, registered by a decorator and found by :func:`discover`.

    ``what`` names the kind in messages ("engine", "LLM backend"); ``package`` is scanned on first
    lookup, then the entry points of ``kind``.
    """

    def __init__(self, what: str, package: str, kind: str) -> None:
        self.what, self.package, self.kind = what, package, kind
        self.specs: dict[str, Spec[F]] = {}

    def register(self, name: str) -> Callable[[F], F]:
        """Register the decorated factory as ``name``; its docstring is its description."""

        def decorate(fn: F) -> F:
            old = self.specs.get(name)
            if old is not None and (old.build.__module__, old.build.__qualname__) != (fn.__module__, fn.__qualname__):
                raise ValueError(f"{self.what} {name!r} is already registered")
            doc = inspect.getdoc(fn) or ""
            if not doc:
                raise ValueError(f"{self.what} {name!r} needs a docstring (its description)")
            self.specs[name] = Spec(name, fn, doc.splitlines()[0])
            return fn

        return decorate

    def all(self) -> list[Spec[F]]:
        """Every registered factory, by name (built-in modules and entry points discovered first)."""
        discover(self.package, self.kind)
        return [s for _, s in sorted(self.specs.items())]

    def get(self, name: str) -> Spec[F]:
        """The factory called ``name``; an unknown name is a :class:`ConfigError` naming the choices."""
        known = {s.name: s for s in self.all()}
        if name not in known:
            raise ConfigError(f"unknown {self.what} {name!r} (choose {', '.join(known)})")
        return known[name]
