# ruff: noqa
# Sizes from input (CWE-770), decompression bombs (CWE-409), regex shapes that backtrack (CWE-1333).
import re
import struct
import zlib

from flask import request

MAX_ITEMS = 1000
MAX_FRAME = 1 << 20
# ruleid: py.regex.redos
EMAIL = re.compile(r"^([a-z0-9]+\.?)*@example\.com$")


def make_buffer():
    count = int(request.args.get("count", "0"))
    # ruleid: py.dos.size-from-input
    return bytearray(count)


def make_buffer_bounded():
    count = int(request.args.get("count", "0"))
    if count > MAX_ITEMS:
        raise ValueError("too many")
    # ok: py.dos.size-from-input
    return bytearray(count)


def padding(n: int):
    # ruleid: py.dos.size-from-input
    return [None] * n


def padding_clamped(n: int):
    # ok: py.dos.size-from-input
    return [None] * min(n, MAX_ITEMS)


def read_frame(sock):
    header = sock.recv(4)
    (length,) = struct.unpack(">I", header)
    # ruleid: py.dos.size-from-input
    return sock.recv(length)


def read_frame_bounded(sock):
    header = sock.recv(4)
    (length,) = struct.unpack(">I", header)
    if length > MAX_FRAME:
        raise ValueError("frame too large")
    # ok: py.dos.size-from-input
    return sock.recv(length)


def copy_bytes(data: bytes):
    # ok: py.dos.size-from-input
    return bytearray(data)


def inflate(blob: bytes):
    # ruleid: py.dos.decompression-bomb
    return zlib.decompress(blob)


def inflate_limited(blob: bytes):
    # ok: py.dos.decompression-bomb
    return zlib.decompressobj().decompress(blob, MAX_FRAME)


# ruleid: py.regex.redos
EMAIL_CHECK = re.compile(r"^(\w+|\d+)*@example\.com$")


def tag_words(text: str):
    # ruleid: py.regex.redos
    return re.findall(r"(x|[a-z]y)+!", text)


def tag_words_bounded(text: str):
    if len(text) > 256:
        raise ValueError("too long")
    # ok: py.regex.redos
    return re.findall(r"(x|[a-z]y)+!", text)


def quoted(text: str):
    # ok: py.regex.redos
    return re.findall(r'"(?:[^"\\]|\\.)*"', text)
