"""The coverage map: which questions your stories answer, how well, and what to link next.

The guide's advice is that "story selection matters more than story polish": a Keeper-Test loop
is pass/fail, so one question with no good story can sink it. This module turns the bank's
records (questions, markers, stories with their links, each story's latest review verdict) into
a status per question, a per-marker summary and ranked link suggestions. It is pure: records
in, a `CoverageReport` out, no SQL and no terminal output, so the CLI, the Markdown and HTML
reports and the tests all read the same numbers. `load_coverage` is the one function that
touches the bank, and only through its public methods.

Statuses, per question (retired stories never count):

- ``gap``: no story is linked.
- ``thin``: fewer than two stories that *count*. A story counts when it is fresh (its ``when``
  is within the last 18 months, the guide's "pick two behavioral stories per question from your
  last 18 months") and its latest review did not fail. A story with no date is not stale, so it
  counts, but it is flagged as undated: the interviewer will ask when it happened.
- ``covered``: two or more stories that count.

Suggestions rank unlinked stories for each gap or thin question by BM25 (Robertson & Zaragoza)
over a small tokenizer: the question's text, tags, themes and marker names, with its probes at
half weight, against each story's title, STAR text, reflection and tags. Offline, deterministic
and fast enough for thousands of stories because the index is built once and only gap and thin
questions are scored.

`CoverageReport.to_json` is the `coverage --json` contract of DESIGN.md, extended:

    {"questions": [{"id", "markers", "stories": [story ids], "status": "gap|thin|covered",
                    "text", "levels", "counting": [ids that count], "reasons": [str],
                    "probing": str|null, "probes": [str],
                    "suggestions": [{"story", "title", "score", "relevance", "matches",
                                     "notes", "reason"}]}],          # gaps first, then thin
     "markers": [{"slug", "name", "stories": [story ids], "questions": [covered question ids],
                  "total": n questions probing it, "uncovered": [question ids]}],
     "bank": {"stories": active, "target": 15, "retired": n, "undated": [ids]},
     "summary": {"gap": n, "thin": n, "covered": n},
     "overused": [{"story", "title", "questions": [ids], "limit": 4}],
     "filters": {"role", "marker", "level"}, "today": "YYYY-MM-DD"}

A marker's `stories` and `questions` are id lists, not counts: a script can count a list but
cannot recover ids from a count. A story shows a marker when it is tagged with it or answers a
question that probes it.

With `--llm`, `propose_links` asks the model, in one request for the whole map, which of each
gap or thin question's top BM25 candidates (up to `LLM_CANDIDATES`) would really answer it.
The answer is validated, ids that were not offered for that question are dropped, and the run
is stored in the bank, which is also the cache: the same request is never paid for twice. The
JSON then has, per question, `"llm_suggestions": [{"story", "title", "reason", "confidence"}]`
and at the top `"llm": {"model", "questions", "skipped", "cached", "requests", "tokens_in",
"tokens_out", "cost_usd", "error"}`; without `--llm` neither key appears.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import compress, pairwise
from typing import TYPE_CHECKING, Any, Literal

from storycoach.errors import NotFoundError, StorycoachError
from storycoach.models import Marker, Question, StoredStory, Story, normalize_level

if TYPE_CHECKING:
    from storycoach.bank import Bank

Status = Literal["gap", "thin", "covered"]
Freshness = Literal["fresh", "stale", "undated"]

#: The guide: "pick two behavioral stories per question from your last 18 months".
FRESH_MONTHS = 18
STORIES_PER_QUESTION = 2
#: The guide's 4-week plan: "story bank (15+ stories)".
BANK_TARGET = 15
#: A story linked to more questions than this is overused. In the guide's loop about four
#: conversations draw on stories (the hiring manager, the director-led Dream Team round, and
#: senior-loop rounds such as reverse system design and the partner-incident walk-through; this
#: count is storycoach's reading, the guide gives no number). Past four, a story would be told
#: twice in one loop while the committee reads all the feedback side by side, so the repeat
#: shows and those questions are thinner than they look. `--accept` never links past it.
OVERUSE_LIMIT = 4
#: Suggestions shown per question: enough to choose from, few enough to read.
SUGGESTION_LIMIT = 3
#: A suggestion must share at least this many distinct words with the question, and reach this
#: relevance: its BM25 score as a fraction of the score of an ideal story that uses every word
#: of the question's query often. Raw BM25 grows with the bank (IDF does), so a raw floor would
#: be too strict for a 5-story bank and meaningless for a 500-story one; the fraction is not.
#: Calibrated on the seeded questions: stories that really answer one score 0.03-0.13, while
#: matches on two or three incidental words ("senior engineer", "project, goals") stay below.
MIN_MATCHED_TERMS = 2
MIN_RELEVANCE = 0.03
#: Stories that could not count once linked (stale, or latest review failed) rank at half
#: score: linking them does not close a gap the way a fresh, passing story does.
WEAK_STORY_PENALTY = 0.5

#: `--llm`: candidates the model sees per question (the top BM25 matches, no floor: the model
#: is there to judge fit beyond shared words), and questions per request (gaps first; the rest
#: are asked on a later run, once these are linked).
LLM_CANDIDATES = 5
LLM_MAX_QUESTIONS = 40
#: `--accept --llm` links a model proposal only at this confidence (1-5) or above: "answers it
#: with a different emphasis" at least, never "a stretch".
ACCEPT_MIN_CONFIDENCE = 3

STATUS_ORDER: dict[str, int] = {"gap": 0, "thin": 1, "covered": 2}


# -- records ------------------------------------------------------------------------------------


@dataclass
class Suggestion:
    """An unlinked story that looks like it answers a question, and why."""

    story_id: int
    title: str
    score: float
    relevance: float
    matches: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return "; ".join(["matches: " + ", ".join(self.matches), *self.notes])

    def to_json(self) -> dict[str, Any]:
        return {
            "story": self.story_id,
            "title": self.title,
            "score": round(self.score, 3),
            "relevance": round(self.relevance, 3),
            "matches": self.matches,
            "notes": self.notes,
            "reason": self.reason,
        }


@dataclass
class LlmSuggestion:
    """A story the model proposes for a question (`coverage --llm`), in its own words."""

    story_id: int
    title: str
    reason: str
    confidence: int

    def to_json(self) -> dict[str, Any]:
        return {
            "story": self.story_id,
            "title": self.title,
            "reason": self.reason,
            "confidence": self.confidence,
        }


@dataclass
class QuestionCoverage:
    """One question's row in the map."""

    question: Question
    stories: list[int]
    counting: list[int]
    status: Status
    reasons: list[str] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    #: The model's proposals; None when the model was not asked (no `--llm`).
    llm_suggestions: list[LlmSuggestion] | None = None

    @property
    def id(self) -> str:
        return self.question.id

    @property
    def probing(self) -> tuple[str, str]:
        """What the round probes, labelled: the guide's "really probing" line, else the first
        two probes (what a strong answer must show)."""
        if self.question.probing:
            return "Probing", self.question.probing
        if self.question.probes:
            return "A strong answer", "; ".join(self.question.probes[:2])
        return "", ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.question.id,
            "text": self.question.text,
            "markers": self.question.markers,
            "levels": self.question.levels,
            "stories": self.stories,
            "counting": self.counting,
            "status": self.status,
            "reasons": self.reasons,
            "probing": self.question.probing,
            "probes": self.question.probes,
            "suggestions": [s.to_json() for s in self.suggestions],
            **(
                {"llm_suggestions": [s.to_json() for s in self.llm_suggestions]}
                if self.llm_suggestions is not None
                else {}
            ),
        }


