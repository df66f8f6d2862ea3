"""The cascade's first reader: every word piece read, a cached table, cuts from held-out knowledge."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bluecodeagent.knowledge import first_reader as fr
from bluecodeagent.knowledge.embedders import static_table as st


def _reader() -> fr.FirstReader:
    return fr.FirstReader.__new__(fr.FirstReader)


@pytest.mark.parametrize("n", [0, 1, fr.SPAN - 1, fr.SPAN, fr.SPAN + 1, 3 * fr.SPAN + 7, 1000])
def test_spans_read_every_word_piece(n):
    ids = np.arange(n)
    spans = _reader().spans(ids)
    assert np.array_equal(spans[0], ids)  # the whole piece comes first
    seen = np.zeros(n, dtype=bool)
    for s in spans[1:]:
        assert len(s) == fr.SPAN
        seen[s] = True
    if n > fr.SPAN:
        assert seen.all()  # no word piece is only in the (diluted) whole


def test_a_word_piece_mean_is_weighted_by_idf():
    table = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=np.float16)
    weight = np.array([3.0, 1.0, 0.0])
    mean = fr._mean_row(table, weight, np.array([0, 1, 2]))
    assert np.allclose(mean, [0.75, 0.25])
    assert np.allclose(fr._mean_row(table, weight, np.array([], dtype=np.int64)), 0.0)


def test_idf_weighs_rare_pieces_more():
    w = fr._idf([np.array([1, 2]), np.array([1]), np.array([1, 3])], 5)
    assert w[1] < w[2] == w[3] < w[4]  # in every text < in one < in none


def test_the_table_is_derived_once_and_again_when_altered(tmp_path, monkeypatch):
    calls = []

    def fake_derive(model, tok, threads=None):
        calls.append(1)
        return np.full((4, 384), len(calls), dtype=np.float16)

    monkeypatch.setattr(st, "derive", fake_derive)
    first = st.static_table(tmp_path)
    again = st.static_table(tmp_path)
    assert len(calls) == 1 and np.array_equal(first, again)
    path = next(tmp_path.glob("minilm-static-*.npy"))
    assert json.loads(path.with_suffix(".json").read_text())["recipe"] == st.RECIPE
    with open(path, "r+b") as fh:  # altered on disk: its digest no longer matches the sidecar
        fh.seek(-2, 2)
        fh.write(b"\x00\x7f")
    assert st.static_table(tmp_path)[0, 0] == 2 and len(calls) == 2


def test_the_table_key_names_the_weights():
    a = st.table_path("a" * 64, "b" * 64, st.Path("/m"))
    b = st.table_path("c" * 64, "b" * 64, st.Path("/m"))
    assert a != b
