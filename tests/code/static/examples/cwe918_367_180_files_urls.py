# ruff: noqa
# SSRF with only a scheme check (CWE-918), check-then-use races (CWE-367), checks before
# canonicalisation (CWE-180).
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests

BASE = "/srv/files"
ALLOWED_SCHEMES = ("http", "https")
PARTNER_HOSTS = {"api.partner.example"}


def fetch_preview(url: str):
    if urlparse(url).scheme not in ALLOWED_SCHEMES:
        raise ValueError("scheme")
    client = requests.Session()
    # ruleid: py.ssrf.request
    return client.post(url, timeout=5)


def fetch_partner(url: str):
    parsed = urlparse(url)
    if parsed.scheme not in ALLOWED_SCHEMES or parsed.hostname not in PARTNER_HOSTS:
        raise ValueError("not a partner URL")
    client = requests.Session()
    # ok: py.ssrf.request
    return client.post(url, timeout=5)


def remove_if_there(path: str):
    if os.path.exists(path):
        # ruleid: py.file.toctou
        # ruleid: py.perm.no-ownership-check
        os.remove(path)


def remove_anyway(path: str):
    try:
        # ok: py.file.toctou
        # ruleid: py.perm.no-ownership-check
        os.remove(path)
    except FileNotFoundError:
        pass


def write_config(path: Path, text: str):
    if path.exists():
        # ruleid: py.file.toctou
        # ruleid: py.perm.no-ownership-check
        path.write_text(text)


def read_if_readable(path: str):
    if os.access(path, os.R_OK):
        # ruleid: py.file.toctou
        return open(path).read()


def read_if_there(path: str):
    if os.path.exists(path):
        # ok: py.file.toctou
        return open(path).read()


def serve(name: str):
    full = os.path.join(BASE, name)
    # ruleid: py.path.check-before-normalise
    if not full.startswith(BASE):
        raise PermissionError(name)
    return open(full, "rb").read()


def serve_normalised(name: str):
    full = os.path.realpath(os.path.join(BASE, name))
    # ok: py.path.check-before-normalise
    if not full.startswith(BASE + os.sep):
        raise PermissionError(name)
    return open(full, "rb").read()


def serve_encoded(name: str):
    if ".." in name:
        raise PermissionError(name)
    # ruleid: py.path.check-before-normalise
    real = unquote(name)
    return open(os.path.basename(real), "rb").read()


def strip_dots(name: str):
    # ruleid: py.path.check-before-normalise
    cleaned = name.replace("../", "")
    # ok: py.path.traversal
    return open(os.path.join(BASE, os.path.basename(cleaned)), "rb").read()
