"""The harness runtime, run inside the sandbox's worker process (stdlib only, Python >= 3.9).

It observes effects through an audit hook (files opened or removed, commands run, code compiled,
pickles resolved, sockets), installs permissive stubs for third-party modules the sandbox lacks
(with recording fakes for ``requests`` and ``flask``), loads the subject statement by statement
with stubs for names it never defines, and calls functions with a per-call deadline.

It also guards itself (docs/threat-model.md): it is no file and no entry of ``sys.modules``; its
report descriptor is watched by wrappers around every raw-descriptor call and by the audit hook
(which cannot be removed); frames, code objects and classes of the harness handed to the subject,
introspection hooks, and code the subject compiles at run time are screened; modules and builtins
are snapshotted before the subject runs and compared after. Any of these ends the worker with a
tamper message. This module is never imported by the host process; it is read as text.
"""

from __future__ import annotations

import ast
import builtins
import html
import importlib.abc
import importlib.machinery
import inspect
import json
import os
import re
import signal
import sys
import types
from typing import Any

EVENTS: list[tuple[str, tuple[str, ...]]] = []
RECORDING = [False]
HARNESS_FILE = "<bc-harness>"
SUBJECT_FILE = "/work/app.py"
SUBJECT_MODULE = "app"
SUBJECT_FILES = (SUBJECT_FILE, "<string>")
TAMPER_EXIT = 86
REPORT_FD = [-1]
PHASE = ["setup"]
_GUARD = [False]
_raw_write, _raw_exit, _raw_getframe = os.write, os._exit, sys._getframe
SCREEN: list[Any] = [None]
CANARY_DIR = "/tmp/bc_canary"
CANARY_FILE = CANARY_DIR + "/secret.txt"
CANARY_TEXT = "BC-CANARY-7f3a9d"
MARKER = "/tmp/bc_marker_executed"
EVIL_HOST = "evil.bc-attacker.test"
_WATCHED = {
    "open", "os.system", "subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "exec", "compile",
    "pickle.find_class", "socket.connect", "socket.getaddrinfo", "urllib.Request", "os.remove", "os.rename",
    "os.listdir", "os.scandir", "shutil.rmtree", "shutil.copyfile", "os.chmod", "os.mkdir", "os.rmdir",
    "os.truncate", "os.link", "os.symlink", "shutil.move", "shutil.copytree", "socket.gethostname",
    "socket.gethostbyname", "socket.gethostbyaddr", "socket.bind",
}  # fmt: skip


def _short(value: Any) -> str:
    try:
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    except Exception:
        text = object.__repr__(value)
    return text[:2000]


def send(msg: dict[str, Any]) -> None:
    """One JSON line to the supervisor over the report descriptor (never through the subject's streams)."""
    data = (json.dumps(msg, default=_short) + "\n").encode()
    fd = REPORT_FD[0]
    while data and fd >= 0:
        n = _raw_write(fd, data)
        data = data[n:]


def tamper(what: str) -> None:
    """Report tampering and end the worker at once (the subject cannot catch ``os._exit``)."""
    try:
        send({"type": "tamper", "what": what[:300]})
    finally:
        _raw_exit(TAMPER_EXIT)


_FD_PATH = re.compile(r"^/proc/(self|thread-self|\d+)/(fd|fdinfo|mem|environ|cmdline|maps|task)|^/dev/fd(/|$)")
_INTROSPECTION = {"sys._current_frames", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
                  "sys.settrace", "sys.setprofile", "sys.addaudithook", "ctypes.dlopen", "ctypes.dlsym",
                  "ctypes.addressof", "ctypes.cdata", "ctypes.string_at", "ctypes.wstring_at"}  # fmt: skip


def _is_harness(obj: Any) -> bool:
    code = getattr(obj, "f_code", None) or getattr(obj, "gi_code", None) or getattr(obj, "__code__", None)
    if code is not None and getattr(code, "co_filename", None) == HARNESS_FILE:
        return True
    return isinstance(obj, type) and getattr(obj, "__module__", None) == "_w"


def _caller(depth: int = 3) -> str:
    """'subject', 'harness' or 'other': the nearest frame of either, from the frame that raised the event."""
    try:
        f = _raw_getframe(depth)
    except ValueError:
        return "other"
    immediate = True
    while f is not None:
        name = f.f_code.co_filename
        if name == HARNESS_FILE:
            return "harness"
        if name in SUBJECT_FILES:
            return "subject" if immediate else "subject-via-library"
        immediate = False
        f = f.f_back
    return "other"


