"""CWE-611/776: are external entities resolved (or entities expanded without bound)?"""

from __future__ import annotations

from typing import Any, ClassVar

from bluecodeagent.code.dynamic.base import Probe, register


@register
class XmlProbe(Probe):
    """An XXE document naming a canary file; its content in the output (or a read of it) confirms XXE."""

    name: ClassVar[str] = "xml"
    cwes: ClassVar[tuple[str, ...]] = ("CWE-611", "CWE-776", "CWE-827")

    @staticmethod
    def inside(rt: Any, fn: Any, params: list[str]) -> dict[str, Any]:
        xxe = (
            f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{rt.CANARY_FILE}">]>'
            "<r><name>&x;</name><id>&x;</id></r>"
        )
        bomb = (
            '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "bcbcbcbcbc"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]><r>&d;</r>'
        )

        def judge(res: dict[str, Any], payload: Any, name: str) -> tuple[str | None, str]:
            if any(p.startswith(rt.CANARY_DIR) for p in rt.event_paths(res["events"])):
                return "vulnerable", "an external entity made the parser read a local file"
            text = rt.as_text(res["result"])
            if rt.CANARY_TEXT in text:
                return "vulnerable", "an external entity's file content came back"
            if payload is bomb and "bcbc" * 64 in text:
                return "vulnerable", "nested entities were expanded without bound"
            if res["returned"] or rt.deliberate_rejection(res):
                return "rejected", "entities were not resolved"
            return None, ""

        return rt.exploit(fn, params, [xxe, bomb], judge)
