"""`bluecode serve`: run the guard service (HTTP API, and the guarding proxy when an upstream is set)."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import click

from bluecodeagent.cli.options import KB_LOCATION


@click.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8080).")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Server config (TOML): keys, limits, upstream, proxy policy and an [agent] table.",
)
@click.option(
    "--upstream",
    default=None,
    help="OpenAI-compatible base URL to guard, e.g. http://127.0.0.1:8000/v1 "
    "(its key is read from $BLUECODE_UPSTREAM_API_KEY).",
)
@click.option("--kb", "kb_path", type=KB_LOCATION, default=None, help="Knowledge base file or postgresql:// URL.")
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    default=None,
    help="Allow listening beyond loopback without API keys (do not use on a shared network).",
)
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info")
def serve(
    host: str | None,
    port: int | None,
    config_file: Path | None,
    upstream: str | None,
    kb_path: Path | None,
    insecure_no_auth: bool | None,
    log_level: str,
) -> None:
    """Serve the HTTP API (and the guarding proxy, /v1/chat/completions and /v1/completions, with --upstream).

    \b
    Examples:
      bluecode serve                                         # http://127.0.0.1:8080/docs
      bluecode serve --upstream http://127.0.0.1:8000/v1      # point OpenAI clients at :8080/v1
      bluecode serve --config /etc/bluecode/server.toml --host 0.0.0.0

    SIGTERM or Ctrl-C stops accepting connections, finishes the requests in flight and exits 0.
    """
    import uvicorn

    from bluecodeagent.agent import BlueCodeAgent
    from bluecodeagent.config import load_settings
    from bluecodeagent.server.app import create_app
    from bluecodeagent.server.config import ensure_safe_bind, load_server_config

    config = load_server_config(
        config_file, host=host, port=port, upstream_base_url=upstream, insecure_no_auth=insecure_no_auth
    )
    ensure_safe_bind(config)
    settings = load_settings({**config.agent, "kb_path": kb_path or config.agent.get("kb_path")})
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    server_log = logging.getLogger("bluecodeagent.server")
    server_log.addHandler(handler)
    server_log.setLevel(log_level.upper())
    server_log.propagate = False
    app = create_app(BlueCodeAgent(settings=settings), config)
    click.echo(
        f"bluecode: serving on http://{config.host}:{config.port} "
        f"({'auth: ' + str(len(config.keys)) + ' key(s)' if config.keys else 'no auth'}"
        f"{', guarding ' + config.upstream_base_url if config.upstream_base_url else ''})",
        err=True,
    )
    # uvicorn finishes the requests in flight on SIGTERM/SIGINT, then re-raises the signal; with these
    # handlers in place that re-raise is harmless and a clean shutdown exits 0 (what systemd expects).
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=config.shutdown_grace_s,
    )
    click.echo("bluecode: stopped", err=True)
