"""Taint propagation, sanitisers and guards."""

from __future__ import annotations

import ast

from bluecodeagent.code.static.python.taint import FunctionContext, ModuleContext, iter_functions


def ctx(src: str, name: str = "f") -> FunctionContext:
    module = ModuleContext.build(ast.parse(src), src)
    return next(fc for fc in iter_functions(module) if fc.name == name)


def sink_arg(fc: FunctionContext) -> ast.AST:
    call = next(c for c in fc.calls() if fc.call_name(c) == "sink")
    return call.args[0]


def tainted(src: str, kind: str = "any") -> bool:
    fc = ctx(src)
    return fc.is_tainted(sink_arg(fc), kind)


def test_param_flows_through_fstring_concat_format_join():
    assert tainted("def f(x):\n    a = f'q {x}'\n    sink(a)")
    assert tainted("def f(x):\n    a = 'q ' + x\n    sink(a)")
    assert tainted("def f(x):\n    a = 'q {}'.format(x)\n    sink(a)")
    assert tainted("def f(x):\n    a = 'q %s' % x\n    sink(a)")
    assert tainted("def f(xs):\n    a = ' '.join(xs)\n    sink(a)")
    assert tainted("def f(x):\n    parts = []\n    parts.append(x)\n    sink(parts)")
    assert tainted("def f(x):\n    a, b = x.split(',')\n    sink(b)")


def test_constants_are_clean():
    assert not tainted("def f(x):\n    a = 'ls'\n    sink(a)")
    assert not tainted("def f(x):\n    sink(len(x))")
    assert not tainted("def f(x):\n    sink(int(x))")


def test_sources():
    assert tainted("from flask import request\ndef f():\n    sink(request.args.get('q'))")
    assert tainted("import sys\ndef f():\n    sink(sys.argv[1])")
    assert tainted("def f():\n    v = input()\n    sink(v)")
    assert tainted("import os\ndef f():\n    sink(os.environ['X'])")


def test_kind_specific_sanitisers():
    src = "import html\ndef f(x):\n    s = html.escape(x)\n    sink(s)"
    assert not tainted(src, "html")
    assert tainted(src, "shell")
    assert not tainted("import shlex\ndef f(x):\n    sink(shlex.quote(x))", "shell")


def test_reassignment_with_sanitiser_cleans_below():
    assert not tainted("import html\ndef f(x):\n    x = html.escape(x)\n    sink(x)", "html")


def test_allowlist_and_regex_guards():
    assert not tainted("A = ['a']\ndef f(x):\n    if x not in A:\n        raise ValueError\n    sink(x)")
    assert not tainted(
        "import re\ndef f(x):\n    if not re.fullmatch(r'\\w+', x):\n        raise ValueError\n    sink(x)"
    )
    assert not tainted("def f(x):\n    if not x.isdigit():\n        return\n    sink(x)")
    assert not tainted(
        "def f(xs):\n    for p in xs:\n        if p not in ('a', 'b'):\n            raise ValueError\n"
        "    sink(' '.join(xs))"
    )


def test_substring_check_is_not_a_guard():
    assert tainted("A = ['ls']\ndef f(x):\n    if any(a in x for a in A):\n        sink(x)")


def test_tainted_params_reported():
    fc = ctx("def f(a, b):\n    c = b + '1'\n    sink(c)")
    assert fc.tainted_params(sink_arg(fc)) == ["b"]


def test_nested_functions_are_separate_contexts():
    src = "def outer(x):\n    def inner(y):\n        sink(y)\n    return inner\n"
    names = [fc.qualname for fc in iter_functions(ModuleContext.build(ast.parse(src), src))]
    assert names == ["<module>", "outer", "outer.inner"]


def test_more_sources():
    fc = ctx("class H:\n    def f(self):\n        sink(self.get_argument('q'))")
    assert fc.is_source(sink_arg(fc))
    assert tainted("import argparse\ndef f():\n    args = argparse.ArgumentParser().parse_args()\n    sink(args.host)")
    assert tainted("def f():\n    data = conn.recv(1024)\n    sink(data)")
    assert tainted("from flask import request\ndef f():\n    sink(request.view_args['p'])")


def test_self_attributes_are_sources_unless_only_constants():
    src = "class C:\n    mode = 'fast'\n    def __init__(self, host):\n        self.host = host\n        self.n = 3\n"
    src += "    def f(self):\n        sink(self.host)\n    def g(self):\n        sink(self.n)\n"
    fc = ctx(src, "f")
    assert fc.is_tainted(sink_arg(fc))
    gc = ctx(src, "g")
    assert not gc.is_tainted(sink_arg(gc))
    src2 = "class V:\n    def f(self):\n        sink(self.request.GET['q'])\n"
    fc2 = ctx(src2)
    assert fc2.is_source(sink_arg(fc2).value)


def test_helpers_of_the_same_file_follow_their_summary():
    quoting = "import shlex\ndef q(v):\n    return shlex.quote(v)\ndef f(x):\n    sink(q(x))"
    assert not tainted(quoting, "shell")
    assert tainted(quoting, "sql")
    validating = (
        "import re\ndef check(v):\n    if not re.fullmatch(r'[a-z]+', v):\n        raise ValueError\n    return v\n"
        "def f(x):\n    sink(check(x))"
    )
    assert not tainted(validating)
    reading = "from flask import request\ndef arg():\n    return request.args['q']\ndef f():\n    sink(arg())"
    assert tainted(reading)
    passing = "def wrap(v):\n    return 'a' + v\ndef f(x):\n    sink(wrap(x))"
    assert tainted(passing)
    recursive = "def r(v):\n    return r(v)\ndef f(x):\n    sink(r(x))"
    assert tainted(recursive)


def test_prefix_only_regex_match_is_not_a_guard():
    partial = "import re\ndef f(x):\n    if not re.match(r'[a-z]+', x):\n        raise ValueError\n    sink(x)"
    assert tainted(partial)
    anchored = "import re\ndef f(x):\n    if not re.match(r'[a-z]+$', x):\n        raise ValueError\n    sink(x)"
    assert not tainted(anchored)
    compiled = (
        "import re\nNAME = re.compile(r'^[a-z]+')\ndef f(x):\n    if not NAME.match(x):\n        return\n    sink(x)"
    )
    assert tainted(compiled)