def _check(event: str, args: tuple[Any, ...]) -> None:
    """Tamper checks for one audit event raised while the subject is loaded or called."""
    if event == "open" and args:
        path = args[0]
        if isinstance(path, int) and path == REPORT_FD[0]:
            tamper("opened the harness's report descriptor")
        if isinstance(path, (str, bytes)) and _FD_PATH.search(os.fsdecode(path)) and _caller() != "harness":
            tamper(f"opened process internals {os.fsdecode(path)[:80]!r}")
    elif event in ("os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes)):
        if _FD_PATH.search(os.fsdecode(args[0])) and _caller() != "harness":
            tamper(f"listed process internals {os.fsdecode(args[0])[:80]!r}")
    elif event == "sys._getframe" and args:
        if _is_harness(args[0]) and _caller() == "subject":
            tamper("took a frame of the harness (sys._getframe)")
    elif event == "object.__getattr__" and len(args) > 1:
        obj, name = args[0], args[1]
        target = getattr(obj, "tb_frame", None) if name == "tb_frame" else obj
        if _caller() == "subject" and _is_harness(target):
            tamper(f"read .{name} of the harness")
    elif event in ("object.__setattr__", "object.__delattr__") and args:
        if _is_harness(args[0]) and _caller() != "harness":
            tamper(f"changed {getattr(args[0], '__name__', '?')}.{args[1] if len(args) > 1 else '?'} of the harness")
    elif event in _INTROSPECTION:
        # libraries load ctypes for their own ends; only the subject's own use of it counts
        if _caller() == "subject" or (_caller() == "subject-via-library" and not event.startswith("ctypes.")):
            tamper(f"used {event} (introspection that reaches the harness)")
    elif event == "os.kill" and len(args) > 1:
        pid = args[0]
        if (pid in (0, -1, os.getppid(), os.getpid()) or (isinstance(pid, int) and pid < 0)) and _caller() != "harness":
            tamper(f"sent signal {args[1]} to the harness (pid {pid})")
    elif event == "subprocess.Popen":
        try:
            frame = _raw_getframe(2)
            fds = frame.f_locals.get("pass_fds") or ()
        except (ValueError, AttributeError):
            fds = ()
        if REPORT_FD[0] in tuple(fds):
            tamper("handed the harness's report descriptor to a child process")
    elif event == "compile" and args and isinstance(args[0], (str, bytes)) and SCREEN[0] is not None:  # noqa: SIM102
        if _caller() == "subject":  # what libraries compile for themselves is theirs
            # harness names are left out: the probes' own payloads carry marker names
            bad = [x for x in SCREEN[0](args[0]) if x["kind"] == "tamper" and x.get("rule") != "harness-name"]
            if bad:
                tamper(f"compiled code that {bad[0]['what']}")


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if PHASE[0] != "setup" and not _GUARD[0]:
        _GUARD[0] = True
        try:
            _check(event, args)
        except Exception:
            pass
        finally:
            _GUARD[0] = False
    if RECORDING[0] and event in _WATCHED:
        RECORDING[0] = False  # nothing below may re-enter
        try:
            if event == "exec":
                args = (getattr(args[0], "co_filename", ""),)
            elif event == "compile":
                args = (args[0], args[1]) if args else ()
            EVENTS.append((event, tuple(_short(a) for a in args)))
        finally:
            RECORDING[0] = True


sys.addaudithook(_hook)


def record(event: str, *args: Any) -> None:
    """Record an event from a fake (a URL fetched, a redirect, a query executed)."""
    if RECORDING[0]:
        EVENTS.append((event, tuple(_short(a) for a in args)))


# -- stubs --------------------------------------------------------------------------------------------


class Stub:
    """Stands in for anything the subject needs but the sandbox lacks: every use returns a stub."""

    def __init__(self, name: str = "stub") -> None:
        object.__setattr__(self, "_bc_name", name)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__") and key.endswith("__"):
            raise AttributeError(key)
        return Stub(f"{self._bc_name}.{key}")

    def __setattr__(self, key: str, value: Any) -> None:
        object.__setattr__(self, key, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        record("stub.call", self._bc_name, args[0] if args else "", repr(args[1:])[:300], repr(kwargs)[:300])
        return Stub(f"{self._bc_name}()")

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return True

    def __getitem__(self, key: Any) -> Any:
        return Stub(f"{self._bc_name}[]")

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def __contains__(self, item: Any) -> bool:
        return False

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> bool:
        return False

    def __str__(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"<stub {self._bc_name}>"

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[type, ...]:
        return (object,)


class FakeResponse:
    """What fake HTTP calls return; ``BODY_CHUNKS`` lets a probe stream a huge body."""

    BODY_CHUNKS = 1
    CHUNK = b"x" * 1024

    def __init__(self, url: str = "", status_code: int = 200, location: str | None = None) -> None:
        self.url, self.status_code = url, status_code
        self.headers: dict[str, str] = {"Content-Type": "text/html"}
        if location is not None:
            self.headers["Location"] = location
        self.location = location
        self.ok = True
        self.encoding = "utf-8"
        self.cookies: dict[str, str] = {}

    @property
    def content(self) -> bytes:
        return self.CHUNK * min(self.BODY_CHUNKS, 4096)

    @property
    def text(self) -> str:
        return self.content.decode()

    def json(self) -> Any:
        return {}

    def iter_content(self, chunk_size: int | None = 1024, decode_unicode: bool = False) -> Any:
        for _ in range(self.BODY_CHUNKS):
            yield self.CHUNK

    def iter_lines(self, *a: Any, **k: Any) -> Any:
        for _ in range(self.BODY_CHUNKS):
            yield self.CHUNK

    @property
    def raw(self) -> Any:
        import io

        return io.BytesIO(self.content)

    def raise_for_status(self) -> None:
        return None

    def close(self) -> None:
        return None

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *exc: Any) -> bool:
        return False

    def get_data(self, as_text: bool = False) -> Any:
        return self.text if as_text else self.content


def _fake_requests() -> types.ModuleType:
    mod = types.ModuleType("requests")

    def request(method: str, url: Any, *a: Any, **k: Any) -> FakeResponse:
        record("http.request", method.upper(), url)
        return FakeResponse(str(url))

    for verb in ("get", "post", "put", "delete", "head", "patch", "options"):
        setattr(mod, verb, (lambda v: lambda url, *a, **k: request(v, url, *a, **k))(verb))
    mod.request = request  # type: ignore[attr-defined]

    class Session:
        def __init__(self) -> None:
            self.headers: dict[str, str] = {}

        def __getattr__(self, name: str) -> Any:
            if name in ("get", "post", "put", "delete", "head", "patch", "options"):
                return getattr(mod, name)
            if name == "request":
                return request
            raise AttributeError(name)

        def __enter__(self) -> Session:
            return self

        def __exit__(self, *exc: Any) -> bool:
            return False

    class RequestException(OSError):
        pass

    exc_mod = types.ModuleType("requests.exceptions")
    for name in (
        "RequestException",
        "HTTPError",
        "ConnectionError",
        "Timeout",
        "TooManyRedirects",
        "InvalidURL",
        "MissingSchema",
        "ReadTimeout",
        "ConnectTimeout",
    ):
        cls = RequestException if name == "RequestException" else type(name, (RequestException,), {})
        setattr(exc_mod, name, cls)
        setattr(mod, name, cls)
    mod.exceptions = exc_mod  # type: ignore[attr-defined]
    mod.Session = Session  # type: ignore[attr-defined]
    mod.Response = FakeResponse  # type: ignore[attr-defined]
    sys.modules["requests.exceptions"] = exc_mod
    return mod


class _Obj(dict):  # type: ignore[type-arg]
    """A dict that also reads as attributes (flask's request.args and friends)."""

    def __getattr__(self, key: str) -> Any:
        return self.get(key)

    def getlist(self, key: str) -> list[Any]:
        v = self.get(key)
        return v if isinstance(v, list) else ([] if v is None else [v])


def _fake_flask() -> types.ModuleType:
    mod = types.ModuleType("flask")
    req = types.SimpleNamespace(
        args=_Obj(),
        form=_Obj(),
        values=_Obj(),
        headers=_Obj(),
        cookies=_Obj(),
        json=None,
        method="GET",
        path="/",
        url="http://app.bc.test/",
        host="app.bc.test",
        remote_addr="127.0.0.1",
        files=_Obj(),
        data=b"",
    )
    req.get_json = lambda *a, **k: req.json  # type: ignore[attr-defined]
    req.get_data = lambda *a, **k: req.data  # type: ignore[attr-defined]
    mod.request = req  # type: ignore[attr-defined]
    mod.session = _Obj()  # type: ignore[attr-defined]
    mod.g = types.SimpleNamespace()  # type: ignore[attr-defined]

    def redirect(location: Any, code: int = 302, *a: Any, **k: Any) -> FakeResponse:
        record("http.redirect", location)
        return FakeResponse(status_code=code, location=str(location))

    class HTTPAbort(Exception):
        pass

    def abort(code: int = 400, *a: Any, **k: Any) -> None:
        raise HTTPAbort(f"abort({code})")

    def make_response(body: Any = "", status: int = 200, *a: Any, **k: Any) -> Any:
        return body

    def render_template_string(source: str, **ctx: Any) -> str:
        out = source
        for k, v in ctx.items():
            out = re.sub(r"\{\{\s*" + re.escape(k) + r"\s*\}\}", html.escape(str(v)), out)
            out = re.sub(r"\{\{\s*" + re.escape(k) + r"\s*\|\s*safe\s*\}\}", str(v), out)
        return out

    class Flask:
        def __init__(self, *a: Any, **k: Any) -> None:
            self.config: dict[str, Any] = {}

        def route(self, *a: Any, **k: Any) -> Any:
            return lambda f: f

        def __getattr__(self, name: str) -> Any:
            return Stub(f"app.{name}")

    mod.Flask = Flask  # type: ignore[attr-defined]
    mod.redirect = redirect  # type: ignore[attr-defined]
    mod.abort = abort  # type: ignore[attr-defined]
    mod.make_response = make_response  # type: ignore[attr-defined]
    mod.jsonify = lambda *a, **k: json.dumps(a[0] if a else k, default=str)  # type: ignore[attr-defined]
    mod.render_template_string = render_template_string  # type: ignore[attr-defined]
    mod.render_template = lambda name, **ctx: " ".join(str(v) for v in ctx.values())  # type: ignore[attr-defined]
    mod.escape = html.escape  # type: ignore[attr-defined]
    mod.Markup = str  # type: ignore[attr-defined]
    mod.url_for = lambda endpoint, **k: "/" + str(endpoint)  # type: ignore[attr-defined]
    mod.Response = FakeResponse  # type: ignore[attr-defined]
    mod.Blueprint = Flask  # type: ignore[attr-defined]
    return mod


_FAKES = {"requests": _fake_requests, "flask": _fake_flask}
STUBBED_MODULES: list[str] = []


class _StubModule(types.ModuleType):
    def __getattr__(self, key: str) -> Any:
        if key.startswith("__") and key.endswith("__"):
            raise AttributeError(key)
        return Stub(f"{self.__name__}.{key}")


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on sys.meta_path: any module nobody else could find becomes a stub (or a fake)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        top = fullname.split(".")[0]
        if top.startswith("_") or top in getattr(sys, "stdlib_module_names", ()):
            return None
        if "." in fullname and not getattr(sys.modules.get(top), "_bc_stub", False):
            return None  # a missing submodule of a real package: let the package handle ImportError
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: Any) -> types.ModuleType:
        top = spec.name.split(".")[0]
        mod = _FAKES[spec.name]() if spec.name in _FAKES else _StubModule(spec.name)
        mod.__path__ = []  # type: ignore[attr-defined]
        mod._bc_stub = True  # type: ignore[attr-defined]
        if top not in STUBBED_MODULES and spec.name not in _FAKES:
            STUBBED_MODULES.append(top)
        record("stub.module", top)
        return mod

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class _FakeFirst(importlib.abc.MetaPathFinder):
    """First on sys.meta_path: ``requests`` and ``flask`` are always the recording fakes.

    The sandbox has no network and no request context, so the real libraries (when the sandbox
    runtime is installed) could only fail; the fakes are the instrumented sinks the probes read.
    """

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname in _FAKES:
            return importlib.machinery.ModuleSpec(fullname, _STUB_FINDER, is_package=True)
        return None


_STUB_FINDER = _StubFinder()
sys.meta_path.insert(0, _FakeFirst())
sys.meta_path.append(_STUB_FINDER)


# -- the subject ---------------------------------------------------------------------------------------


def free_names(tree: ast.AST) -> set[str]:
    """Names the code reads but never binds anywhere (approximately: scopes are flattened)."""
    loaded, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
    return {n for n in loaded - bound if not hasattr(builtins, n)}


def load_subject(path: str = SUBJECT_FILE) -> tuple[types.ModuleType, list[str]]:
    """Execute the subject statement by statement (a failing statement does not stop the rest)."""
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    tree = ast.parse(source, filename=path)
    mod = types.ModuleType(SUBJECT_MODULE)
    mod.__file__ = os.path.abspath(path)
    sys.modules[SUBJECT_MODULE] = mod
    stubs = sorted(free_names(tree))
    for name in stubs:
        setattr(mod, name, Stub(name))
    problems: list[str] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.If) and _is_main_guard(stmt):
            continue
        code = compile(ast.Module(body=[stmt], type_ignores=[]), SUBJECT_FILE, "exec")
        try:
            with deadline(2.0):
                exec(code, mod.__dict__)
        except SystemExit as e:
            problems.append(f"line {stmt.lineno}: SystemExit: {_short(e)[:200]}")
            EXITS.append(f"line {stmt.lineno}: the code under test called exit at import")
        except BaseException as e:
            problems.append(f"line {stmt.lineno}: {type(e).__name__}: {_short(e)[:200]}")
    if stubs:
        problems.append("stubbed names: " + ", ".join(stubs[:20]))
    return mod, problems


