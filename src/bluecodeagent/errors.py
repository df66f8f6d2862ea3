"""Errors users can act on. The CLI prints them as one line and exits 2."""

from __future__ import annotations

import errno
from pathlib import Path


class BlueCodeError(Exception):
    """Base for every error the product raises on purpose."""


class InputError(BlueCodeError):
    """The subject or input file is unusable (empty, binary, too large, malformed)."""


class ConfigError(BlueCodeError):
    """A setting is missing or invalid."""


class ModelError(BlueCodeError):
    """The embedding model is missing, altered or failed to load."""


class KnowledgeError(BlueCodeError):
    """The knowledge base is missing, corrupt or incompatible."""


class SandboxUnavailable(BlueCodeError):
    """No isolation layer is available, so untrusted code will not be run."""


def describe_os_error(path: str | Path, e: OSError) -> str:
    """One line naming what is wrong with a path (a symlink loop is not a missing file)."""
    reason = {
        errno.ELOOP: "symbolic link loop",
        errno.ENOENT: "no such file or directory",
        errno.EACCES: "permission denied",
        errno.EISDIR: "is a directory, not a file",
    }.get(e.errno or 0, e.strerror or str(e))
    return f"{path}: {reason}"
