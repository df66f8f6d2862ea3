"""Tests for the policy-based knowledge generator (no embedding model needed)."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest

from bluecodeagent.knowledge.policies import load_policies
from bluecodeagent.redteam.generate import (
    BENIGN_CATEGORY,
    PROMPT_TASKS,
    TemplateError,
    builtin_items,
    generate_items,
)

# A safe bias item must not state a decision that depends on a protected attribute.
_BIAS_DECISION_PATTERNS = [
    r"\blower (?:score|rank|\w+ score) (?:to|for)\b",
    r"\bprefer (?:men|women|white|male|female|younger|christian|married)",
    r"\btreat [\w\s-]+ as higher risk",
    r"\bfilters out (?:women|men|immigrants|older|black|gay|pregnant|single|applicants (?:from|over|with))",
    r"contributes \d+% of the",
    r"depending on the \w+'s (?:gender|race|ethnicity|age|religion|sexual orientation|marital status|nationality)",
]


@pytest.fixture(scope="module")
def items_by_task() -> dict[str, list]:
    return {task: generate_items(task, seed=0) for task in PROMPT_TASKS}


def test_deterministic_for_seed() -> None:
    a = [(i.uid, i.text, i.counterpart) for i in generate_items("bias", seed=3)]
    b = [(i.uid, i.text, i.counterpart) for i in generate_items("bias", seed=3)]
    c = [(i.uid, i.text) for i in generate_items("bias", seed=4)]
    assert a == b
    assert [x[:2] for x in a] != c


@pytest.mark.parametrize("task", PROMPT_TASKS)
def test_sizes_per_label(items_by_task: dict[str, list], task: str) -> None:
    labels = Counter(i.label for i in items_by_task[task])
    assert labels["unsafe"] >= 800, labels
    assert labels["safe"] >= 800, labels
    assert set(labels) == {"unsafe", "safe"}


@pytest.mark.parametrize("task", PROMPT_TASKS)
def test_every_policy_category_appears(items_by_task: dict[str, list], task: str) -> None:
    doc = load_policies(task)
    unsafe_cats = {i.category for i in items_by_task[task] if i.label == "unsafe"}
    safe_policies = {i.policy for i in items_by_task[task] if i.label == "safe"}
    for pol in doc["policy"]:
        assert pol["category"] in unsafe_cats, pol["id"]
        assert pol["id"] in safe_policies, pol["id"]


@pytest.mark.parametrize("task", PROMPT_TASKS)
def test_no_duplicates_and_no_label_conflicts(items_by_task: dict[str, list], task: str) -> None:
    items = items_by_task[task]
    texts = [i.text for i in items]
    assert len(texts) == len(set(texts))
    assert len({i.uid for i in items}) == len(items)


@pytest.mark.parametrize("task", PROMPT_TASKS)
def test_metadata_complete(items_by_task: dict[str, list], task: str) -> None:
    for it in items_by_task[task]:
        assert it.task == task and it.policy and it.principle and it.category
        assert it.batch == "builtin"
        prov = it.provenance
        assert prov["generator"] == "policy-template" and prov["policy"] == it.policy
        assert prov["template"] and prov["seed"] == 0


@pytest.mark.parametrize("task", PROMPT_TASKS)
def test_counterparts_for_most_unsafe(items_by_task: dict[str, list], task: str) -> None:
    items = items_by_task[task]
    unsafe = [i for i in items if i.label == "unsafe"]
    paired = [i for i in unsafe if i.counterpart and i.counterpart != i.text]
    assert len(paired) / len(unsafe) >= 0.9
    safe_texts = {i.text for i in items if i.label == "safe"}
    found = sum(i.counterpart in safe_texts for i in paired)
    assert found / len(paired) >= 0.8


@pytest.mark.parametrize("task", PROMPT_TASKS)
def test_variety_of_forms(items_by_task: dict[str, list], task: str) -> None:
    items = items_by_task[task]
    for label in ("unsafe", "safe"):
        texts = [i.text for i in items if i.label == label]
        lengths = sorted(len(t) for t in texts)
        assert lengths[len(lengths) // 10] < 0.55 * lengths[9 * len(lengths) // 10]
        templates = Counter((i.provenance["template"], i.provenance.get("frame")) for i in items if i.label == label)
        assert len(templates) >= 3
        assert max(templates.values()) / len(texts) < 0.3
        first_words = Counter(t.split()[0] for t in texts)
        assert len(first_words) >= 10


def test_safe_bias_items_do_not_decide_on_protected_attributes(items_by_task: dict[str, list]) -> None:
    pattern = re.compile("|".join(_BIAS_DECISION_PATTERNS), re.IGNORECASE)
    items = items_by_task["bias"]
    unsafe_hits = [i for i in items if i.label == "unsafe" and pattern.search(i.text)]
    assert len(unsafe_hits) > 100  # the patterns are live: they do catch unsafe items
    sample = random.Random(0).sample([i for i in items if i.label == "safe"], 600)
    offenders = [i.text for i in sample if pattern.search(i.text)]
    assert not offenders, offenders[:3]


def test_safe_bias_signatures_do_not_take_protected_inputs(items_by_task: dict[str, list]) -> None:
    doc = load_policies("bias")
    keys = {k for pol in doc["policy"] for k in pol["term_key"]}
    for it in items_by_task["bias"]:
        if it.label == "safe" and it.provenance["template"] in ("bias.signature-params", "bias.class-config"):
            assert not any(re.search(rf"\b{k}\b", it.text) for k in keys), it.text


def test_injection_safe_items_have_no_directives_to_ai(items_by_task: dict[str, list]) -> None:
    doc = load_policies("injection")
    openers = doc["vocab"]["opener_blunt"] + doc["vocab"]["opener_subtle"] + doc["vocab"]["code_intro"]
    urls = doc["vocab"]["url"]
    for it in items_by_task["injection"]:
        if it.label == "safe":
            assert not any(o in it.text for o in openers), it.text
            assert not any(u in it.text for u in urls), it.text
    unsafe = [i for i in items_by_task["injection"] if i.label == "unsafe"]
    carriers = Counter(i.provenance.get("frame") for i in unsafe)
    assert len(carriers) >= 8


def test_malicious_safe_items_do_not_reuse_unsafe_goals(items_by_task: dict[str, list]) -> None:
    doc = load_policies("malicious")
    goals = [g for pol in doc["policy"] for g in pol["goal"]]
    for it in items_by_task["malicious"]:
        if it.label == "safe":
            assert not any(g in it.text for g in goals), it.text


def test_builtin_items_include_benign_pool_per_task() -> None:
    items = builtin_items()
    assert len(items) < 24_000  # a bound on build time: issue 12 grew wrappers, access framing, lifecycle, bias
    for task in PROMPT_TASKS:
        benign = [i for i in items if i.task == task and i.category == BENIGN_CATEGORY]
        assert 500 <= len(benign) <= 2000
        assert all(i.label == "safe" for i in benign)
    assert len({(i.task, i.text) for i in items}) == len(items)
    only_bias = builtin_items(["bias"])
    assert {i.task for i in only_bias} == {"bias"}
    with pytest.raises(ValueError):
        builtin_items(["vulnerability"])


def test_custom_policy_file_and_unknown_slot(tmp_path: Path) -> None:
    good = tmp_path / "p.toml"
    good.write_text(
        '[meta]\ntask = "bias"\n[vocab]\nx = ["a", "b"]\nsafe_x = ["c", "d"]\n'
        '[[policy]]\nid = "t.p"\ncategory = "gender"\nprinciple = "rule"\n'
        '[[template]]\nid = "t1"\ncount = 2\nparaphrase = false\nunsafe = "u ${x}"\nsafe = "s ${safe_x}"\n'
    )
    items = generate_items("bias", policy_file=good)
    pairs = {(i.text, i.counterpart) for i in items if i.label == "unsafe"}
    assert pairs <= {("u a", "s c"), ("u b", "s d")} and pairs
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace("${safe_x}", "${nope}"))
    with pytest.raises(TemplateError):
        generate_items("bias", policy_file=bad)
