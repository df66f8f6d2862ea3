"""A backend for any OpenAI-compatible chat-completions endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp).

Structured output works across servers through one of three modes:

- ``json_schema``: ``response_format={"type": "json_schema", ...}`` (OpenAI, vLLM, recent Ollama);
- ``json_object``: ``{"type": "json_object", "schema": ...}`` plus the schema in the prompt (llama.cpp's
  server constrains its grammar with it; it answers HTTP 500 to ``json_schema``);
- ``text``: the schema in the prompt only, and tolerant parsing of the answer.

``auto`` starts with ``json_schema`` and steps down once per mode when the server rejects the request
format (HTTP 400, 422 or 500 on the first structured call), remembering the mode that worked. Whatever
the mode, the answer is parsed and validated; an invalid answer gets one repair request that shows
the model its error. Transient failures (429, 5xx, connection errors, timeouts) are retried with
exponential backoff; the client's own retries are off so the count and delays are ours.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any, Literal

from bluecodeagent.llm.backend import Completion, LLMError, Message, Usage, register_backend
from bluecodeagent.llm.schema import AnswerFormatError, parse_answer, schema_instruction

Mode = Literal["auto", "json_schema", "json_object", "text"]
_LADDER: tuple[Mode, ...] = ("json_schema", "json_object", "text")
PLACEHOLDER_KEY = "no-key-needed"

if TYPE_CHECKING:
    from bluecodeagent.config import Settings


class UnusableAnswer(LLMError):
    """The model answered, but not with valid structured output (also after the repair request)."""

    def __init__(self, message: str, *, answer: str) -> None:
        super().__init__(message)
        self.answer = answer


class OpenAICompatBackend:
    """Chat completions through the official ``openai`` client."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        structured_output: Mode = "auto",
        temperature: float = 0.0,
        max_tokens: int = 512,
        timeout: float = 60.0,
        max_retries: int = 2,
        retry_backoff: float = 1.0,
        concurrency: int = 4,
    ) -> None:
        try:
            from openai import OpenAI
        except ImportError as e:  # pragma: no cover - openai is a runtime dependency
            raise LLMError("the LLM engine needs the 'openai' package: pip install openai") from e
        if structured_output not in ("auto", *_LADDER):
            raise LLMError(
                f"unknown structured-output mode {structured_output!r} (auto, json_schema, json_object or text)"
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai-compat:{model}"
        self.api_key_env = api_key_env
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self._mode: Mode = "json_schema" if structured_output == "auto" else structured_output
        self._auto = structured_output == "auto"
        self._mode_settled = not self._auto
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, concurrency))
        key = api_key or PLACEHOLDER_KEY
        self._client = OpenAI(base_url=self.base_url, api_key=key, timeout=timeout, max_retries=0)

    @property
    def structured_output(self) -> str:
        """The mode in use now (in ``auto``, the one the server accepted)."""
        return self._mode

    def complete(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        schema_name: str = "answer",
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        """One answer; with ``schema``, parsed and validated ``data`` (one repair request if needed)."""
        params = {
            "temperature": self.temperature if temperature is None else temperature,
            "max_tokens": self.max_tokens if max_tokens is None else max_tokens,
        }
        started = time.perf_counter()
        convo = list(messages)
        text, finish, usage, attempts = self._call(convo, schema, schema_name, params)
        data = None
        if schema is not None:
            try:
                data = parse_answer(text, schema)
            except AnswerFormatError as first:
                convo += [Message(role="assistant", content=text), Message(role="user", content=_repair(first, finish))]
                text, finish, more, n = self._call(convo, schema, schema_name, params)
                usage, attempts = usage + more, attempts + n
                try:
                    data = parse_answer(text, schema)
                except AnswerFormatError as second:
                    message = _format_failure(second, finish, params["max_tokens"], self.model)
                    raise UnusableAnswer(message, answer=text) from second
        return Completion(
            text=text,
            data=data,
            model=self.model,
            usage=usage,
            latency_s=time.perf_counter() - started,
            attempts=attempts,
        )

    def _call(
        self, messages: list[Message], schema: dict[str, Any] | None, schema_name: str, params: dict[str, Any]
    ) -> tuple[str, str, Usage, int]:
        """Send one request (retrying transient failures; stepping the mode down in ``auto``)."""
        import openai

        attempts, retries = 0, 0
        while True:
            mode = self._mode
            request = self._request(messages, schema, schema_name, mode, params)
            attempts += 1
            try:
                with self._slots:
                    resp = self._client.chat.completions.create(**request)
            except (openai.BadRequestError, openai.UnprocessableEntityError, openai.InternalServerError) as e:
                if schema is not None and self._step_down(mode):
                    continue
                if isinstance(e, openai.InternalServerError) and retries < self.max_retries:
                    retries += 1
                    self._sleep(retries)
                    continue
                raise LLMError(self._explain(e, attempts)) from e
            except (openai.RateLimitError, openai.APIConnectionError) as e:
                if retries < self.max_retries and not _refused(e):
                    retries += 1
                    self._sleep(retries)
                    continue
                raise LLMError(self._explain(e, attempts)) from e
            except openai.APIStatusError as e:
                if e.status_code >= 500 and retries < self.max_retries:
                    retries += 1
                    self._sleep(retries)
                    continue
                raise LLMError(self._explain(e, attempts)) from e
            except openai.OpenAIError as e:
                raise LLMError(f"the model endpoint at {self.base_url} failed: {e}") from e
            if schema is not None and not self._mode_settled:
                with self._lock:
                    self._mode_settled = True
            text, finish, usage = self._read(resp)
            return text, finish, usage, attempts

    def _request(
        self,
        messages: list[Message],
        schema: dict[str, Any] | None,
        schema_name: str,
        mode: Mode,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        msgs = [m.model_dump() for m in messages]
        request: dict[str, Any] = {"model": self.model, "messages": msgs, **params}
        if schema is None:
            return request
        if mode == "json_schema":
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": strict_schema(schema), "strict": True},
            }
            return request
        # The schema goes into the prompt too: json_object alone only promises *some* JSON object.
        msgs.append({"role": "system", "content": schema_instruction(schema)})
        if mode == "json_object":
            request["response_format"] = {"type": "json_object", "schema": schema}
        return request

    def _step_down(self, failed: Mode) -> bool:
        """In ``auto``, move to the next structured-output mode after the first rejection (once per mode)."""
        with self._lock:
            if not self._auto or self._mode_settled or self._mode != failed:
                return self._mode != failed  # another thread already stepped down: retry with its choice
            nxt = _LADDER.index(failed) + 1
            if nxt >= len(_LADDER):
                return False
            self._mode = _LADDER[nxt]
            return True

    def _read(self, resp: Any) -> tuple[str, str, Usage]:
        """Text, finish reason and usage of a chat completion, or a clear error if the body is not one."""
        try:
            choice = resp.choices[0]
            text = choice.message.content
            finish = choice.finish_reason or ""
        except (AttributeError, IndexError, TypeError, KeyError) as e:
            raise LLMError(
                f"the endpoint at {self.base_url} did not answer with an OpenAI chat completion "
                f"(got {str(resp)[:80]!r}); is the base URL right (it usually ends in /v1)?"
            ) from e
        if not isinstance(text, str):
            text = ""
        u = getattr(resp, "usage", None)
        usage = Usage(
            prompt_tokens=int(getattr(u, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(u, "completion_tokens", 0) or 0),
        )
        return text, finish, usage

    def _sleep(self, retry: int) -> None:
        if self.retry_backoff > 0:
            time.sleep(self.retry_backoff * 2 ** (retry - 1))

    def _explain(self, e: Exception, attempts: int) -> str:
        """One line a user can act on for each way an endpoint fails."""
        import openai

        where = self.base_url
        tries = f" after {attempts} attempt(s)" if attempts > 1 else ""
        if isinstance(e, openai.APITimeoutError):
            return f"the model endpoint at {where} did not answer within {self.timeout:g} s{tries} (raise llm_timeout?)"
        if isinstance(e, openai.APIConnectionError):
            cause = "connection refused" if _refused(e) else str(e.__cause__ or e)
            return f"cannot reach the model endpoint at {where}: {cause}{tries} (is the server running?)"
        if isinstance(e, openai.AuthenticationError | openai.PermissionDeniedError):
            return (
                f"the model endpoint at {where} refused the API key (HTTP {e.status_code}); "
                f"set the key in ${self.api_key_env} (setting llm_api_key_env names the variable)"
            )
        if isinstance(e, openai.NotFoundError):
            return f"model {self.model!r} or its route was not found at {where} (HTTP 404); check llm_model and the URL"
        if isinstance(e, openai.RateLimitError):
            return f"the model endpoint at {where} is rate limiting (HTTP 429){tries}; lower llm_concurrency"
        if isinstance(e, openai.APIStatusError):
            return f"the model endpoint at {where} failed with HTTP {e.status_code}{tries}: {_detail(e)}"
        return f"the model endpoint at {where} failed: {e}"


_NOT_STRICT = frozenset({"minLength", "maxLength"})


def strict_schema(schema: Any) -> Any:
    """The schema without keywords OpenAI's strict mode rejects (we still validate them ourselves)."""
    if isinstance(schema, dict):
        out = {k: strict_schema(v) for k, v in schema.items() if k not in _NOT_STRICT and k != "properties"}
        if isinstance(props := schema.get("properties"), dict):
            out["properties"] = {name: strict_schema(sub) for name, sub in props.items()}
        return out
    if isinstance(schema, list):
        return [strict_schema(v) for v in schema]
    return schema


def _refused(e: Exception) -> bool:
    cause: BaseException | None = e
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError) or "Connection refused" in str(cause):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _detail(e: Any) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        msg = body.get("message") or (body.get("error") or {}).get("message") if isinstance(body, dict) else None
        if isinstance(msg, str):
            return msg[:200]
    return str(getattr(e, "message", e))[:200]


def _repair(error: AnswerFormatError, finish: str) -> str:
    hint = " Keep the reasoning short so the whole object fits." if error.truncated or finish == "length" else ""
    return (
        f"Your answer could not be used: {error}.{hint} Reply again with only the corrected JSON object "
        "that follows the schema."
    )


def _format_failure(error: AnswerFormatError, finish: str, max_tokens: int, model: str) -> str:
    if error.truncated or finish == "length":
        return (
            f"model {model!r} stopped at max_tokens={max_tokens} before finishing its JSON answer (truncated JSON), "
            "also after one repair request; raise llm_max_tokens"
        )
    return f"model {model!r} gave no valid structured answer, also after one repair request: {error}"


@register_backend("openai-compat")
def from_settings(settings: Settings) -> OpenAICompatBackend:
    """Any OpenAI-compatible chat-completions server (llama.cpp, vLLM, Ollama, OpenAI), at llm_base_url."""
    from bluecodeagent.llm.factory import require_endpoint

    base_url, model = require_endpoint(settings)
    return OpenAICompatBackend(
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
