# ruff: noqa
# XSS (CWE-79), XML injection (CWE-74), open redirect (CWE-601), SSRF (CWE-918), CSRF (CWE-352).
import html
import json
import urllib.parse
from xml.sax.saxutils import escape as xml_escape

import requests
from flask import redirect, request

POST = "<h1>{title}</h1><p>{body}</p>"
XML = "<reply><text>{text}</text></reply>"
ALLOWED_DOMAINS = {"example.com"}
SESSIONS = {}


def show_post(title: str, body: str) -> str:
    # ruleid: py.xss.html-template
    return POST.format(title=title, body=body)


def show_post_safe(title: str, body: str) -> str:
    # ok: py.xss.html-template
    return POST.format(title=html.escape(title), body=html.escape(body))


def tags(items: list[str]) -> str:
    # ruleid: py.xss.html-template
    return "<ul>" + "".join([f"<li>{i}</li>" for i in items]) + "</ul>"


def tags_safe(items: list[str]) -> str:
    safe = [html.escape(i) for i in items]
    # ok: py.xss.html-template
    return "".join([f"<li>{s}</li>" for s in safe])


def reply(text: str) -> str:
    # ruleid: py.injection.xml-template
    return XML.format(text=text)


def reply_safe(text: str) -> str:
    # ok: py.injection.xml-template
    return XML.format(text=xml_escape(text))


def next_url(base: str, path: str) -> str:
    # ruleid: py.redirect.open
    return urllib.parse.urljoin(base, path)


def next_url_checked(base: str, path: str) -> str:
    # ok: py.redirect.open
    url = urllib.parse.urljoin(base, path)
    if urllib.parse.urlparse(url).netloc not in ALLOWED_DOMAINS:
        raise ValueError("bad redirect")
    return url


def go():
    # ruleid: py.redirect.open
    return redirect(request.args.get("next"))


def fetch(url: str):
    # ruleid: py.ssrf.request
    return requests.get(url, timeout=5)


def fetch_checked(url: str):
    if urllib.parse.urlparse(url).hostname not in ALLOWED_DOMAINS:
        raise ValueError("host not allowed")
    # ok: py.ssrf.request
    return requests.get(url, timeout=5)


def change_email(req: dict) -> bool:
    uid = req["body"]["user_id"]
    # ruleid: py.csrf.missing-token
    SESSIONS[uid] = req["body"]["email"]
    return True


def change_email_safe(req: dict) -> bool:
    if req["headers"].get("X-CSRF-Token") != SESSIONS.get("token"):
        return False
    uid = req["body"]["user_id"]
    # ok: py.csrf.missing-token
    SESSIONS[uid] = req["body"]["email"]
    return True


def parse_json(req: dict) -> dict:
    # ruleid: py.csrf.json-content-type
    return json.loads(req["body"])


def parse_json_checked(req: dict) -> dict:
    if req["headers"]["Content-Type"] != "application/json":
        raise ValueError("bad content type")
    # ok: py.csrf.json-content-type
    return json.loads(req["body"])
