"""Settings and their precedence: command-line flags > environment > config file > defaults.

Environment variables are ``BLUECODE_<FIELD>`` (for example ``BLUECODE_TOP_K=5``). The config file
is TOML, found at ``--config``, ``$BLUECODE_CONFIG``, ``./bluecode.toml`` or
``~/.config/bluecode/config.toml`` (first that exists), with the same field names at top level.
"""

from __future__ import annotations

import difflib
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from bluecodeagent.errors import ConfigError

ENV_PREFIX = "BLUECODE_"
# Variables that are not settings but are read by name elsewhere (paths to tools, keys, test switches).
OTHER_ENV = frozenset(
    {
        "HOME",
        "CONFIG",
        "DEBUG",
        "MODEL_FILE",
        "TOKENIZER_FILE",
        "BWRAP",
        "UPSTREAM_API_KEY",
        "LLAMA_PYTHON",
        "LLAMA_GGUF",
    }
)
OTHER_ENV_PREFIXES = ("KEY_", "TEST_", "SANDBOX_")


KB_URL_SCHEMES = ("postgresql://", "postgres://")


def default_home() -> Path:
    """Where the built knowledge base and caches live (``$BLUECODE_HOME`` overrides)."""
    if home := os.environ.get("BLUECODE_HOME"):
        return Path(home)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "bluecodeagent"


class Settings(BaseModel):
    """Every tunable of the agent, with its default."""

    engine: str = Field(default="offline", description="offline | llm | hybrid (bluecode list engines)")
    kb_path: Path | None = Field(default=None, description="Knowledge base file; default under BLUECODE_HOME.")
    kb_url: str | None = Field(
        default=None, description="A shared knowledge base in PostgreSQL (postgresql://...); overrides kb_path."
    )
    kb_hnsw_ef_search: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="PostgreSQL: candidates an HNSW search keeps (hnsw.ef_search); more is slower, nearer exact.",
    )
    kb_hnsw_build_memory_mb: int = Field(
        default=4096,
        ge=64,
        description="PostgreSQL: at most this maintenance_work_mem (MB) while a partition's HNSW index is built "
        "(each build asks what its graph needs, ~3.4 KB per 384-dim row at m=32); a graph that does not fit is slow.",
    )
    kb_hnsw_m: int = Field(
        default=32,
        ge=2,
        le=100,
        description="PostgreSQL: neighbours per node of a newly built partition HNSW index (pgvector's m; its "
        "default 16 stops at recall 0.95 on a 450k-row partition).",
    )
    kb_hnsw_ef_construction: int = Field(
        default=128,
        ge=4,
        le=1000,
        description="PostgreSQL: candidates kept while a partition HNSW index is built (pgvector's "
        "ef_construction, at least 2 x kb_hnsw_m); more is a slower build and a better graph.",
    )
    kb_ann_expansion: int = Field(
        default=128,
        ge=1,
        le=4096,
        description="SQLite: candidates an approximate search (search_ann, usearch HNSW) keeps; more is slower, "
        "nearer exact.",
    )
    kb_ann_min_rows: int = Field(
        default=50_000,
        ge=0,
        description="SQLite: a (task, label) partition smaller than this is searched exactly by search_ann (no index).",
    )
    embedder: str = Field(
        default="minilm-onnx-q8",
        description="minilm-onnx-q8 (int8 compute, default) | minilm-onnx (float32) | openai | sentence-transformers",
    )
    embedder_model: str | None = None
    top_k: int = Field(default=3, ge=1, le=50)
    prompt_cascade: bool = Field(
        default=True,
        description="Prompts: a static word-piece first reader clears clearly harmless pieces; MiniLM reads the rest.",
    )
    warn_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    block_threshold: float = Field(default=0.8, ge=0.0, le=1.0)
    max_input_bytes: int = Field(
        default=2_000_000, ge=1, description="Largest prompt, context or source file accepted (bytes)."
    )
    data_dir: Path | None = Field(default=None, description="Public benchmark data (bench only).")
    llm_backend: str = Field(default="openai-compat", description="Model backend (bluecode list backends).")
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key_env: str = "OPENAI_API_KEY"
    llm_structured_output: str = Field(
        default="auto",
        description="json_schema (OpenAI, vLLM, Ollama) | json_object (llama.cpp) | text | auto (tries them in order).",
    )
    llm_temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    llm_max_tokens: int = Field(default=1024, ge=16, description="Completion token limit per LLM call.")
    llm_timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for one LLM answer.")
    llm_max_retries: int = Field(default=2, ge=0, description="Retries on 429, 5xx, timeouts and lost connections.")
    llm_retry_backoff: float = Field(default=1.0, ge=0, description="First retry delay in seconds (doubles each time).")
    llm_concurrency: int = Field(default=4, ge=1, description="LLM requests in flight at once.")
    llm_max_cost: float | None = Field(default=None, ge=0, description="Stop the run once it has spent this (USD).")
    llm_prices: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="USD per 1M prompt and completion tokens by model; unknown models cost 0."
    )
    llm_cache: bool = Field(default=True, description="Reuse answers to identical requests from the disk cache.")
    llm_cache_path: Path | None = Field(default=None, description="Answer cache file; default under BLUECODE_HOME.")
    llm_trace: Path | None = Field(default=None, description="Append every LLM call of each verdict to this JSONL.")
    llm_fallback: str = Field(default="none", description="none | offline: on endpoint failure, the offline verdict.")
    llm_hybrid_low: float = Field(default=0.2, ge=0.0, le=1.0, description="Hybrid: offline scores below are final.")
    llm_hybrid_high: float = Field(default=0.8, ge=0.0, le=1.0, description="Hybrid: offline scores above are final.")
    ray_address: str | None = Field(
        default=None, description="Batch work on Ray: local (start one), auto (the running one), HOST:PORT, ray://..."
    )

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, v: str) -> str:
        from bluecodeagent.engines.base import engines  # the registry (built-in ones and plug-ins)

        names = [e.name for e in engines()]
        if v not in names:
            raise ValueError(f"unknown engine {v!r} (choose {', '.join(names)})")
        return v

    @field_validator("llm_structured_output")
    @classmethod
    def _known_mode(cls, v: str) -> str:
        if v not in {"auto", "json_schema", "json_object", "text"}:
            raise ValueError(f"unknown structured-output mode {v!r} (auto, json_schema, json_object or text)")
        return v

    @field_validator("llm_fallback")
    @classmethod
    def _known_fallback(cls, v: str) -> str:
        if v not in {"none", "offline"}:
            raise ValueError(f"unknown fallback {v!r} (none or offline)")
        return v

    @field_validator("ray_address")
    @classmethod
    def _ray_address(cls, v: str | None) -> str | None:
        from bluecodeagent.batch.ray_runner import check_address  # text only: Ray is not imported

        return None if v is None else check_address(v)

    @model_validator(mode="before")
    @classmethod
    def _kb_path_url(cls, values: Any) -> Any:
        """``--kb postgresql://...`` (or kb_path set to a URL) means kb_url."""
        if isinstance(values, dict) and str(values.get("kb_path") or "").startswith(KB_URL_SCHEMES):
            values = {**values, "kb_url": str(values["kb_path"]), "kb_path": None}
        return values

    @field_validator("kb_url")
    @classmethod
    def _postgres_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(KB_URL_SCHEMES):
            raise ValueError("must be a postgresql:// URL")
        return v

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> Settings:
        if self.warn_threshold > self.block_threshold:
            raise ValueError(
                f"warn_threshold ({self.warn_threshold}) is above block_threshold ({self.block_threshold}):"
                " nothing could be warned about before it is blocked"
            )
        if self.kb_hnsw_ef_construction < 2 * self.kb_hnsw_m:
            raise ValueError(
                f"kb_hnsw_ef_construction ({self.kb_hnsw_ef_construction}) is below 2 x kb_hnsw_m ({self.kb_hnsw_m}):"
                " pgvector refuses such an index"
            )
        if self.llm_hybrid_low > self.llm_hybrid_high:
            raise ValueError(
                f"llm_hybrid_low ({self.llm_hybrid_low}) is above llm_hybrid_high ({self.llm_hybrid_high})"
            )
        return self

    def resolved_llm_cache_path(self) -> Path:
        return self.llm_cache_path or default_home() / "llm-cache.sqlite"

    def resolved_kb_path(self) -> Path:
        return self.kb_path or default_home() / "knowledge.sqlite"

    def kb_location(self) -> str | Path:
        """The PostgreSQL URL when set, else the SQLite file."""
        return self.kb_url or self.resolved_kb_path()


