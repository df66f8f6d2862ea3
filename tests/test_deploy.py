"""deploy/: the compose file describes two guard replicas, PostgreSQL with pgvector and a load balancer.

No Docker engine here, so the files are checked for what can be checked without one: the compose file
parses and wires the parts together, nginx accepts its config (``nginx -t``), and the example server
config loads with the service's own loader under the environment the compose file gives it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bluecodeagent.server.config import load_server_config

DEPLOY = Path(__file__).parents[1] / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _guards(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if "serve" in " ".join(s.get("command", []))}


def test_two_guard_replicas_share_one_pgvector_database(compose: dict[str, Any]) -> None:
    services = compose["services"]
    guards = _guards(compose)
    assert len(guards) == 2
    db = services["db"]
    assert re.fullmatch(r"pgvector/pgvector:\d+\.\d+\.\d+-pg\d+", db["image"])  # pinned, with the extension
    user, password, name = (db["environment"][k] for k in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"))
    for guard in guards.values():
        env = guard["environment"]
        assert env["BLUECODE_KB_URL"] == f"postgresql://{user}:{password}@db:5432/{name}"
        assert guard["depends_on"]["db"]["condition"] == "service_healthy"
        assert "/readyz" in " ".join(guard["healthcheck"]["test"])
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+", guard["image"])
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_the_balancer_waits_for_ready_guards_and_names_each(compose: dict[str, Any]) -> None:
    lb = compose["services"]["lb"]
    assert re.fullmatch(r"nginx:\d+\.\d+\.\d+-alpine", lb["image"])
    guards = _guards(compose)
    assert {name: dep["condition"] for name, dep in lb["depends_on"].items()} == dict.fromkeys(
        guards, "service_healthy"
    )
    upstreams = re.findall(r"server\s+([\w.-]+):8080", (DEPLOY / "nginx.conf").read_text())
    assert sorted(upstreams) == sorted(guards)


def test_the_server_config_loads_with_the_keys_the_compose_file_provides(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    guard = next(iter(_guards(compose).values()))
    for name, value in guard["environment"].items():
        monkeypatch.setenv(name, str(value))
    config = load_server_config(DEPLOY / "server.example.toml", host="0.0.0.0")
    assert {k.name for k in config.resolved_keys().values()} == {"developers", "ops"}
    mount = next(v for v in guard["volumes"] if v.endswith(":/etc/bluecode/server.toml:ro"))
    assert mount.startswith("./server.example.toml:")


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (apt-get install nginx-light)")
def test_nginx_accepts_the_balancer_config(tmp_path: Path) -> None:
    # The guards' names only resolve inside the compose network: point them at loopback for the check.
    site = re.sub(r"server\s+[\w.-]+:8080", "server 127.0.0.1:8080", (DEPLOY / "nginx.conf").read_text())
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{ access_log off; include {tmp_path}/site.conf; }}\n"
    )
    r = subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-c", "nginx.conf"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