@dataclass
class MarkerCoverage:
    """One culture marker: the stories that show it and the questions it is covered for."""

    marker: Marker
    stories: list[int]
    questions: list[str]
    total: list[str]

    @property
    def gaps(self) -> list[str]:
        covered = set(self.questions)
        return [q for q in self.total if q not in covered]

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.marker.slug,
            "name": self.marker.name,
            "stories": self.stories,
            "questions": self.questions,
            "total": len(self.total),
            "uncovered": self.gaps,
        }


@dataclass
class Overused:
    story_id: int
    title: str
    questions: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "story": self.story_id,
            "title": self.title,
            "questions": self.questions,
            "limit": OVERUSE_LIMIT,
        }


@dataclass
class CoverageReport:
    """The whole map, in display order: gaps first, then thin, then covered."""

    questions: list[QuestionCoverage]
    markers: list[MarkerCoverage]
    active_stories: int
    retired_stories: int
    undated: list[int]
    overused: list[Overused]
    today: date
    filters: dict[str, str | None]
    titles: dict[int, str] = field(default_factory=dict)
    #: Active story id -> how many questions it is linked to, over the whole bank.
    link_counts: dict[int, int] = field(default_factory=dict)
    #: The `--llm` run (see `LinkRun.info`); None without `--llm`.
    llm: dict[str, Any] | None = None

    def count(self, status: str) -> int:
        return sum(1 for q in self.questions if q.status == status)

    def weak(self) -> list[QuestionCoverage]:
        return [q for q in self.questions if q.status != "covered"]

    def to_json(self) -> dict[str, Any]:
        """The `coverage --json` contract (DESIGN.md) plus extra keys."""
        return {
            "questions": [q.to_json() for q in self.questions],
            "markers": [m.to_json() for m in self.markers],
            "bank": {
                "stories": self.active_stories,
                "target": BANK_TARGET,
                "retired": self.retired_stories,
                "undated": self.undated,
            },
            "summary": {s: self.count(s) for s in STATUS_ORDER},
            "overused": [o.to_json() for o in self.overused],
            "filters": self.filters,
            "today": self.today.isoformat(),
            **({"llm": self.llm} if self.llm is not None else {}),
        }


