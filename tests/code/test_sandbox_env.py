"""The sandbox runtime: pinned, reported, bound read-only, and used by probes when installed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bluecodeagent.code import sandbox_env
from bluecodeagent.code.sandbox import Sandbox, SandboxLimits

REQUIRED = {"lxml", "defusedxml", "pyyaml", "requests", "httpx", "flask", "werkzeug", "jinja2", "markupsafe",
            "sqlalchemy", "cryptography", "pyjwt"}  # fmt: skip


def test_every_required_library_is_pinned() -> None:
    names = {p.split("==")[0].lower() for p in sandbox_env.pins()}
    assert names >= REQUIRED
    assert all(len(p.split("==")) == 2 and p.split("==")[1] for p in sandbox_env.pins())


def test_unpinned_requirements_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "req.txt"
    f.write_text("lxml>=5\n")
    with pytest.raises(ValueError, match="not pinned"):
        sandbox_env.pins(f)


def test_status_of_an_empty_folder_says_how_to_install(tmp_path: Path) -> None:
    st = sandbox_env.status(tmp_path / "nothing")
    assert not st.installed and "bluecode sandbox setup" in (st.reason or "")
    assert sandbox_env.site_for("3.11", tmp_path / "nothing") is None


def test_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLUECODE_SANDBOX_ENV", "off")
    assert not sandbox_env.status().installed


@pytest.fixture(scope="module")
def box_with_libs() -> Sandbox:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap not installed (apt-get install -y bubblewrap)")
    st = sandbox_env.status()
    if not (st.installed and st.current):
        pytest.skip(f"sandbox runtime not installed ({st.reason}); run `bluecode sandbox setup`")
    box = Sandbox.detect()
    if box.site is None:
        pytest.skip("sandbox runtime installed for another Python than the sandbox's")
    return box


LIMITS = SandboxLimits(wall_seconds=60, cpu_seconds=60, memory_mb=768)


def test_libraries_import_inside_read_only(box_with_libs: Sandbox) -> None:
    code = (
        "import lxml.etree, yaml, requests, flask, jwt, sqlalchemy, defusedxml, os\n"
        "site = os.path.dirname(os.path.dirname(lxml.etree.__file__))\n"
        "try:\n    open(os.path.join(site, 'bc-written'), 'w')\n    print('writable')\n"
        "except OSError:\n    print('read-only', site)\n"
    )
    res = box_with_libs.run_python(code, limits=LIMITS, libraries=True)
    assert res.exit_code == 0, res.stderr[-500:]
    assert res.stdout.startswith("read-only /usr/local/lib/python"), res.stdout


def test_xxe_with_a_real_parser_is_exercised(box_with_libs: Sandbox) -> None:
    """With lxml installed the XML probe reaches the parser instead of a stub."""
    from bluecodeagent.code.dynamic import probe_for

    vuln = (
        "from lxml import etree\n\ndef parse(doc: str):\n"
        "    parser = etree.XMLParser(resolve_entities=True, no_network=True, load_dtd=True)\n"
        "    return etree.tostring(etree.fromstring(doc.encode(), parser)).decode()\n"
    )
    res = probe_for("CWE-611").run(box_with_libs, vuln, "parse", ["doc"], "CWE-611")
    assert res.outcome == "vulnerable", res
    safe = "import defusedxml.ElementTree as ET\n\ndef parse(doc: str):\n    return ET.fromstring(doc).tag\n"
    res = probe_for("CWE-611").run(box_with_libs, safe, "parse", ["doc"], "CWE-611")
    assert res.outcome == "rejected", res


def test_plain_runs_do_not_bind_the_libraries(box_with_libs: Sandbox) -> None:
    res = box_with_libs.run_python("import importlib.util as u\nprint(u.find_spec('lxml') is None)", limits=LIMITS)
    assert res.stdout.strip() == "True", res
