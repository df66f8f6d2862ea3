"""Batch work on a Ray cluster: groups of items run as Ray tasks, their results come back in input order.

Ray is imported here only, and only when a run asks for it (the optional ``ray`` extra). A task whose
worker dies is retried by Ray (``RETRIES`` more times); a group still lost is split and each of its
items tried alone, and an item lost even then gets the caller's ``lost`` result: nothing disappears.
An error the item function itself raises (a model endpoint down, say) stops the run as it would locally.
Workers keep what is expensive to open (knowledge base, engine) across tasks with :func:`per_process`.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

from bluecodeagent.errors import ConfigError

LOCAL, AUTO = "local", "auto"
RETRIES = 2
MISSING_EXTRA = "--ray needs Ray, an optional extra: pip install 'bluecodeagent[ray]'"
_ADDRESS = re.compile(r"^(ray://)?[A-Za-z0-9._-]+:\d{1,5}$")

T = TypeVar("T")
ItemFn = Callable[[Any, list[Any]], list[Any]]


def check_address(value: str) -> str:
    """``local`` (start a cluster for this run), ``auto`` (the one running here), ``HOST:PORT`` or ``ray://...``."""
    v = value.strip()
    if v in (LOCAL, AUTO) or _ADDRESS.match(v):
        return v
    raise ValueError(
        f"{value!r} is not a Ray cluster address (local, auto, HOST:PORT or ray://HOST:PORT);"
        " to give paths after --ray, write --ray=local"
    )


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(MISSING_EXTRA) from None
    return ray


class RayCluster:
    """This process connected to a Ray cluster (one started for the run when the address is ``local``)."""

    def __init__(self, address: str) -> None:
        address = check_address(address)
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline: no usage reports
        ray = _import_ray()
        self._ray = ray
        try:
            if address == LOCAL:
                ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
        except Exception as e:  # Ray raises ConnectionError, RuntimeError, ValueError, ... with long texts
            raise ConfigError(f"cannot use the Ray cluster at {address}: {_first_line(e)}") from None
        self._remote = ray.remote(max_retries=RETRIES, retry_exceptions=False)(_call)

    def __enter__(self) -> RayCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Disconnect (and stop the cluster when this run started it)."""
        self._ray.shutdown()

    def cpus(self) -> int:
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def map(
        self,
        fn: ItemFn,
        spec: Any,
        items: Iterable[Any],
        lost: Callable[[Any, str], Any],
        group: int = 1,
    ) -> Iterator[Any]:
        """``fn(spec, items[i:i+group])`` for each group on the cluster; one result per item, in input order.

        ``fn`` must be a module-level function (workers import it); ``lost(item, reason)`` stands for the
        result of an item whose worker died on every attempt. At most two groups per CPU are in flight.
        """
        spec_ref = self._ray.put(spec)
        queue = _groups(iter(items), max(1, group))
        window: deque[tuple[list[Any], Any]] = deque()

        def submit(g: list[Any]) -> None:
            window.append((g, self._remote.remote(fn, spec_ref, g)))

        for g in islice(queue, 2 * self.cpus()):
            submit(g)
        while window:
            g, ref = window.popleft()
            yield from self._collect(fn, spec_ref, g, ref, lost)
            nxt = next(queue, None)
            if nxt is not None:
                submit(nxt)

    def _collect(self, fn: ItemFn, spec_ref: Any, g: list[Any], ref: Any, lost: Callable[[Any, str], Any]) -> list[Any]:
        errors = self._ray.exceptions
        try:
            out = self._ray.get(ref)
        except errors.RayTaskError as e:  # fn raised: the same error as a local run would give
            cause = getattr(e, "cause", None)
            raise (cause if isinstance(cause, Exception) else RuntimeError(_first_line(e))) from None
        except errors.RayError as e:  # the worker or its node died on every attempt
            if len(g) == 1:
                return [lost(g[0], _why(e))]
            alone = [([item], self._remote.remote(fn, spec_ref, [item])) for item in g]
            return [r for one, one_ref in alone for r in self._collect(fn, spec_ref, one, one_ref, lost)]
        if len(out) != len(g):
            raise RuntimeError(f"a group of {len(g)} item(s) gave {len(out)} result(s)")
        return list(out)


def _groups(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while g := list(islice(items, size)):
        yield g


def _call(fn: ItemFn, spec: Any, items: list[Any]) -> list[Any]:
    return fn(spec, items)


def _why(e: BaseException) -> str:
    return f"its worker died on {RETRIES + 1} attempts ({type(e).__name__})"


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


_HELD: dict[str, Any] = {}


def per_process(key: str, open_: Callable[[], T]) -> T:
    """What ``open_`` returns, opened once per worker process for ``key`` and kept for its later tasks."""
    if key not in _HELD:
        _HELD[key] = open_()
    return _HELD[key]  # type: ignore[no-any-return]


def lost_message(line: int | None, reason: str) -> str:
    """The ``error`` of a record the cluster could not finish."""
    where = f"line {line}: " if line is not None else ""
    return f"{where}not finished on the Ray cluster: {reason}"
