"""Python 2 and broken code: repaired and analysed, never silently clean."""

from __future__ import annotations

from bluecodeagent.code.static.python.analyzer import PythonAnalyzer, parse_source
from bluecodeagent.code.static.python.legacy import py2_line, py2_to_py3, token_hits

PY2 = """import os, cPickle, commands, sys

def ping(host):
    print "pinging", host
    try:
        os.system("ping -c 1 " + host)
    except OSError, e:
        print >>sys.stderr, "failed", e
        raise ValueError, "bad host"
    return cPickle.loads(host)

def listing(x):
    out = commands.getoutput("ls %s" % x)
    if x <> 0777L:
        exec "print 1"
    return `out`
"""


def rule_lines(src: str) -> set[tuple[str, int]]:
    return {(f.rule_id, f.line or 0) for f in PythonAnalyzer().analyze(src)}


def test_python2_statements_rewritten_line_for_line() -> None:
    assert py2_line('    print "a", b') == '    print("a", b)'
    assert py2_line("print >>f, x") == "print(x, file=f)"
    assert py2_line("print x,") == "print(x, end=' ')"
    assert py2_line("except (A, B), e:") == "except (A, B) as e:"
    assert py2_line('raise KeyError, "k"') == 'raise KeyError("k")'
    assert py2_line("exec code in ns") == "exec(code, ns)"
    assert py2_line("m = 0755") == "m = 0o755"
    assert py2_line("n = 10L") == "n = 10"
    assert py2_line("s = `x`") == "s = repr(x)"
    assert py2_line("if a <> b:") == "if a != b:"
    assert py2_line('print("already 3")') == 'print("already 3")'
    assert len(py2_to_py3(PY2).splitlines()) == len(PY2.splitlines())


def test_python2_code_keeps_its_findings_with_data_flow() -> None:
    found = rule_lines(PY2)
    assert ("py.cmd.shell-string", 6) in found
    assert ("py.deserialize.untrusted", 10) in found
    assert ("py.cmd.shell-string", 13) in found
    a = PythonAnalyzer()
    a.analyze(PY2)
    assert a.parse_note and "python 2" in a.parse_note


def test_lines_no_repair_can_read_are_scanned_by_tokens() -> None:
    src = "import os\ndef f(x) oops:\n    os.system('rm ' + x)\n    cPickle.loads(x)\n"
    found = PythonAnalyzer().analyze(src)
    assert {(f.rule_id, f.line) for f in found} == {("py.cmd.shell-string", 3), ("py.deserialize.untrusted", 4)}
    assert all(f.details.get("recovered") == "tokens" and f.confidence < 0.85 for f in found)


def test_token_scan_skips_literals_and_comments() -> None:
    hits = token_hits({1: "os.system('ls -l')", 2: "# os.system(x)", 3: "yaml.load(s, Loader=yaml.SafeLoader)"})
    assert hits == []
    assert [h.rule_id for h in token_hits({1: "subprocess.call(cmd, shell=True)"})] == ["py.cmd.shell-string"]
    assert [h.rule_id for h in token_hits({1: "cur.execute(\"SELECT * FROM t WHERE a='%s'\" % a)"})] == [
        "py.sql.string-query"
    ]


def test_hopeless_source_reports_not_parsed_but_still_reads_tokens() -> None:
    src = "".join(f"}}}}{{{{ {i}\n" for i in range(60)) + "os.popen(user_cmd) }}\n"
    parsed = parse_source(src)
    a = PythonAnalyzer()
    found = a.analyze(src)
    assert [f.rule_id for f in found] == ["py.cmd.shell-string"]
    assert parsed.tree is None
    assert a.parse_note is not None and "could not be parsed" in a.parse_note


def test_clean_python3_has_no_note() -> None:
    a = PythonAnalyzer()
    assert a.analyze("def f(x):\n    return x + 1\n") == []
    assert a.parse_note is None
