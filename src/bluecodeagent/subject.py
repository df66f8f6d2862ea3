"""Validation of what users hand us: text must be non-empty, text (not binary) and not huge."""

from __future__ import annotations

import os
from pathlib import Path

from bluecodeagent.errors import InputError, describe_os_error

_CONTROL = {c for c in range(32) if c not in (9, 10, 12, 13)}


def validate_text(text: str, max_bytes: int, what: str = "text") -> str:
    """Return ``text`` if usable, else raise InputError saying why."""
    if not isinstance(text, str):
        raise InputError(f"{what} must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InputError(f"{what} is empty")
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > max_bytes:
        raise InputError(f"{what} is too large: {size:,} bytes (limit {max_bytes:,}; raise max_input_bytes)")
    if "\x00" in text:
        raise InputError(f"{what} looks binary (contains NUL bytes)")
    sample = text[:4096]
    if sum(ord(c) in _CONTROL for c in sample) > max(8, len(sample) // 20):
        raise InputError(f"{what} looks binary (many control characters)")
    return text


def decode_bytes(data: bytes, max_bytes: int, what: str, size: int | None = None) -> str:
    """Decode UTF-8 input strictly (a BOM is allowed) and validate it.

    Callers read at most ``max_bytes + 1`` bytes; ``size`` is the whole input's size when known.
    """
    if len(data) > max_bytes:
        amount = f"{size:,} bytes" if size is not None and size > max_bytes else f"more than {max_bytes:,} bytes"
        raise InputError(f"{what} is too large: {amount} (limit {max_bytes:,}; raise max_input_bytes)")
    if b"\x00" in data[:65536]:
        raise InputError(f"{what} looks binary (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{what} is not valid UTF-8 (byte {e.start})") from e
    return validate_text(text, max_bytes, what)


def read_text_file(path: str | Path, max_bytes: int) -> str:
    """Read a UTF-8 text file with clear errors for missing, unreadable, binary or huge files."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise InputError(f"cannot read {describe_os_error(p, e)}") from e
    return decode_bytes(data, max_bytes, str(p), size)
