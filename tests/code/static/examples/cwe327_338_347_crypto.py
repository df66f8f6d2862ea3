# ruff: noqa
# Weak crypto (CWE-327), weak randomness (CWE-338), signatures (CWE-347), TLS (CWE-295).
import hashlib
import random
import secrets
import ssl

import jwt
import requests
from Crypto.Cipher import AES, DES

SAFE = ["sha256", "sha512"]
SIGS = {"a": "b"}


def digest(algo: str, data: bytes) -> bytes:
    # ruleid: py.crypto.user-algorithm
    return hashlib.new(algo, data).digest()


def digest_safe(algo: str, data: bytes) -> bytes:
    if algo not in SAFE:
        raise ValueError(algo)
    # ok: py.crypto.user-algorithm
    return hashlib.new(algo, data).digest()


def legacy(data: bytes) -> str:
    # ruleid: py.crypto.weak-hash
    return hashlib.md5(data).hexdigest()


def checksum(data: bytes) -> str:
    # ok: py.crypto.weak-hash
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def modern(data: bytes) -> str:
    # ok: py.crypto.weak-hash
    return hashlib.sha256(data).hexdigest()


def enc(key: bytes):
    # ruleid: py.crypto.weak-cipher
    return DES.new(key, DES.MODE_CBC)


def enc_ecb(key: bytes):
    # ruleid: py.crypto.weak-cipher
    return AES.new(key, AES.MODE_ECB)


def enc_gcm(key: bytes):
    # ok: py.crypto.weak-cipher
    return AES.new(key, AES.MODE_GCM)


def reset_token(n: int) -> str:
    # ruleid: py.random.insecure
    return "".join(random.choices("abcdef0123456789", k=n))


def reset_token_safe(n: int) -> str:
    # ok: py.random.insecure
    return "".join(secrets.choice("abcdef0123456789") for _ in range(n))


def shuffle_deck(deck: list) -> None:
    # ok: py.random.insecure
    random.shuffle(deck)


# ruleid: py.signature.unchecked
def load_message(msg_id: str, signature: str):
    return {"id": msg_id}


# ok: py.signature.unchecked
def load_message_checked(msg_id: str, signature: str):
    if SIGS.get(msg_id) != signature:
        raise ValueError("bad signature")
    return {"id": msg_id}


def claims(token: str):
    # ruleid: py.jwt.no-verify
    return jwt.decode(token, options={"verify_signature": False})


def claims_verified(token: str, key: str):
    # ok: py.jwt.no-verify
    return jwt.decode(token, key, algorithms=["HS256"])


def get(url: str):
    # ruleid: py.tls.no-verify
    # ruleid: py.ssrf.request
    return requests.get(url, verify=False, timeout=5)


def get_verified(url: str):
    # ok: py.tls.no-verify
    # ruleid: py.ssrf.request
    return requests.get(url, timeout=5)


def ctx():
    # ruleid: py.tls.no-verify
    return ssl._create_unverified_context()