def _is_main_guard(node: ast.If) -> bool:
    t = node.test
    return isinstance(t, ast.Compare) and isinstance(t.left, ast.Name) and t.left.id == "__name__"


def find_function(mod: types.ModuleType, name: str | None) -> Any:
    """The function called ``name`` (``Class.method`` on a default-constructed instance), or None."""
    if not name:
        return None
    obj: Any = mod
    parts = name.split(".")
    for i, part in enumerate(parts):
        obj = getattr(obj, part, None) if not isinstance(obj, Stub) else None
        if obj is None:
            return None
        if inspect.isclass(obj) and i < len(parts) - 1:
            try:
                obj = obj()
            except Exception:
                obj = object.__new__(obj)
    return obj if callable(obj) and not isinstance(obj, Stub) else None


# -- calling -------------------------------------------------------------------------------------------


class Deadline(BaseException):
    """Raised in the subject when a call runs past its time budget."""


class deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __enter__(self) -> deadline:
        def fire(signum: int, frame: Any) -> None:
            raise Deadline(f"call exceeded {self.seconds}s")

        self._old = signal.signal(signal.SIGALRM, fire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc: Any) -> bool:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._old)
        return False


_NAME_DEFAULTS = (
    (r"url|uri|link|endpoint|href", "https://app.bc.test/home"),
    (r"host|domain", "app.bc.test"),
    (r"e_?mail", "user@app.bc.test"),
    (r"dir|folder|directory|root|base", "/tmp/bc_work"),
    (r"path|file|name|doc", "report.txt"),
    (r"ext", "txt"),
    (r"cmd|command|exec", "echo hello"),
    (r"pattern|regex", "[a-z]+"),
    (r"expr|formula|calc|math", "1 + 2"),
    (r"query|search|term|keyword", "hello"),
    (r"html|content|body|text|message|comment|title|bio|post", "hello world"),
    (r"id$|_id|num|count|size|limit|age|port|amount|qty|quantity", 1),
)


