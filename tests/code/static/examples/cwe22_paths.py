# ruff: noqa
# Path traversal (CWE-22).
import os
import tarfile
from pathlib import Path

from flask import request

BASE = Path("/srv/files")


def get_file(name: str) -> Path:
    # ruleid: py.path.traversal
    return BASE / name


def get_file_checked(name: str) -> Path:
    # ok: py.path.traversal
    path = BASE / name
    try:
        path.resolve().relative_to(BASE.resolve())
    except ValueError:
        raise PermissionError(name)
    return path


def read(root: str, name: str) -> str:
    # ruleid: py.path.traversal
    with open(os.path.join(root, name)) as f:
        return f.read()


def read_checked(root: str, name: str) -> str:
    # ok: py.path.traversal
    full = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([full, os.path.realpath(root)]) != os.path.realpath(root):
        raise PermissionError(name)
    with open(full) as f:
        return f.read()


def read_basename(root: str, name: str) -> str:
    # ok: py.path.traversal
    with open(os.path.join(root, os.path.basename(name))) as f:
        return f.read()


def unpack(archive: str, dest: str):
    with tarfile.open(archive) as tar:
        # ruleid: py.path.archive-extract
        tar.extractall(dest)


def unpack_filtered(archive: str, dest: str):
    with tarfile.open(archive) as tar:
        # ok: py.path.archive-extract
        tar.extractall(dest, filter="data")


UPLOADS = "/srv/uploads"


def download_glued(filename: str):
    path = UPLOADS + "/" + filename
    # ruleid: py.path.traversal
    return open(path, "rb").read()


def download_glued_fstring(filename: str):
    # ruleid: py.path.traversal
    return open(f"{UPLOADS}/{filename}", "rb").read()


def download_glued_checked(filename: str):
    path = os.path.realpath(UPLOADS + "/" + filename)
    if not path.startswith(UPLOADS + os.sep):
        raise PermissionError(filename)
    # ok: py.path.traversal
    return open(path, "rb").read()


def download_named():
    # ruleid: py.path.traversal
    return open(request.args["file"], "rb").read()