# -- freshness ----------------------------------------------------------------------------------


def months_between(earlier: date, later: date) -> int:
    """Whole calendar months from `earlier` to `later`; story dates are often just a month."""
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def freshness(story: Story, today: date) -> Freshness:
    when = story.when_date
    if when is None:
        return "undated"
    return "stale" if months_between(when, today) > FRESH_MONTHS else "fresh"


# -- the map ------------------------------------------------------------------------------------


def select_questions(
    questions: list[Question],
    markers: list[Marker],
    *,
    role: str | None = None,
    marker: str | None = None,
    level: str | None = None,
) -> list[Question]:
    """The questions a filter keeps. Unknown markers and roles are errors with a hint."""
    if marker is not None and marker not in {m.slug for m in markers}:
        raise NotFoundError("marker", marker, [m.slug for m in markers])
    if role is not None:
        roles = {r.lower(): r for q in questions for r in q.roles}
        if role.lower() not in roles:
            raise NotFoundError("role", role, sorted(roles.values()))
    level = normalize_level(level)
    kept = []
    for q in questions:
        if marker and marker not in q.markers:
            continue
        if role and role.lower() not in {r.lower() for r in q.roles}:
            continue
        # A question with no level band is asked at every level.
        if level and q.levels and level not in q.levels:
            continue
        kept.append(q)
    return kept


def compute_coverage(
    questions: list[Question],
    markers: list[Marker],
    stories: Sequence[StoredStory],
    verdicts: dict[int, str],
    *,
    today: date | None = None,
    role: str | None = None,
    marker: str | None = None,
    level: str | None = None,
    suggest: bool = True,
    limit: int = SUGGESTION_LIMIT,
) -> CoverageReport:
    """The coverage map of the bank's records; `today` is injectable so tests are stable."""
    today = today or date.today()
    level = normalize_level(level)
    selected = select_questions(questions, markers, role=role, marker=marker, level=level)
    active = [s for s in stories if not s.retired and s.id is not None]
    fresh = {s.id: freshness(s, today) for s in active}

    linked: dict[str, list[int]] = {}
    for s in active:
        for qid in s.questions:
            linked.setdefault(qid, []).append(s.id)

    rows: list[QuestionCoverage] = []
    for q in selected:
        ids = sorted(linked.get(q.id, []))
        rows.append(_question_row(q, ids, fresh, verdicts))
    order = {q.id: i for i, q in enumerate(selected)}
    rows.sort(key=lambda r: (STATUS_ORDER[r.status], len(r.counting), order[r.id]))

    if suggest and limit > 0:
        weak = [r for r in rows if r.status != "covered"]
        if weak and active:
            _suggest(weak, active, fresh, verdicts, {m.slug: m for m in markers}, limit)

    return CoverageReport(
        questions=rows,
        markers=_marker_rows(markers, selected, rows, active, marker, bool(role or level)),
        active_stories=len(active),
        retired_stories=sum(1 for s in stories if s.retired),
        undated=[s.id for s in active if fresh[s.id] == "undated"],
        overused=[
            Overused(s.id, s.title, list(s.questions))
            for s in active
            if len(s.questions) > OVERUSE_LIMIT
        ],
        today=today,
        filters={"role": role, "marker": marker, "level": level},
        titles={s.id: s.title for s in active},
        link_counts={s.id: len(s.questions) for s in active},
    )


