"""CWE-601/918: can an input send a redirect or a server-side request to a host that is not allowed?"""

from __future__ import annotations

from typing import Any, ClassVar

from bluecodeagent.code.dynamic.base import Probe, register


@register
class RedirectProbe(Probe):
    """Absolute, scheme-relative and userinfo URLs to an attacker host, and the metadata address."""

    name: ClassVar[str] = "redirect_ssrf"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-601", "CWE-918")

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        import re
        from urllib.parse import urlsplit

        evil = rt.EVIL_HOST
        payloads = [
            f"https://{evil}/landing",
            f"//{evil}/landing",
            f"https://app.bc.test@{evil}/x",
            "http://169.254.169.254/latest/meta-data/",
            f"/\\{evil}/x",
            f"/{evil}/x",
        ]

        def bad_host(url: str) -> bool:
            try:
                host = (urlsplit(url.strip().replace("\\", "/")).hostname or "").lower()
            except ValueError:
                return False
            return host == evil or host.endswith("." + evil) or host.startswith("169.254.") or host == "localhost"

        def outbound(events: list[Any]) -> list[str]:
            urls = []
            for name, args in events:
                if name in ("http.request", "urllib.Request") and args:
                    urls.append(args[1] if name == "http.request" and len(args) > 1 else args[0])
                elif name == "http.redirect" and args:
                    urls.append(args[0])
                elif name in ("socket.getaddrinfo", "socket.connect") and args:
                    urls.append("//" + re.sub(r"[()',\s].*", "", args[-1] if name == "socket.connect" else args[0]))
            return urls

        def judge(res: dict[str, Any], payload: Any, name: str) -> tuple[str | None, str]:
            for url in outbound(res["events"]):
                if bad_host(url):
                    return "vulnerable", f"request or redirect sent to {url[:200]}"
            result = res["result"]
            loc = getattr(result, "location", None) or (result if isinstance(result, str) else None)
            if isinstance(result, dict):
                loc = next((v for v in result.values() if isinstance(v, str) and "//" in v), None)
            if isinstance(loc, str) and re.match(r"^\s*([a-zA-Z][\w+.-]*:)?[/\\]{2}", loc) and bad_host(loc):
                return "vulnerable", f"produced a redirect URL to {loc.strip()[:200]}"
            if res["returned"] and (outbound(res["events"]) or isinstance(loc, str)):
                return "rejected", "the request or URL stayed on an allowed host"
            return None, ""

        # the tainted parameters, plus other path-like ones (they join up into the URL), never the configured base
        base = re.compile(r"base|root|app|cdn|host|domain|origin|server|site|allow|trusted|approved|whitelist")
        extra = [p.name for p in rt.parameters(fn) if p.name not in params and not base.search(p.name.lower())]
        # a benign URL on a host the code allows (module-level allowlists), so refusals are meaningful
        overrides: dict[str, Any] = {}
        allowed = ""
        for gname, value in getattr(fn, "__globals__", {}).items():
            if re.search(
                r"allow|approved|trusted|permitted|whitelist|domain|host", gname, re.IGNORECASE
            ) and isinstance(value, (list, set, tuple, frozenset, dict)):
                hosts = sorted(str(v) for v in value if isinstance(v, str) and "." in v)
                if hosts:
                    allowed = urlsplit(hosts[0]).hostname or hosts[0].split("/")[0]
                    break
        if allowed:
            benign = rt.benign_args(fn)
            for k, v in benign.items():
                if isinstance(v, str) and v.startswith("https://app.bc.test"):
                    overrides[k] = v.replace("app.bc.test", allowed)
        return rt.exploit(fn, list(params) + extra, payloads, judge, overrides=overrides, network=True)
