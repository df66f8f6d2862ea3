from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bluecodeagent.bench.datasets import load_task, text_hash
from bluecodeagent.bench.runner import (
    SPLIT_BATCH,
    BenchOptions,
    LeakError,
    assert_no_leak,
    run_bench,
    split_by_group,
)


@pytest.mark.parametrize("task", ["malicious", "bias", "injection"])
def test_split_is_by_group_and_units_never_straddle(data_dir: Path, task: str) -> None:
    samples = load_task(task, data_dir, seed=0)
    split = split_by_group(samples, seed=0)
    kb_units = {s.unit for s in split.kb}
    assert not kb_units & {s.unit for s in split.test}
    assert {s.group for s in split.kb} <= set(split.seen_groups)
    assert all(s.label == "unsafe" for s in split.kb)
    for g in split.unseen_groups:  # unseen groups are scored whole
        assert all(s in split.test for s in samples if s.group == g)
    for g in split.seen_groups:  # every seen group keeps something to score
        assert any(s.group == g for s in split.test)
    assert split.seen_groups and split.unseen_groups


def test_bench_never_scores_an_item_in_its_kb(data_dir: Path, fake_factory: Any) -> None:
    opts = BenchOptions(data_dir=data_dir, latency_samples=3)
    result, preds = run_bench(opts, fake_factory)
    assert {(r.task, r.config) for r in result.runs} == {
        (t, c) for t in ("bias", "malicious", "injection") for c in ("shipped", "split")
    }
    split_agents = fake_factory.agents[1:]
    assert len(split_agents) == 3
    for agent in split_agents:
        added = [it for it in agent.kb.items() if it.batch == SPLIT_BATCH]
        assert added, "the split put nothing into the knowledge base"
        kb_h = {text_hash(it.text) for it in added}
        for text, context in agent.scored:
            assert text_hash(text) not in kb_h and (context is None or text_hash(context) not in kb_h)
            if context:
                assert not any(it.text in context for it in added)
    for run in result.runs:
        if run.config == "split":
            assert set(run.systems["bluecode"]) == {"all", "seen", "unseen"}
            assert run.kb_added > 0
    ids_scored = {(p.task, p.config, p.id) for p in preds if p.system == "bluecode"}
    assert len(ids_scored) == sum(r.n_scored for r in result.runs)


def test_assert_no_leak_detects_a_planted_item(data_dir: Path) -> None:
    samples = load_task("injection", data_dir)
    injected = next(s for s in samples if s.payload)
    with pytest.raises(LeakError, match=injected.id):
        assert_no_leak([injected], {text_hash("  " + injected.payload + "\n"): SPLIT_BATCH})
    assert_no_leak([injected], {text_hash("something else"): SPLIT_BATCH})


def test_shipped_items_equal_to_a_sample_are_excluded(data_dir: Path, fake_factory: Any) -> None:
    from bluecodeagent.knowledge.item import KnowledgeItem

    shipped = fake_factory(None)
    leaked = load_task("bias", data_dir)[0]
    shipped.kb.add([KnowledgeItem(task="bias", label="unsafe", text=leaked.text)])
    result, preds = run_bench(
        BenchOptions(data_dir=data_dir, tasks=["bias"], configs=["shipped"], latency_samples=0), fake_factory
    )
    assert result.runs[0].excluded_in_kb == [leaked.id]
    assert leaked.id not in {p.id for p in preds}


@pytest.mark.parametrize("seed", range(8))
def test_duplicate_texts_never_straddle_the_split(data_dir: Path, seed: int) -> None:
    samples = load_task("malicious", data_dir, seed=seed)
    split = split_by_group(samples, seed=seed, seen_fraction=0.99)
    kb_h = {text_hash(s.knowledge_text) for s in split.kb}
    assert not any(s.hashes & kb_h for s in split.test)