def _question_row(
    q: Question, ids: list[int], fresh: dict[int, Freshness], verdicts: dict[int, str]
) -> QuestionCoverage:
    stale = [i for i in ids if fresh[i] == "stale"]
    failing = [i for i in ids if verdicts.get(i) == "fail"]
    undated = [i for i in ids if fresh[i] == "undated"]
    counting = [i for i in ids if fresh[i] != "stale" and verdicts.get(i) != "fail"]
    reasons: list[str] = []
    if not ids:
        status: Status = "gap"
        reasons.append("no story linked")
    elif len(counting) >= STORIES_PER_QUESTION:
        status = "covered"
    else:
        status = "thin"
        if len(ids) == 1:
            reasons.append("only one story")
        elif stale and len(stale) == len(ids):
            reasons.append(f"only stories older than {FRESH_MONTHS} months")
        elif failing and len(failing) == len(ids):
            reasons.append("only stories whose latest review failed")
        else:
            reasons.append(f"{len(counting)} of {len(ids)} stories count")
    if stale:
        reasons.append(f"older than {FRESH_MONTHS} months: {_ids(stale)}")
    if failing:
        reasons.append(f"latest review failed: {_ids(failing)}")
    if undated:
        reasons.append(f"undated (add --when): {_ids(undated)}")
    return QuestionCoverage(q, ids, counting, status, reasons)


def _ids(ids: Iterable[int]) -> str:
    return " ".join(f"#{i}" for i in ids)


def _marker_rows(
    markers: list[Marker],
    selected: list[Question],
    rows: list[QuestionCoverage],
    active: Sequence[StoredStory],
    only: str | None,
    filtered: bool,
) -> list[MarkerCoverage]:
    """A story shows a marker when it is tagged with it or answers a question that probes it."""
    status = {r.id: r.status for r in rows}
    probing: dict[str, list[str]] = {}
    for q in selected:
        for slug in q.markers:
            probing.setdefault(slug, []).append(q.id)
    out = []
    for m in markers:
        if (only and m.slug != only) or (filtered and m.slug not in probing):
            continue
        total = probing.get(m.slug, [])
        asked = set(total)
        story_ids = [
            s.id for s in active if m.slug in s.markers or any(q in asked for q in s.questions)
        ]
        covered = [qid for qid in total if status.get(qid) == "covered"]
        out.append(MarkerCoverage(m, story_ids, covered, total))
    return out


# -- suggestions (BM25) -------------------------------------------------------------------------

_TOKEN = re.compile(r"[a-z0-9]+")
#: The same tokens as `_TOKEN` on lowercased text, as bytes, about twice as fast for indexing
#: thousands of stories: ASCII letters folded to lower case, digits kept, every other byte
#: (punctuation, and each byte of a non-ASCII character, which `_TOKEN` also splits on) a space.
_ASCII_WORDS = bytes(
    c + 32 if 65 <= c <= 90 else c if 97 <= c <= 122 or 48 <= c <= 57 else 32 for c in range(256)
)
#: English function words plus the words every behavioral question and probe is made of
#: ("tell me about a time", "describe", "specific"): they say nothing about which story fits.
_STOPWORDS = """
    a about above after again against all also am an and any are as at be been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers him his how i if in into is it its itself just me more
    most my no nor not now of off on once only or other our ours out over own same she should so
    some such than that the their theirs them then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you
    your yours yourself us let lets get got
    tell time describe example give walk share situation question interviewer answer story
    specific specifically name say said one two three ready strong really
    whether handle handled handling come comes coming came next went go going make made
    thing things like way something because
"""
STOPWORDS = frozenset(_STOPWORDS.split())
_BM25_K1 = 1.2
_BM25_B = 0.75
#: In a bank of 100+ stories, a word found in more than half of them is not scored: its IDF is
#: near zero (Robertson-Sparck Jones IDF, BM25's original, is negative there), yet its postings
#: are the longest, so it costs the most time for the least ranking signal. Small banks keep
#: every word: with a dozen stories, "half of them" is not evidence that a word is common.
COMMON_TERM_FRACTION = 0.5
COMMON_TERM_MIN_DOCS = 100
#: Only the most informative query terms are scored: it keeps hundreds of questions over
#: thousands of stories inside the time budget, and the dropped terms barely move the ranking.
MAX_QUERY_TERMS = 24


