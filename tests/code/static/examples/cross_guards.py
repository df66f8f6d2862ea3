# ruff: noqa
# Guards that do not guard: declared and never consulted, validators that never reject, ignored checks.
import hmac
import re
from urllib.parse import urlparse

import requests

# ruleid: py.guard.unconsulted
ALLOWED_FEED_HOSTS = ["news.example.com", "blog.example.com"]
# ok: py.guard.unconsulted
TRUSTED_IMAGE_HOSTS = {"img.example.com"}
# ruleid: py.guard.unconsulted
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# ok: py.guard.unconsulted
MAX_ITEMS = 100
# ok: py.guard.unconsulted
RETRY_DELAY = 3


def fetch_feed(feed_url: str) -> bytes:
    parsed = urlparse(feed_url)
    if parsed.scheme not in ("http", "https"):
        raise ValueError("scheme")
    # ruleid: py.ssrf.request
    return requests.get(feed_url, timeout=5).content


def fetch_image(image_url: str) -> bytes:
    if urlparse(image_url).hostname not in TRUSTED_IMAGE_HOSTS:
        raise ValueError("host")
    # ok: py.ssrf.request
    return requests.get(image_url, timeout=5).content


def save_upload(stream, items: list):
    if len(items) > MAX_ITEMS:
        raise ValueError("too many")
    return stream.read()


def delete_account(account_id: str, accounts: dict):
    # ruleid: py.guard.unconsulted
    admin_roles = {"admin", "owner"}
    accounts.pop(account_id)


def rename_account(account_id: str, role: str, accounts: dict):
    # ok: py.guard.unconsulted
    admin_roles = {"admin", "owner"}
    if role not in admin_roles:
        raise PermissionError(role)
    accounts[account_id]["name"] = "x"


# ruleid: py.guard.validator-never-rejects
def validate_redirect(url: str) -> str:
    parsed = urlparse(url)
    return url


# ok: py.guard.validator-never-rejects
def validate_redirect_host(url: str) -> str:
    if urlparse(url).hostname != "example.com":
        raise ValueError("foreign host")
    return url


# ok: py.guard.validator-never-rejects
def is_safe_name(name: str) -> bool:
    return re.fullmatch(r"[a-z0-9_]{1,32}", name) is not None


# ruleid: py.guard.validator-never-rejects
def is_allowed_user(user: str) -> bool:
    print("checking", user)
    return True


# ruleid: py.guard.validator-never-rejects
def check_signature(payload: bytes, sig: bytes, key: bytes) -> bytes:
    expected = hmac.new(key, payload, "sha256").digest()
    # ruleid: py.guard.ignored-result
    hmac.compare_digest(expected, sig)
    return payload


def check_signature_ok(payload: bytes, sig: bytes, key: bytes) -> bytes:
    expected = hmac.new(key, payload, "sha256").digest()
    # ok: py.guard.ignored-result
    if not hmac.compare_digest(expected, sig):
        raise ValueError("bad signature")
    return payload


def require_admin(user: dict) -> None:
    if user.get("role") != "admin":
        raise PermissionError("admin only")


def promote(user: dict, target: dict) -> None:
    # ok: py.guard.ignored-result
    require_admin(user)
    # ruleid: py.guard.ignored-result
    is_safe_name(target["name"])
    target["role"] = "admin"
