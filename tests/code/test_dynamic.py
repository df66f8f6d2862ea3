"""Probes confirm hand-written vulnerable functions and reject their patched twins, in the real sandbox."""

from __future__ import annotations

import inspect
import shutil

import pytest

from bluecodeagent.code.dynamic import probe_for, probes
from bluecodeagent.code.sandbox import Sandbox


@pytest.fixture(scope="module")
def box() -> Sandbox:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap not installed (apt-get install -y bubblewrap); dynamic probes need the sandbox")
    return Sandbox.detect()


# (CWE, function, tainted params, vulnerable source, patched source)
CASES = [
    (
        "CWE-78",
        "backup",
        ["name"],
        "import os\ndef backup(name: str):\n    return os.system('echo ' + name)\n",
        "import subprocess\ndef backup(name: str):\n    return subprocess.run(['echo', name]).returncode\n",
    ),
    (
        "CWE-77",
        "run_allowed",
        ["cmd"],
        "import os, shlex\ndef run_allowed(cmd: str, allowed: list[str]):\n"
        "    if shlex.split(cmd)[0] not in allowed:\n        raise ValueError('not allowed')\n"
        "    return os.popen(cmd).read()\n",
        "import os, shlex\ndef run_allowed(cmd: str, allowed: list[str]):\n"
        "    if any(p not in allowed for p in shlex.split(cmd)):\n        raise ValueError('not allowed')\n"
        "    return os.popen(cmd).read()\n",
    ),
    (
        "CWE-22",
        "read_doc",
        ["name"],
        "import os\nBASE = '/srv/docs'\ndef read_doc(name: str):\n    with open(os.path.join(BASE, name)) as f:\n"
        "        return f.read()\n",
        "import os\nBASE = '/srv/docs'\ndef read_doc(name: str):\n    p = os.path.realpath(os.path.join(BASE, name))\n"
        "    if not p.startswith(BASE + os.sep):\n        raise PermissionError('outside base')\n"
        "    with open(p) as f:\n        return f.read()\n",
    ),
    (
        "CWE-95",
        "calc",
        ["expr"],
        "def calc(expr: str):\n    return eval(expr)\n",
        "import re\ndef calc(expr: str):\n    if not re.fullmatch(r'[0-9+*/ ().-]+', expr):\n"
        "        raise ValueError('invalid expression')\n    return eval(expr)\n",
    ),
    (
        "CWE-79",
        "greet",
        ["name"],
        "def greet(name: str) -> str:\n    return f'<p>Hello {name}</p>'\n",
        "import html\ndef greet(name: str) -> str:\n    return f'<p>Hello {html.escape(name)}</p>'\n",
    ),
    (
        "CWE-601",
        "next_url",
        ["target"],
        "from urllib.parse import urljoin\ndef next_url(target: str):\n"
        "    return urljoin('https://app.example/', target)\n",
        "from urllib.parse import urljoin, urlparse\ndef next_url(target: str):\n"
        "    u = urljoin('https://app.example/', target)\n"
        "    if urlparse(u).netloc != 'app.example':\n        raise ValueError('redirect to another host')\n"
        "    return u\n",
    ),
    (
        "CWE-918",
        "fetch",
        ["url"],
        "import requests\ndef fetch(url: str):\n    return requests.get(url).text\n",
        "import requests\nfrom urllib.parse import urlparse\nALLOWED = {'api.example'}\ndef fetch(url: str):\n"
        "    if urlparse(url).hostname not in ALLOWED:\n        raise ValueError('host not allowed')\n"
        "    return requests.get(url).text\n",
    ),
    (
        "CWE-89",
        "find_user",
        ["name"],
        "import sqlite3\ndef find_user(name: str):\n    c = sqlite3.connect(':memory:')\n"
        "    c.execute('create table u (n text)')\n"
        '    return c.execute("select * from u where n = \'" + name + "\'").fetchall()\n',
        "import sqlite3\ndef find_user(name: str):\n    c = sqlite3.connect(':memory:')\n"
        "    c.execute('create table u (n text)')\n"
        "    return c.execute('select * from u where n = ?', (name,)).fetchall()\n",
    ),
    (
        "CWE-74",
        "header",
        ["value"],
        "def header(value: str) -> str:\n    return f'X-Custom: {value}'\n",
        "import re\ndef header(value: str) -> str:\n    return 'X-Custom: ' + re.sub(r'[\\r\\n]', '', value)\n",
    ),
    (
        "CWE-502",
        "load",
        ["blob"],
        "import pickle\ndef load(blob: bytes):\n    return pickle.loads(blob)\n",
        "import json\ndef load(blob: bytes):\n    return json.loads(blob)\n",
    ),
    (
        "CWE-1333",
        "check",
        ["s"],
        "import re\ndef check(s: str):\n    return bool(re.match(r'^(a+)+$', s))\n",
        "import re\ndef check(s: str):\n    return bool(re.match(r'^a+$', s))\n",
    ),
    (
        "CWE-611",
        "customer_name",
        ["doc"],
        "from lxml import etree\ndef customer_name(doc: str):\n"
        "    parser = etree.XMLParser(resolve_entities=True, load_dtd=True)\n"
        "    return etree.fromstring(doc.encode(), parser).findtext('name')\n",
        "from lxml import etree\ndef customer_name(doc: str):\n"
        "    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)\n"
        "    return etree.fromstring(doc.encode(), parser).findtext('name')\n",
    ),
    (
        "CWE-776",
        "title_of",
        ["doc"],
        "import xml.dom.minidom\ndef title_of(doc: str) -> str:\n"
        "    return xml.dom.minidom.parseString(doc).documentElement.toxml()\n",
        "import xml.dom.minidom\ndef title_of(doc: str) -> str:\n"
        "    if '<!DOCTYPE' in doc.upper() or '<!ENTITY' in doc.upper():\n"
        "        raise ValueError('documents with a DTD are not accepted')\n"
        "    return xml.dom.minidom.parseString(doc).documentElement.toxml()\n",
    ),
    (
        "CWE-400",
        "normalise",
        ["text"],
        "def normalise(text: str) -> str:\n    return ' '.join(text.split()).lower()\n",
        "MAX_CHARS = 10_000\ndef normalise(text: str) -> str:\n    if len(text) > MAX_CHARS:\n"
        "        raise ValueError('input too long')\n    return ' '.join(text.split()).lower()\n",
    ),
    (
        "CWE-770",
        "download",
        ["url"],
        "import requests\ndef download(url: str) -> bytes:\n"
        "    return b''.join(requests.get(url, stream=True, timeout=10).iter_content(65536))\n",
        "import requests\nMAX_BODY = 1 << 20\ndef download(url: str) -> bytes:\n    body = b''\n"
        "    for chunk in requests.get(url, stream=True, timeout=10).iter_content(65536):\n"
        "        body += chunk\n        if len(body) > MAX_BODY:\n"
        "            raise ValueError('response too large')\n    return body\n",
    ),
]


