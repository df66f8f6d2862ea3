import pytest

from bluecodeagent.config import load_settings
from bluecodeagent.errors import ConfigError


def test_precedence_flags_over_env_over_file(tmp_path, monkeypatch):
    cfg = tmp_path / "bluecode.toml"
    cfg.write_text("top_k = 7\nwarn_threshold = 0.4\nblock_threshold = 0.9\n")
    s = load_settings(config_file=cfg)
    assert (s.top_k, s.warn_threshold, s.block_threshold) == (7, 0.4, 0.9)
    monkeypatch.setenv("BLUECODE_TOP_K", "5")
    assert load_settings(config_file=cfg).top_k == 5
    assert load_settings({"top_k": 2}, config_file=cfg).top_k == 2
    assert load_settings({"top_k": None}, config_file=cfg).top_k == 5


def test_bad_settings_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(config_file=tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("top_k = [")
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(config_file=bad)
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings({"colour": "blue"})
    with pytest.raises(ConfigError, match="top_k"):
        load_settings({"top_k": 0})
    with pytest.raises(ConfigError, match="engine"):
        load_settings({"engine": "magic"})
