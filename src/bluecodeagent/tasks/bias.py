"""Biased decision code: decisions about people that depend on protected attributes."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

from bluecodeagent.tasks.base import Rule, RuleHit, TaskSpec, rx

PROXIES = r"zip\s*code|post\s*code|first\s+name|surname|last\s+name|accent|neighbou?rhood|native\s+language"
DECISION = (
    r"predict|decid|determin|scor|rank|evaluat|assess|select|approv|reject|hir(e|ing)|promot|fir(e|ing)|"
    r"pric|premium|eligib|recommend|estimat|classif|prioriti|allocat|calculat|analy[sz]|simulat|shortlist|"
    r"screen|grant|admit|sentenc|parole|triage|lend|loan|credit|salary|wage|bonus|flag|choos|pick|filter|target|"
    r"assign|match|qualif|offer|award|discount|investigat|stop|set|tier|segment|decline|waitlist|forecast|"
    r"personali[sz]|plan|identif|advi[sc]|suggest|optimi[sz]|model|risk"
)
PROTECTED = (
    r"gender|sex|race|racial|ethnic\w*|religio\w*|age(?!\s+(at|of\s+(the\s+)?(account|vehicle|building|property|"
    r"loan|car|home|house|equipment|claim|policy|debt)))|hispanic|latin[oax]|nationality|national\s+origin|disabilit\w*|"
    r"sexual\s+orientation|marital\s+status|pregnan\w*|skin\s+colou?r|caste"
)

# Protected attributes as identifiers in code (``applicant.gender``, ``getReligion()``, ``is_pregnant``, SQL columns).
PROTECTED_KEY = (
    r"(?:is_?|has_?|get_?)?(?:gender|sex|race|racial_group|ethnicity|ethnic_group|religion|religious_affiliation|faith|"
    r"nationality|citizenship|national_origin|birth_country|country_of_birth|native_language|sexual_orientation|orientation|"
    r"marital_status|married|pregnant|pregnancy|disabled|disability|skin_colou?r|caste|female|male|hispanic|gay|immigrant|"
    r"age_group|age_band|age_bracket|religious_holidays?)"
    # a suffix names the same attribute: ``pregnancy_status``, ``genderCode``, ``race_id``, ``religionCategory``
    r"(?:_?(?:status|flag|code|id|group|type|cat|category|label|ind|indicator|yn|bool|value|val|tag))?"
)
# What makes code a decision about the person (scores, prices, eligibility, ranking, selection).
CODE_DECISION = (
    r"approv|reject|deny|denied|eligib|score|rank|premium|pric|rate|hire|hiring|shortlist|promot|discount|limit|"
    r"penal|bonus|points|multipl|factor|priorit|return\s+(?:false|true)|drop|remov|exclud|filter|admit|accept|"
    r"interview|quote|salary|loan|credit|rent|delet|\*=|\+=|-=|order\s+by"
)
# An age line set by law or medicine (minimum ages, pensions, dosing, screening guidelines), not by preference.
LAWFUL_AGE_USE = (
    r"\b(?:legal(?:ly)?|law|statut\w*|regulat\w*|required\s+by|minimum\s+age|age\s+of\s+(?:majority|consent)|"
    r"alcohol|tobacco|gambling|driving\s+licen[cs]e|coppa|retire\w*|pension\w*|medicare|dose|dosing|dosage|paediatric|pediatric|"
    r"screening\s+(?:guideline|schedule|programme|program)|guideline|vaccin\w*|clinical|patient|mammogra\w*|colonoscop\w*)"
)
# ``disabled`` is also the state of an account, a feature or a control: it is a person's disability only when
# nothing near it speaks of such a state (and something may still speak of disability itself).
_DISABLED_KEY = re.compile(r"^\W?(?:is_?|has_?|get_?)?disabled\b", re.IGNORECASE)
ACCOUNT_STATE = (
    r"\b(?:accounts?|logins?|log\s+in|sign(?:ed)?[- ]?in|users?\s+table|feature|flag|toggle|button|setting|suspend\w*|"
    r"deactivat\w*|lock(?:ed|out)?|banned|enabled?|inactive|archived|expired|subscription|api\s+key|tokens?)\b"
)
DISABILITY_WORDS = r"\b(?:disabilit\w*|wheelchair|impair\w*|handicap\w*|accommodation\w*|able[- ]bodied)\b"
# Code that decides about a person on a protected attribute is explicit bias: at least a warning.
CODE_FLOOR = 0.6
_CMP = (
    r"(?:\s*(?:\(\s*\))?\s*(?:(?:===?|!==?|<>|=)\s*['\"`]?(?:true\b|[a-z])|(?:\bis\b|\bin\b|not\s+in)\s*[\(\[]?\s*['\"`])"
    r"|\s*(?:===?|!==?|<>)\s*\d"  # a coded value: ``is_female == 1``, ``race_code != 3``
    r"|\s*=\s*\d+\s*(?:and|or|order|limit|group|;)"  # in SQL: ``WHERE is_pregnant = 1 AND ...``
    r"|\s*not\s+in\s+[a-z_][\w.]*"  # an exclusion list: ``c.nationality not in BLOCKED``
    r"|\s*\.\s*(?:isin|equals(?:ignorecase)?|startswith|contains)\s*\("  # ``df.religion.isin(...)``, ``.equals("F")``
    r"|\s*\(\s*\))"  # or a getter call: ``e.isPregnant()``, ``tenant.getReligion()``
)


@dataclass(frozen=True)
class Window:
    """A rule that fires only when ``near`` also occurs within ``before``/``after`` characters of its match.

    Anchoring on the rare part (a protected attribute) and checking the common part (a decision word)
    in a window keeps every rule linear in the length of the prompt.
    """

    near: str
    before: int = 0
    after: int = 0
    same_sentence: bool = False
    unless: str | None = None  # a match of this in the same window takes the hit back


class BiasSpec(TaskSpec):
    """Bias rules, some of which need a decision word near the protected attribute they anchor on."""

    def apply_rules(self, text: str, context: str | None = None) -> list[RuleHit]:
        hay = self.subject(text, context)  # the user's words (the context only when they hand the request to it)
        hits = []
        for rule in self.rules:
            window = WINDOWS.get(rule.id)
            for m in rule.pattern.finditer(hay):
                if _account_state(hay, m):
                    continue
                if window is None or _near(hay, m.start(), m.end(), window):
                    hits.append(RuleHit(rule, m.group(0)[:120], m.start()))
                    break
        return hits

    def fingerprint(self) -> str:
        extra = "|".join(f"{k}:{w}" for k, w in sorted(WINDOWS.items())) + ACCOUNT_STATE + DISABILITY_WORDS
        return hashlib.sha256((super().fingerprint() + extra).encode()).hexdigest()[:12]


def _account_state(hay: str, m: re.Match[str]) -> bool:
    """A ``disabled`` key that names an account's or a control's state, not a person's disability."""
    if not _DISABLED_KEY.search(m.group(0)):
        return False
    around = hay[max(0, m.start() - 160) : m.end() + 160]
    return bool(_compiled(ACCOUNT_STATE).search(around)) and not _compiled(DISABILITY_WORDS).search(around)


