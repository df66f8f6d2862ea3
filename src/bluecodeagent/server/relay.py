"""Relaying an upstream's answer, whole or streamed, through the per-choice code-block screens."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
from fastapi.responses import JSONResponse, Response, StreamingResponse

from bluecodeagent.server.answers import ChoiceScreen
from bluecodeagent.server.models import ServiceError
from bluecodeagent.server.upstream import LEGACY, Protocol, choice_index, read_events, sse
from bluecodeagent.verdict import Verdict

if TYPE_CHECKING:
    from bluecodeagent.server.service import Service

log = logging.getLogger("bluecodeagent.server")
FENCES = ("```", "~~~")


class Relay:
    """Screens one answer (whole or streamed) under the proxy's code policy."""

    def __init__(self, svc: Service, proto: Protocol) -> None:
        self.svc, self.proto = svc, proto
        self.policy = svc.config.proxy_code_policy
        self.screens: dict[int, ChoiceScreen] = {}

    def screen(self, index: int) -> ChoiceScreen:
        if index not in self.screens:
            self.screens[index] = ChoiceScreen(index, self.policy, self._scan)
        return self.screens[index]

    async def _scan(self, code: str) -> Verdict:
        from bluecodeagent.code.scanner import scan_code

        dynamic = self.svc.config.proxy_code_dynamic
        v = await self.svc.run(lambda: scan_code(code, "python", dynamic=dynamic))
        self.svc.metrics.record([v])
        return v

    def decision(self) -> str:
        metas = [m for s in self.screens.values() if (m := s.meta())]
        if any(m["action"] == "block" for m in metas):
            return "block"
        return "warn" if metas else "allow"

    async def whole(self, r: httpx.Response, headers: dict[str, str]) -> Response:
        """A non-streamed answer: screened per choice, returned verbatim when nothing was found."""
        try:
            data = r.json()
            choices = data["choices"]
            texts = [self.proto.text(c, False) for c in choices]
            if not all(t is None or isinstance(t, str) for t in texts):
                raise TypeError
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise ServiceError(502, "upstream_invalid", f"the upstream's answer is not a {self.proto.label}") from None
        if self.policy == "off" or not any(t and any(f in t for f in FENCES) for t in texts):
            return Response(r.content, media_type="application/json", headers=headers)
        metas = []
        for choice, text in zip(choices, texts, strict=True):
            if not text:
                continue
            s = self.screen(choice_index(choice))
            new = await s.feed(text) + await s.close()
            if (meta := s.meta()) is not None:
                metas.append(meta)
                self.proto.set_text(choice, new, False)
                if s.stopped:
                    choice["finish_reason"] = "content_filter"
        if not metas:
            return Response(r.content, media_type="application/json", headers=headers)
        data["bluecode"] = metas[0] if len(metas) == 1 else {"action": self.decision(), "choices": metas}
        headers["x-bluecode-decision"] = self.decision()
        return JSONResponse(data, headers=headers)

    async def stream(self, r: httpx.Response, headers: dict[str, str]) -> Response:
        """A streamed answer: the first event is read before answering (so a broken upstream is a 502)."""
        events = read_events(r)
        try:
            first = await anext(events, None)
        except ServiceError:
            await r.aclose()
            raise
        except httpx.HTTPError as e:
            await r.aclose()
            raise ServiceError(502, "upstream_invalid", f"the upstream's stream broke ({type(e).__name__})") from e
        if first is None or first == "[DONE]":
            await r.aclose()
            raise ServiceError(502, "upstream_invalid", "the upstream's stream was empty")
        return StreamingResponse(self._relay(first, events, r), media_type="text/event-stream", headers=headers)

    async def _relay(
        self, first: dict[str, Any] | str, events: AsyncIterator[dict[str, Any] | str], r: httpx.Response
    ) -> AsyncIterator[bytes]:
        base: dict[str, Any] = {}
        try:
            event: dict[str, Any] | str | None = first
            while event is not None and event != "[DONE]":
                assert isinstance(event, dict)
                base = base or {k: event.get(k) for k in ("id", "created", "model")}
                out = await self._chunk(event)
                if out is not None:
                    yield sse(out)
                if self.screens and all(s.stopped for s in self.screens.values()):
                    break  # every choice was cut at a blocked block: stop reading the upstream
                event = await anext(events, None)
            for s in self.screens.values():  # the upstream ended without finishing a choice
                if not s.stopped and (tail := await s.close()):
                    yield sse(self._synth(base, s.index, tail, None, s.meta()))
            yield sse("[DONE]")
        except (ServiceError, httpx.HTTPError, ValueError, TypeError, KeyError, AttributeError) as e:
            # after the first byte only an error event can tell; whatever was held back is dropped, never sent
            if isinstance(e, ServiceError):
                message = e.message
            elif isinstance(e, httpx.HTTPError):
                message = f"the upstream's stream broke ({type(e).__name__})"
            else:
                message = "the upstream's stream is not completion chunks"
            yield sse({"error": {"type": "upstream_invalid", "message": message}})
        except Exception:
            log.exception("proxy stream failed")
            yield sse({"error": {"type": "internal_error", "message": "internal error (see the service log)"}})
        finally:
            await r.aclose()

    async def _chunk(self, chunk: dict[str, Any]) -> dict[str, Any] | None:
        """Screen one upstream chunk; None when nothing of it can be released yet."""
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            raise ServiceError(502, "upstream_invalid", "the upstream's stream is not completion chunks")
        if not choices:
            return chunk  # usage and other choice-less chunks pass as they are
        kept = []
        for choice in choices:
            if not isinstance(choice, dict):
                raise ServiceError(502, "upstream_invalid", "the upstream's stream is not completion chunks")
            s = self.screen(choice_index(choice))
            if s.stopped:
                continue
            text = self.proto.text(choice, True)
            if text is not None and not isinstance(text, str):
                raise ServiceError(502, "upstream_invalid", "the upstream's stream is not completion chunks")
            released = await s.feed(text) if text else ""
            finish = choice.get("finish_reason")
            if finish and not s.stopped:
                released += await s.close()
            if s.stopped:
                choice["finish_reason"] = "content_filter"
            if text is not None or released:
                self.proto.set_text(choice, released, True)
            if (finish or s.stopped) and (meta := s.meta()):
                chunk["bluecode"] = meta
            if released or self._carries_more(choice):
                kept.append(choice)
        if not kept:
            return None
        chunk["choices"] = kept
        return chunk

    def _carries_more(self, choice: dict[str, Any]) -> bool:
        """Does a choice say anything besides (held back) text: a role, tool calls, a finish reason?"""
        if choice.get("finish_reason"):
            return True
        if self.proto is LEGACY:
            return False
        delta = choice.get("delta") or {}
        return any(k != "content" and v is not None for k, v in delta.items())

    def _synth(
        self, base: dict[str, Any], index: int, text: str, finish: str | None, meta: dict[str, Any] | None
    ) -> dict[str, Any]:
        choice = self.proto.choice(index, text, finish, True, False)
        chunk = {**base, "object": self.proto.chunk_obj, "choices": [choice]}
        if meta:
            chunk["bluecode"] = meta
        return chunk
