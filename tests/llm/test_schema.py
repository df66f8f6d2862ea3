"""The tolerant JSON extraction and the small schema validator (cross-checked against jsonschema)."""

from __future__ import annotations

import jsonschema
import pytest

from bluecodeagent.llm.schema import AnswerFormatError, extract_json_object, parse_answer, validate

SCHEMA = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "minLength": 1},
        "label": {"type": "string", "enum": ["safe", "unsafe"]},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        "count": {"type": "integer"},
    },
    "required": ["reason", "label", "score"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        'Sure! Here it is:\n```json\n{"a": 1}\n```\nAnything else?',
        'prefix {"a": 1} suffix {"b": 2}',
        '{not json} then {"a": 1}',
        '```\n{"a": 1}\n```',
    ],
)
def test_extract_finds_the_first_object(text):
    assert extract_json_object(text) == {"a": 1}


def test_extract_keeps_braces_inside_strings():
    assert extract_json_object('{"reason": "a } brace and \\" quote", "n": [1, {"x": 2}]}') == {
        "reason": 'a } brace and " quote',
        "n": [1, {"x": 2}],
    }


@pytest.mark.parametrize(
    ("text", "truncated", "fragment"),
    [
        ('{"reason": "the request asks for a key', True, "truncated"),
        ("", False, "empty"),
        ("I cannot help with that.", False, "no JSON object"),
        ("[1, 2, 3]", False, "no JSON object"),
    ],
)
def test_extract_errors_say_what_is_wrong(text, truncated, fragment):
    with pytest.raises(AnswerFormatError, match=fragment) as e:
        extract_json_object(text)
    assert e.value.truncated is truncated


CASES = [
    {"reason": "r", "label": "safe", "score": 0.2},
    {"reason": "r", "label": "unsafe", "score": 1, "tags": ["a"], "count": 3},
    {"reason": "", "label": "safe", "score": 0.2},
    {"reason": "r", "label": "maybe", "score": 0.2},
    {"reason": "r", "label": "safe", "score": 1.5},
    {"reason": "r", "label": "safe", "score": "high"},
    {"reason": "r", "label": "safe", "score": True},
    {"reason": "r", "label": "safe"},
    {"reason": "r", "label": "safe", "score": 0.1, "extra": 1},
    {"reason": "r", "label": "safe", "score": 0.1, "tags": ["a", "b", "c"]},
    {"reason": "r", "label": "safe", "score": 0.1, "tags": [1]},
    {"reason": "r", "label": "safe", "score": 0.1, "count": 1.5},
    [],
]


@pytest.mark.parametrize("value", CASES)
def test_validator_agrees_with_jsonschema(value):
    reference = jsonschema.Draft202012Validator(SCHEMA).is_valid(value)
    assert (validate(value, SCHEMA) == []) is reference


def test_parse_answer_names_the_broken_field():
    with pytest.raises(AnswerFormatError, match=r"\$\.label must be one of"):
        parse_answer('{"reason": "x", "label": "maybe", "score": 0.5}', SCHEMA)
