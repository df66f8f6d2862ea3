"""Security and functional tests for generated vulnerable/secure pairs, run in the sandbox.

The security test of a pair is the scanner's dynamic probe for its CWE when one exists (exploit
inputs, observed effect). For CWEs the scanner has no probe, the checks here play that role; they
use the same harness and runtime but are not registered with the scanner. The functional test
calls the function with benign inputs and records what it did (returned a value of some type, or
raised some exception): a secure twin must behave like the vulnerable one on benign input.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bluecodeagent.code.dynamic.base import Probe, probe_for


class WeakHashCheck(Probe):
    """CWE-327: does a benign call (or a caller-chosen 'md5') end up hashing with MD5/SHA-1?"""

    name: ClassVar[str] = "check-weak-hash"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-327", "CWE-328")

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        import hashlib
        import re

        weak = {"md5", "sha1", "md4", "sha", "ripemd160"}
        used: list[str] = []
        real_new = hashlib.new

        def spy_new(name: str, *a: Any, **k: Any) -> Any:
            used.append(str(name).lower())
            return real_new(name, *a, **k)

        hashlib.new = spy_new
        for w in ("md5", "sha1"):
            real = getattr(hashlib, w)

            def spy(*a: Any, _w: str = w, _r: Any = real, **k: Any) -> Any:
                used.append(_w)
                return _r(*a, **k)

            setattr(hashlib, w, spy)
        args = rt.benign_args(fn)
        for p in rt.parameters(fn):
            if re.search(r"alg|hash|digest|method|scheme", p.name.lower()):
                args[p.name] = "md5"
        res = rt.call(fn, args)
        bad = [u for u in used if u in weak]
        if bad and res["returned"]:
            return {"outcome": "vulnerable", "evidence": f"hashed with {bad[0]}"}
        if res["returned"] or rt.deliberate_rejection(res):
            return {"outcome": "rejected", "evidence": "no weak hash used" + (" (refused md5)" if used == [] else "")}
        return {"outcome": "not_exercised", "why": f"call failed: {res['exc_type']}: {res['exc']}"}


class WeakRandomCheck(Probe):
    """CWE-338: does the function draw its secret from the non-cryptographic ``random`` module?"""

    name: ClassVar[str] = "check-weak-random"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-338", "CWE-330")

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        import random

        used: list[str] = []
        for name in ("random", "randint", "randrange", "choice", "choices", "getrandbits", "sample", "uniform"):
            real = getattr(random, name)

            def spy(*a: Any, _n: str = name, _r: Any = real, **k: Any) -> Any:
                used.append(_n)
                return _r(*a, **k)

            setattr(random, name, spy)
        res = rt.call(fn, rt.benign_args(fn))
        if not res["returned"]:
            return {"outcome": "not_exercised", "why": f"call failed: {res['exc_type']}: {res['exc']}"}
        if used:
            return {"outcome": "vulnerable", "evidence": f"secret drawn with random.{used[0]}"}
        return {"outcome": "rejected", "evidence": "no call into the random module"}


class PermissionsCheck(Probe):
    """CWE-732: after the call, can group or others read or write the file the function handled?"""

    name: ClassVar[str] = "check-permissions"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-732", "CWE-276")

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        import os
        import re

        os.umask(0o022)
        target = "/tmp/bc_perm/secret.txt"
        os.makedirs("/tmp/bc_perm", exist_ok=True)
        names = [p.name for p in rt.parameters(fn) if re.search(r"path|file|folder|dir", p.name.lower())]
        if not names:
            return {"outcome": "not_exercised", "why": "no path parameter"}
        for precreate in (False, True):
            if os.path.exists(target):
                os.remove(target)
            if precreate:
                with open(target, "w") as fh:
                    fh.write("x")
                os.chmod(target, 0o600)
            args = rt.benign_args(fn)
            args[names[0]] = target
            res = rt.call(fn, args)
            if res["returned"] and os.path.exists(target):
                mode = os.stat(target).st_mode & 0o777
                if mode & 0o077:
                    return {"outcome": "vulnerable", "evidence": f"left the file with mode {oct(mode)}"}
                return {"outcome": "rejected", "evidence": f"file mode {oct(mode)}"}
        return {"outcome": "not_exercised", "why": "the function did not leave a file to inspect"}


class MassAssignmentCheck(Probe):
    """CWE-915: does a change set with an extra privileged field reach the record?"""

    name: ClassVar[str] = "check-mass-assignment"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-915",)

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        import re
        import types

        ps = rt.parameters(fn)
        change = [p.name for p in ps if re.search(r"change|form|data|update|payload|body|attr|values|input", p.name)]
        others = [p.name for p in ps if p.name not in change]
        if not change or not others:
            return {"outcome": "not_exercised", "why": "no target and change-set parameters"}
        ann = {p.name: str(p.annotation).lower() for p in ps}
        target: Any = {} if "dict" in ann[others[0]] else types.SimpleNamespace()
        args = rt.benign_args(fn)
        args[others[0]] = target
        args[change[0]] = {"title": "new title", "is_admin": True}
        res = rt.call(fn, args)
        if not res["returned"]:
            return {"outcome": "not_exercised", "why": f"call failed: {res['exc_type']}: {res['exc']}"}
        got = target.get("is_admin") if isinstance(target, dict) else getattr(target, "is_admin", None)
        if got:
            return {"outcome": "vulnerable", "evidence": "the privileged field is_admin was assigned"}
        return {"outcome": "rejected", "evidence": "only allowed fields were assigned"}


class MissingAuthorizationCheck(Probe):
    """CWE-862: may an ordinary user (neither owner nor admin) do what only an admin or owner may?"""

    name: ClassVar[str] = "check-authorization"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-862",)

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        import copy
        import re

        g = fn.__globals__
        users = g.get("USERS")
        who = [p.name for p in rt.parameters(fn) if re.search(r"user|actor|requester|caller", p.name.lower())]
        if not isinstance(users, dict) or not who:
            return {"outcome": "not_exercised", "why": "no user table or user parameter"}
        users[99] = {"role": "guest"}
        state = {k: copy.deepcopy(v) for k, v in g.items() if isinstance(v, dict) and k.isupper()}

        def restore() -> None:
            for k, v in state.items():
                g[k].clear()
                g[k].update(copy.deepcopy(v))

        args = rt.benign_args(fn)
        args[who[0]] = 99
        res = rt.call(fn, args)
        restore()
        admin = rt.call(fn, {**args, who[0]: 1})
        if not admin["returned"]:
            return {"outcome": "not_exercised", "why": f"even an admin call failed: {admin['exc_type']}"}
        if res["returned"]:
            return {"outcome": "vulnerable", "evidence": "a guest user was served"}
        return {"outcome": "rejected", "evidence": f"the guest was refused with {res['exc_type']}"}


class FormatExposureCheck(Probe):
    """CWE-200: can a caller-supplied format template read a secret field of the record?"""

    name: ClassVar[str] = "check-format-exposure"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-200",)

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        import inspect
        import re

        canary = "BC-SECRET-CANARY"
        g = fn.__globals__
        tables = [v for k, v in g.items() if k.isupper() and isinstance(v, dict) and v]
        if not tables:
            return {"outcome": "not_exercised", "why": "no record table"}
        for table in tables:
            for rec in table.values():
                if isinstance(rec, dict):
                    for key in list(rec):
                        if re.search(r"secret|password|token|hash|key", key):
                            rec[key] = canary
        names = re.findall(r"\.format\((\w+)=", inspect.getsource(fn)) or ["x"]
        args = rt.benign_args(fn)
        tpl = [p.name for p in rt.parameters(fn) if re.search(r"template|fmt|format|pattern", p.name)]
        ids = [p.name for p in rt.parameters(fn) if re.search(r"id$", p.name)]
        if not tpl:
            return {"outcome": "not_exercised", "why": "no template parameter"}
        if ids:
            args[ids[0]] = next(iter(tables[0]))
        refused = []
        for name in names:
            for field in ("secret", "password_hash", "token"):
                args[tpl[0]] = "{" + f"{name}[{field}]" + "}"
                res = rt.call(fn, args)
                if res["returned"] and canary in str(res["result"]):
                    return {"outcome": "vulnerable", "evidence": f"template {args[tpl[0]]!r} exposed a secret field"}
                refused.append(res["exc_type"] or "no secret in output")
        args[tpl[0]] = "Hello {" + names[0] + "}"
        ok = rt.call(fn, args)
        if ok["returned"] or refused:
            return {"outcome": "rejected", "evidence": "secret fields stayed hidden (" + ", ".join(refused[:3]) + ")"}
        return {"outcome": "not_exercised", "why": "could not call the function"}


class AllowlistCheck(Probe):
    """CWE-20: does an allowlist check accept a value that merely contains an allowed word?"""

    name: ClassVar[str] = "check-allowlist"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-20",)

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        lists = [v for k, v in fn.__globals__.items() if k.isupper() and isinstance(v, list | set | tuple) and v]
        names = [p.name for p in rt.parameters(fn)]
        if not lists or not names:
            return {"outcome": "not_exercised", "why": "no allowlist or parameter"}
        allowed = str(next(iter(lists[0])))
        payload = allowed + "; ../../etc/passwd"
        res = rt.call(fn, {**rt.benign_args(fn), names[0]: payload})
        good = rt.call(fn, {**rt.benign_args(fn), names[0]: allowed})
        if not good["returned"]:
            return {"outcome": "not_exercised", "why": "an allowed value was not accepted"}
        if res["returned"] and res["result"] == payload:
            return {"outcome": "vulnerable", "evidence": f"accepted {payload!r}"}
        return {"outcome": "rejected", "evidence": f"refused {payload!r}"}


class CsrfCheck(Probe):
    """CWE-352: is a state-changing request without a CSRF token (or as a plain form post) accepted?"""

    name: ClassVar[str] = "check-csrf"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-352",)

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        class AnyBody(dict):
            def __missing__(self, key: str) -> str:
                return "attacker@example.test"

        names = [p.name for p in rt.parameters(fn)]
        if not names:
            return {"outcome": "not_exercised", "why": "no request parameter"}
        last = None
        for body in (AnyBody(), '{"amount": 1}'):
            req = {"body": body, "headers": {"Content-Type": "text/plain", "Origin": "https://evil.example"}}
            res = rt.call(fn, {names[0]: req})
            last = res
            if res["exc_type"] == "TypeError":
                continue
            if res["returned"] and res["result"]:
                return {"outcome": "vulnerable", "evidence": "a cross-site request without a token was accepted"}
            if res["returned"] or rt.deliberate_rejection(res):
                return {"outcome": "rejected", "evidence": "the forged request was refused"}
        return {"outcome": "not_exercised", "why": f"call failed: {last and last['exc_type']}"}


class RoleFromClientCheck(Probe):
    """CWE-863: does a role taken from a cookie or header (forged by the client) unlock admin access?"""

    name: ClassVar[str] = "check-client-role"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-863",)

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        import types

        req = fn.__globals__.get("request")
        if req is not None:
            for store in ("cookies", "headers"):
                box = getattr(req, store, None)
                if isinstance(box, dict):
                    box.update({"role": "admin", "X-Role": "admin"})
        args = rt.benign_args(fn)
        for p in rt.parameters(fn):
            if p.name in ("user", "current_user", "actor"):
                args[p.name] = types.SimpleNamespace(role="guest", id=99)
        res = rt.call(fn, args)
        out = res["result"]
        if res["returned"] and (out is True or (isinstance(out, str) and "forbidden" not in out.lower())):
            return {"outcome": "vulnerable", "evidence": f"a forged client role was trusted: {str(out)[:80]!r}"}
        if res["returned"] or res["exc_type"]:
            return {"outcome": "rejected", "evidence": "the client's claimed role was not trusted"}
        return {"outcome": "not_exercised", "why": "timed out"}


class SignatureCheck(Probe):
    """CWE-347: is a message with a forged signature accepted?"""

    name: ClassVar[str] = "check-signature"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-347",)

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        import re

        args = rt.benign_args(fn)
        sig = [p.name for p in rt.parameters(fn) if re.search(r"sig|mac|token", p.name)]
        if not sig:
            return {"outcome": "not_exercised", "why": "no signature parameter"}
        tables = [v for k, v in fn.__globals__.items() if k.isupper() and isinstance(v, dict) and v]
        for p in rt.parameters(fn):
            if p.name not in sig and tables and re.search(r"id$", p.name):
                args[p.name] = next(iter(tables[0]))
        args[sig[0]] = "forged-signature"
        res = rt.call(fn, args)
        if res["returned"] and isinstance(res["result"], dict | str | bytes | list):
            return {"outcome": "vulnerable", "evidence": "accepted a forged signature"}
        if rt.deliberate_rejection(res):
            return {"outcome": "rejected", "evidence": f"refused the forged signature ({res['exc_type']})"}
        return {"outcome": "not_exercised", "why": "could not tell (verification library absent in the sandbox?)"}


class TlsVerificationCheck(Probe):
    """CWE-295: does the code turn off TLS certificate or host-name verification?"""

    name: ClassVar[str] = "check-tls"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-295",)

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        import ssl
        import types

        seen: list[dict[str, Any]] = []

        class Resp:
            status_code = 200

            def json(self) -> dict[str, Any]:
                return {}

        def record(*a: Any, **k: Any) -> Resp:
            seen.append(k)
            return Resp()

        g = fn.__globals__
        if "requests" in g:
            g["requests"] = types.SimpleNamespace(get=record, post=record, request=record)
        res = rt.call(fn, rt.benign_args(fn))
        if not res["returned"]:
            return {"outcome": "not_exercised", "why": f"call failed: {res['exc_type']}"}
        out = res["result"]
        if isinstance(out, ssl.SSLContext):
            if out.verify_mode == ssl.CERT_NONE or not out.check_hostname:
                return {"outcome": "vulnerable", "evidence": "returned a context that does not verify certificates"}
            return {"outcome": "rejected", "evidence": "the context verifies certificates and host names"}
        if seen:
            if any(k.get("verify") is False for k in seen):
                return {"outcome": "vulnerable", "evidence": "sent a request with verify=False"}
            return {"outcome": "rejected", "evidence": "requests keep certificate verification on"}
        return {"outcome": "not_exercised", "why": "no TLS context or request observed"}


class FunctionalCheck(Probe):
    """Benign inputs: report whether the function returned (and the type) or which exception it raised."""

    name: ClassVar[str] = "functional"
    cwes: ClassVar[tuple[str, ...]] = ("*",)

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        res = rt.call(fn, rt.benign_args(fn))
        if res["timeout"]:
            return {"outcome": "not_exercised", "why": "timed out on benign input"}
        kind = f"returned {type(res['result']).__name__}" if res["returned"] else f"raised {res['exc_type']}"
        return {"outcome": "rejected", "evidence": kind}


CHECKS: tuple[Probe, ...] = (
    WeakHashCheck(),
    WeakRandomCheck(),
    PermissionsCheck(),
    MassAssignmentCheck(),
    MissingAuthorizationCheck(),
    FormatExposureCheck(),
    AllowlistCheck(),
    CsrfCheck(),
    RoleFromClientCheck(),
    SignatureCheck(),
    TlsVerificationCheck(),
)
FUNCTIONAL = FunctionalCheck()


def security_test(cwe: str) -> Probe | None:
    """The security test of a CWE: the scanner's probe, else one of the checks above, else None."""
    probe = probe_for(cwe)
    if probe is not None:
        return probe
    return next((c for c in CHECKS if cwe.upper() in c.cwes), None)