def stem(word: str) -> str:
    """A deliberately tiny suffix stripper: dissented/dissenting/dissents -> dissent."""
    for suffix, keep in (("ing", 5), ("ied", 4), ("ies", 4), ("ed", 4), ("es", 4), ("s", 3)):
        if len(word) > keep and word.endswith(suffix):
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                break
            if suffix in ("ies", "ied"):
                return word[:-3] + "y"
            if suffix == "es" and not word.endswith(("ches", "shes", "sses", "xes")):
                word = word[:-1]
                break
            word = word[: -len(suffix)]
            break
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word


class _Stems(dict[str, str | None]):
    """Token -> stem (None for stopwords and noise), memoised: stories reuse a small vocabulary."""

    def __missing__(self, token: str) -> str | None:
        value = None if token in STOPWORDS or len(token) < 2 or token.isdigit() else stem(token)
        self[token] = value
        return value


_STEMS = _Stems()


def terms(text: str) -> list[str | None]:
    """Stems in order, None where a stopword was (so a phrase never bridges a removed word)."""
    return list(map(_STEMS.__getitem__, _TOKEN.findall(text.lower())))


def story_text(story: Story) -> str:
    return " \n ".join(
        [
            story.title,
            story.situation,
            story.task,
            story.action,
            story.result,
            story.reflection,
            " ".join(story.tags),
        ]
    )


class Bm25:
    """A BM25 index over documents, restricted to the terms the queries will ask about.

    Indexing counts raw tokens first (in C), stems each distinct word once for the whole corpus,
    and keeps postings only for query terms. Each posting holds the document's precomputed
    term-frequency factor, so a query is one pass over its terms' postings into a flat score
    array: the hot loops are list arithmetic and set operations, not object creation.
    """

    def __init__(self, docs: list[tuple[int, str]], vocabulary: set[str]) -> None:
        self.ids = [doc_id for doc_id, _ in docs]
        self.n = len(docs)
        wanted: dict[bytes, str] = {}  # raw word -> its stem, for words whose stem is queried
        stop: set[bytes] = set()
        seen: set[bytes] = set()
        counted: dict[str, dict[int, int]] = {}
        lengths: list[int] = []
        for index, (_, text) in enumerate(docs):
            raw = text.encode("utf-8").translate(_ASCII_WORDS).split()
            counts = Counter(raw)
            for word in counts.keys() - seen:
                seen.add(word)
                term = _STEMS[word.decode("ascii")]
                if term is None:
                    stop.add(word)
                elif term in vocabulary:
                    wanted[word] = term
            lengths.append(len(raw) - sum(map(counts.__getitem__, counts.keys() & stop)))
            for word in counts.keys() & wanted.keys():
                plist = counted.setdefault(wanted[word], {})
                plist[index] = plist.get(index, 0) + counts[word]
        avg = (sum(lengths) / self.n) if self.n else 1.0
        norm = [_BM25_K1 * (1 - _BM25_B + _BM25_B * n / (avg or 1.0)) for n in lengths]
        #: term -> {document index: idf x tf factor}, the term's whole BM25 contribution to
        #: that document; a dict so matched terms are O(1) to look up.
        self.postings: dict[str, dict[int, float]] = {}
        self.idf: dict[str, float] = {}
        common = self.n * COMMON_TERM_FRACTION if self.n >= COMMON_TERM_MIN_DOCS else self.n
        for term, plist in counted.items():
            idf = math.log(1 + (self.n - len(plist) + 0.5) / (len(plist) + 0.5))
            self.idf[term] = idf
            if len(plist) > common:
                continue  # near-zero weight, longest postings: skipped (see the constant)
            self.postings[term] = {
                i: idf * tf * (_BM25_K1 + 1) / (tf + norm[i]) for i, tf in plist.items()
            }

    def ideal(self, query: dict[str, float]) -> float:
        """The score of a story using every query word often: BM25's ceiling for `query`."""
        unseen = math.log(1 + (self.n + 0.5) / 0.5)
        return sum(w * self.idf.get(t, unseen) * (_BM25_K1 + 1) for t, w in query.items())

    def search(
        self, query: dict[str, float], *, exclude: set[int], k: int
    ) -> list[tuple[int, float, list[str]]]:
        """The `k` best documents not in `exclude`: (id, score, matched terms best first)."""
        picked = sorted(
            ((w * self.idf[t], w, t) for t, w in query.items() if t in self.postings), reverse=True
        )[:MAX_QUERY_TERMS]
        scores = [0.0] * self.n
        for _, weight, term in picked:
            if weight == 1.0:
                for i, value in self.postings[term].items():
                    scores[i] += value
            else:
                for i, value in self.postings[term].items():
                    scores[i] += weight * value
        # In C: the documents that scored, best first; a stable sort keeps ties in id order.
        best = sorted(compress(range(self.n), scores), key=scores.__getitem__, reverse=True)
        out = []
        for i in best[: k + len(exclude)]:
            if self.ids[i] in exclude:
                continue
            hits = sorted(
                ((w * self.postings[t][i], t) for _, w, t in picked if i in self.postings[t]),
                reverse=True,
            )
            out.append((self.ids[i], scores[i], [t for _, t in hits]))
        return out[:k]


