"""`bluecode redteam`: generate, attack, validate, and feed what was found into the knowledge base."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from bluecodeagent.cli.kb import kb_options
from bluecodeagent.cli.options import build_settings, llm_endpoint_options
from bluecodeagent.config import Settings
from bluecodeagent.errors import InputError
from bluecodeagent.knowledge.store import KnowledgeBase

TASKS = click.Choice(["bias", "malicious", "injection"])
OPT_TASKS = click.Choice(["malicious", "bias"])


def _settings(config_file: Path | None, kb_path: Path | None, **llm: Any) -> Settings:
    return build_settings(config_file, kb_path=kb_path, **llm)


def _kb(settings: Settings) -> KnowledgeBase:
    from bluecodeagent.kb_open import open_kb

    return open_kb(settings)


def _engine(settings: Settings, kb: KnowledgeBase) -> Any:
    from bluecodeagent.engines.offline import OfflineEngine

    return OfflineEngine(kb, settings)


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def _bar(total: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="seed", disable=None, file=sys.stderr)


@click.group()
def redteam() -> None:
    """Red teaming that grows the knowledge base.

    \b
      bluecode redteam generate --policy malicious --n 200 --out items.jsonl
      bluecode redteam optimize --task malicious --budget 40 --out found.jsonl
      bluecode redteam vulns --cwe CWE-22 --cwe CWE-89 --out pairs.jsonl
      bluecode redteam loop --task malicious --batch rt-2026-11 --review require
      bluecode redteam add rt-2026-11.review.jsonl --batch rt-2026-11
      bluecode redteam undo rt-2026-11
    Offline by default; a model is used only with --llm-base-url/--llm-model (or settings).
    """


@redteam.command()
@click.option("--policy", required=True, help="A policy file, or a shipped policy: bias, malicious, injection.")
@click.option("--task", "-t", type=TASKS, help="Task of the policy (default: the file's [meta] task).")
@click.option("--n", "n", type=click.IntRange(1, 100_000), default=100, show_default=True, help="Unsafe items.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True, help="JSONL items.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (0 renders the shipped items).")
@click.option("--batch", help="Batch name stored with every item (default: redteam-generate-<task>-<time>).")
@click.option("--llm", "use_llm", is_flag=True, help="Let the configured model write the items (opt-in).")
@llm_endpoint_options
@kb_options
def generate(
    policy: str,
    task: str | None,
    n: int,
    out: Path,
    seed: int,
    batch: str | None,
    use_llm: bool,
    llm_base_url: str | None,
    llm_model: str | None,
    llm_structured_output: str | None,
    kb_path: Path | None,
    config_file: Path | None,
) -> None:
    """Diverse unsafe items and matched safe hard negatives from a policy, near-duplicates removed."""
    from bluecodeagent.kb_open import settings_embedder
    from bluecodeagent.redteam.diversify import dedup_items, generate, load_policy_doc
    from bluecodeagent.redteam.provenance import check_batch_name, default_batch

    s = _settings(config_file, kb_path, llm_base_url=llm_base_url, llm_model=llm_model,
                  llm_structured_output=llm_structured_output)  # fmt: skip
    doc_task, doc = load_policy_doc(policy, task)
    batch = check_batch_name(batch or default_batch("generate", doc_task))
    embedder = settings_embedder(s)
    if use_llm:
        from bluecodeagent.llm.factory import backend_from_settings
        from bluecodeagent.redteam.llmgen import llm_generate

        engine = _engine(s, _kb(s))
        backend = backend_from_settings(s)

        def prelabel(texts: list[str]) -> list[float]:
            return [v.score for v in engine.check_many([(t, None) for t in texts], doc_task)]

        raw = llm_generate(doc, doc_task, backend, prelabel, n=n, seed=seed, batch=batch,
                           warn_threshold=s.warn_threshold)  # fmt: skip
        items, dropped = dedup_items(raw, embedder)
        flagged = sum(bool(it.provenance.get("disagreement")) for it in items)
        click.echo(f"model wrote {len(raw)} item(s); {flagged} disagree with the offline pre-label", err=True)
    else:
        res = generate(policy, task=doc_task, n=n, seed=seed, batch=batch, embedder=embedder)
        items, dropped = res.items, res.near_duplicates
    _write_jsonl(out, [it.model_dump() for it in items])
    unsafe = [it for it in items if it.label != "safe"]
    cats = sorted({it.category for it in unsafe})
    paired = {it.category for it in items if it.label == "safe"}
    click.echo(
        f"wrote {len(unsafe)} unsafe and {len(items) - len(unsafe)} safe item(s) to {out} (batch {batch}); "
        f"{dropped} near-duplicate(s) removed; {len(cats)} categories, "
        f"{sum(c in paired for c in cats)} with safe counterparts"
    )


@redteam.command()
@click.option("--seeds", default="shipped", show_default=True, help="Seed file (JSONL or TOML), or 'shipped'.")
@click.option("--task", "-t", type=OPT_TASKS, required=True)
@click.option("--target", type=click.Choice(["offline", "llm"]), default="offline", show_default=True)
@click.option("--budget", type=click.IntRange(2, 10_000), default=40, show_default=True, help="Queries per seed.")
@click.option("--beam", type=click.IntRange(1, 50), default=3, show_default=True)
@click.option("--depth", type=click.IntRange(1, 10), default=3, show_default=True, help="Longest mutation chain.")
@click.option("--mutators", "mutator_list", help="Comma-separated mutator names (default: all registered).")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Findings JSONL.")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path), help="Summary JSON.")
@click.option("--seed", "run_seed", type=int, default=0, show_default=True)
@llm_endpoint_options
@kb_options
def optimize(
    seeds: str,
    task: str,
    target: str,
    budget: int,
    beam: int,
    depth: int,
    mutator_list: str | None,
    out: Path,
    report_file: Path | None,
    run_seed: int,
    llm_base_url: str | None,
    llm_model: str | None,
    llm_structured_output: str | None,
    kb_path: Path | None,
    config_file: Path | None,
) -> None:
    """Search mutations of seed attacks that the target lets through; ASR per operator and category."""
    from bluecodeagent.redteam import optimize as opt
    from bluecodeagent.redteam.mutators import mutators
    from bluecodeagent.redteam.seeds import load_seeds

    s = _settings(config_file, kb_path, llm_base_url=llm_base_url, llm_model=llm_model,
                  llm_structured_output=llm_structured_output)  # fmt: skip
    names = [m.strip() for m in mutator_list.split(",") if m.strip()] if mutator_list else None
    try:
        mutators(names)
    except KeyError as e:
        raise InputError(str(e).strip("'\"")) from e
    seed_list = load_seeds(seeds, task)
    engine = _engine(s, _kb(s))
    if target == "llm":
        from bluecodeagent.llm.factory import backend_from_settings

        tgt: Any = opt.ModelTarget(backend_from_settings(s), engine, warn_threshold=s.warn_threshold)
    else:
        tgt = opt.DetectorTarget(engine)
    with _bar(len(seed_list), "optimising") as bar:
        results = opt.optimize(seed_list, tgt, budget=budget, beam=beam, depth=depth, mutator_names=names,
                               run_seed=run_seed, progress=bar.update)  # fmt: skip
    records = opt.finding_records(results, tgt.name, run_seed)
    _write_jsonl(out, records)
    rep = opt.summarize(results, tgt.name)
    if report_file:
        report_file.write_text(rep.model_dump_json(indent=2), encoding="utf-8")
    click.echo(render_optimize(rep))
    click.echo(optimize_written(records, out))
    if note := untried_note(rep, len(mutators(names)), budget):
        click.echo(note, err=True)


def optimize_written(records: list[dict[str, Any]], out: Path) -> str:
    """What the findings file holds: evasions, and the best attempts of seeds that held."""
    evasions = sum(bool(r["success"]) for r in records)
    held = len(records) - evasions
    line = f"{len(records)} record(s) written to {out}: {evasions} evasion(s) (success true)"
    return line + (f", {held} best attempt(s) of seeds that held (success false)" if held else "")


def untried_note(rep: Any, available: int, budget: int) -> str | None:
    """Say when the query budget, not the search, left operators untried."""
    tried = len(rep.per_operator)
    if not rep.caught_at_baseline or tried >= available or budget - 1 >= available:
        return None  # a mutation that left a text unchanged is not a budget problem
    return (
        f"note: {tried} of {available} operators were tried: each seed's budget of {budget} queries covers its "
        f"unmutated baseline and {budget - 1} mutation(s); use --budget {available + 1} or more to try every operator"
    )


def render_optimize(rep: Any) -> str:
    """The optimisation summary as markdown tables."""
    lines = [
        f"target {rep.target}: {rep.successes}/{rep.caught_at_baseline} seeds caught unmutated were evaded "
        f"(ASR {rep.asr:.2f}); {rep.seeds - rep.caught_at_baseline} seed(s) already missed; {rep.queries} queries",
        "",
        "| operator | tried | ASR alone | in winning chains |",
        "|---|---|---|---|",
    ]
    for op, m in rep.per_operator.items():
        lines.append(f"| {op} | {int(m['tried'])} | {m['asr_alone']:.2f} | {int(m['in_winning_chains'])} |")
    lines += ["", "| category | seeds | evaded | ASR |", "|---|---|---|---|"]
    for cat, m in rep.per_category.items():
        lines.append(f"| {cat} | {int(m['seeds'])} | {int(m['successes'])} | {m['asr']:.2f} |")
    return "\n".join(lines)


@redteam.command()
@click.option("--cwe", "cwes", multiple=True, help="CWE to generate pairs for (repeatable; default: every card).")
@click.option("--per-cwe", type=click.IntRange(1, 50), default=8, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Validated pairs.")
@click.option("--jobs", "-j", type=click.IntRange(1, 16), default=1, show_default=True)
@click.option("--add", "add_batch", help="Also add the validated pairs to the knowledge base as this batch.")
@kb_options
def vulns(
    cwes: tuple[str, ...],
    per_cwe: int,
    seed: int,
    out: Path,
    jobs: int,
    add_batch: str | None,
    kb_path: Path | None,
    config_file: Path | None,
) -> None:
    """Vulnerable/secure pairs from the CWE cards, kept only when the sandbox validates them."""
    from collections import Counter

    from bluecodeagent.knowledge.cards import get_card
    from bluecodeagent.redteam.provenance import check_batch_name, only_new, record_batch
    from bluecodeagent.redteam.vulns import sandbox_validate, validated_items, vulnerable_pairs

    unknown = [c for c in cwes if get_card(c) is None]
    if unknown:
        raise InputError(f"no CWE card for {', '.join(unknown)} (see src/bluecodeagent/knowledge/cards/)")
    batch = check_batch_name(add_batch) if add_batch else "redteam-vulns"
    results = sandbox_validate(vulnerable_pairs(list(cwes) or None, seed, per_cwe), jobs=jobs, progress=True)
    items = validated_items(results, batch)
    records = []
    for bad, good, chk in results:
        records.append({"ok": chk.ok, "check": chk.model_dump(), "vulnerable": bad.text, "secure": good.text})
    _write_jsonl(out, [r for r in records if r["ok"]])
    ok, total = Counter(), Counter()
    for _, _, chk in results:
        total[chk.cwe] += 1
        ok[chk.cwe] += chk.ok
    click.echo("| CWE | pairs | validated | security test |\n|---|---|---|---|")
    tests = {chk.cwe: chk.security_test or "none" for _, _, chk in results}
    for cwe in sorted(total, key=lambda c: int(c.split("-")[1])):
        click.echo(f"| {cwe} | {total[cwe]} | {ok[cwe]} | {tests[cwe]} |")
    click.echo(f"{sum(ok.values())} of {len(results)} pairs validated for {sum(v > 0 for v in ok.values())} CWEs; "
               f"written to {out}")  # fmt: skip
    if add_batch and items:
        s = _settings(config_file, kb_path)
        base = _kb(s)
        fresh = only_new(base, items)
        if len(fresh) < len(items):
            click.echo(f"{len(items) - len(fresh)} validated item(s) were already in the knowledge base", err=True)
        n = base.add(fresh, progress=True)
        record_batch(base, batch, {"command": "redteam vulns", "items": n, "cwes": sorted(ok)})
        click.echo(f"added {n} item(s) to {base.path} as batch {batch}")


@redteam.command()
@click.option("--task", "-t", type=OPT_TASKS, required=True)
@click.option("--seeds", default="shipped", show_default=True, help="Seed file (JSONL or TOML), or 'shipped'.")
@click.option("--budget", type=click.IntRange(2, 10_000), default=40, show_default=True, help="Queries per seed.")
@click.option("--batch", help="Batch name (default: redteam-loop-<task>-<time>).")
@click.option("--review", type=click.Choice(["skip", "require"]), default="require", show_default=True)
@click.option("--review-file", type=click.Path(dir_okay=False, path_type=Path), help="Where to write the review.")
@click.option("--generate", "n_generate", type=click.IntRange(0, 100_000), default=0, show_default=True,
              help="Also add this many new policy-generated unsafe items (with safe counterparts).")  # fmt: skip
@click.option("--seed", "run_seed", type=int, default=0, show_default=True)
@kb_options
def loop(
    task: str,
    seeds: str,
    budget: int,
    batch: str | None,
    review: str,
    review_file: Path | None,
    n_generate: int,
    run_seed: int,
    kb_path: Path | None,
    config_file: Path | None,
) -> None:
    """Attack the offline detectors, add what got through (after review), and measure again."""
    from bluecodeagent.redteam.loop import run_loop
    from bluecodeagent.redteam.provenance import check_batch_name, default_batch
    from bluecodeagent.redteam.seeds import load_seeds

    s = _settings(config_file, kb_path)
    batch = check_batch_name(batch or default_batch("loop", task))
    seed_list = load_seeds(seeds, task)
    base = _kb(s)
    extra = []
    if n_generate:
        from bluecodeagent.redteam.diversify import generate as gen

        extra = gen(task, n=n_generate, seed=run_seed + 101, batch=batch, embedder=base.require_embedder()).items
    with _bar(len(seed_list) * (1 if review == "require" else 2), "loop") as bar:
        rep = run_loop(base, s, seed_list, batch=batch, review=review, review_path=review_file,  # type: ignore[arg-type]
                       budget=budget, run_seed=run_seed, extra_items=extra, seeds_source=seeds,
                       progress=bar.update)  # fmt: skip
    click.echo(render_optimize(rep.before))
    click.echo(f"\n{rep.evasions} evasion(s) found; {rep.items} item(s) proposed for batch {rep.batch}")
    if rep.review_file:
        click.echo(
            f'review them in {rep.review_file} (set "review" to accept or reject), then:\n'
            f"  bluecode redteam add {rep.review_file} --batch {rep.batch}"
        )
        return
    click.echo(f"added {rep.added} item(s) to {base.path} as batch {rep.batch}")
    click.echo(f"undo with: bluecode redteam undo {rep.batch}")
    if rep.after is not None:
        caught = rep.evasions_caught_after
        click.echo(
            f"after: {caught}/{rep.evasions} found evasions are now caught; a new run from the same seeds: "
            f"ASR {rep.before.asr:.2f} -> {rep.after.asr:.2f}"
        )


@redteam.command(name="add")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--batch", required=True, help="Batch name for these items (undo: bluecode redteam undo BATCH).")
@click.option("--accept-pending", is_flag=True, help="Treat items still marked pending as accepted.")
@kb_options
def add(file: Path, batch: str, accept_pending: bool, kb_path: Path | None, config_file: Path | None) -> None:
    """Add reviewed (or generated) items to the knowledge base as one batch."""
    from bluecodeagent.redteam.provenance import check_batch_name, only_new, record_batch
    from bluecodeagent.redteam.review import read_items

    check_batch_name(batch)
    items, counts = read_items(file, accept_pending=accept_pending)
    if not items:
        raise InputError(f"{file}: nothing accepted to add")
    items = [it.model_copy(update={"batch": batch, "provenance": {**it.provenance, "batch": batch}}) for it in items]
    base = _kb(_settings(config_file, kb_path))
    fresh = only_new(base, items)
    if len(fresh) < len(items):
        click.echo(f"{len(items) - len(fresh)} item(s) already in the knowledge base were skipped", err=True)
    n = base.add(fresh, progress=True)
    record_batch(base, batch, {"command": "redteam add", "file": str(file), "items": n, "review": counts})
    click.echo(f"added {n} item(s) to {base.path} as batch {batch} ({counts['reject']} rejected in review)")


@redteam.command()
@click.argument("batch")
@kb_options
def undo(batch: str, kb_path: Path | None, config_file: Path | None) -> None:
    """Remove every item of a red-team batch (the ledger keeps a note that it was removed)."""
    from bluecodeagent.redteam.provenance import undo_batch

    base = _kb(_settings(config_file, kb_path))
    click.echo(f"removed {undo_batch(base, batch)} item(s) of batch {batch} from {base.path}")


@redteam.command(name="batches")
@kb_options
def list_batches(kb_path: Path | None, config_file: Path | None) -> None:
    """List the red-team batches recorded in the knowledge base."""
    from bluecodeagent.redteam.provenance import batches

    rows = batches(_kb(_settings(config_file, kb_path)))
    if not rows:
        click.echo("no red-team batches")
    for r in rows:
        click.echo(f"{r['batch']:<40} {r['status']:<8} items now {r['items_now']:<6} {r.get('command', '')} "
                   f"{r.get('added_at', '')}")  # fmt: skip
