"""Settings that contradict each other, and environment variables nothing reads, are not silent."""

from __future__ import annotations

import pytest

from bluecodeagent import config
from bluecodeagent.config import load_settings
from bluecodeagent.errors import ConfigError


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "_warned", set())
    monkeypatch.setattr(config, "_config_file", lambda explicit: None)


def test_warn_threshold_above_block_threshold_is_refused():
    with pytest.raises(ConfigError, match=r"invalid settings: warn_threshold \(0.9\) is above block_threshold \(0.8\)"):
        load_settings({"warn_threshold": 0.9})
    assert load_settings({"warn_threshold": 0.8}).block_threshold == 0.8  # equal is allowed


def test_a_bad_value_names_the_variable_it_came_from(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BLUECODE_TOP_K", "abc")
    with pytest.raises(ConfigError, match=r"invalid setting top_k \(from \$BLUECODE_TOP_K\)"):
        load_settings()


def test_a_misspelt_variable_is_warned_about_with_a_suggestion(monkeypatch, capsys):
    monkeypatch.setenv("BLUECODE_TOPK", "5")
    monkeypatch.setenv("BLUECODE_HOME", "/tmp/x")  # read elsewhere: not a warning
    monkeypatch.setenv("BLUECODE_KEY_CI", "k")  # server keys are named freely
    assert load_settings().top_k == 3
    load_settings()
    err = capsys.readouterr().err
    assert err.count("warning: ignoring unknown environment variable BLUECODE_TOPK (did you mean BLUECODE_TOP_K?)") == 1
    assert "BLUECODE_HOME" not in err and "BLUECODE_KEY_CI" not in err


def test_one_input_size_setting_for_prompts_and_code():
    assert load_settings().max_input_bytes == 2_000_000
    assert load_settings({"max_input_bytes": 10}).max_input_bytes == 10