_DB_PARAM = re.compile(
    r"^(conn|connection|con|db|database|dbconn|db_conn|cursor|cur|curs)$|_(conn|connection|cursor|db)$"
)
_DB_ANN = re.compile(r"connection|cursor")
_REQUEST_PARAM = re.compile(r"^(request|req|http_request)$")


class _Every(dict):  # type: ignore[type-arg]
    """A mapping that holds ``value`` under every key (query strings, forms, headers of a test request)."""

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value

    def __missing__(self, key: Any) -> Any:
        return self.value

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:
        return type(self.value) if type is not None else self.value

    def getlist(self, key: Any) -> list[Any]:
        return [self.value]

    def __contains__(self, key: Any) -> bool:
        return True

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        return self.value


class TestRequest:
    """A web request whose every parameter, form field, header and cookie is ``value``."""

    def __init__(self, value: Any = "hello") -> None:
        self.value = value
        self.args = self.form = self.values = self.query_params = self.GET = self.POST = _Every(value)
        self.headers = self.cookies = self.files = _Every(value)
        self.json = {"value": value}
        self.data = value.encode() if isinstance(value, str) else value
        self.method, self.path, self.url = "POST", "/", "http://app.bc.test/"
        self.host, self.remote_addr = "app.bc.test", "127.0.0.1"

    def get_json(self, *a: Any, **k: Any) -> Any:
        return _Every(self.value)

    def get_data(self, *a: Any, **k: Any) -> Any:
        return self.data

    def __repr__(self) -> str:
        return f"<request {self.value!r:.60}>"


