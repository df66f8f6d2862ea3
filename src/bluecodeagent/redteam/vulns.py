"""Vulnerable/secure example pairs generated offline from the CWE knowledge cards.

Each card's pair templates are rendered in several domains (billing, clinic, gallery, ...), giving
a vulnerable function and its patched twin that differ only in the guard. Items carry the card's
principle and provenance ``generator = "cwe-card-template"``. ``validate_pairs`` checks them with the
real static analyzer (the vulnerable twin flagged for its CWE, the secure twin not).
"""

from __future__ import annotations

import random
import re
from string import Template

from pydantic import BaseModel, Field

from bluecodeagent.code.dynamic.base import Probe, ProbeResult
from bluecodeagent.code.sandbox import Sandbox
from bluecodeagent.knowledge.cards import Card, load_cards
from bluecodeagent.knowledge.item import KnowledgeItem

GENERATOR = "cwe-card-template"
DOMAINS: tuple[dict[str, str], ...] = (
    {
        "entity": "invoice",
        "table": "invoices",
        "root": "/srv/billing/files",
        "field": "amount",
        "owner": "customer",
        "host": "billing.example.com",
    },
    {
        "entity": "note",
        "table": "patient_notes",
        "root": "/var/clinic/notes",
        "field": "diagnosis",
        "owner": "doctor",
        "host": "records.clinic.example",
    },
    {
        "entity": "photo",
        "table": "photos",
        "root": "/data/gallery",
        "field": "caption",
        "owner": "artist",
        "host": "cdn.gallery.example",
    },
    {
        "entity": "ticket",
        "table": "tickets",
        "root": "/opt/helpdesk/attachments",
        "field": "subject",
        "owner": "agent",
        "host": "support.example.org",
    },
    {
        "entity": "grade",
        "table": "grades",
        "root": "/srv/school/reports",
        "field": "score",
        "owner": "teacher",
        "host": "school.example.edu",
    },
    {
        "entity": "shipment",
        "table": "shipments",
        "root": "/var/lib/warehouse",
        "field": "weight",
        "owner": "clerk",
        "host": "logistics.example.net",
    },
)


def _names(domain: dict[str, str]) -> dict[str, str]:
    e = domain["entity"]
    return {**domain, "entities": domain["table"], "ENTITY": e.upper(), "Entity": e.title().replace("_", "")}


def render(template: str, domain: dict[str, str]) -> str:
    """Fill a card template (``$name`` placeholders) with a domain's names."""
    return Template(template).substitute(_names(domain)).strip() + "\n"


