"""``backend_from_settings``: the one way the product builds the model backend of a run."""

from __future__ import annotations

from bluecodeagent.config import Settings
from bluecodeagent.errors import ConfigError
from bluecodeagent.llm.accounting import Ledger
from bluecodeagent.llm.backend import get_backend
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
    """The backend ``settings.llm_backend`` with cache, accounting, budget and trace.

    Nothing is contacted here: the first request goes out on the first ``complete`` call.
    ``ledger``/``tracer`` let several backends of one run share totals and one trace file.
    """
    inner = get_backend(settings.llm_backend).build(settings)
    return RunBackend(
        inner,
        cache=CompletionCache(settings.resolved_llm_cache_path()) if settings.llm_cache else None,
        ledger=ledger or Ledger(settings.llm_max_cost),
        tracer=tracer or Tracer(settings.llm_trace),
        prices=settings.llm_prices,
    )
