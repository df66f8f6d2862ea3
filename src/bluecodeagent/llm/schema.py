"""Structured answers: find the JSON object in a model's text and check it against a small JSON schema.

The validator covers the subset of JSON Schema our prompts use (``type``, ``properties``,
``required``, ``additionalProperties``, ``enum``, ``items``, ``minimum``/``maximum``,
``minLength``/``maxLength``, ``minItems``/``maxItems``), so the runtime needs no schema library.
Errors are short sentences a model can act on when it is asked to repair its answer.
"""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


class AnswerFormatError(ValueError):
    """The model's text holds no usable JSON object; ``truncated`` when it stops mid-object."""

    def __init__(self, message: str, *, truncated: bool = False) -> None:
        super().__init__(message)
        self.truncated = truncated


def extract_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text``, tolerating code fences and prose around it."""
    fenced = _FENCE.search(text)
    candidates = [fenced.group(1), text] if fenced else [text]
    truncated = False
    for candidate in candidates:
        start = candidate.find("{")
        while start != -1:
            end = _object_end(candidate, start)
            if end is None:
                truncated = True
                break
            try:
                value = json.loads(candidate[start:end])
            except json.JSONDecodeError:
                start = candidate.find("{", start + 1)
                continue
            if isinstance(value, dict):
                return value
            start = candidate.find("{", end)
    if truncated:
        raise AnswerFormatError("the JSON object is cut off before its closing brace (truncated)", truncated=True)
    if not text.strip():
        raise AnswerFormatError("the answer is empty; expected one JSON object")
    raise AnswerFormatError(f"no JSON object found in the answer (it starts with {text.strip()[:60]!r})")


def _object_end(text: str, start: int) -> int | None:
    """Index just past the brace closing the object opened at ``start`` (``None`` if it never closes)."""
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def validate(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Every way ``value`` breaks ``schema`` (empty when it conforms)."""
    errors: list[str] = []
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_is(value, k) for k in kinds):
            return [f"{path} must be of type {' or '.join(kinds)}, got {_type_name(value)}"]
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(json.dumps(v) for v in schema["enum"])
        errors.append(f"{path} must be one of {allowed}, got {json.dumps(value)[:60]}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path} must be >= {schema['minimum']}, got {value}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path} must be <= {schema['maximum']}, got {value}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{path} must have at least {schema['minLength']} character(s)")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path} must have at most {schema['maxLength']} characters")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path} must have at least {schema['minItems']} item(s)")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path} must have at most {schema['maxItems']} items")
        if isinstance(items := schema.get("items"), dict):
            for i, item in enumerate(value):
                errors += validate(item, items, f"{path}[{i}]")
    if isinstance(value, dict):
        props: dict[str, Any] = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{path} is missing the required field {name!r}")
        for name, item in value.items():
            if name in props:
                errors += validate(item, props[name], f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path} has an unexpected field {name!r}")
    return errors


def _is(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(kind, (object,)))


def _type_name(value: Any) -> str:
    for name in _TYPES:
        if _is(value, name):
            return name
    return type(value).__name__


def parse_answer(text: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON object in ``text`` if it conforms to ``schema``; otherwise :class:`AnswerFormatError`."""
    data = extract_json_object(text)
    if errors := validate(data, schema):
        raise AnswerFormatError("; ".join(errors[:5]))
    return data


def schema_instruction(schema: dict[str, Any]) -> str:
    """The sentence appended to the prompt when the server cannot enforce the schema itself."""
    return (
        "Reply with one JSON object and nothing else (no code fences, no prose), following this JSON schema, "
        "with the fields in the order given:\n" + json.dumps(schema, separators=(",", ":"))
    )
