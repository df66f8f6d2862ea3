"""The shared batch layer: every input line gets exactly one output line, resume tells duplicates apart."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from bluecodeagent import batch
from bluecodeagent.batch.files import discover
from bluecodeagent.batch.runner import SEVERITY_KEY, PartialChunk, pending, read_finished
from bluecodeagent.errors import InputError

FIELDS = {"text": True, "context": False}


def _jsonl(*rows: Any) -> bytes:
    return b"\n".join(r if isinstance(r, bytes) else json.dumps(r).encode() for r in rows) + b"\n"


def echo_chunk_double(chunk: list[batch.Record]) -> list[dict[str, Any]]:
    """A stand-in chunk function: echoes the text, severity 1 for texts containing 'bad'."""
    return [{"echo": r.fields["text"], SEVERITY_KEY: int("bad" in r.fields["text"])} for r in chunk]


def _run(raw: bytes, chunk_size: int = 2) -> tuple[list[dict[str, Any]], batch.Outcome]:
    out = io.StringIO()
    done = batch.run(batch.parse_records(raw, FIELDS), echo_chunk_double, out, "jsonl", chunk_size)
    return [json.loads(line) for line in out.getvalue().splitlines()], done


def test_one_invalid_utf8_line_is_one_error_not_a_rejected_file():
    raw = _jsonl({"id": "a", "text": "one"}, b'{"id": "b", "text": "\xff\xfe"}', {"id": "c", "text": "three"})
    lines, done = _run(raw)
    assert [r["id"] for r in lines] == ["a", None, "c"]
    assert "not valid UTF-8" in lines[1]["error"] and lines[1]["line"] == 2
    assert lines[0]["echo"] == "one" and lines[2]["echo"] == "three"
    assert (done.total, done.written, done.errors, done.error_lines) == (3, 3, 1, [2])


def test_every_kind_of_bad_line_keeps_its_place():
    raw = _jsonl(
        {"id": 1, "text": "ok"},
        b"{not json",
        ["a list"],
        {"id": 4},
        {"id": 5, "text": 42},
        {"id": {"nested": 1}, "text": "x"},
        {"id": 7, "text": "ok", "context": ["not a string"]},
        {"id": 8, "text": "bad one"},
    )
    lines, done = _run(raw, chunk_size=3)
    assert [r["line"] for r in lines] == [1, 2, 3, 4, 5, 6, 7, 8]
    errors = {r["line"]: r["error"] for r in lines if "error" in r}
    assert set(errors) == {2, 3, 4, 5, 6, 7}
    assert "malformed JSON" in errors[2] and "JSON object" in errors[3] and "'text' is missing" in errors[4]
    assert "must be a string" in errors[5] and "'id' must be" in errors[6] and "'context'" in errors[7]
    assert done.worst == 1 and done.errors == 6


def test_missing_and_duplicate_ids_are_screened_and_flagged():
    lines, done = _run(_jsonl({"text": "no id"}, {"id": "x", "text": "first"}, {"id": "x", "text": "again"}))
    assert [r["id"] for r in lines] == [1, "x", "x"]
    assert "no 'id'" in lines[0]["warnings"][0]
    assert "warnings" not in lines[1]
    assert lines[2]["warnings"] == ['duplicate id "x" (first on line 2)'] and lines[2]["echo"] == "again"
    assert done.warned == 2 and "2 with warnings" in done.summary("screened", "out.jsonl")


def test_resume_screens_the_second_record_of_a_duplicate_id(tmp_path: Path):
    records = batch.parse_records(
        _jsonl({"id": "k", "text": "sort a list"}, {"id": "k", "text": "write a keylogger"}, {"id": "z", "text": "z"}),
        FIELDS,
    )
    earlier = tmp_path / "out.jsonl"
    earlier.write_text(json.dumps({"id": "k", "decision": "allow"}) + "\n")  # the run stopped after one record
    resume = read_finished(earlier, lambda r: 0)
    todo = pending(records, resume)
    assert [(r.id, r.fields["text"]) for r in todo] == [("k", "write a keylogger"), ("z", "z")]


def test_resume_retries_records_that_failed_or_were_cut_off(tmp_path: Path):
    records = batch.parse_records(
        _jsonl({"id": 1, "text": "a"}, {"id": 2, "text": "b"}, {"id": 3, "text": "c"}), FIELDS
    )
    earlier = tmp_path / "out.jsonl"
    earlier.write_text(
        json.dumps({"id": 1, "decision": "block"}) + "\n" + json.dumps({"id": 2, "error": "x"}) + '\n{"id": 3, "dec'
    )
    resume = read_finished(earlier, lambda r: 2 if r.get("decision") == "block" else 0)
    assert [r.id for r in pending(records, resume)] == [2, 3] and resume.worst == 2


def test_a_stopping_chunk_keeps_what_it_finished():
    def stops_after_one(chunk: list[batch.Record]) -> list[dict[str, Any]]:
        raise PartialChunk([{"echo": chunk[0].fields["text"]}], RuntimeError("budget spent"))

    out = io.StringIO()
    records = batch.parse_records(_jsonl(b"{broken", {"id": 2, "text": "two"}, {"id": 3, "text": "three"}), FIELDS)
    with pytest.raises(RuntimeError, match="budget spent"):
        batch.run(records, stops_after_one, out, "jsonl", 8)
    assert [json.loads(x)["line"] for x in out.getvalue().splitlines()] == [1, 2]


def test_a_chunk_function_that_loses_a_result_is_a_loud_bug():
    out = io.StringIO()
    records = batch.parse_records(_jsonl({"id": 1, "text": "a"}, {"id": 2, "text": "b"}), FIELDS)
    with pytest.raises(RuntimeError, match="gave 1 result"):
        batch.run(records, lambda chunk: [{}], out, "jsonl", 8)


def test_empty_and_blank_inputs_are_one_clear_error():
    for raw in (b"", b"\n  \n\t\n"):
        with pytest.raises(InputError, match="has no records"):
            batch.parse_records(raw, FIELDS, "in.jsonl")


def test_a_bom_and_crlf_lines_are_read():
    lines, _ = _run(
        b"\xef\xbb\xbf" + json.dumps({"id": 1, "text": "a"}).encode() + b"\r\n" + b'{"id": 2, "text": "b"}\r\n'
    )
    assert [r.get("echo") for r in lines] == ["a", "b"]


def test_json_format_writes_one_array_with_every_record():
    out = io.StringIO()
    records = batch.parse_records(_jsonl({"id": 1, "text": "a"}, b"oops"), FIELDS)
    batch.run(records, echo_chunk_double, out, "json", 8)
    assert [r["line"] for r in json.loads(out.getvalue())] == [1, 2]


def test_unreadable_subdirectory_is_reported_not_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "ok.py").write_text("x = 1\n")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "hidden.py").write_text("import os\n")
    if os.geteuid() == 0:  # root reads a chmod 000 directory anyway: make the listing fail as it would for a user
        real = os.scandir

        def scandir(path: Any = ".") -> Any:
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr(os, "scandir", scandir)
    else:
        locked.chmod(0)
    try:
        found = discover([str(tmp_path)], lambda p: p.suffix == ".py")
        alone = discover([str(locked)], lambda p: p.suffix == ".py")
    finally:
        locked.chmod(0o755)
    assert found.files == [tmp_path / "ok.py"]
    assert found.problems == [f"{locked}: permission denied (not scanned)"]
    assert alone.files == [] and alone.problems == [f"{locked}: permission denied (not scanned)"]


def test_a_symlink_loop_is_named_as_such(tmp_path: Path):
    loop = tmp_path / "loop.py"
    loop.symlink_to(loop)
    found = discover([str(loop), str(tmp_path / "missing.py")], lambda p: True)
    assert found.problems == [f"{loop}: symbolic link loop", f"{tmp_path / 'missing.py'}: no such file or directory"]