def test_every_probe_has_a_name_cwes_and_docs() -> None:
    names = {p.name for p in probes()}
    assert {"commands", "paths", "eval", "markup", "redirect_ssrf", "sql", "regex", "resources", "xml"} <= names
    for p in probes():
        assert p.cwes and all(c.startswith("CWE-") for c in p.cwes)
        doc = inspect.getdoc(type(p)) or ""
        assert doc and p.description == doc.splitlines()[0], f"probe {p.name}: its description is its docstring's"


def test_every_probe_has_a_vulnerable_and_a_patched_case() -> None:
    """The contract every probe meets: a case below that it must tell apart (plug-ins bring their own tests)."""
    covered = {probe_for(cwe).name for cwe, *_ in CASES}
    missing = {p.name for p in probes() if type(p).__module__.startswith("bluecodeagent.")} - covered
    assert not missing, f"probes without a vulnerable/patched case: {sorted(missing)}"
    assert probe_for("CWE-78").name == "commands"
    assert probe_for("CWE-99999") is None


@pytest.mark.parametrize(("cwe", "fn", "params", "vuln", "safe"), CASES, ids=[c[0] for c in CASES])
def test_probe_confirms_vulnerable_and_rejects_patched(
    box: Sandbox, cwe: str, fn: str, params: list[str], vuln: str, safe: str
) -> None:
    probe = probe_for(cwe)
    assert probe is not None
    bad = probe.run(box, vuln, fn, params, cwe)
    assert bad.outcome == "vulnerable", bad
    assert bad.evidence
    good = probe.run(box, safe, fn, params, cwe)
    assert good.outcome == "rejected", good


