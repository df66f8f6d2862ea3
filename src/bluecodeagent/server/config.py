"""Settings of the guard service, read from a TOML file (``bluecode serve --config server.toml``).

The file has the service fields at top level and the agent's own settings in an ``[agent]`` table::

    host = "127.0.0.1"
    port = 8080
    upstream_base_url = "http://127.0.0.1:11434/v1"
    [[keys]]
    name = "ci"
    key_env = "BLUECODE_KEY_CI"      # the key itself stays in the environment
    scopes = ["check"]
    [agent]
    block_threshold = 0.8
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator

from bluecodeagent.errors import ConfigError

Scope = Literal["check", "admin"]


class ApiKey(BaseModel):
    """One API key: given inline (``key``) or, better, named by an environment variable (``key_env``)."""

    name: str = Field(min_length=1, description="Shown in logs instead of the key.")
    key: SecretStr | None = None
    key_env: str | None = None
    scopes: list[Scope] = Field(default_factory=lambda: ["check"], description="'admin' implies 'check'.")
    rate_per_s: float | None = Field(default=None, gt=0, description="Sustained requests per second (429 above).")
    burst: int = Field(default=20, ge=1, description="Requests allowed at once above the sustained rate.")

    @model_validator(mode="after")
    def _one_source(self) -> ApiKey:
        if (self.key is None) == (self.key_env is None):
            raise ValueError(f"key {self.name!r}: give exactly one of 'key' or 'key_env'")
        return self

    def secret(self) -> str:
        """The key's value (read from the environment for ``key_env``)."""
        if self.key is not None:
            return self.key.get_secret_value()
        value = os.environ.get(self.key_env or "", "")
        if not value:
            raise ConfigError(f"key {self.name!r}: environment variable {self.key_env} is not set")
        return value


class ServerConfig(BaseModel):
    """Every tunable of the HTTP API and the guarding proxy."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    keys: list[ApiKey] = Field(default_factory=list)
    insecure_no_auth: bool = Field(default=False, description="Allow binding a non-loopback address without keys.")
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    check_timeout_s: float = Field(default=30.0, gt=0)
    batch_wait_ms: float = Field(
        default=4.0, ge=0, le=100, description="Under concurrent load, how long a check batch waits to fill (0: never)."
    )
    verdict_cache_size: int = Field(
        default=1024, ge=0, description="Prompt verdicts kept for exact repeats (0: no cache); cleared on KB edits."
    )
    shutdown_grace_s: float = Field(
        default=30.0, gt=0, description="On SIGTERM, how long requests in flight may take to finish."
    )
    warm_up: bool = Field(default=True, description="Load the model and knowledge base in the background at start.")
    # guarding proxy
    upstream_base_url: str | None = Field(default=None, description="OpenAI-compatible base URL, e.g. http://h/v1")
    upstream_api_key_env: str = "BLUECODE_UPSTREAM_API_KEY"
    upstream_timeout_s: float = Field(default=120.0, gt=0)
    proxy_prompt_tasks: list[Literal["malicious", "bias"]] = Field(default_factory=lambda: ["malicious", "bias"])
    proxy_injection: bool = Field(default=True, description="Screen system/tool/context content for injection.")
    proxy_block_on: Literal["warn", "block"] = Field(default="block", description="Lowest prompt decision that blocks.")
    proxy_code_policy: Literal["off", "warn", "block"] = "warn"
    proxy_code_dynamic: bool = Field(default=False, description="Run dynamic tests on answer code (slower).")
    agent: dict[str, Any] = Field(default_factory=dict, description="Agent settings (see bluecodeagent.config).")

    def upstream_api_key(self) -> str | None:
        return os.environ.get(self.upstream_api_key_env) or None

    def resolved_keys(self) -> dict[str, ApiKey]:
        """Map key value -> key, reading environment variables now."""
        return {k.secret(): k for k in self.keys}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ensure_safe_bind(config: ServerConfig) -> None:
    """Refuse to expose an unauthenticated service beyond loopback."""
    if not config.keys and not config.insecure_no_auth and not is_loopback(config.host):
        raise ConfigError(
            f"refusing to listen on {config.host} without API keys; configure [[keys]] or pass --insecure-no-auth"
        )


def load_server_config(path: str | Path | None = None, **overrides: Any) -> ServerConfig:
    """Read the TOML file (if any) and apply non-None overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            values = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read server config {p}: {e}") from e
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return ServerConfig(**values)
    except ValidationError as e:
        first = e.errors()[0]
        raise ConfigError(f"invalid server setting {'.'.join(map(str, first['loc']))}: {first['msg']}") from e
