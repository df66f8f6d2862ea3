"""``bluecode sandbox``: the sandbox runtime (pinned libraries the code under test imports)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def sandbox() -> None:
    """Manage the sandbox runtime used by dynamic testing.

    \b
    Examples:
      bluecode sandbox setup                 # install the pinned libraries for the sandbox
      bluecode sandbox status                # what is installed, and where
    """


@sandbox.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to install (default: $BLUECODE_SANDBOX_ENV; as root /opt/bluecodeagent/sandbox-env).",
)
@click.option("--python", default=None, help="The sandbox's interpreter (default /usr/bin/python3).")
def setup(directory: Path | None, python: str | None) -> None:
    """Install the pinned libraries (lxml, requests, Flask, ...) readable by the sandbox's user."""
    from bluecodeagent.code.sandbox_env import setup as do_setup

    st = do_setup(directory, python, echo=lambda m: click.echo(m, err=True))
    click.echo(f"sandbox runtime: {st.packages} packages for Python {st.python} at {st.path}")
    if st.reason:
        raise click.ClickException(st.reason)


@sandbox.command()
def status() -> None:
    """Show whether the sandbox runtime is installed (exit 1 when it is not)."""
    from bluecodeagent.code.sandbox_env import status as env_status

    st = env_status()
    if st.installed and st.current:
        click.echo(f"sandbox runtime: {st.packages} packages for Python {st.python} at {st.path}")
        return
    click.echo(f"sandbox runtime: {st.reason} ({st.path})")
    raise SystemExit(1)
