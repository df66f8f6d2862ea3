"""Options shared by several subcommands, and the settings they feed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bluecodeagent.config import KB_URL_SCHEMES, Settings, load_settings

FAIL_ON = click.Choice(["warn", "block", "never"])


class KbLocation(click.ParamType):
    """``--kb``: a knowledge-base file, or a ``postgresql://`` URL kept as text (a Path would mangle it)."""

    name = "FILE|URL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.startswith(KB_URL_SCHEMES):
            return value
        return click.Path(dir_okay=False, path_type=Path).convert(value, param, ctx)


KB_LOCATION = KbLocation()


class EngineChoice(click.Choice):
    """``--engine``: a registered engine (``bluecode list engines``), plug-ins included.

    The registry is read when the choices are first needed (``--help`` or a value to check), so
    loading the CLI imports no engine.
    """

    def __init__(self) -> None:
        super().__init__(())

    @property  # type: ignore[override]
    def choices(self) -> tuple[str, ...]:
        from bluecodeagent.engines.base import engines

        return tuple(e.name for e in engines())

    @choices.setter
    def choices(self, _value: Any) -> None:  # click.Choice.__init__ assigns; the registry decides
        pass


CONFIG_HELP = "TOML config file (default: $BLUECODE_CONFIG, ./bluecode.toml, ~/.config/bluecode/config.toml)."


def config_option(flag: str = "--config", help: str = CONFIG_HELP) -> Callable[..., Any]:
    """The settings file (``config_file``); ``bench`` spells it ``--config-file``."""
    return click.option(flag, "config_file", type=click.Path(dir_okay=False, path_type=Path), help=help)


def kb_option(
    help: str = "Knowledge base file or postgresql:// URL (default: built on first run under $BLUECODE_HOME).",
) -> Callable[..., Any]:
    """``--kb`` (``kb_path``): a file or a ``postgresql://`` URL."""
    return click.option("--kb", "kb_path", type=KB_LOCATION, default=None, help=help)


def engine_option(help: str = "Decision engine (default offline: no LLM, no network).") -> Callable[..., Any]:
    """``--engine``, one of the registered engines."""
    return click.option("--engine", type=EngineChoice(), default=None, help=help)


def settings_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--config, --kb, --engine, --top-k and thresholds; they override environment and config file."""
    return apply_options(
        [
            config_option(),
            kb_option(),
            engine_option(),
            click.option("--top-k", type=int, default=None, help="Neighbours retrieved per label (default 3)."),
            click.option("--warn-threshold", type=float, default=None, help="Score at which to warn (default 0.5)."),
            click.option("--block-threshold", type=float, default=None, help="Score at which to block (default 0.8)."),
        ],
        f,
    )


def apply_options(options: list[Callable[..., Any]], f: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate ``f`` with ``options``, the first shown first in ``--help``."""
    for opt in reversed(options):
        f = opt(f)
    return f


def ray_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--ray [ADDRESS]`` (setting ``ray_address``): batch work spread over a Ray cluster (extra ``ray``)."""
    return click.option(
        "--ray",
        "ray_address",
        is_flag=False,
        flag_value="local",
        default=None,
        metavar="[ADDRESS]",
        help="Spread the work over a Ray cluster: alone, a local one; auto, the one running here; or HOST:PORT.",
    )(f)


def llm_endpoint_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Where LLM requests go (settings ``llm_base_url``, ``llm_model``, ``llm_structured_output``)."""
    return apply_options(
        [
            click.option(
                "--llm-base-url",
                default=None,
                help="OpenAI-compatible endpoint, e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1.",
            ),
            click.option("--llm-model", default=None, help="Model name the endpoint serves."),
            click.option(
                "--llm-structured-output",
                type=click.Choice(["auto", "json_schema", "json_object", "text"]),
                default=None,
                help="How to ask for JSON answers (default auto; llama.cpp: json_object).",
            ),
        ],
        f,
    )


def llm_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Where the LLM and hybrid engines send requests, and the run's limits (settings ``llm_*``)."""
    return llm_endpoint_options(
        apply_options(
            [
                click.option(
                    "--fallback",
                    "llm_fallback",
                    type=click.Choice(["none", "offline"]),
                    default=None,
                    help="When the endpoint fails: none (error, the default) or offline (the offline verdict, marked).",
                ),
                click.option(
                    "--max-cost",
                    "llm_max_cost",
                    type=float,
                    default=None,
                    help="Stop once the run has spent this many USD (prices: setting llm_prices).",
                ),
                click.option(
                    "--trace",
                    "llm_trace",
                    type=click.Path(dir_okay=False, path_type=Path),
                    default=None,
                    help="Append every LLM call of every verdict to this JSONL file.",
                ),
            ],
            f,
        )
    )


def build_settings(config_file: Path | None, **flags: Any) -> Settings:
    return load_settings({k: v for k, v in flags.items() if v is not None}, config_file)


def io_options(records: str, formats: list[str], default_format: str) -> Callable[..., Any]:
    """--input (batch JSONL), --output and --format, shared by the commands that screen subjects."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        return apply_options(
            [
                click.option(
                    "--input",
                    "-i",
                    "input_file",
                    type=click.Path(path_type=Path),
                    help=f"Batch mode: a JSONL file of {records} records ('-' for stdin).",
                ),
                click.option(
                    "--output",
                    "-o",
                    type=click.File("w", encoding="utf-8"),
                    default="-",
                    help="Where to write results (default stdout).",
                ),
                click.option(
                    "--format",
                    "-f",
                    "fmt",
                    type=click.Choice(formats),
                    default=None,
                    help=f"Output format (default: {default_format}).",
                ),
            ],
            f,
        )

    return decorate
