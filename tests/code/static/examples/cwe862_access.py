# ruff: noqa
# Authorization (CWE-862/863), mass assignment (CWE-915), ownership (CWE-281), permissions (CWE-732),
# information exposure (CWE-200), TOCTOU (CWE-367).
import os
import stat
from pathlib import Path

from flask import request

USERS = {1: {"role": "admin"}}
PROFILES = {1: {"name": "a"}}
EDITABLE = {"name", "email"}


def view_profile(current_user_id: int, profile_id: int) -> dict:
    # ruleid: py.authz.missing-check
    return PROFILES[profile_id]


def view_profile_checked(current_user_id: int, profile_id: int) -> dict:
    if current_user_id != profile_id and USERS[current_user_id]["role"] != "admin":
        raise PermissionError("unauthorized")
    # ok: py.authz.missing-check
    return PROFILES[profile_id]


def admin_panel():
    # ruleid: py.authz.client-controlled
    if request.cookies.get("role") == "admin":
        return "secret"
    return "no"


def admin_panel_session(user):
    # ok: py.authz.client-controlled
    if user.role == "admin":
        return "secret"
    return "no"


def update(record: dict, changes: dict):
    # ruleid: py.mass-assignment
    record.update(changes)


def update_allowed(record: dict, changes: dict):
    for key, value in changes.items():
        if key in EDITABLE:
            # ok: py.mass-assignment
            record[key] = value


def update_obj(obj, changes: dict):
    for key, value in changes.items():
        # ruleid: py.mass-assignment
        setattr(obj, key, value)


def clean(folder: Path):
    for f in folder.iterdir():
        if f.is_file():
            # ruleid: py.perm.no-ownership-check
            f.unlink()


def clean_owned(folder: Path):
    for f in folder.iterdir():
        if f.is_file() and f.stat().st_uid == os.getuid():
            # ok: py.perm.no-ownership-check
            f.unlink()


def share(path: str):
    # ruleid: py.perm.permissive-mode
    os.chmod(path, 0o777)


def protect(path: str):
    # ok: py.perm.permissive-mode
    os.chmod(path, 0o600)


def save_token(path: str, token: str):
    # ruleid: py.perm.secret-file
    with open(path, "w") as f:
        f.write(token)


def save_token_private(path: str, token: str):
    # ok: py.perm.secret-file
    with open(path, "w") as f:
        f.write(token)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)


def report(patient_id: str, template: str):
    patient = PROFILES[patient_id]
    # ruleid: py.info.format-string
    return template.format(patient=patient)


def report_plain(patient_id: str, template: str):
    name = str(PROFILES[patient_id]["name"])
    # ok: py.info.format-string
    return template.format(name=name)


def write_if_absent(path: str, data: str):
    if not os.path.exists(path):
        # ruleid: py.file.toctou
        with open(path, "w") as f:
            f.write(data)


def write_exclusive(path: str, data: str):
    # ok: py.file.toctou
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, data.encode())


def append_confidential(log_path: str, confidential_record: str):
    # ruleid: py.perm.secret-file
    with open(log_path, "a") as f:
        f.write(confidential_record)
