"""Vulnerable/secure example pairs generated offline from the CWE knowledge cards.

Each card's pair templates are rendered in several domains (billing, clinic, gallery, ...), giving
a vulnerable function and its patched twin that differ only in the guard. Items carry the card's
principle and provenance ``generator = "cwe-card-template"``. ``validate_pairs`` checks them with the
real static analyzer (the vulnerable twin flagged for its CWE, the secure twin not).
"""

from __future__ import annotations

import random
from string import Template

from pydantic import BaseModel

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