@dataclass
class Query:
    """A question as weighted search terms, its two-word phrases, and words to show."""

    terms: dict[str, float]
    phrases: set[tuple[str, str]]
    surface: dict[str, str]


def question_query(question: Question, markers: dict[str, Marker]) -> Query:
    """The question's text, tags, themes and marker names, with probes at half weight."""
    weighted: list[tuple[str, float]] = [(question.text, 1.0)]
    weighted += [(t, 1.0) for t in question.tags]
    weighted += [(t.replace("-", " "), 1.0) for t in question.themes]
    weighted += [(markers[m].name, 1.0) for m in question.markers if m in markers]
    weighted += [(p, 0.5) for p in question.probes]
    if question.probing:
        weighted.append((question.probing, 0.5))
    query = Query({}, set(), {})
    for text, weight in weighted:
        words = _TOKEN.findall(text.lower())
        seq = [_STEMS[w] for w in words]
        for i, term in enumerate(seq):
            if term is None:
                continue
            query.terms[term] = max(query.terms.get(term, 0.0), weight)
            query.surface.setdefault(term, words[i])
            following = seq[i + 1] if i + 1 < len(seq) else None
            if following is not None:
                query.phrases.add((term, following))
                query.surface.setdefault(f"{term} {following}", f"{words[i]} {words[i + 1]}")
    return query


def _display(
    matched: list[str], doc_terms: list[str | None], query: Query, limit: int = 4
) -> list[str]:
    """Matched words for a reason line, best first; the question's phrases found in the story
    ("design review", "pushed back") are shown whole, overlapping ones chained."""
    rank = {t: i for i, t in enumerate(matched)}
    found = {
        pair
        for pair in pairwise(doc_terms)
        if pair in query.phrases and pair[0] in rank and pair[1] in rank
    }
    chains: list[list[str]] = []
    for a, b in sorted(found, key=lambda p: min(rank[p[0]], rank[p[1]])):
        for chain in chains:
            if chain[-1] == a and b not in chain:
                chain.append(b)
                break
            if chain[0] == b and a not in chain:
                chain.insert(0, a)
                break
        else:
            chains.append([a, b])
    items: list[tuple[int, str]] = []
    used: set[str] = set()
    for chain in chains:
        words = [query.surface[f"{chain[0]} {chain[1]}"].split(" ")[0]]
        words += [query.surface[f"{x} {y}"].split(" ")[1] for x, y in pairwise(chain)]
        items.append((min(rank[t] for t in chain), " ".join(words)))
        used.update(chain)
    items += [(rank[t], query.surface.get(t, t)) for t in matched if t not in used]
    return [text for _, text in sorted(items)[:limit]]


