# ruff: noqa
# Resource exhaustion (CWE-400/770), buffer length (CWE-120), ReDoS (CWE-1333).
import re
import time

from flask import request

CHUNK = 4096
MAX_SIZE = 10 * 1024 * 1024
MAX_REQUESTS = 100
WINDOW = 60
buffer = bytearray()


def consume(stream):
    # ruleid: py.dos.unbounded-stream
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break


def consume_limited(stream):
    total = 0
    # ok: py.dos.unbounded-stream
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > MAX_SIZE:
            raise ValueError("too large")


def upload():
    # ruleid: py.dos.unbounded-read
    return request.stream.read()


def upload_limited():
    # ok: py.dos.unbounded-read
    return request.stream.read(MAX_SIZE)


def rate_limit(client_id, tracker):
    now = time.time()
    count, start = tracker.get(client_id, (0, now))
    if now - start < WINDOW:
        # ruleid: py.dos.rate-limit
        tracker[client_id] = (count + 1, start)
    return "ok"


def rate_limit_enforced(client_id, tracker):
    now = time.time()
    count, start = tracker.get(client_id, (0, now))
    if count + 1 > MAX_REQUESTS:
        raise ValueError("rate limit exceeded")
    # ok: py.dos.rate-limit
    tracker[client_id] = (count + 1, start)
    return "ok"


def parse_header(data: bytes):
    # ruleid: py.buffer.no-length-check
    lines = data.split(b"\r\n")
    return lines


def parse_header_limited(data: bytes):
    if len(data) > 8192:
        raise ValueError("header too long")
    # ok: py.buffer.no-length-check
    lines = data.split(b"\r\n")
    return lines


def is_email(text: str) -> bool:
    # ruleid: py.regex.redos
    return bool(re.match(r"^([a-zA-Z0-9]+)*@example\.com$", text))


def is_email_simple(text: str) -> bool:
    # ok: py.regex.redos
    return bool(re.match(r"^[a-zA-Z0-9]+@example\.com$", text))


def search(pattern: str, text: str) -> bool:
    # ruleid: py.regex.redos
    return bool(re.search(pattern, text))


def search_literal(word: str, text: str) -> bool:
    # ok: py.regex.redos
    return bool(re.search(re.escape(word), text))