def card_pairs(card: Card, per_cwe: int = 8, seed: int = 0) -> list[tuple[str, str, str]]:
    """(scenario, vulnerable code, secure code) for one card: templates spread over seeded domains."""
    if not card.pairs:
        return []
    rng = random.Random(f"{seed}:{card.id}")
    per_template = max(1, -(-per_cwe // len(card.pairs)))
    out: list[tuple[str, str, str]] = []
    for tpl in card.pairs:
        for d in rng.sample(DOMAINS, min(per_template, len(DOMAINS))):
            out.append((f"{tpl.scenario} ({d['entity']})", render(tpl.vulnerable, d), render(tpl.secure, d)))
    return out[:per_cwe] if len(out) > per_cwe else out


def vulnerable_pairs(cwes: list[str] | None = None, seed: int = 0, per_cwe: int = 8) -> list[KnowledgeItem]:
    """Knowledge items (task "vulnerability"): each vulnerable example followed by its secure counterpart."""
    items: list[KnowledgeItem] = []
    for card in load_cards(cwes):
        for scenario, vuln, safe in card_pairs(card, per_cwe, seed):
            prov = {"generator": GENERATOR, "card": card.id, "scenario": scenario, "seed": seed}
            bad = KnowledgeItem(
                task="vulnerability",
                label="vulnerable",
                category=card.id,
                text=vuln,
                policy=card.id,
                principle=card.principle,
                provenance=prov,
            )
            good = KnowledgeItem(
                task="vulnerability",
                label="safe",
                category=card.id,
                text=safe,
                policy=card.id,
                principle=card.principle,
                provenance=prov,
                counterpart=bad.uid,
            )
            bad.counterpart = good.uid
            items += [bad, good]
    return items


class PairCheck(BaseModel):
    """Static-analyzer validation of one generated pair."""

    cwe: str
    scenario: str
    vulnerable_flagged: bool
    secure_clean: bool

    @property
    def ok(self) -> bool:
        return self.vulnerable_flagged and self.secure_clean


def validate_pairs(items: list[KnowledgeItem]) -> list[PairCheck]:
    """Run the real static analyzer on each pair: vulnerable twin flagged for its CWE, secure twin not."""
    from bluecodeagent.code.static.base import get_analyzer

    analyzer = get_analyzer("python")
    by_uid = {it.uid: it for it in items}
    out: list[PairCheck] = []
    for it in items:
        if it.label != "vulnerable" or it.counterpart not in by_uid:
            continue
        safe = by_uid[it.counterpart]
        flagged = any(f.cwe == it.category for f in analyzer.analyze(it.text))
        clean = not any(f.cwe == it.category for f in analyzer.analyze(safe.text))
        out.append(
            PairCheck(
                cwe=it.category,
                scenario=str(it.provenance.get("scenario", "")),
                vulnerable_flagged=flagged,
                secure_clean=clean,
            )
        )
    return out


class SandboxCheck(BaseModel):
    """Sandbox validation of one pair: the security test on both twins, the functional test on both."""

    cwe: str
    scenario: str
    function: str | None
    security_test: str | None = Field(description="probe or check used as the security test")
    vulnerable_security: str = Field(description="vulnerable | rejected | not_exercised (on the vulnerable twin)")
    secure_security: str = Field(description="outcome of the security test on the secure twin")
    vulnerable_functional: str = ""
    secure_functional: str = ""
    why: str = ""

    secure_refused: bool = Field(default=False, description="the secure twin refused the exploit inputs")

    @property
    def ok(self) -> bool:
        """Vulnerable twin fails the security test, secure twin passes it, both run on benign input.

        The secure twin passes when the test saw the attack neutralised (``rejected``) or when it
        refused every exploit input deliberately (ValueError/PermissionError) before any sink.
        """
        secure_passes = self.secure_security == "rejected" or (
            self.secure_security == "not_exercised" and self.secure_refused
        )
        return (
            self.vulnerable_security == "vulnerable"
            and secure_passes
            and bool(self.vulnerable_functional)
            and bool(self.secure_functional)
        )

    @property
    def same_behaviour(self) -> bool:
        """Both twins did the same on benign input (returned the same type or raised the same error)."""
        return bool(self.vulnerable_functional) and self.vulnerable_functional == self.secure_functional


def main_function(code: str) -> str | None:
    """The first public top-level function of a generated snippet."""
    import ast

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_"):
            return node.name
    return None


def sandbox_check_pair(vulnerable: KnowledgeItem, secure: KnowledgeItem, sandbox: Sandbox) -> SandboxCheck:
    """Run the CWE's security test and the functional test on both twins of one pair."""
    from bluecodeagent.code.scanner import runnable_source
    from bluecodeagent.redteam.vulnchecks import FUNCTIONAL, security_test

    cwe = vulnerable.category
    fn = main_function(vulnerable.text)
    test = security_test(cwe)
    base = {"cwe": cwe, "scenario": str(vulnerable.provenance.get("scenario", "")), "function": fn}
    if test is None or fn is None:
        why = "no security test for this CWE" if test is None else "no public function"
        return SandboxCheck(
            **base,
            security_test=None,
            vulnerable_security="not_exercised",
            secure_security="not_exercised",
            why=why,
        )
    outcomes, functional, notes = [], [], []
    for code in (vulnerable.text, secure.text):
        src = runnable_source(code)
        res = _run(test, sandbox, src, fn, cwe)
        outcomes.append(res.outcome)
        notes.append(res.evidence or res.why)
        f = _run(FUNCTIONAL, sandbox, src, fn, cwe)
        functional.append(f.evidence if f.outcome == "rejected" else "")
    return SandboxCheck(
        **base,
        security_test=test.name,
        vulnerable_security=outcomes[0],
        secure_security=outcomes[1],
        vulnerable_functional=functional[0],
        secure_functional=functional[1],
        why=" | ".join(n[:200] for n in notes),
        secure_refused=bool(_REFUSED.search(notes[1])) and "vulnerable" not in outcomes[1],
    )


_REFUSED = re.compile(r"\b(?:ValueError|PermissionError)\b")


def _run(test: Probe, sandbox: Sandbox, source: str, fn: str, cwe: str, attempts: int = 4) -> ProbeResult:
    """One sandboxed test run, retried when the sandbox could not start (shared process budget as root)."""
    import time

    for i in range(attempts):
        res = test.run(sandbox, source, fn, [], cwe)
        if "Resource temporarily unavailable" not in res.why:
            return res
        time.sleep(0.2 * (i + 1))
    return res


def sandbox_validate(
    items: list[KnowledgeItem], sandbox: Sandbox | None = None, *, jobs: int = 2, progress: bool = False
) -> list[tuple[KnowledgeItem, KnowledgeItem, SandboxCheck]]:
    """Validate every (vulnerable, secure) pair of ``items`` in the real sandbox (threads; runs are processes)."""
    from concurrent.futures import ThreadPoolExecutor

    from bluecodeagent.code.scanner import default_sandbox

    box = sandbox or default_sandbox()  # raises SandboxUnavailable with an install hint
    by_uid = {it.uid: it for it in items}
    pairs = [(it, by_uid[it.counterpart]) for it in items if it.label == "vulnerable" and it.counterpart in by_uid]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(pairs), desc="validating pairs", unit="pair", disable=None)

    def one(pair: tuple[KnowledgeItem, KnowledgeItem]) -> tuple[KnowledgeItem, KnowledgeItem, SandboxCheck]:
        out = (pair[0], pair[1], sandbox_check_pair(pair[0], pair[1], box))
        if bar:
            bar.update(1)
        return out

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        results = list(pool.map(one, pairs))
    if bar:
        bar.close()
    return results


def validated_items(
    results: list[tuple[KnowledgeItem, KnowledgeItem, SandboxCheck]], batch: str
) -> list[KnowledgeItem]:
    """Only the pairs that passed, stamped with the batch and their sandbox evidence."""
    out: list[KnowledgeItem] = []
    for bad, good, chk in results:
        if not chk.ok:
            continue
        ev = {
            "batch": batch,
            "security_test": chk.security_test,
            "functional": chk.vulnerable_functional,
            "validated": "sandbox",
        }
        for it in (bad, good):
            out.append(it.model_copy(update={"batch": batch, "provenance": {**it.provenance, **ev}}))
    return out
