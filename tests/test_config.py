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


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"kb_hnsw_m": 1}, "kb_hnsw_m"),
        ({"kb_hnsw_m": 101}, "kb_hnsw_m"),
        ({"kb_hnsw_ef_construction": 3}, "kb_hnsw_ef_construction"),
        ({"kb_hnsw_ef_construction": 1001}, "kb_hnsw_ef_construction"),
        ({"kb_hnsw_m": 32, "kb_hnsw_ef_construction": 63}, "below 2 x kb_hnsw_m"),
        ({"kb_hnsw_m": 100}, "below 2 x kb_hnsw_m"),  # the default ef_construction, 128, is too few for m=100
    ],
)
def test_hnsw_graph_settings_are_checked(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_settings(overrides)


def test_hnsw_graph_settings_default_to_the_measured_graph(monkeypatch):
    monkeypatch.setenv("BLUECODE_KB_HNSW_M", "8")
    s = load_settings({"kb_hnsw_ef_construction": 16})
    assert (s.kb_hnsw_m, s.kb_hnsw_ef_construction) == (8, 16)  # exactly 2 x m is allowed
    monkeypatch.delenv("BLUECODE_KB_HNSW_M")
    assert (load_settings({}).kb_hnsw_m, load_settings({}).kb_hnsw_ef_construction) == (32, 128)
