"""Worker functions for the Ray tests that kill their own worker process (test doubles of a dying worker)."""

from __future__ import annotations

import os
from pathlib import Path


def die_on(spec: dict[str, str], items: list[str]) -> list[str]:
    """Echo each item; ``once:*`` kills the worker on its first attempt only, ``always:*`` on every attempt."""
    for item in items:
        kind, _, name = item.partition(":")
        marker = Path(spec["dir"]) / name
        if kind == "always" or (kind == "once" and not marker.exists()):
            marker.touch()
            os._exit(1)  # the process dies as a crashed or killed worker does: no exception, no cleanup
    return [f"done {item}" for item in items]
