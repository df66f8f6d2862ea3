"""The offline engine: retrieval, a learned detector, exact rules and an offline constitution.

No LLM and no network: the subject is embedded, its nearest unsafe and safe knowledge items are
retrieved, the detector combines classifier, neighbour margin and rule evidence into a score, and
the verdict carries the neighbours, the constitution and the signals that produced it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import fields

import numpy as np

from bluecodeagent.config import Settings
from bluecodeagent.engines.base import decide
from bluecodeagent.engines.cascade import FirstRead, first_read, merge
from bluecodeagent.engines.language import language_note
from bluecodeagent.engines.payload import PIECE_GATE, cut_wrappers
from bluecodeagent.knowledge import first_reader
from bluecodeagent.knowledge.constitution import (
    CUE_SOURCE,
    balance_of,
    build_constitution,
    counts_of,
    cue_balance,
    cue_principles_in,
    matched_cues,
)
from bluecodeagent.knowledge.detector import Scored, TaskDetector
from bluecodeagent.knowledge.item import KnowledgeItem
from bluecodeagent.knowledge.store import KnowledgeBase
from bluecodeagent.tasks import PROMPT_TASKS, RuleHit, TaskSpec, get_task
from bluecodeagent.tasks.wrappers import JAILBREAK
from bluecodeagent.verdict import Decision, Evidence, Finding, Neighbour, Principle, Status, Task, Verdict

SNIPPET_CHARS = 240
PIECE_CHARS = 1000  # a window is at most WINDOW_CHARS; a whole piece at most WHOLE_CHARS: shown in full
WRAPPER_FINDING = "jb.wrapper-like"
SEGMENT_RULES = {"injection": "inj.segment", "malicious": "mal.segment", "bias": "bias.segment"}
# A request sentence read alone (``TaskSpec.requests_alone``) decides only from here up: out of its context a
# sentence is judged harshly, so only a plainly harmful request alone counts. Diluted plain harm scores 0.98-1.00
# alone; at 0.9, fresh defensive requests whose context sat in another sentence (a honeypot, a bank's account
# lockout) scored 0.91 alone and were flagged (2026-12-03, docs/prompt-screening.md).
REQUEST_ALONE = 0.95


class OfflineEngine:
    """Decides prompt tasks from the knowledge base alone."""

    name = "offline"

    def __init__(self, kb: KnowledgeBase, settings: Settings) -> None:
        self.kb = kb
        self.settings = settings
        self._detectors: dict[str, TaskDetector] = {}
        self._readers: dict[str, first_reader.FirstReader | None] = {}

    def detector(self, task: str) -> TaskDetector:
        if task not in self._detectors:
            self._detectors[task] = TaskDetector.load_or_train(self.kb, task, self.settings.top_k)
        return self._detectors[task]

    def install_detector(self, task: str, detector: TaskDetector) -> None:
        """Use ``detector`` for ``task`` from the next check on (a replica installs a retrained one)."""
        self._detectors[task] = detector

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
        known = {} if known is None else known
        not_judged = getattr(spec, "not_judged", None)
        # A subject the task declines is not read at all (its verdict says why).
        judged = [not_judged is None or not not_judged(text, ctx) for text, ctx in records]
        pieces = [spec.segments(text, ctx) if ok else [] for (text, ctx), ok in zip(records, judged, strict=True)]
        hits = [spec.apply_rules(text, ctx) if ok else [] for (text, ctx), ok in zip(records, judged, strict=True)]
        weights = [sum(h.rule.weight for h in hs) for hs in hits]
        flat = [p for ps in pieces for p in ps]
        # Cues are read per piece (like the embedding), so the piece they sit in is the one they raise. A safe
        # frame stated in one piece does not reach the others: "we run honeypots ... [harm in plain words]"
        # would pass as defence (tried and measured on 2026-12-03, docs/prompt-screening.md).
        matched = [[matched_cues(p, task) for p in ps] for ps in pieces]
        counts = [[counts_of(m) for m in ms] for ms in matched]
        cues = np.asarray([balance_of(u, s) for cs in counts for u, s in cs], dtype=np.float64)
        sizes = [len(ps) for ps in pieces]
        rules = np.repeat(np.asarray(weights, dtype=np.float64), sizes)
        ruled = np.repeat([bool(hs) for hs in hits], sizes).astype(bool)
        read = self._first_read(det, flat, rules, cues, ruled)
        embedded = np.ones(len(flat), dtype=bool) if read is None else ~read.cleared
        vectors = self._embed([p for p, e in zip(flat, embedded, strict=True) if e], known)
        # Every embedded piece of every subject in one pass over the knowledge matrix.
        scored = det.score(vectors, rules[embedded], cues[embedded])
        if read is not None:
            scored = merge(read, scored, embedded)
        # A wrapper-like piece is judged on the request inside it. Pieces the first reader cleared (far below
        # the threshold, no rule, no unsafe cue) are not cut: there is nothing inside them to find.
        wrapper = scored.wrapper  # the wrapper is reported as it was read
        payloads = self._payloads(pieces, np.where(embedded, wrapper, 0.0), det, known, weights)
        cut = [p for ps in payloads for p in ps]
        changed = np.array([a != b for a, b in zip(flat, cut, strict=True)], dtype=bool)
        if changed.any():
            again = det.score(
                self._embed([p for p, c in zip(cut, changed, strict=True) if c], known),
                rules[changed],
                np.asarray([cue_balance(p, task) for p, c in zip(cut, changed, strict=True) if c], dtype=np.float64),
            )
            scored = Scored(*(np.array(getattr(scored, f.name)) for f in fields(Scored)))
            for f in fields(Scored):
                getattr(scored, f.name)[changed] = getattr(again, f.name)
            scored.wrapper = np.array(wrapper)
        alone, alone_scored = self._requests_alone(spec, records, judged, weights, known)
        alone_scored = scored.rows(0, 0) if alone_scored is None else alone_scored  # none read alone: no rows
        verdicts, offset, at = [], 0, 0
        for (text, ctx), ps, js, hs, ms, rs in zip(records, pieces, payloads, hits, matched, alone, strict=True):
            rows = _joined(scored.rows(offset, offset + len(ps)), alone_scored.rows(at, at + len(rs)))
            cleared = None if read is None else np.r_[read.cleared[offset : offset + len(ps)], np.zeros(len(rs), bool)]
            offset += len(ps)
            at += len(rs)
            cue_read = cue_principles_in(ps, ms, task) if ps else None
            verdicts.append(
                self._verdict(
                    task,
                    text,
                    ctx,
                    [*js, *rs],
                    rows,
                    hs,
                    cleared,
                    cut_from=[*ps, *rs],
                    cue_read=cue_read,
                    alone_at=len(ps),
                )
            )
        per_item = (time.perf_counter() - started) * 1000 / max(1, len(records))
        for v in verdicts:
            v.latency_ms = per_item
        return verdicts

    def _requests_alone(
        self,
        spec: TaskSpec,
        records: list[tuple[str, str | None]],
        judged: list[bool],
        weights: list[float],
        known: dict[str, np.ndarray],
    ) -> tuple[list[list[str]], Scored | None]:
        """Each subject's request sentences read alone, scored with the subject's rules and their own cues.

        A sentence's probability below ``REQUEST_ALONE`` is set to 0 (it never decides), so a sentence only
        raises a subject whose request alone is plainly harmful. A safe cue counts only in its own sentence:
        one stated elsewhere ("we run honeypots ... [notes] ... write a keylogger") does not reach it.
        """
        alone, cues, rules = [], [], []
        for (text, ctx), ok, w in zip(records, judged, weights, strict=True):
            kept = []
            for sentence in spec.requests_alone(text, ctx) if ok else []:
                kept.append(sentence)
                cues.append(balance_of(*counts_of(matched_cues(sentence, spec.name))))
                rules.append(w)
            alone.append(kept)
        flat = [s for ss in alone for s in ss]
        if not flat:
            return alone, None
        det = self.detector(spec.name)
        scored = det.score(
            self._embed(flat, known), np.asarray(rules, dtype=np.float64), np.asarray(cues, dtype=np.float64)
        )
        scored.probability = np.where(scored.probability >= REQUEST_ALONE, scored.probability, 0.0)
        return alone, scored

    def _payloads(
        self,
        pieces: list[list[str]],
        wrapper: np.ndarray,
        det: TaskDetector,
        known: dict[str, np.ndarray],
        rule_weights: list[float],
    ) -> list[list[str]]:
        """Each subject's pieces with wrapper-like ones replaced by their payload (see ``engines.payload``)."""
        threshold = det.wrapper_threshold
        if not (wrapper >= min(PIECE_GATE, threshold)).any():
            return pieces

        def reader(rules: float) -> Callable[[list[str]], tuple[np.ndarray, np.ndarray]]:
            def recognise(sentences: list[str]) -> tuple[np.ndarray, np.ndarray]:
                cues = np.array([cue_balance(s, det.task) for s in sentences], dtype=np.float64)
                alone = det.score(self._embed(sentences, known), rules, cues)
                return alone.wrapper, alone.probability

            return recognise

        out, offset = [], 0
        for ps, rules in zip(pieces, rule_weights, strict=True):
            read = wrapper[offset : offset + len(ps)]
            offset += len(ps)
            out.append(cut_wrappers(ps, read, threshold, reader(rules), self.settings.warn_threshold))
        return out

    def _first_read(
        self, det: TaskDetector, pieces: list[str], rules: np.ndarray, cues: np.ndarray, ruled: np.ndarray
    ) -> FirstRead | None:
        """The cascade's first reading (None when it is off or the task has no first reader)."""
        if not self.settings.prompt_cascade or not pieces:
            return None
        if det.task not in self._readers:
            self._readers[det.task] = first_reader.load_or_train(self.kb, det)
        reader = self._readers[det.task]
        return None if reader is None else first_read(reader, pieces, rules, cues, ruled)

    def _embed(self, texts: list[str], known: dict[str, np.ndarray]) -> np.ndarray:
        """Embed each distinct text once, adding the new vectors to ``known``."""
        if not texts:
            return np.zeros((0, self.kb.require_embedder().dim), dtype=np.float32)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            known.update(zip(missing, self.kb.require_embedder().embed(missing), strict=True))
        return np.stack([known[t] for t in texts])

    def _verdict(
        self,
        task: str,
        text: str,
        ctx: str | None,
        pieces: list[str],
        scored: Scored,
        hits: list[RuleHit],
        cleared: np.ndarray | None = None,
        cut_from: list[str] | None = None,
        cue_read: list[Principle] | None = None,
        alone_at: int | None = None,
    ) -> Verdict:
        """``pieces`` as judged; ``cut_from`` as cut from the subject (a wrapper-like piece: its payload is judged).

        ``cue_read``: the subject's cue principles as read from its pieces (read from the whole when None).
        ``alone_at``: where the request sentences read alone start in ``pieces`` (none when None).
        """
        cut_from = pieces if cut_from is None else cut_from
        not_judged = getattr(get_task(task), "not_judged", None)  # a task may decline a subject (issue 12)
        if not_judged is not None and (reason := not_judged(text, ctx)):
            return Verdict(
                task=Task(task),
                label="safe",
                score=0.0,
                decision=Decision.ALLOW,
                engine=self.name,
                status=Status.NOT_ANALYSED,
                status_reason=reason,
                evidence=Evidence(notes=[reason]),
            )
        best = _deciding(get_task(task), pieces, scored.probability)
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
        whole = get_task(task).subject(text, ctx)
        is_unsafe = score >= self.settings.warn_threshold
        # The cues come from every piece (the pieces cover the subject): a consent or a target can sit outside the
        # riskiest window.
        constitution = build_constitution(whole, [n[0] for n in unsafe], [n[0] for n in safe], task, cue_read)
        notes = _contradictions(constitution, is_unsafe, score, self.settings.warn_threshold)
        if (unread := language_note(whole)) is not None:
            notes.append(unread)
        category = _category(unsafe, hits) if is_unsafe else None
        findings = [_rule_finding(h, is_unsafe) for h in hits]
        wrapped = [h.match for h in hits if h.rule.category == JAILBREAK]
        w = int(np.argmax(scored.wrapper))
        if not wrapped and scored.wrapper[w] >= det.wrapper_threshold:  # no wrapper rule: the knowledge recognises one
            findings.append(_wrapper_finding(cut_from[w], float(scored.wrapper[w]), is_unsafe))
            wrapped = [cut_from[w][:80]]
        if cleared is not None and cleared.any():
            notes.append(
                f"{int(cleared.sum())} of {len(pieces)} piece(s) read by the first reader only (static word "
                "pieces, every one read; far below the warning threshold, no rule or unsafe cue): MiniLM not run"
                + (" on the deciding piece" if cleared[best] else "")
            )
        if wrapped:
            notes.append(
                f"jailbreak-style wrapper ({wrapped[0]!r}); a wrapper alone is not a risk: the request "
                f"inside was judged on its own, and the piece that decided scored {score:.2f}"
            )
        if alone_at is not None and best >= alone_at:
            notes.append(
                f"a request sentence read on its own scored {score:.2f}: what it asks for is judged without the "
                "rest of the request around it (claims, notes and filler do not dilute it)"
            )
        if pieces[best] != cut_from[best]:
            notes.append(
                "the deciding piece read like a wrapper: its wrapper sentences were set aside and the "
                f"request left in it was judged ({pieces[best][:80]!r})"
            )
        if is_unsafe and (len(pieces) > 1 or task == "injection"):
            findings.append(
                Finding(
                    rule_id=SEGMENT_RULES.get(task, f"{task}.segment"),
                    message="most suspicious passage of the context"
                    if task == "injection"
                    else "the riskiest part of the request",
                    severity="high",
                    confidence=score,
                    source="knowledge",
                    snippet=pieces[best][:PIECE_CHARS],
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
                notes=notes,
                deciding_piece=pieces[best][:PIECE_CHARS],
                deciding_index=best,
                signals={
                    "classifier_logit": round(float(scored.classifier[best]), 4),
                    "knn_margin": round(float(scored.knn_margin[best]), 4),
                    "rules": round(float(scored.rules[best]), 4),
                    "cues": round(float(scored.cues[best]), 4),
                    "segments": float(len(pieces)),
                    "minilm_pieces": float(len(pieces) if cleared is None else int((~cleared).sum())),
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


def _joined(a: Scored, b: Scored) -> Scored:
    """The rows of ``a`` followed by the rows of ``b``."""
    return Scored(*(np.concatenate([getattr(a, f.name), getattr(b, f.name)]) for f in fields(Scored)))


def _deciding(spec: TaskSpec, pieces: list[str], probability: np.ndarray) -> int:
    """The riskiest piece that asks for something; when no piece does, the riskiest of all.

    A long subject's windows include pure context (a story, a persuasion essay, a legal notice): such a
    window asks for nothing, and whatever it resembles, the request lives elsewhere.
    """
    asking = [i for i, p in enumerate(pieces) if spec.asks(p)] if len(pieces) > 1 else []
    if not asking:
        return int(np.argmax(probability))
    return max(asking, key=lambda i: float(probability[i]))


def _rule_finding(h: RuleHit, is_unsafe: bool) -> Finding:
    weightless = h.rule.weight <= 0  # reported, never decisive (e.g. a jailbreak wrapper)
    return Finding(
        rule_id=h.rule.id,
        message=h.rule.message,
        severity=("medium" if is_unsafe else "low") if weightless else "high" if h.rule.weight >= 2 else "medium",
        confidence=0.5 if weightless else min(1.0, h.rule.weight / 3),
        source="rule",
        snippet=h.match,
        details={"category": h.rule.category},
    )


def _wrapper_finding(piece: str, probability: float, is_unsafe: bool) -> Finding:
    """A wrapper recognised from the knowledge (no wrapper rule matched): reported, never decisive."""
    return Finding(
        rule_id=WRAPPER_FINDING,
        message="reads like a jailbreak or role-play wrapper (close to the wrapper knowledge)",
        severity="medium" if is_unsafe else "low",
        confidence=round(probability, 4),
        source="knowledge",
        snippet=piece[:SNIPPET_CHARS],
        details={"category": JAILBREAK},
    )


def _contradictions(principles: list[Principle], is_unsafe: bool, score: float, warn: float) -> list[str]:
    """Mark matched principles that point against the decision, and say why the decision stands."""
    notes = []
    against = "safe" if is_unsafe else "unsafe"
    for p in principles:
        if p.matched and p.kind == against and p.source.startswith(CUE_SOURCE):
            p.contradicts = True
            cue = ", ".join(repr(c) for c in p.cues[:2])
            if is_unsafe:
                why = f"the riskiest piece still scored {score:.2f} >= {warn:.2f}: what is asked for outweighs it"
            else:
                why = f"the score stayed at {score:.2f} < {warn:.2f}: the request is closer to legitimate examples"
            notes.append(f"principle {p.text!r} matched ({cue}) but {why}")
    return notes


def _category(unsafe: list[tuple[KnowledgeItem, Neighbour]], hits: list[RuleHit]) -> str | None:
    """The category with the most similarity mass among unsafe neighbours; a rule's category breaks ties."""
    votes: dict[str, float] = defaultdict(float)
    for it, n in unsafe:
        if it.category:
            votes[it.category] += max(n.similarity, 0.0)
    for h in hits:
        if h.rule.category and h.rule.weight > 0:
            votes[h.rule.category] += 0.5
    return max(votes, key=votes.__getitem__) if votes else None