def test_missing_context_is_stubbed(box: Sandbox) -> None:
    """Unknown third-party modules and undefined helpers are stubbed, so the sink is still reached."""
    src = (
        "import flask\nimport somelib_that_does_not_exist as sl\n"
        "def go(path: str):\n    helper_not_defined(path)\n    sl.configure()\n"
        "    return flask.redirect(path)\n"
    )
    res = probe_for("CWE-601").run(box, src, "go", ["path"], "CWE-601")
    assert res.outcome == "vulnerable", res
    assert any("stubbed names" in n for n in res.notes)


def test_not_exercised_when_function_missing_or_crashing(box: Sandbox) -> None:
    probe = probe_for("CWE-78")
    res = probe.run(box, "def other():\n    pass\n", "absent", [], "CWE-78")
    assert res.outcome == "not_exercised" and "not found" in res.why
    crash = "import os\ndef f(x: str):\n    raise TypeError('needs context')\n    os.system(x)\n"
    res = probe.run(box, crash, "f", ["x"], "CWE-78")
    assert res.outcome == "not_exercised"


def test_hanging_subject_is_contained(box: Sandbox) -> None:
    src = "import os\ndef f(x: str):\n    while True:\n        pass\n"
    res = probe_for("CWE-78").run(box, src, "f", ["x"], "CWE-78")
    assert res.outcome == "not_exercised"


# -- probes that reach the code: connections, cursors and requests are real ----------------------------

CONTEXT_CASES = [
    (
        "conn",
        "def find_user(conn, name: str):\n"
        '    return conn.execute("SELECT * FROM users WHERE name = \'" + name + "\'").fetchall()\n',
        "def find_user(conn, name: str):\n"
        "    return conn.execute('SELECT * FROM users WHERE name = ?', (name,)).fetchall()\n",
        "find_user",
        ["name"],
    ),
    (
        "cursor",
        "def find_user(cursor, name):\n    cursor.execute(f\"SELECT id FROM users WHERE name = '{name}'\")\n"
        "    return cursor.fetchall()\n",
        "def find_user(cursor, name):\n    cursor.execute('SELECT id FROM users WHERE name = ?', [name])\n"
        "    return cursor.fetchall()\n",
        "find_user",
        ["name"],
    ),
    (
        "request",
        "import sqlite3\ndef search(request):\n    q = request.args.get('q', '')\n"
        "    db = sqlite3.connect(':memory:')\n    return db.execute(\"SELECT 1 WHERE 'x' = '%s'\" % q).fetchall()\n",
        "import sqlite3\ndef search(request):\n    q = request.args.get('q', '')\n"
        "    db = sqlite3.connect(':memory:')\n    return db.execute(\"SELECT 1 WHERE 'x' = ?\", (q,)).fetchall()\n",
        "search",
        ["request"],
    ),
]


@pytest.mark.parametrize(("kind", "vuln", "safe", "fn", "params"), CONTEXT_CASES, ids=[c[0] for c in CONTEXT_CASES])
def test_functions_taking_a_connection_or_request_are_exercised(
    box: Sandbox, kind: str, vuln: str, safe: str, fn: str, params: list[str]
) -> None:
    probe = probe_for("CWE-89")
    bad = probe.run(box, vuln, fn, params, "CWE-89")
    assert bad.outcome == "vulnerable", bad
    good = probe.run(box, safe, fn, params, "CWE-89")
    assert good.outcome == "rejected", good