def test_connection(cursor: bool = False) -> Any:
    """A real in-memory SQLite connection (or cursor) that records the SQL it executes."""
    import sqlite3

    conn = sqlite3.connect(":memory:")  # the recording wrapper installed below
    return conn.cursor() if cursor else conn


def benign_value(param: inspect.Parameter) -> Any:
    """A plausible harmless argument from the annotation, the default or the parameter name.

    Connections and cursors get a real (recording) in-memory SQLite one, requests a test request.
    """
    ann = param.annotation
    ann_s = ann if isinstance(ann, str) else getattr(ann, "__name__", str(ann))
    ann_s = str(ann_s).lower()
    name = param.name.lower()
    plain = ann_s in ("str", "int", "bytes", "path", "bool", "float")
    if (_DB_PARAM.search(name) and not plain) or _DB_ANN.search(ann_s):
        return test_connection(cursor="cur" in name or "cursor" in ann_s)
    if _REQUEST_PARAM.search(name) or ann_s.endswith("request"):
        return TestRequest()
    if param.default is not inspect.Parameter.empty and param.default is not None:
        return param.default
    if "bytes" in ann_s:
        return b"hello"
    if ann_s.startswith("int") or ann_s == "float":
        return 1
    if ann_s.startswith("bool"):
        return True
    if ann_s.startswith(("dict", "mapping")):
        return {}
    if ann_s.startswith(("list", "set", "tuple", "sequence", "iterable")):
        return []
    for pat, value in _NAME_DEFAULTS:
        if re.search(pat, name):
            if isinstance(value, int) and "str" in ann_s:
                return str(value)
            return value
    return "hello"


