"""Web: cross-site scripting and markup injection (CWE-79/74), open redirect (CWE-601), SSRF
(CWE-918) and missing CSRF defences (CWE-352)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from bluecodeagent.code.static.base import rule
from bluecodeagent.code.static.python.rules.common import Hit, arg, kwarg, literal_text, test_mentions
from bluecodeagent.code.static.python.taint import FunctionContext, base_name

HTML_TAGS = (
    "html|head|body|title|div|span|p|a|h[1-6]|ul|ol|li|table|tr|td|th|thead|tbody|script|style|img|form|"
    "input|button|textarea|select|option|label|b|i|u|em|strong|br|hr|section|article|header|footer|nav|"
    "main|aside|pre|code|blockquote|iframe|meta|link|small|sup|sub|dl|dt|dd|figure|figcaption|svg|video|"
    "audio|source|canvas|details|summary|mark|time|abbr|cite|q|caption|center|font"
)
_HTML = re.compile(rf"<\s*/?\s*(?:{HTML_TAGS})\b[^>]*>", re.I)
_HTML_NAME = re.compile(r"html|markup|page|webpage", re.I)
_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z_][\w:.-]*[^>]*>|<\?xml")


def _template_fills(fc: FunctionContext) -> Iterator[tuple[ast.AST, str, list[ast.AST]]]:
    """(node, literal template text, inserted values) for .format, f-strings, % and concatenation."""
    for node in fc.nodes(ast.Call, ast.JoinedStr, ast.BinOp):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr in (
                "format",
                "format_map",
                "substitute",
                "safe_substitute",
                "replace",
            ):
                text = literal_text(fc, node.func.value)
                if node.func.attr == "replace":
                    vals = node.args[1:2]
                else:
                    vals = [*node.args, *(k.value for k in node.keywords)]
                if text:
                    yield node, text, vals
        elif isinstance(node, ast.JoinedStr):
            if isinstance(fc.parent(node), ast.FormattedValue | ast.JoinedStr):
                continue
            yield node, literal_text(fc, node), [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
        elif isinstance(node.op, ast.Mod):
            text = literal_text(fc, node.left)
            if text:
                right = node.right
                vals = list(right.elts) if isinstance(right, ast.Tuple) else [right]
                yield node, text, vals
        elif isinstance(node.op, ast.Add) and not isinstance(fc.parent(node), ast.BinOp):
            parts: list[ast.AST] = []
            stack: list[ast.AST] = [node]
            while stack:
                n = stack.pop()
                if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
                    stack.extend([n.right, n.left])
                else:
                    parts.append(n)
            text = "".join(literal_text(fc, p) for p in parts if isinstance(p, ast.Constant))
            yield node, text, [p for p in parts if not isinstance(p, ast.Constant)]


@rule("py.xss.html-template", "CWE-79", severity="high", confidence=0.75)
def html_template(fc: FunctionContext) -> Iterator[Hit]:
    """HTML built from untrusted input without escaping (cross-site scripting).

    Putting user text into markup with ``str.format``, f-strings, ``%`` or ``+`` lets ``<script>``
    through. Escape every value (``html.escape``/``markupsafe.escape``) or render with an
    autoescaping template engine.
    """
    for node, text, vals in _template_fills(fc):
        if not _HTML.search(text):
            continue
        bad = [v for v in vals if fc.is_tainted(v, "html")]
        if bad:
            yield Hit(
                node,
                "untrusted input inserted into HTML without escaping",
                sorted({p for v in bad for p in fc.tainted_params(v, "html")}),
            )
    for call in fc.calls():
        f = call.func
        if (
            isinstance(f, ast.Attribute)
            and f.attr == "replace"
            and len(call.args) == 2
            and _HTML_NAME.search(fc.text(f.value))
            and not literal_text(fc, f.value)
            and fc.is_tainted(call.args[1], "html")
        ):
            yield Hit(call, "HTML template filled with an unescaped value", fc.tainted_params(call.args[1], "html"))
    for call in fc.calls():
        name = fc.call_name(call)
        if (
            name.rsplit(".", 1)[-1] in ("Markup", "mark_safe", "SafeString")
            and call.args
            and fc.is_tainted(call.args[0], "html")
        ):
            yield Hit(call, f"{name}() marks untrusted input as safe HTML", fc.tainted_params(call.args[0], "html"))


@rule("py.injection.xml-template", "CWE-74", severity="medium", confidence=0.65)
def xml_template(fc: FunctionContext) -> Iterator[Hit]:
    """XML built from untrusted input without escaping (XML injection, CWE-91).

    Input containing ``<``, ``&`` or ``]]>`` changes the document's structure. Escape values with
    ``xml.sax.saxutils.escape`` or build the document with ``ElementTree`` APIs.
    """
    for node, text, vals in _template_fills(fc):
        if _HTML.search(text) or not _MARKUP.search(text):
            continue
        bad = [v for v in vals if fc.is_tainted(v, "xml")]
        if bad:
            yield Hit(
                node,
                "untrusted input inserted into XML markup without escaping",
                sorted({p for v in bad for p in fc.tainted_params(v, "xml")}),
            )


_NETLOC_CHECK = re.compile(
    r"\.(netloc|hostname|host)\b|\bnetloc\b|hostname|allowed_(domains|hosts)|"
    r"startswith\(\s*['\"](/|https?://)",
    re.I,
)
URL_JOIN = frozenset(
    {"urllib.parse.urljoin", "urlparse.urljoin", "urljoin", "urllib.parse.urlunparse", "urllib.parse.urlunsplit"}
)
REDIRECTS = frozenset(
    {
        "flask.redirect",
        "redirect",
        "django.shortcuts.redirect",
        "HttpResponseRedirect",
        "django.http.HttpResponseRedirect",
        "RedirectResponse",
        "fastapi.responses.RedirectResponse",
        "starlette.responses.RedirectResponse",
    }
)


@rule("py.redirect.open", "CWE-601", severity="medium", confidence=0.7)
def open_redirect(fc: FunctionContext) -> Iterator[Hit]:
    """Redirect or callback URL built from untrusted input without checking its host (open redirect).

    ``urljoin(base, user_path)`` returns ``user_path`` itself when it is absolute (``//evil.com``),
    and ``redirect(next)`` sends users anywhere. Parse the final URL and require
    ``urlparse(url).netloc`` to be your own host or in an allowlist before returning it.
    """
    if test_mentions(fc, _NETLOC_CHECK):
        return
    for call in fc.calls():
        name = fc.call_name(call)
        short = name.rsplit(".", 1)[-1]
        if name in REDIRECTS or short in ("HttpResponseRedirect", "RedirectResponse"):
            target = arg(call, 0, "location") or arg(call, 0, "url")
            if target is not None and fc.is_tainted(target, "url"):
                yield Hit(call, f"{short}() to a URL from untrusted input", fc.tainted_params(target, "url"))
        elif name in URL_JOIN and len(call.args) >= 2 and fc.is_tainted(call.args[1], "url"):
            yield Hit(
                call,
                "URL joined with untrusted input and used without validating its host",
                fc.tainted_params(call.args[1], "url"),
            )


HTTP_CALLS = frozenset(
    {
        "requests.get",
        "requests.post",
        "requests.put",
        "requests.delete",
        "requests.head",
        "requests.patch",
        "requests.request",
        "urllib.request.urlopen",
        "urlopen",
        "httpx.get",
        "httpx.post",
        "httpx.request",
        "urllib3.request",
        "aiohttp.request",
        "http.client.HTTPConnection",
        "http.client.HTTPSConnection",
        "urllib.request.Request",
        "urllib2.urlopen",
        "urllib.urlopen",
        "urllib.request.urlretrieve",
        "urllib.urlretrieve",
        "httpx.stream",
        "httpx.put",
        "httpx.delete",
        "httpx.head",
        "httpx.patch",
        "socket.create_connection",
    }
)
_CLIENT = re.compile(r"(^|_)(session|client|http|sess|conn|pool|browser|api)(_|$)", re.I)
HTTP_METHODS = frozenset({"get", "post", "put", "delete", "head", "patch", "request", "urlopen", "fetch", "stream"})


def _client_call(fc: FunctionContext, call: ast.Call) -> bool:
    """``session.get(url)``, ``client.post(url)``, ``self.http.request("GET", url)``: an HTTP client's method."""
    f = call.func
    if not (isinstance(f, ast.Attribute) and f.attr in HTTP_METHODS):
        return False
    owner = f.value
    text = fc.text(owner)
    if isinstance(owner, ast.Call):
        return (fc.call_name(owner) or "").rsplit(".", 1)[-1] in ("Session", "Client", "AsyncClient", "PoolManager")
    last = text.rsplit(".", 1)[-1]
    if f.attr == "get":  # dict.get is everywhere: only an unmistakable client name counts
        return last in ("session", "client", "http", "sess", "http_client", "api_client", "httpx_client")
    return bool(_CLIENT.search(last))


_HOST_CHECK = re.compile(
    r"\.(netloc|hostname|host)\b|\b(netloc|hostname|host|domain|ip)\b|is_private|is_loopback|is_reserved|"
    r"is_link_local|ip_address|ip_network|gethostbyname|getaddrinfo",
    re.I,
)
_ALLOW_NAME = re.compile(r"allow|whitelist|trusted|permitted|approved|safe", re.I)


def _host_checked(fc: FunctionContext) -> bool:
    """Does a condition look at the URL's host (or test the URL against an allowlist), rather than
    only at its scheme? ``if parsed.scheme not in ALLOWED_SCHEMES`` alone stops nothing."""
    for t in fc.tests:
        text = fc.text(t)
        if _HOST_CHECK.search(text):
            return True
        if _ALLOW_NAME.search(text) and not re.search(r"scheme|protocol|port|method|extension|format", text, re.I):
            return True
    return False


@rule("py.ssrf.request", "CWE-918", severity="high", confidence=0.7)
def ssrf(fc: FunctionContext) -> Iterator[Hit]:
    """Server-side request to a URL taken from untrusted input (SSRF).

    Fetching a user-chosen URL reaches internal services and cloud metadata endpoints. Parse the
    URL, require an allowed scheme and a host from an allowlist, and reject private addresses.
    """
    if _host_checked(fc):
        return
    for call in fc.calls():
        name = fc.call_name(call)
        if name not in HTTP_CALLS and not _client_call(fc, call):
            continue
        idx = 1 if name.endswith("request") and name != "urllib.request.urlopen" else 0
        url = arg(call, idx, "url")
        if url is not None and fc.is_tainted(url, "url"):
            yield Hit(call, f"{name}() fetches a URL from untrusted input", fc.tainted_params(url, "url"))


_CSRF = re.compile(r"csrf|xsrf", re.I)
_CONTENT_TYPE = re.compile(r"content[-_]type", re.I)


def _request_params(fc: FunctionContext) -> list[str]:
    out = []
    for p in fc.params:
        for use in fc.uses(p):
            parent = fc.parent(use)
            if (
                isinstance(parent, ast.Subscript)
                and isinstance(parent.slice, ast.Constant)
                and parent.slice.value in ("headers", "body", "form", "json", "cookies")
            ):
                out.append(p)
                break
    return out


@rule("py.csrf.missing-token", "CWE-352", severity="medium", confidence=0.6)
def csrf_missing(fc: FunctionContext) -> Iterator[Hit]:
    """State-changing request handler that never checks a CSRF token.

    A handler that updates stored data from a request body without comparing an
    ``X-CSRF-Token`` header (or form token) to the session's token can be triggered by any site
    the victim visits. Check the token (constant-time) before changing state.
    """
    reqs = _request_params(fc)
    if not reqs or _CSRF.search(fc.text(fc.node)):
        return
    body_read = any(
        isinstance(fc.parent(u), ast.Subscript) and getattr(fc.parent(u).slice, "value", None) in ("body", "form")
        for p in reqs
        for u in fc.uses(p)
    )
    if not body_read or _CONTENT_TYPE.search(fc.text(fc.node)):
        return
    for node in fc.nodes(ast.Assign, ast.Delete, ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
        for t in targets:
            if isinstance(t, ast.Subscript | ast.Attribute) and base_name(t) not in fc.params:
                yield Hit(node, "request handler changes state without checking a CSRF token", reqs)
                return
    for call in fc.calls():
        mutates = isinstance(call.func, ast.Attribute) and call.func.attr in (
            "pop",
            "remove",
            "update",
            "delete",
            "save",
            "commit",
            "append",
        )
        if mutates and base_name(call.func) not in fc.params:
            yield Hit(call, "request handler changes state without checking a CSRF token", reqs)
            return


@rule("py.csrf.json-content-type", "CWE-352", severity="low", confidence=0.5)
def json_without_content_type(fc: FunctionContext) -> Iterator[Hit]:
    """Request body parsed as JSON without checking ``Content-Type``.

    Browsers send cross-site form posts as ``text/plain`` or form encodings without a preflight;
    accepting them as JSON removes a CSRF barrier. Require ``application/json`` (or ``+json``).
    """
    reqs = _request_params(fc)
    code = fc.text(fc.node) if reqs else ""
    if not reqs or _CONTENT_TYPE.search(code) or _CSRF.search(code):
        return
    for call in fc.calls():
        if fc.call_name(call) == "json.loads" and call.args and base_name(call.args[0]) in reqs:
            yield Hit(call, "request body decoded as JSON without a Content-Type check", reqs)


SAFE_MARKERS = frozenset({"Markup", "mark_safe", "SafeString", "SafeText", "format_html_join_unsafe"})
_ESCAPERS = re.compile(r"escape|quote|sanitize|clean|bleach|format_html|conditional_escape|json\.dumps|int\(|len\(")


def _formatted_unescaped(fc: FunctionContext, node: ast.AST, depth: int = 0) -> bool:
    """Is ``node`` text built by formatting or concatenation with a value that was not escaped?"""
    if depth > 4:
        return False
    if isinstance(node, ast.Name):
        return any(
            d.value is not None and _formatted_unescaped(fc, d.value, depth + 1)
            for d in fc.defs.get(node.id, [])
            if d.value is not None
        )
    values: list[ast.AST] = []
    if isinstance(node, ast.JoinedStr):
        values = [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        right = node.right
        values = list(right.elts) if isinstance(right, ast.Tuple) else [right]
        if isinstance(node.op, ast.Add):
            values.append(node.left)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        values = [*node.args, *(k.value for k in node.keywords)]
    return any(
        not isinstance(v, ast.Constant) and not _ESCAPERS.search(fc.text(v)) and not _formatted_literal(v)
        for v in values
    )


def _formatted_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr | ast.BinOp) and all(
        isinstance(n, ast.Constant | ast.JoinedStr | ast.BinOp | ast.operator) for n in ast.walk(node)
    )


@rule("py.xss.marked-safe", "CWE-79", severity="high", confidence=0.6)
def marked_safe(fc: FunctionContext) -> Iterator[Hit]:
    """Text formatted with unescaped values and then marked safe (``Markup``/``mark_safe``).

    ``mark_safe("<b>%s</b>" % obj.name)`` switches escaping off for the whole string, including the
    value that came from a user or the database (stored XSS). Use ``format_html("<b>{}</b>",
    obj.name)`` / ``Markup("<b>{}</b>").format(obj.name)``, which escape the values.
    """
    for call in fc.calls():
        short = fc.call_name(call).rsplit(".", 1)[-1]
        if short in SAFE_MARKERS and call.args and _formatted_unescaped(fc, call.args[0]):
            if fc.is_tainted(call.args[0], "html"):
                continue  # py.xss.html-template reports the tainted case
            yield Hit(call, f"{short}() marks text with unescaped values as safe HTML")


@rule("py.xss.autoescape-off", "CWE-79", severity="medium", confidence=0.6)
def autoescape_off(fc: FunctionContext) -> Iterator[Hit]:
    """Templates rendered with autoescaping off (a Jinja2 ``Environment``, ``|safe``, ``autoescape false``).

    A Jinja2 ``Environment`` without ``autoescape``, or a template that turns escaping off
    (``{% autoescape false %}``, ``|safe``) for values from input, renders them as raw HTML: Jinja2's
    ``Environment()`` does not escape by default. Pass ``autoescape=select_autoescape()`` (or
    ``True``) and never apply ``|safe`` to user data.
    """
    for call in fc.calls():
        name = fc.call_name(call)
        if name in ("jinja2.Environment", "Environment") and ("jinja" in fc.module.source):
            ae = kwarg(call, "autoescape")
            if ae is None or (isinstance(ae, ast.Constant) and not ae.value):
                yield Hit(call, "Jinja2 Environment without autoescape renders values as raw HTML")
        elif name.rsplit(".", 1)[-1] in ("render_template_string", "Template", "from_string") and call.args:
            text = literal_text(fc, call.args[0])
            if not _UNSAFE_TEMPLATE.search(text):
                continue
            values = [k.value for k in call.keywords]
            render = fc.parent(fc.parent(call) or call)
            if isinstance(render, ast.Call):
                values += [k.value for k in render.keywords] + list(render.args)
            if any(fc.is_tainted(v, "html") for v in values) or not values:
                yield Hit(call, "template turns escaping off (|safe or autoescape false) for rendered values")


_UNSAFE_TEMPLATE = re.compile(r"\|\s*safe\b|autoescape\s+(false|off)|\{%-?\s*autoescape\s+false", re.I)
_ROUTE = re.compile(r"\.(route|get|post|put|patch|delete|api_route|websocket)$")
RESPONSES = frozenset({"HttpResponse", "make_response", "Response", "HTMLResponse", "web.Response"})


@rule("py.xss.response", "CWE-79", severity="high", confidence=0.6)
def reflected_response(fc: FunctionContext) -> Iterator[Hit]:
    """Request input echoed into an HTML response without escaping (reflected XSS).

    A Flask view returning ``"Hello " + name`` or Django's ``HttpResponse(f"... {q}")`` is served as
    ``text/html``: ``<script>`` in the input runs in the visitor's browser. Escape the value, render
    an autoescaping template, or answer with ``jsonify``/``content_type="text/plain"``.
    """
    if fc.name == "<module>":
        return
    is_route = any(_ROUTE.search(fc.text(d.func if isinstance(d, ast.Call) else d)) for d in fc.node.decorator_list)
    reads_request = "request" in fc.params or "request" in fc.source_text()
    for call in fc.calls():
        short = fc.call_name(call).rsplit(".", 1)[-1]
        if short not in RESPONSES or not call.args or not reads_request:
            continue
        ctype = kwarg(call, "content_type") or kwarg(call, "mimetype") or kwarg(call, "media_type")
        if ctype is not None and "html" not in fc.text(ctype):
            continue
        body = call.args[0]
        if _built(body) and fc.is_tainted(body, "html"):
            yield Hit(call, f"{short}() echoes untrusted input as HTML", fc.tainted_params(body, "html"))
    if not is_route:
        return
    for ret in fc.nodes(ast.Return):
        if ret.value is not None and _built(ret.value) and fc.is_tainted(ret.value, "html"):
            yield Hit(ret, "view returns untrusted input as HTML", fc.tainted_params(ret.value, "html"))


def _built(node: ast.AST) -> bool:
    """Text assembled here: an f-string, ``%``/``+`` formatting or ``.format``."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"