def _suggest(
    weak: list[QuestionCoverage],
    active: Sequence[StoredStory],
    fresh: dict[int, Freshness],
    verdicts: dict[int, str],
    markers: dict[str, Marker],
    limit: int,
) -> None:
    queries = {row.id: question_query(row.question, markers) for row in weak}
    vocabulary = {t for query in queries.values() for t in query.terms}
    texts = {s.id: story_text(s) for s in active}
    index = Bm25(list(texts.items()), vocabulary)
    titles = {s.id: s.title for s in active}
    doc_terms: dict[int, list[str | None]] = {}
    for row in weak:
        query = queries[row.id]
        ideal = index.ideal(query.terms) or 1.0
        ranked: list[tuple[int, float, list[str], list[str]]] = []
        # Over-fetch: the floor and the penalty below can drop or reorder candidates.
        for doc, score, matched in index.search(query.terms, exclude=set(row.stories), k=limit * 4):
            if len(matched) < MIN_MATCHED_TERMS:
                continue
            notes = []
            if fresh[doc] == "stale":
                notes.append(f"older than {FRESH_MONTHS} months")
            if verdicts.get(doc) == "fail":
                notes.append("latest review failed")
            if notes:
                score *= WEAK_STORY_PENALTY
            if fresh[doc] == "undated":
                notes.append("undated")
            if score / ideal >= MIN_RELEVANCE:
                ranked.append((doc, score, matched, notes))
        ranked.sort(key=lambda r: (-r[1], r[0]))
        row.suggestions = []
        for doc, score, matched, notes in ranked[:limit]:
            if doc not in doc_terms:
                doc_terms[doc] = terms(texts[doc])
            shown = _display(matched, doc_terms[doc], query)
            row.suggestions.append(Suggestion(doc, titles[doc], score, score / ideal, shown, notes))


def plan_accept(
    report: CoverageReport, *, llm: bool = False
) -> list[tuple[str, Suggestion | LlmSuggestion]]:
    """The top suggestion per gap or thin question, skipping stories it would overuse.

    With `llm`, the model's top proposal at `ACCEPT_MIN_CONFIDENCE` or above instead of BM25's.
    """
    counts = dict(report.link_counts)
    plan: list[tuple[str, Suggestion | LlmSuggestion]] = []
    for row in report.weak():
        options: list[Suggestion | LlmSuggestion]
        if llm:
            options = [
                s for s in row.llm_suggestions or [] if s.confidence >= ACCEPT_MIN_CONFIDENCE
            ]
        else:
            options = list(row.suggestions)
        for suggestion in options:
            if counts.get(suggestion.story_id, 0) + 1 > OVERUSE_LIMIT:
                continue
            counts[suggestion.story_id] = counts.get(suggestion.story_id, 0) + 1
            plan.append((row.id, suggestion))
            break
    return plan


# -- model suggestions (--llm) ------------------------------------------------------------------


def link_candidates(
    report: CoverageReport,
    stories: Sequence[StoredStory],
    markers: list[Marker],
    *,
    limit: int = LLM_CANDIDATES,
) -> list[tuple[Question, list[int]]]:
    """Each gap or thin question with its top `limit` unlinked active stories by BM25, in map
    order; questions no story shares a word with are left out (there is nothing to ask)."""
    weak = report.weak()
    active = [s for s in stories if not s.retired and s.id is not None]
    if not weak or not active:
        return []
    by_slug = {m.slug: m for m in markers}
    queries = {row.id: question_query(row.question, by_slug) for row in weak}
    vocabulary = {t for query in queries.values() for t in query.terms}
    index = Bm25([(s.id, story_text(s)) for s in active], vocabulary)
    asks = []
    for row in weak:
        hits = index.search(queries[row.id].terms, exclude=set(row.stories), k=limit)
        if hits:
            asks.append((row.question, [doc for doc, _, _ in hits]))
    return asks


# -- practice -----------------------------------------------------------------------------------


def weakest(report: CoverageReport, attempts: dict[str, int] | None = None) -> QuestionCoverage:
    """The question to practise next: gap before thin before covered, fewest counting stories,
    fewest practice attempts (so repeated runs rotate through the gaps), then bank order."""
    if not report.questions:
        raise StorycoachError("no question matches these filters")
    attempts = attempts or {}
    order = {r.id: i for i, r in enumerate(report.questions)}
    return min(
        report.questions,
        key=lambda r: (
            STATUS_ORDER[r.status],
            len(r.counting),
            attempts.get(r.id, 0),
            order[r.id],
        ),
    )


# -- loading ------------------------------------------------------------------------------------


def load_coverage(
    bank: Bank,
    *,
    today: date | None = None,
    role: str | None = None,
    marker: str | None = None,
    level: str | None = None,
    suggest: bool = True,
    limit: int = SUGGESTION_LIMIT,
) -> CoverageReport:
    """Read the bank through its public methods and compute the map."""
    return compute_coverage(
        bank.questions(),
        bank.markers(),
        bank.stories(),
        bank.latest_verdicts(),
        today=today,
        role=role,
        marker=marker,
        level=level,
        suggest=suggest,
        limit=limit,
    )