def _config_file(explicit: str | Path | None) -> Path | None:
    candidates = [
        explicit,
        os.environ.get("BLUECODE_CONFIG"),
        "bluecode.toml",
        Path.home() / ".config" / "bluecode" / "config.toml",
    ]
    for i, c in enumerate(candidates):
        if not c:
            continue
        p = Path(c)
        if p.is_file():
            return p
        if i < 2:  # an explicitly named file must exist
            raise ConfigError(f"config file not found: {p}")
    return None


def load_settings(overrides: dict[str, Any] | None = None, config_file: str | Path | None = None) -> Settings:
    """Merge defaults, the config file, the environment and explicit overrides (in rising priority)."""
    values: dict[str, Any] = {}
    if path := _config_file(config_file):
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read config file {path}: {e}") from e
    for name in Settings.model_fields:
        if (v := os.environ.get(ENV_PREFIX + name.upper())) is not None:
            values[name] = v
    _warn_unknown_env()
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    unknown = set(values) - set(Settings.model_fields)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    try:
        return Settings(**values)
    except ValidationError as e:
        first = e.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:  # a rule across settings (thresholds in order)
            raise ConfigError(f"invalid settings: {message}") from e
        where = ".".join(map(str, first["loc"])) + _source_of(first["loc"][0], overrides or {}, path)
        raise ConfigError(f"invalid setting {where}: {message}") from e


def _source_of(name: Any, overrides: dict[str, Any], path: Path | None) -> str:
    """Where a bad value came from, so the user knows what to fix."""
    if not isinstance(name, str):
        return ""
    if overrides.get(name) is not None:
        return " (from the command line)"
    if ENV_PREFIX + name.upper() in os.environ:
        return f" (from ${ENV_PREFIX}{name.upper()})"
    return f" (from {path})" if path else ""


_warned: set[str] = set()


def unknown_env() -> list[tuple[str, str | None]]:
    """``BLUECODE_*`` variables that nothing reads, each with the setting it was probably meant to be."""
    names = {ENV_PREFIX + n.upper() for n in Settings.model_fields} | {ENV_PREFIX + n for n in OTHER_ENV}
    found = []
    for var in sorted(os.environ):
        if not var.startswith(ENV_PREFIX) or var in names:
            continue
        if var.removeprefix(ENV_PREFIX).startswith(OTHER_ENV_PREFIXES):
            continue
        close = difflib.get_close_matches(var, sorted(names), n=1, cutoff=0.75)
        found.append((var, close[0] if close else None))
    return found


def _warn_unknown_env() -> None:
    for var, close in unknown_env():
        if var not in _warned:
            _warned.add(var)
            hint = f" (did you mean {close}?)" if close else ""
            print(f"warning: ignoring unknown environment variable {var}{hint}", file=sys.stderr)
