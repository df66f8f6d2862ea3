"""``backend_from_settings``: the one way the product builds the model backend of a run."""

from __future__ import annotations

import os

from bluecodeagent.config import Settings
from bluecodeagent.errors import ConfigError
from bluecodeagent.llm.accounting import Ledger
from bluecodeagent.llm.cache import CompletionCache
from bluecodeagent.llm.run import RunBackend
from bluecodeagent.llm.trace import Tracer


def require_endpoint(settings: Settings) -> tuple[str, str]:
    """Base URL and model, or a :class:`ConfigError` saying how to set them."""
    missing = [
        flag
        for flag, value in (("--llm-base-url", settings.llm_base_url), ("--llm-model", settings.llm_model))
        if not value
    ]
    if missing:
        raise ConfigError(
            f"engine {settings.engine!r} needs a model endpoint: set {' and '.join(missing)} "
            "(or BLUECODE_LLM_BASE_URL / BLUECODE_LLM_MODEL, or llm_base_url / llm_model in the config file)"
        )
    return str(settings.llm_base_url), str(settings.llm_model)


def backend_from_settings(
    settings: Settings, *, ledger: Ledger | None = None, tracer: Tracer | None = None
) -> RunBackend:
    """The OpenAI-compatible backend of ``settings`` with cache, accounting, budget and trace.

    Nothing is contacted here: the first request goes out on the first ``complete`` call.
    ``ledger``/``tracer`` let several backends of one run share totals and one trace file.
    """
    from bluecodeagent.llm.openai_compat import OpenAICompatBackend

    base_url, model = require_endpoint(settings)
    inner = OpenAICompatBackend(
        base_url,
        model,
        api_key=os.environ.get(settings.llm_api_key_env) or None,
        api_key_env=settings.llm_api_key_env,
        structured_output=settings.llm_structured_output,  # type: ignore[arg-type]
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
        retry_backoff=settings.llm_retry_backoff,
        concurrency=settings.llm_concurrency,
    )
    return RunBackend(
        inner,
        cache=CompletionCache(settings.resolved_llm_cache_path()) if settings.llm_cache else None,
        ledger=ledger or Ledger(settings.llm_max_cost),
        tracer=tracer or Tracer(settings.llm_trace),
        prices=settings.llm_prices,
    )