def parameters(fn: Any) -> list[inspect.Parameter]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    return [p for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def benign_args(fn: Any) -> dict[str, Any]:
    """Benign values for every parameter; empty list parameters mimic an allowlist of the benign strings."""
    params = parameters(fn)
    args = {p.name: benign_value(p) for p in params}
    tokens: list[str] = []
    for v in args.values():
        if isinstance(v, str):
            tokens += [v, *v.split()]
    for p in params:
        if args[p.name] == [] and re.search(
            r"allow|approved|permitted|valid|whitelist|safe|trusted|accepted", p.name.lower()
        ):
            args[p.name] = list(dict.fromkeys(tokens))
    return args


def call(fn: Any, args: dict[str, Any], seconds: float = 2.0) -> dict[str, Any]:
    """Call ``fn(**args)`` recording events; returns result, exception and the events seen."""
    start = len(EVENTS)
    out: dict[str, Any] = {"returned": False, "result": None, "exc": None, "exc_type": None, "timeout": False}
    # what the probe patched before the call is the probe's; what changes during it is the subject's
    before = snapshot() if PHASE[0] == "call" else None
    RECORDING[0] = True
    try:
        with deadline(seconds):
            out["result"] = fn(**args)
            out["returned"] = True
    except Deadline:
        out["timeout"] = True
    except RecursionError as e:
        out["exc"], out["exc_type"] = _short(e)[:300], "RecursionError"
    except BaseException as e:
        out["exc"], out["exc_type"] = _short(e)[:300], type(e).__name__
        out["exc_obj"] = e
    finally:
        RECORDING[0] = False
    if before is not None:
        CALL_PATCHES.extend(c for c in patched(before) if c not in CALL_PATCHES)
    out["events"] = EVENTS[start:]
    return out


_MISSING_CONTEXT = {
    "TypeError",
    "AttributeError",
    "NameError",
    "ImportError",
    "ModuleNotFoundError",
    "NotImplementedError",
    "KeyError",
    "IndexError",
    "UnboundLocalError",
    "RecursionError",
    "FileNotFoundError",
    "NotADirectoryError",
    "IsADirectoryError",
    "OSError",
    "StopIteration",
}
_REFUSAL = re.compile(
    r"invalid|not allowed|disallow|forbidden|denied|unsafe|outside|travers|unauthori|"
    r"permission|not permitted|illegal|malicious|reject|exceed|too (long|large|big)|limit|"
    r"untrusted|blocked|restricted|prohibited|dangerous|suspicious",
    re.IGNORECASE,
)


def deliberate_rejection(res: dict[str, Any]) -> bool:
    """True when the call raised what looks like the code refusing the input (not a missing-context crash)."""
    exc_type = res.get("exc_type")
    if exc_type is None:
        return False
    exc = res.get("exc_obj")
    if isinstance(exc, OSError) and exc.errno is not None:
        return False  # the operating system refused (read-only, missing file), not the code
    if stub_calls(res):
        return False  # the code ran on stand-ins: whatever it raised proves nothing
    if exc_type in ("ValueError", "PermissionError", "AssertionError", "SystemExit", "HTTPAbort"):
        return True
    if exc is not None and type(exc).__module__ == SUBJECT_MODULE:
        return True
    if exc_type in _MISSING_CONTEXT and exc_type not in ("OSError",):
        return False
    return bool(_REFUSAL.search(str(res.get("exc") or "")))


_SENSING_EVENTS = ("socket.connect", "socket.getaddrinfo", "socket.gethostname", "socket.gethostbyname",
                   "socket.gethostbyaddr", "socket.bind", "urllib.Request")  # fmt: skip


def sensing_events(events: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """Network and host-name look-ups among ``events`` (answers that differ inside the sandbox)."""
    return [f"{n}({', '.join(a)[:60]})" for n, a in events if n in _SENSING_EVENTS]


def stub_calls(res: dict[str, Any]) -> list[str]:
    """Stand-ins the call used (names of stubbed modules' functions or undefined helpers)."""
    return [
        args[0]
        for name, args in res.get("events", ())
        if name == "stub.call" and args and not args[0].startswith("app.")  # the fake Flask app's extras
    ]


def stub_reason(stubs: list[str]) -> str:
    """Why a call on stand-ins is not evidence, naming the missing module when there is one."""
    first = stubs[0]
    top = first.split(".")[0]
    if top in STUBBED_MODULES:
        return f"reached {first}, a stub: module {top!r} is not installed in the sandbox"
    return f"reached {first}, a stub for a name the code never defines"


def as_text(value: Any, depth: int = 0) -> str:
    """Flatten a return value (strings, bytes, containers, responses) into text to search."""
    if depth > 3:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return " ".join(as_text(k, depth + 1) + " " + as_text(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return " ".join(as_text(v, depth + 1) for v in value)
    if isinstance(value, FakeResponse):
        return " ".join(filter(None, [value.location or "", value.text[:200]]))
    if isinstance(value, Stub) or value is None:
        return ""
    return _short(value)


def setup_canaries() -> None:
    os.makedirs(CANARY_DIR, exist_ok=True)
    os.makedirs("/tmp/bc_work", exist_ok=True)
    with open(CANARY_FILE, "w") as fh:
        fh.write(CANARY_TEXT + "\n")
    for ext in ("txt", "log", "py", "json", "cfg"):
        with open(f"{CANARY_DIR}/canary.{ext}", "w") as fh:
            fh.write(CANARY_TEXT + "\n")
    with open("/tmp/bc_work/report.txt", "w") as fh:
        fh.write("benign report\n")


# -- the generic exploit loop ---------------------------------------------------------------------------


def targets(fn: Any, wanted: list[str]) -> list[str]:
    """Parameters to attack: the tainted ones static analysis named, else every string-like one."""
    params = parameters(fn)
    names = [p.name for p in params]
    chosen = [n for n in wanted if n in names]
    if chosen:
        return chosen
    out = []
    for p in params:
        v = benign_value(p)
        if isinstance(v, (str, bytes, list, dict, TestRequest)) and p.name not in ("self", "cls"):
            out.append(p.name)
    return out


def inject(benign: Any, payload: Any) -> Any:
    """Put ``payload`` where ``benign`` was, keeping its shape (bytes, list, dict)."""
    if isinstance(benign, TestRequest):
        return TestRequest(payload)
    if isinstance(benign, bytes) and isinstance(payload, str):
        return payload.encode()
    if isinstance(benign, list):
        return [payload]
    if isinstance(benign, dict):
        return {"name": payload, "value": payload}
    return payload


def exploit(
    fn: Any,
    wanted: list[str],
    payloads: Any,
    judge: Any,
    reached: Any = None,
    seconds: float = 2.0,
    reset: Any = None,
    overrides: dict[str, Any] | None = None,
    trust_stub_args: bool = False,
    network: bool = False,
) -> dict[str, Any]:
    """Call ``fn`` with each payload in each target parameter, then benignly, and decide the outcome.

    ``judge(res, payload, param)`` returns ("vulnerable" | "rejected" | None, evidence); None lets the
    generic rules decide: a deliberate refusal (when the benign call worked) or a reached sink with no
    effect means rejected, anything else means not exercised. ``reached(events)`` says whether the
    family's sink was hit. A payload call that used stand-ins (stubs of missing modules or of names the
    code never defines) is never evidence of a refusal, unless ``trust_stub_args``: the probe judges
    only what the code built and handed to the stand-in (the SQL text, the markup returned).
    Code that looks at the network or the host's name while it is called (the sandbox has neither)
    may behave differently outside: its refusals are not trusted, unless ``network`` (the probe
    itself judges network use).
    """
    benign = benign_args(fn)
    benign.update(overrides or {})
    names = targets(fn, wanted)
    if not names:
        return {"outcome": "not_exercised", "why": "no parameter to put an exploit input in"}
    # Payloads first, the benign call last: code that refuses every call after its first one (it has
    # noticed it is being probed) still meets a payload on its first call.
    tried: list[tuple[str, str, dict[str, Any], list[str]]] = []
    sensed: list[str] = []
    rejections: list[str] = []
    reasons: list[str] = []
    blocked: list[str] = []  # payloads that ran on stand-ins or missing modules: never a refutation
    for name in names:
        plist = payloads(benign.get(name)) if callable(payloads) else payloads
        for payload in plist:
            if reset:
                reset()
            args = dict(benign)
            args[name] = inject(benign.get(name), payload)
            res = call(fn, args, seconds)
            if not network:
                sensed += sensing_events(res["events"])
            outcome, evidence = judge(res, payload, name)
            shown = _short(payload)[:120]
            stubs = stub_calls(res)
            if outcome == "rejected" and stubs and not trust_stub_args:
                outcome = None  # a refusal observed on stand-ins is no refusal
            if outcome == "vulnerable":
                return {"outcome": "vulnerable", "evidence": f"{name}={shown!r}: {evidence}", "param": name}
            if outcome == "rejected":
                rejections.append(f"{name}={shown!r}: {evidence}")
                continue
            tried.append((name, shown, res, stubs))
    if reset:
        reset()
    b = call(fn, dict(benign), seconds)
    if not network:
        sensed += sensing_events(b["events"])
    benign_ok = b["returned"]
    benign_reached = bool(reached and reached(b["events"]))
    for name, shown, res, stubs in tried:  # the generic rules, now that the benign call is known
        hit = bool(reached and reached(res["events"]))
        if stubs and not trust_stub_args:
            blocked.append(f"{name}: {stub_reason(stubs)}")
        elif res["exc_type"] in ("ImportError", "ModuleNotFoundError"):
            blocked.append(f"{name}: {res['exc_type']}: {res['exc']}"[:300])
        elif deliberate_rejection(res) and (benign_ok or benign_reached):
            rejections.append(f"{name}={shown!r}: refused with {res['exc_type']}: {res['exc']}")
        elif hit:
            rejections.append(f"{name}={shown!r}: the sink ran with the payload neutralised")
        elif benign_reached and res["returned"] and _REFUSAL.search(as_text(res["result"])):
            rejections.append(
                f"{name}={shown!r}: refused (returned {as_text(res['result'])[:80]!r}), "
                "while the benign input reached the sink"
            )
        elif res["timeout"]:
            reasons.append(f"{name}: call timed out")
        elif res["exc_type"]:
            reasons.append(f"{name}: {res['exc_type']}: {res['exc']}"[:300])
        else:
            reasons.append(f"{name}: returned without reaching the sink")
    if rejections and sensed:
        return {
            "outcome": "not_exercised",
            "why": "the refusal is not trusted: the code looked at the environment while it was called "
            f"({sensed[0]}; the sandbox has no network, so it may act differently outside)",
            "notes": ["observed refusal, not trusted: " + "; ".join(rejections[:2])[:300]],
        }
    if rejections and not blocked and len(rejections) >= len(reasons):
        return {"outcome": "rejected", "evidence": "; ".join(rejections[:3]), "why": "; ".join(reasons[:2])}
    why = "; ".join((blocked + reasons)[:3]) or "no payload exercised the sink"
    if not benign_ok:
        why += f" (the benign call also failed: {b['exc_type']}: {b['exc']})"
    return {"outcome": "not_exercised", "why": why[:500]}


def event_paths(events: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """Normalised absolute paths touched by file-system events."""
    out = []
    for name, args in events:
        if name in ("subprocess.Popen", "os.system", "exec", "compile", "socket.connect", "stub.call") or not args:
            continue
        if name.startswith(("http.", "stub.", "sql")):
            continue
        for a in args[:2] if name in ("os.rename", "shutil.copyfile", "os.link", "shutil.move") else args[:1]:
            if isinstance(a, str) and a and not a.isdigit():
                out.append(os.path.normpath(os.path.join(os.getcwd(), a)))
    return out


def command_events(events: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    return [
        " ".join(args)
        for name, args in events
        if name in ("os.system", "subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn")
    ]


def _install_sqlite_recorder() -> None:
    import sqlite3

    real_connect = sqlite3.connect

    class Cursor:
        def __init__(self, cur: Any) -> None:
            self._cur = cur

        def execute(self, sql: Any, *params: Any) -> Any:
            record("sql", sql, repr(params)[:300])
            self._cur.execute(sql, *params)
            return self

        def executemany(self, sql: Any, seq: Any) -> Any:
            record("sql", sql, "many")
            self._cur.executemany(sql, seq)
            return self

        def executescript(self, sql: Any) -> Any:
            record("sql", sql, "script")
            self._cur.executescript(sql)
            return self

        def __getattr__(self, name: str) -> Any:
            return getattr(self._cur, name)

        def __iter__(self) -> Any:
            return iter(self._cur)

    class Connection:
        def __init__(self, conn: Any) -> None:
            self._conn = conn

        def cursor(self, *a: Any) -> Cursor:
            return Cursor(self._conn.cursor(*a))

        def execute(self, sql: Any, *params: Any) -> Any:
            return Cursor(self._conn.cursor()).execute(sql, *params)

        def executescript(self, sql: Any) -> Any:
            return Cursor(self._conn.cursor()).executescript(sql)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._conn, name)

        def __enter__(self) -> Connection:
            return self

        def __exit__(self, *exc: Any) -> bool:
            return False

    sqlite3.connect = lambda *a, **k: Connection(real_connect(*a, **k))  # type: ignore[assignment]


_install_sqlite_recorder()
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

EXITS: list[str] = []
CALL_PATCHES: list[str] = []


# -- guards and the worker's entry point -----------------------------------------------------------------

_FD_FIRST = ("write", "read", "pwrite", "pread", "writev", "readv", "dup", "fdopen", "close", "set_inheritable",
             "set_blocking", "lseek", "ftruncate", "fsync", "fchmod", "fchown", "fstat", "ttyname", "isatty",
             "get_inheritable", "get_blocking", "lockf", "posix_fallocate", "posix_fadvise", "fdatasync")  # fmt: skip


def _guard(name: str, real: Any) -> Any:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        fd = REPORT_FD[0]
        if name == "closerange" and len(args) > 1 and args[0] <= fd < args[1]:
            tamper("closed the harness's report descriptor (os.closerange)")
        if name in ("dup2", "sendfile", "splice", "copy_file_range") and fd in args[:2]:
            tamper(f"used the harness's report descriptor (os.{name})")
        if args and args[0] == fd:
            tamper(f"used the harness's report descriptor (os.{name})")
        return real(*args, **kwargs)

    guarded.__name__ = guarded.__qualname__ = name
    return guarded


def _install_fd_guards() -> None:
    """Every raw-descriptor function of os/posix/fcntl refuses the report descriptor (and reports why)."""
    import fcntl
    import posix

    names = (*_FD_FIRST, "closerange", "dup2", "sendfile", "splice", "copy_file_range")
    for n in names:
        real = getattr(os, n, None)
        if real is None:
            continue
        g = _guard(n, real)
        setattr(os, n, g)
        if getattr(posix, n, None) is real:
            setattr(posix, n, g)
    fcntl.fcntl = _guard("fcntl", fcntl.fcntl)  # F_DUPFD copies a descriptor
    fcntl.ioctl = _guard("ioctl", fcntl.ioctl)


_SNAPSHOT_MODULES = ("os", "os.path", "posix", "posixpath", "subprocess", "shutil", "sqlite3", "json", "re",
                     "pickle", "io", "socket", "signal", "pathlib", "html", "urllib.parse", "urllib.request",
                     "xml.etree.ElementTree", "xml.dom.minidom", "xml.sax", "marshal", "tempfile", "glob",
                     "hashlib", "hmac", "secrets", "base64", "ast", "inspect", "fcntl", "yaml", "lxml.etree",
                     "defusedxml", "jinja2", "markupsafe", "requests", "flask", "werkzeug", "sqlalchemy")  # fmt: skip


def snapshot() -> dict[str, Any]:
    """Identities of loaded modules, their attributes and the builtins (to notice patching)."""
    import builtins as _b

    snap: dict[str, Any] = {"builtins": {k: id(v) for k, v in vars(_b).items()}}
    for name in _SNAPSHOT_MODULES:
        mod = sys.modules.get(name)
        if mod is None or getattr(mod, "_bc_stub", False):
            continue
        snap[name] = (id(mod), {k: id(v) for k, v in list(vars(mod).items()) if not k.startswith("__")})
    snap["sys.modules"] = id(sys.modules)
    snap["sys.meta_path"] = [id(f) for f in sys.meta_path]
    return snap


def patched(before: dict[str, Any]) -> list[str]:
    """What was replaced since ``before``: modules, module attributes, builtins."""
    now = snapshot()
    out: list[str] = []
    if now["sys.modules"] != before["sys.modules"]:
        out.append("replaced sys.modules")
    for k, v in before["builtins"].items():
        if now["builtins"].get(k, v) != v and not k.startswith("_"):
            out.append(f"replaced builtins.{k}")
    for name, entry in before.items():
        if name in ("builtins", "sys.modules", "sys.meta_path"):
            continue
        mid, attrs = entry
        cur = now.get(name)
        if cur is None:
            if name in sys.modules and not getattr(sys.modules[name], "_bc_stub", False):
                out.append(f"replaced the module {name} in sys.modules")
            continue
        if cur[0] != mid:
            out.append(f"replaced the module {name} in sys.modules")
            continue
        for k, ident in attrs.items():
            if cur[1].get(k, ident) != ident:
                out.append(f"patched {name}.{k}")
    return out[:5]


def run_probe(inside: Any, function: str | None, params: list[str]) -> dict[str, Any]:
    """Load the subject, find the function, run the probe; guards active from the first subject statement."""
    setup_canaries()
    before = snapshot()
    PHASE[0] = "load"
    try:
        mod, notes = load_subject(SUBJECT_FILE)
    except SyntaxError as e:
        return {"outcome": "not_exercised", "why": f"subject does not compile: {e}"}
    finally:
        PHASE[0] = "setup"
    changed = patched(before)
    if changed:
        tamper("the code under test patched loaded modules at import: " + "; ".join(changed))
    fn = find_function(mod, function)
    if fn is None:
        return {"outcome": "not_exercised", "why": f"function {function!r} not found or not callable", "notes": notes}
    PHASE[0] = "call"
    try:
        res = inside(_RT, fn, params)
    except BaseException as e:  # the subject may raise anything, SystemExit included
        res = {"outcome": "not_exercised", "why": f"probe failed: {type(e).__name__}: {_short(e)[:200]}"}
    finally:
        PHASE[0] = "setup"
    if CALL_PATCHES and res.get("outcome") != "vulnerable":
        tamper("the code under test patched loaded modules while it was called: " + "; ".join(CALL_PATCHES[:5]))
    res = {k: v for k, v in res.items() if k != "exc_obj"}
    res["notes"] = list(res.get("notes", [])) + notes
    res["integrity"] = list(EXITS)
    return res


_RT: Any = None


def start(fd: int, args: dict[str, Any], probe_src: str, integrity_src: str, rt: Any) -> None:
    """The worker's entry point: guards first, then the probe; one result message, then exit."""
    global _RT
    _RT = rt
    REPORT_FD[0] = fd
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    ns: dict[str, Any] = {"__name__": "_w"}
    exec(compile(integrity_src, HARNESS_FILE, "exec"), ns)
    SCREEN[0] = ns["screen"]
    pns: dict[str, Any] = {"__name__": "_w"}
    exec(compile(probe_src, HARNESS_FILE, "exec"), pns)
    _install_fd_guards()
    try:
        res = run_probe(pns["inside"], args.get("function"), list(args.get("params") or []))
    except BaseException as e:
        res = {"outcome": "not_exercised", "why": f"harness error: {type(e).__name__}: {_short(e)[:200]}"}
    send({"type": "result", "result": res})
    _raw_exit(0)
