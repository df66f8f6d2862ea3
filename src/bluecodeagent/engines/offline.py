"""The offline engine: retrieval, a learned detector, exact rules and an offline constitution.

No LLM and no network: the subject is embedded, its nearest unsafe and safe knowledge items are
retrieved, the detector combines classifier, neighbour margin and rule evidence into a score, and
the verdict carries the neighbours, the constitution and the signals that produced it.
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np

from bluecodeagent.config import Settings
from bluecodeagent.engines.base import decide
from bluecodeagent.knowledge.constitution import build_constitution
from bluecodeagent.knowledge.detector import Scored, TaskDetector
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.knowledge.store import KnowledgeBase
from bluecodeagent.tasks import PROMPT_TASKS, RuleHit, get_task
from bluecodeagent.verdict import Evidence, Finding, Neighbour, Task, Verdict

SNIPPET_CHARS = 240


class OfflineEngine:
    """Decides prompt tasks from the knowledge base alone."""

    name = "offline"

    def __init__(self, kb: KnowledgeBase, settings: Settings) -> None:
        self.kb = kb
        self.settings = settings
        self._detectors: dict[str, TaskDetector] = {}

    def detector(self, task: str) -> TaskDetector:
        if task not in self._detectors:
            self._detectors[task] = TaskDetector.load_or_train(self.kb, task, self.settings.top_k)
        return self._detectors[task]

    def check(self, text: str, task: str, context: str | None = None) -> Verdict:
        return self.check_many([(text, context)], task)[0]

    def check_all(self, text: str, context: str | None = None) -> list[Verdict]:
        """Every prompt task for one subject, embedding each distinct piece once."""
        known: dict[str, np.ndarray] = {}
        return [self.check_many([(text, context)], task, known)[0] for task in PROMPT_TASKS]

    def check_many(
        self, records: list[tuple[str, str | None]], task: str, known: dict[str, np.ndarray] | None = None
    ) -> list[Verdict]:
        """Score many subjects with one batched embedding call (``known``: vectors already computed)."""
        spec = get_task(task)
        det = self.detector(task)
        started = time.perf_counter()
        pieces = [spec.segments(text, ctx) for text, ctx in records]
        vectors = self._embed([p for ps in pieces for p in ps], {} if known is None else known)
        hits = [spec.apply_rules(text, ctx) for text, ctx in records]
        weights = [sum(h.rule.weight for h in hs) for hs in hits]
        # Every piece of every subject in one pass over the knowledge matrix.
        scored = det.score(vectors, np.repeat(weights, [len(ps) for ps in pieces]))
        verdicts, offset = [], 0
        for (text, ctx), ps, hs in zip(records, pieces, hits, strict=True):
            rows = scored.rows(offset, offset + len(ps))
            offset += len(ps)
            verdicts.append(self._verdict(task, text, ctx, ps, rows, hs))
        per_item = (time.perf_counter() - started) * 1000 / max(1, len(records))
        for v in verdicts:
            v.latency_ms = per_item
        return verdicts

    def _embed(self, texts: list[str], known: dict[str, np.ndarray]) -> np.ndarray:
        """Embed each distinct text once, adding the new vectors to ``known``."""
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            known.update(zip(missing, self.kb.require_embedder().embed(missing), strict=True))
        return np.stack([known[t] for t in texts])

    def _verdict(
        self, task: str, text: str, ctx: str | None, pieces: list[str], scored: Scored, hits: list[RuleHit]
    ) -> Verdict:
        best = int(np.argmax(scored.probability))
        # An exact rule can set a minimum score: it is the one signal no paraphrase of the knowledge can outvote.
        score = max(float(scored.probability[best]), *(h.rule.floor for h in hits), 0.0)
        det = self.detector(task)
        unsafe = [
            self._neighbour(int(det.unsafe_rows[i]), s)
            for i, s in zip(scored.unsafe_top[best], scored.unsafe_sims[best], strict=True)
        ]
        safe = [
            self._neighbour(int(det.safe_rows[i]), s)
            for i, s in zip(scored.safe_top[best], scored.safe_sims[best], strict=True)
        ]
        constitution = build_constitution(pieces[best], [n[0] for n in unsafe], [n[0] for n in safe])
        is_unsafe = score >= self.settings.warn_threshold
        category = _category(unsafe, hits) if is_unsafe else None
        findings = [
            Finding(
                rule_id=h.rule.id,
                message=h.rule.message,
                severity="high" if h.rule.weight >= 2 else "medium",
                confidence=min(1.0, h.rule.weight / 3),
                source="rule",
                snippet=h.match,
                details={"category": h.rule.category},
            )
            for h in hits
        ]
        if task == "injection" and is_unsafe:
            findings.append(
                Finding(
                    rule_id="inj.segment",
                    message="most suspicious passage of the context",
                    severity="high",
                    confidence=score,
                    source="knowledge",
                    snippet=pieces[best][:SNIPPET_CHARS],
                )
            )
        return Verdict(
            task=Task(task),
            label="unsafe" if is_unsafe else "safe",
            score=score,
            decision=decide(score, self.settings.warn_threshold, self.settings.block_threshold),
            category=category,
            findings=findings,
            engine=self.name,
            evidence=Evidence(
                unsafe_neighbours=[n[1] for n in unsafe],
                safe_neighbours=[n[1] for n in safe],
                constitution=constitution,
                signals={
                    "classifier_logit": round(float(scored.classifier[best]), 4),
                    "knn_margin": round(float(scored.knn_margin[best]), 4),
                    "rules": round(float(scored.rules[best]), 4),
                    "segments": float(len(pieces)),
                },
            ),
        )

    def _neighbour(self, rowid: int, sim: float) -> tuple[KnowledgeItem, Neighbour]:
        it = self.kb.shared_item_at(rowid)
        return it, Neighbour(
            uid=it.uid,
            label=it.label,
            category=it.category,
            similarity=round(float(sim), 4),
            text=it.text[:SNIPPET_CHARS],
            policy=it.policy,
        )


def _category(unsafe: list[tuple[KnowledgeItem, Neighbour]], hits: list[RuleHit]) -> str | None:
    """The category with the most similarity mass among unsafe neighbours; a rule's category breaks ties."""
    votes: dict[str, float] = defaultdict(float)
    for it, n in unsafe:
        if it.category:
            votes[it.category] += max(n.similarity, 0.0)
    for h in hits:
        if h.rule.category:
            votes[h.rule.category] += 0.5
    return max(votes, key=votes.__getitem__) if votes else None
