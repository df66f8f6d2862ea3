"""The documentation: the MkDocs site builds strictly (broken links, missing pages and anchors fail), and the
Markdown files outside the site (README, CHANGELOG, deploy/README) link only to files that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
OUTSIDE_SITE = [README, ROOT / "CHANGELOG.md", ROOT / "deploy" / "README.md"]
README_MAX_BYTES = 12_000  # the front door stays short; everything else belongs in docs/

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REF_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.I)


def relative_links(markdown: str) -> list[str]:
    """Link targets that point into the repository (not URLs, not in-page anchors), outside code."""
    text = _INLINE_CODE.sub("", _FENCE.sub("", markdown))
    targets = _INLINE_LINK.findall(text) + _REF_LINK.findall(text)
    return [t for t in targets if not _EXTERNAL.match(t) and not t.startswith("#")]


def broken_links(path: Path) -> list[str]:
    """Relative links of a Markdown file whose target file does not exist (the #fragment ignored)."""
    missing = []
    for target in relative_links(path.read_text(encoding="utf-8")):
        file_part = target.split("#", 1)[0].split("?", 1)[0]
        if not file_part or not (path.parent / file_part).exists():
            missing.append(target)
    return missing


def test_link_checker_finds_a_missing_target(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("# there\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok too](there.md#a) [web](https://example.org/x) [anchor](#top)\n"
        "[gone](missing.md#part) ![img](img/none.png)\n"
        "[ref]: ./also-missing.md\n"
        "`[code](not-a-link.md)`\n```\n[fenced](neither.md)\n```\n"
    )
    assert broken_links(page) == ["missing.md#part", "img/none.png", "./also-missing.md"]


@pytest.mark.parametrize("path", OUTSIDE_SITE, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_existing_files(path: Path) -> None:
    assert path.is_file(), f"{path} is missing"
    assert broken_links(path) == []


def test_readme_is_a_short_front_door() -> None:
    size = len(README.read_bytes())
    assert size < README_MAX_BYTES, f"README.md is {size} bytes; move detail into docs/"


def test_readme_links_into_the_site() -> None:
    docs_links = [t for t in relative_links(README.read_text(encoding="utf-8")) if t.startswith("docs/")]
    assert docs_links, "README.md should say where to read more (links into docs/)"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (it is in the dev extra: make setup)")
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stderr[-4000:]}"
    return out


def test_site_builds_strictly(site: Path) -> None:
    assert (site / "index.html").is_file()


def test_readme_anchors_into_the_site_exist(site: Path) -> None:
    """A README link such as docs/cli.md#exit-codes must name a heading that the built page has."""
    for target in relative_links(README.read_text(encoding="utf-8")):
        if not target.startswith("docs/") or "#" not in target:
            continue
        page, anchor = target.removeprefix("docs/").split("#", 1)
        stem = page.removesuffix(".md")
        html = site / ("index.html" if stem == "index" else f"{stem}/index.html")
        assert html.is_file(), f"{target}: no built page {html.name}"
        assert f'id="{anchor}"' in html.read_text(encoding="utf-8"), f"{target}: no such heading"