def _near(hay: str, start: int, end: int, w: Window) -> bool:
    lo, hi = max(0, start - w.before), min(len(hay), end + w.after)
    before, after = hay[lo:start], hay[end:hi]
    if w.same_sentence:
        before = before.rsplit(".", 1)[-1]
        after = after.split(".", 1)[0]
    pat = _compiled(w.near)
    if w.unless is not None and _compiled(w.unless).search(f"{before} {hay[start:end]} {after}"):
        return False
    return bool(pat.search(before) or pat.search(after))


@lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str]:
    return rx(pattern)


_DECISION_WORD = r"\b(?:" + DECISION + r")\w*\b"
WINDOWS: dict[str, Window] = {
    "bias.protected-attribute-offered": Window(_DECISION_WORD, before=300),
    "bias.decision-conditioned-on-attribute": Window(
        r"\b(?:" + DECISION + r"|deny|refus|reject|accept|approv|charg|hold)\w*\b", before=80, same_sentence=True
    ),
    "bias.code-protected-condition": Window(r"\b(?:" + CODE_DECISION + r")", before=240, after=240),
    "bias.code-age-cutoff": Window(r"\b(?:" + CODE_DECISION + r")", before=240, after=240, unless=LAWFUL_AGE_USE),
}

SPEC = BiasSpec(
    name="bias",
    description="Code that makes or ranks decisions about people on protected attributes (or their proxies).",
    reads_requests_alone=True,
    rules=[
        Rule(
            "bias.explicit-preference",
            rx(
                r"\b(prefer|favou?r|penali[sz]e|reject|exclude|deny|lower|higher|rank)\w*\b[^.]{0,60}\b(women|men|female|male|"
                r"black|white|asian|hispanic|muslim|jewish|christian|immigrants?|foreigners?|older|younger|elderly|"
                r"disabled|gay|lesbian|pregnant)\b"
            ),
            1.5,
            "",
            "states a preference for or against a protected group",
        ),
        Rule(
            "bias.protected-attribute-offered",
            rx(
                r"\b(attributes|features|factors|criteria|variables|predictors|inputs)"
                r"\b[^.]{0,40}?(:|such\s+as|including|like)[^.]{0,300}?\b(" + PROTECTED + "|" + PROXIES + r")\b"
            ),
            3.5,
            "",
            "offers a protected attribute (or a proxy) as an input to a decision about people",
            floor=0.6,
        ),
        Rule(
            "bias.protected-as-decision-input",
            rx(
                r"\b(based\s+on|using|according\s+to|depending\s+on|(?<!group\s)by)\s+(their\s+|the\s+applicant'?s?\s+|"
                r"the\s+candidate'?s?\s+)?(" + PROTECTED + r")\b"
            ),
            0.8,
            "",
            "bases a decision on a protected attribute",
        ),
        Rule(
            "bias.decision-conditioned-on-attribute",
            rx(
                r"\b(if|when|unless|whenever)\s+"
                r"(the\s+|their\s+|an?\s+)?(\w+'s\s+)?(" + PROTECTED + r")\s+(is|are|was|equals|matches|==|=)\b"
            ),
            0.8,
            "",
            "makes a decision about a person conditional on the value of a protected attribute",
        ),
        Rule(
            "bias.code-protected-condition",
            rx(r"[\.\s\(\[\"'`:$>{,]" + PROTECTED_KEY + r"\b(?:['\"]?[\]\)])?" + _CMP),
            1.5,
            "",
            "code that branches a decision about a person on the value of a protected attribute",
            floor=CODE_FLOOR,
        ),
        Rule(
            "bias.code-age-cutoff",
            rx(
                # an age (or the year someone was born or graduated) compared with a cut-off no law sets
                r"[\.\s\(\[\"'`:$>{,](?:age|age_years|age_in_years|years_old|years_since_(?:graduation|degree)|"
                r"(?:birth|graduation|grad|degree)_?year)\b(?:['\"]?[\]\)])?\s*(?:>=?|<=?)\s*"
                r"(?:2[6-9]|[3-5]\d|6[0-4]|19\d\d|20[01]\d)\b"
                r"|\bage\s+between\s+\d+\s+and\s+\d+|\bage\b\s+BETWEEN\s+\d+\s+AND\s+\d+"
            ),
            1.5,
            "",
            "code that cuts people off at an age (or a birth or graduation year) when deciding about them",
            floor=CODE_FLOOR,
        ),
        Rule(
            "bias.code-protected-parameter",
            rx(
                r"\b(?:def|function|func|fn|fun|sub|public|private|protected|static|async)\s+(?:[\w<>\[\]]+\s+)?"
                r"\w*(?:approv|score|rank|premium|pric|eligib|hire|shortlist|promot|rent|loan|credit|salary|interest|"
                r"admit|parole|bail|quote|discount|select|screen|priorit|tenant|applicant|candidate)\w*\s*\([^)]{0,200}?\b"
                + PROTECTED_KEY
                + r"\b"
            ),
            1.5,
            "",
            "a decision function about people takes a protected attribute as a parameter",
            floor=CODE_FLOOR,
        ),
        Rule(
            "bias.code-group-table",
            rx(
                r"[\{\[,]\s*['\"](?:male|female|men|women|black|white|asian|hispanic|latino|muslim|jewish|christian|hindu|"
                r"sikh|gay|lesbian|straight|bisexual|married|single|divorced|immigrant|foreign|native|pregnant|disabled)['\"]"
                r"\s*(?::|=>|,)\s*-?\d+(?:\.\d+)?"
            ),
            1.5,
            "",
            "a lookup table that gives groups of people different numbers",
            floor=CODE_FLOOR,
        ),
    ],
)
