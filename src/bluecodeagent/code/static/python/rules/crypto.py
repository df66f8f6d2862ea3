"""Cryptography: weak or caller-chosen algorithms (CWE-327), predictable randomness (CWE-338),
unverified signatures and tokens (CWE-347), disabled TLS verification (CWE-295)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from bluecodeagent.code.static.base import rule
from bluecodeagent.code.static.python.rules.common import Hit, arg, falsy_literal, kwarg
from bluecodeagent.code.static.python.taint import FunctionContext, const_str

WEAK_HASHES = frozenset({"md5", "md4", "sha1", "sha", "md2", "ripemd160", "sha224"})
WEAK_HASH_ATTRS = frozenset(f"hashlib.{h}" for h in WEAK_HASHES)
WEAK_CIPHERS = re.compile(r"\b(DES|DES3|TripleDES|ARC4|ARC2|RC4|RC2|Blowfish|IDEA|CAST5|XOR)\b")


@rule("py.crypto.weak-hash", "CWE-327", severity="medium", confidence=0.7)
def weak_hash(fc: FunctionContext) -> Iterator[Hit]:
    """Broken hash (MD5, SHA-1, MD4) used where security may depend on it.

    Collisions for MD5 and SHA-1 are practical. Use SHA-256 or better, and a password KDF
    (``hashlib.scrypt``, ``pbkdf2_hmac`` with many iterations, argon2) for passwords. Pass
    ``usedforsecurity=False`` for non-security checksums.
    """
    for call in fc.calls():
        name = fc.call_name(call)
        algo = None
        if name.startswith("hashlib.") and name[8:] in WEAK_HASHES:
            algo = name[8:]
        elif name in ("hashlib.new", "hmac.new", "hashlib.pbkdf2_hmac", "hmac.digest"):
            idx = 0 if name in ("hashlib.new", "hashlib.pbkdf2_hmac") else 2
            a = arg(call, idx, "name" if idx == 0 else "digestmod")
            s = const_str(a)
            if s and s.lower() in WEAK_HASHES:
                algo = s
            elif isinstance(a, ast.Attribute) and fc.module.resolve(fc.text(a)) in WEAK_HASH_ATTRS:
                algo = a.attr
        elif name.rsplit(".", 1)[-1] in ("MD5", "SHA1") and "Crypto" in name:
            algo = name.rsplit(".", 1)[-1]
        if algo and not falsy_literal(kwarg(call, "usedforsecurity")):
            yield Hit(call, f"weak hash algorithm {algo}")


@rule("py.crypto.weak-cipher", "CWE-327", severity="high", confidence=0.75)
def weak_cipher(fc: FunctionContext) -> Iterator[Hit]:
    """Broken cipher or mode (DES, 3DES, RC4, Blowfish, ECB).

    These ciphers have short keys or biased keystreams, and ECB leaks plaintext patterns. Use
    AES-GCM or ChaCha20-Poly1305 (``cryptography``'s AEAD classes).
    """
    for call in fc.calls():
        name = fc.call_name(call)
        if WEAK_CIPHERS.search(name) and (name.endswith(".new") or "algorithms" in name or "Cipher" in name):
            yield Hit(call, f"weak cipher {name}")
            continue
        for a in [*call.args, *(k.value for k in call.keywords)]:
            t = fc.text(a) if isinstance(a, ast.Attribute | ast.Call) else ""
            if t.endswith("MODE_ECB") or t.startswith(("modes.ECB", "ECB(")):
                yield Hit(call, "ECB mode leaks plaintext structure")
                break


@rule("py.crypto.user-algorithm", "CWE-327", severity="medium", confidence=0.75)
def user_algorithm(fc: FunctionContext) -> Iterator[Hit]:
    """Hash or cipher algorithm chosen by the caller without an allowlist.

    ``hashlib.new(name)`` with a caller-supplied name accepts ``md5``/``sha1``. Check the name
    against an allowlist of strong algorithms (``if name not in {"sha256", "sha512"}: raise``).
    """
    for call in fc.calls():
        name = fc.call_name(call)
        if name in ("hashlib.new", "hashlib.pbkdf2_hmac"):
            a = arg(call, 0, "name" if name == "hashlib.new" else "hash_name")
        elif name in ("hmac.new", "hmac.digest"):
            a = arg(call, 2, "digestmod")
        else:
            continue
        if a is not None and not isinstance(a, ast.Constant) and fc.is_tainted(a):
            yield Hit(call, f"{name}() with an algorithm chosen by the caller and no allowlist", fc.tainted_params(a))


_SECURITY_WORDS = re.compile(
    r"token|passw|secret|key|salt|nonce|otp|session|reset|auth|csrf|cred|pin\b|passphrase|"
    r"unique_?id|identifier|api|signature|crypt|code|uuid|verification|captcha|seed",
    re.I,
)
RANDOM_FUNCS = frozenset(
    {
        "random",
        "randint",
        "randrange",
        "choice",
        "choices",
        "sample",
        "getrandbits",
        "shuffle",
        "uniform",
        "randbytes",
        "seed",
    }
)


@rule("py.random.insecure", "CWE-338", severity="medium", confidence=0.75)
def insecure_random(fc: FunctionContext) -> Iterator[Hit]:
    """``random`` module used to make tokens, keys, passwords or identifiers.

    ``random`` is a Mersenne Twister: its output can be predicted from a few samples. Use
    ``secrets`` (``token_urlsafe``, ``token_bytes``, ``choice``) or ``os.urandom``.
    """
    ctx = fc.name + " " + " ".join(fc.params) + " " + " ".join(fc.defs)
    security = bool(_SECURITY_WORDS.search(ctx))
    for call in fc.calls():
        name = fc.call_name(call)
        head, _, fn = name.rpartition(".")
        if head not in ("random", "numpy.random", "np.random") or fn not in RANDOM_FUNCS:
            continue
        if security or _SECURITY_WORDS.search(fc.text(fc.parent(call) or call)):
            yield Hit(call, f"{name}() is predictable; use the secrets module for security values")


_SIG_PARAM = re.compile(r"(^|_)(sig|signature|sign|mac|hmac|digest|sign_hash|signed)(_|$)", re.I)


@rule("py.signature.unchecked", "CWE-347", severity="high", confidence=0.7)
def signature_unchecked(fc: FunctionContext) -> Iterator[Hit]:
    """A signature/MAC parameter that the function never looks at.

    A function that receives ``signature`` and returns the data without comparing it accepts
    forged input. Verify the signature (``hmac.compare_digest`` against a recomputed MAC, or the
    library's verify call) before using the data.
    """
    if fc.name == "<module>" or fc.name.startswith("__"):
        return
    body = getattr(fc.node, "body", [])
    if len(body) == 1 and isinstance(body[0], ast.Expr | ast.Pass | ast.Raise):
        return
    for p in fc.params:
        if _SIG_PARAM.search(p) and not fc.uses(p):
            yield Hit(fc.param_nodes[p], f"signature parameter '{p}' is never verified", [p])


@rule("py.jwt.no-verify", "CWE-347", severity="high", confidence=0.85)
def jwt_no_verify(fc: FunctionContext) -> Iterator[Hit]:
    """JWT decoded without verifying its signature, or with the ``none`` algorithm allowed.

    ``jwt.decode(token, options={"verify_signature": False})`` (or ``verify=False``) accepts any
    token. Always pass the key and an explicit ``algorithms=["HS256"]`` list.
    """
    for call in fc.calls():
        name = fc.call_name(call)
        if not name.endswith(("jwt.decode", "jws.verify")) and name not in ("decode",):
            continue
        if name == "decode" and "jwt" not in fc.module.source:
            continue
        opts = kwarg(call, "options")
        text = fc.text(opts) if opts is not None else ""
        algos = kwarg(call, "algorithms")
        if falsy_literal(kwarg(call, "verify")) or re.search(r"verify_signature['\"]\s*:\s*False", text):
            yield Hit(call, "JWT signature verification disabled")
        elif algos is not None and "none" in fc.text(algos).lower():
            yield Hit(call, "JWT 'none' algorithm accepted")
        elif algos is None and name.endswith("jwt.decode") and len(call.args) < 3:
            yield Hit(call, "jwt.decode() without an explicit algorithms list", confidence=0.5)


@rule("py.tls.no-verify", "CWE-295", severity="high", confidence=0.85)
def tls_no_verify(fc: FunctionContext) -> Iterator[Hit]:
    """TLS certificate or hostname verification turned off.

    ``verify=False``, ``ssl._create_unverified_context()``, ``CERT_NONE`` or
    ``check_hostname = False`` let anyone on the path impersonate the server. Keep verification on
    and point ``verify=`` at a CA bundle if you need a private CA.
    """
    for call in fc.calls():
        name = fc.call_name(call)
        if name in ("ssl._create_unverified_context", "ssl._create_stdlib_context"):
            yield Hit(call, f"{name}() disables certificate verification")
        elif (
            falsy_literal(kwarg(call, "verify"))
            and isinstance(kwarg(call, "verify"), ast.Constant)
            and (
                kwarg(call, "verify").value is False  # type: ignore[union-attr]
            )
            and not name.endswith("jwt.decode")
        ):
            yield Hit(call, f"{name}(verify=False) skips certificate verification")
        for k in call.keywords:
            value = fc.text(k.value).strip("'\"")
            if k.arg in ("cert_reqs", "verify_mode") and value.endswith(("CERT_NONE", "CERT_OPTIONAL")):
                yield Hit(call, f"{name}({k.arg}={value}) skips certificate verification")
            elif k.arg in ("verify_ssl", "ssl", "check_hostname", "ssl_verify", "verify_certs", "validate_certs") and (
                isinstance(k.value, ast.Constant) and k.value.value is False
            ):
                yield Hit(call, f"{name}({k.arg}=False) skips certificate verification")
        if name.endswith("set_missing_host_key_policy") and call.args:
            policy = fc.text(call.args[0])
            if "AutoAddPolicy" in policy or "WarningPolicy" in policy:
                yield Hit(call, f"SSH host key accepted without verification ({policy})")
        elif name == "ssl.SSLContext" and not _context_verified(fc):
            proto = fc.text(call.args[0]) if call.args else ""
            if not proto.endswith("PROTOCOL_TLS_CLIENT"):
                yield Hit(call, "ssl.SSLContext() without PROTOCOL_TLS_CLIENT does not verify certificates")
    for node in fc.nodes(ast.Assign):
        t = node.targets[0]
        if isinstance(t, ast.Attribute) and t.attr == "check_hostname" and falsy_literal(node.value):
            yield Hit(node, "hostname checking disabled")
        elif (
            isinstance(t, ast.Attribute)
            and t.attr == "verify_mode"
            and fc.text(node.value).endswith(("CERT_NONE", "CERT_OPTIONAL"))
        ):
            yield Hit(node, f"certificate verification weakened ({fc.text(node.value)})")
        elif isinstance(t, ast.Attribute) and t.attr == "verify" and falsy_literal(node.value):
            yield Hit(node, "session certificate verification disabled (verify = False)")
        elif (
            isinstance(t, ast.Subscript)
            and fc.text(t.value) == "os.environ"
            and const_str(t.slice) in ("PYTHONHTTPSVERIFY", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE")
            and const_str(node.value) in ("0", "")
        ):
            yield Hit(node, f"certificate verification disabled through {const_str(t.slice)}")


def _context_verified(fc: FunctionContext) -> bool:
    """Does the function turn verification on for a context it made (CERT_REQUIRED, CA loading)?"""
    src = fc.source_text()
    return "CERT_REQUIRED" in src or "load_verify_locations" in src or "load_default_certs" in src


WEAK_PROTOCOLS = re.compile(r"PROTOCOL_(SSLv2|SSLv3|SSLv23|TLSv1|TLSv1_1)\b|TLSVersion\.(SSLv3|TLSv1|TLSv1_1)\b")


@rule("py.tls.weak-protocol", "CWE-327", severity="medium", confidence=0.65)
def tls_weak_protocol(fc: FunctionContext) -> Iterator[Hit]:
    """TLS connection allowed to use SSLv3, TLS 1.0 or TLS 1.1.

    These versions have practical downgrade and padding attacks. Use ``ssl.PROTOCOL_TLS_CLIENT``
    (or ``create_default_context()``) and ``minimum_version = ssl.TLSVersion.TLSv1_2`` or newer.
    """
    for node in fc.nodes(ast.Attribute):
        text = fc.text(node)
        m = WEAK_PROTOCOLS.search(text)
        if not m or (text.endswith("PROTOCOL_SSLv23") and "minimum_version" in fc.source_text()):
            continue
        parent = fc.parent(node)
        if isinstance(parent, ast.Compare):
            continue  # comparing with an old version is how one refuses it
        if isinstance(parent, ast.Assign) and fc.text(parent.targets[0]).endswith("maximum_version"):
            continue
        yield Hit(node, f"{m.group(0)} permits a broken TLS/SSL version")
