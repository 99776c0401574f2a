"""The staff report: what members asked over a period and how it went, and what in the knowledge base needs care.

`build_report` reads the bot's state (answers and their 👍/👎, never who asked: no member id is read), groups the
unanswered and 👎 questions by meaning with the embedder, counts the sources cited, and finds stale content in the
store (past events and closed calls still indexed, sources unchanged for a year), all as of the `now` it is given
(the injected clock). `report_sections` lays a report out as plain titled lines in FR/EN/DE; `chart_png` draws the
questions per day; `html_page` writes the self-contained page of `python -m bot report --html`. The Slack and Teams
renderings live beside their adapters (`bot.slack.report`, `bot.teams.report`); nothing here imports a platform.

>>> from datetime import timezone
>>> from pathlib import Path
>>> now = datetime(2026, 11, 23, 8, tzinfo=timezone.utc)
>>> state = BotState(Path(":memory:"), clock=lambda: now)
>>> report = build_report(state, embedder=None, store=None, now=now)
>>> (report.questions, report.start.isoformat())
(0, '2026-11-16T08:00:00+00:00')
"""

from __future__ import annotations

import base64
import html
import io
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

import numpy as np

from bot.conversation import small_talk
from bot.escaping import web_url
from bot.state import AnswerRecord, BotState
from knowledge.filters import Below, ChunkFilter, OneOf
from knowledge.locales import DEFAULT_LANGUAGE
from knowledge.store import KnowledgeStore, StoreError

if TYPE_CHECKING:
    from bot.scheduler import Job
    from knowledge.embedding import Embedder

logger = logging.getLogger(__name__)

DEFAULT_DAYS = 7
STALE_AFTER = timedelta(days=365)  # a source unchanged this long is listed as not updated for a year
SIMILARITY = 0.5  # cosine to a group's centre above which a question joins the group (multilingual USE: a
# paraphrase scores 0.6-0.9, an unrelated question of the same domain 0.1-0.35)
EXAMPLES = 3
WORST = 5
CITED = 10
_EXCERPT = 200

# The report's words, per language (as `bot.messages`): titles, figures, line patterns, and what the adapters say.
_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Concierge report",
        "period": "{start} to {end}",
        "figures": "Figures",
        "questions": "Questions asked",
        "answered": "Answered",
        "unanswered": "“I don't know”",
        "helpful": "👍 Helpful",
        "unhelpful": "👎 Unhelpful",
        "answered_share": "{share}% answered",
        "worst": "Worst-rated answers",
        "worst_line": "{question} — 👍 {up} · 👎 {down} — answer: {answer}",
        "gaps": "Knowledge gaps by topic",
        "gap_line": "{count} × {examples}",
        "cited": "Most cited sources",
        "cited_line": "{title} — cited in {count} answers",
        "cited_line_one": "{title} — cited in 1 answer",
        "past_events": "Past events still indexed",
        "past_event_line": "{title} — ended {date}",
        "closed_calls": "Closed calls still indexed",
        "closed_call_line": "{title} — closed {date}",
        "old_documents": "Documents not updated for a year",
        "old_document_line": "{title} — last changed {date}",
        "stale": "Stale content",
        "stale_unavailable": "The knowledge base could not be read: stale content is missing from this report.",
        "none": "None.",
        "more": "… and {count} more",
        "chart_title": "Questions per day",
        "chart_alt": "Questions per day from {start} to {end}: {answered} answered, {unanswered} “I don't know”.",
        "sent_privately": "Your report is in your direct messages with me.",
        "failed": "The report could not be built; the error is in the bot's log.",
        "usage": "Usage: {command} report [YYYY-MM-DD] (the report's first day; by default the last 7 days)",
    },
    "fr": {
        "title": "Rapport du Concierge",
        "period": "du {start} au {end}",
        "figures": "Chiffres",
        "questions": "Questions posées",
        "answered": "Avec réponse",
        "unanswered": "« Je ne sais pas »",
        "helpful": "👍 Utile",
        "unhelpful": "👎 Pas utile",
        "answered_share": "{share} % avec réponse",
        "worst": "Réponses les moins bien notées",
        "worst_line": "{question} — 👍 {up} · 👎 {down} — réponse : {answer}",
        "gaps": "Lacunes de la base, par sujet",
        "gap_line": "{count} × {examples}",
        "cited": "Sources les plus citées",
        "cited_line": "{title} — citée dans {count} réponses",
        "cited_line_one": "{title} — citée dans 1 réponse",
        "past_events": "Événements passés encore indexés",
        "past_event_line": "{title} — terminé le {date}",
        "closed_calls": "Appels clos encore indexés",
        "closed_call_line": "{title} — clos le {date}",
        "old_documents": "Documents non mis à jour depuis un an",
        "old_document_line": "{title} — modifié pour la dernière fois le {date}",
        "stale": "Contenu périmé",
        "stale_unavailable": "La base de connaissances n'a pas pu être lue : le contenu périmé manque à ce rapport.",
        "none": "Aucun.",
        "more": "… et {count} de plus",
        "chart_title": "Questions par jour",
        "chart_alt": "Questions par jour du {start} au {end} : {answered} avec réponse, {unanswered} « Je ne sais "
                     "pas ».",
        "sent_privately": "Votre rapport est dans vos messages directs avec moi.",
        "failed": "Le rapport n'a pas pu être établi ; l'erreur est dans le journal du bot.",
        "usage": "Usage : {command} report [AAAA-MM-JJ] (le premier jour du rapport ; par défaut les 7 derniers "
                 "jours)",
    },
    "de": {
        "title": "Concierge-Bericht",
        "period": "{start} bis {end}",
        "figures": "Zahlen",
        "questions": "Gestellte Fragen",
        "answered": "Beantwortet",
        "unanswered": "„Ich weiß es nicht“",
        "helpful": "👍 Hilfreich",
        "unhelpful": "👎 Nicht hilfreich",
        "answered_share": "{share} % beantwortet",
        "worst": "Am schlechtesten bewertete Antworten",
        "worst_line": "{question} — 👍 {up} · 👎 {down} — Antwort: {answer}",
        "gaps": "Wissenslücken nach Thema",
        "gap_line": "{count} × {examples}",
        "cited": "Meistzitierte Quellen",
        "cited_line": "{title} — in {count} Antworten zitiert",
        "cited_line_one": "{title} — in 1 Antwort zitiert",
        "past_events": "Vergangene Veranstaltungen, noch im Index",
        "past_event_line": "{title} — endete am {date}",
        "closed_calls": "Geschlossene Ausschreibungen, noch im Index",
        "closed_call_line": "{title} — geschlossen am {date}",
        "old_documents": "Seit einem Jahr nicht aktualisierte Dokumente",
        "old_document_line": "{title} — zuletzt geändert am {date}",
        "stale": "Veraltete Inhalte",
        "stale_unavailable": "Die Wissensbasis war nicht lesbar: veraltete Inhalte fehlen in diesem Bericht.",
        "none": "Keine.",
        "more": "… und {count} weitere",
        "chart_title": "Fragen pro Tag",
        "chart_alt": "Fragen pro Tag vom {start} bis {end}: {answered} beantwortet, {unanswered} „Ich weiß es "
                     "nicht“.",
        "sent_privately": "Ihr Bericht liegt in Ihren Direktnachrichten mit mir.",
        "failed": "Der Bericht konnte nicht erstellt werden; der Fehler steht im Log des Bots.",
        "usage": "Verwendung: {command} report [JJJJ-MM-TT] (erster Tag des Berichts; standardmäßig die letzten "
                 "7 Tage)",
    },
}
LANGUAGES = tuple(_WORDS)


def word(key: str, language: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """The report's word `key` in `language` (English when it has none), filled with `values`.

    >>> word("more", "de", count=4)
    '… und 4 weitere'
    """
    pattern = _WORDS.get(language, _WORDS[DEFAULT_LANGUAGE]).get(key) or _WORDS[DEFAULT_LANGUAGE][key]
    return pattern.format(**values) if values else pattern


# --- the report ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayCount:
    day: date
    answered: int
    unanswered: int


@dataclass(frozen=True)
class RatedAnswer:
    """An answer more 👎 than 👍: the question, the start of the answer, and the votes."""

    question: str
    answer: str
    up: int
    down: int


@dataclass(frozen=True)
class GapGroup:
    """Questions of one topic the bot could not answer well: how many, and up to `EXAMPLES` of them (the most
    typical first)."""

    count: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class CitedSource:
    title: str
    url: str
    count: int  # answers citing it


@dataclass(frozen=True)
class StaleItem:
    title: str
    url: str
    date: str  # the end, deadline or last change, as shown


@dataclass(frozen=True)
class StaleContent:
    past_events: tuple[StaleItem, ...] = ()
    closed_calls: tuple[StaleItem, ...] = ()
    old_documents: tuple[StaleItem, ...] = ()


@dataclass(frozen=True)
class Report:
    """The figures of one period (`start` to `end`); `stale` is None when the store could not be read."""

    start: datetime
    end: datetime
    questions: int
    answered: int
    unanswered: int
    helpful: int
    unhelpful: int
    days: tuple[DayCount, ...] = ()
    worst: tuple[RatedAnswer, ...] = ()
    gaps: tuple[GapGroup, ...] = ()
    cited: tuple[CitedSource, ...] = ()
    stale: StaleContent | None = field(default_factory=StaleContent)

    @property
    def answered_share(self) -> int:
        """Answered questions in percent (0 without questions)."""
        return round(100 * self.answered / self.questions) if self.questions else 0


def period_start(now: datetime, since: date | None = None) -> datetime:
    """The report's first moment: midnight of `since` in `now`'s time zone, else `DEFAULT_DAYS` before `now`.

    >>> from datetime import timezone
    >>> period_start(datetime(2026, 11, 23, 8, tzinfo=timezone.utc), date(2026, 11, 1)).isoformat()
    '2026-11-01T00:00:00+00:00'
    """
    if since is None:
        return now - timedelta(days=DEFAULT_DAYS)
    return datetime.combine(since, time(0), now.tzinfo)


def build_report(state: BotState, *, embedder: Embedder | None, store: KnowledgeStore | None, now: datetime,
                 since: date | None = None, similarity: float = SIMILARITY) -> Report:
    """The report from `since` (midnight; by default the last `DEFAULT_DAYS` days) up to `now`.

    `embedder` groups the gaps by meaning (None: identical questions only); `store` gives the stale content
    (None: none looked for; unreachable: `Report.stale` is None).
    """
    start = period_start(now, since)
    # "Hello", "Merci !": answered in kind, neither a question answered nor a gap
    answers = [a for a in state.answers_between(start, now) if small_talk(a.question) is None]
    unanswered = sum(a.abstained for a in answers)
    gaps = [a.question for a in answers if a.abstained or a.down > a.up]
    return Report(
        start=start, end=now, questions=len(answers), answered=len(answers) - unanswered, unanswered=unanswered,
        helpful=sum(a.up for a in answers), unhelpful=sum(a.down for a in answers),
        days=_per_day(answers, start, now), worst=_worst(answers),
        gaps=group_questions(gaps, embedder, similarity=similarity), cited=_cited(answers),
        stale=_stale(store, now))


def _per_day(answers: Sequence[AnswerRecord], start: datetime, end: datetime) -> tuple[DayCount, ...]:
    """Every calendar day of the period (in `end`'s time zone), with its answered and unanswered questions."""
    answered: Counter[date] = Counter()
    unanswered: Counter[date] = Counter()
    for a in answers:
        day = datetime.fromtimestamp(a.at, end.tzinfo).date()
        (unanswered if a.abstained else answered)[day] += 1
    first, last = start.astimezone(end.tzinfo).date(), end.date()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return tuple(DayCount(day, answered[day], unanswered[day]) for day in days)


def _excerpt(text: str, limit: int = _EXCERPT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _worst(answers: Sequence[AnswerRecord]) -> tuple[RatedAnswer, ...]:
    rated = sorted((a for a in answers if a.down > a.up), key=lambda a: (a.up - a.down, -a.down, a.at))
    return tuple(RatedAnswer(_excerpt(a.question), _excerpt(a.answer), a.up, a.down) for a in rated[:WORST])


def _cited(answers: Sequence[AnswerRecord]) -> tuple[CitedSource, ...]:
    counts: Counter[str] = Counter()
    titles: dict[str, tuple[str, str]] = {}
    for a in answers:
        if a.abstained:
            continue
        keys = set()
        for source in a.sources:
            url, path = str(source.get("url") or ""), str(source.get("path") or "")
            key = url or path
            if key:
                keys.add(key)
                titles.setdefault(key, (str(source.get("title") or path or url), url))
        counts.update(keys)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], titles[item[0]][0].lower()))
    return tuple(CitedSource(titles[key][0], titles[key][1], count) for key, count in ranked[:CITED])


def group_questions(questions: Sequence[str], embedder: Embedder | None, *,
                    similarity: float = SIMILARITY) -> tuple[GapGroup, ...]:
    """Questions grouped by meaning, largest group first: each question joins the group whose centre is nearest
    when its cosine reaches `similarity`, else starts a group (greedy, in the order given: deterministic).

    >>> group_questions(["Parking?", "parking ?", "Wifi code?"], None)
    (GapGroup(count=2, examples=('Parking?',)), GapGroup(count=1, examples=('Wifi code?',)))
    """
    texts = [" ".join(q.split()) for q in questions if q.strip()]
    if not texts:
        return ()
    if embedder is None:  # identical questions only (case and punctuation aside)
        keys = [_fold(t) for t in texts]
        vectors = np.zeros((len(texts), len(set(keys))), dtype=np.float32)
        for row, key in enumerate(keys):
            vectors[row, sorted(set(keys)).index(key)] = 1.0
    else:
        vectors = np.asarray(embedder.encode_queries(texts), dtype=np.float32)
    sums: list[np.ndarray] = []
    members: list[list[int]] = []
    for index, vector in enumerate(vectors):
        if sums:
            centres = np.stack([s / max(float(np.linalg.norm(s)), 1e-12) for s in sums])
            scores = centres @ vector
            best = int(np.argmax(scores))
            if scores[best] >= similarity:
                sums[best] = sums[best] + vector
                members[best].append(index)
                continue
        sums.append(vector.copy())
        members.append([index])
    groups = []
    for total, rows in zip(sums, members):
        centre = total / max(float(np.linalg.norm(total)), 1e-12)
        typical = sorted(rows, key=lambda row: (-float(vectors[row] @ centre), row))
        examples: list[str] = []
        for row in typical:
            if _fold(texts[row]) not in {_fold(e) for e in examples}:
                examples.append(_excerpt(texts[row]))
            if len(examples) == EXAMPLES:
                break
        groups.append((len(rows), rows[0], GapGroup(len(rows), tuple(examples))))
    return tuple(group for _, _, group in sorted(groups, key=lambda g: (-g[0], g[1])))


def _fold(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _stale(store: KnowledgeStore | None, now: datetime) -> StaleContent | None:
    if store is None:
        return StaleContent()
    try:
        return stale_content(store, now)
    except StoreError:
        logger.exception("the report is built without stale content")
        return None


def stale_content(store: KnowledgeStore, now: datetime, *, older_than: timedelta = STALE_AFTER) -> StaleContent:
    """What the index still holds that is out of date at `now`: events that are over, calls whose deadline has
    passed (each record once, however many chunks it has), and sources unchanged for `older_than`."""
    now_ts = int(now.timestamp())
    events: dict[tuple[str, object], tuple[float, StaleItem]] = {}
    for page in store.iter_chunks(where=ChunkFilter((OneOf("kind", ("event",)), Below("start_ts", now_ts))),
                                  include=("metadatas",)):
        for meta in page.metadatas:
            ended = meta.get("end_ts", meta.get("start_ts"))
            if isinstance(ended, int | float) and ended < now_ts:
                shown = str(meta.get("end") or meta.get("start") or "")[:10]
                events[_record(meta)] = (float(ended), _item(meta, shown))
    calls: dict[tuple[str, object], tuple[float, StaleItem]] = {}
    for page in store.iter_chunks(where=ChunkFilter((OneOf("kind", ("funding_call",)),
                                                     Below("deadline_ts", now_ts))), include=("metadatas",)):
        for meta in page.metadatas:
            deadline = meta.get("deadline_ts")
            if isinstance(deadline, int | float):
                calls[_record(meta)] = (float(deadline), _item(meta, str(meta.get("deadline") or "")[:10]))
    old: list[tuple[datetime, StaleItem]] = []
    for source in store.sources().values():
        try:
            changed = datetime.fromisoformat(source.ingested_at)
        except ValueError:
            continue
        if changed.tzinfo is None:
            changed = changed.replace(tzinfo=now.tzinfo)
        if changed <= now - older_than:
            old.append((changed, StaleItem(source.title or source.path or source.source_id, "",
                                           changed.date().isoformat())))
    return StaleContent(past_events=tuple(item for _, item in sorted(events.values(), key=_by_date)),
                        closed_calls=tuple(item for _, item in sorted(calls.values(), key=_by_date)),
                        old_documents=tuple(item for _, item in sorted(old, key=lambda o: (o[0], o[1].title))))


def _record(meta: dict) -> tuple[str, object]:
    return str(meta.get("source_id", "")), meta.get("record_index", meta.get("title"))


def _item(meta: dict, shown: str) -> StaleItem:
    return StaleItem(str(meta.get("title") or meta.get("path") or ""), str(meta.get("url") or ""), shown)


def _by_date(entry: tuple[float, StaleItem]) -> tuple[float, str]:
    return entry[0], entry[1].title


# --- layout shared by every rendering --------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One plain line of a section; `url` (http(s) only) links it where the rendering can."""

    text: str
    url: str = ""


@dataclass(frozen=True)
class Section:
    title: str
    lines: tuple[Line, ...]


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def period_text(report: Report, language: str = DEFAULT_LANGUAGE) -> str:
    return word("period", language, start=when(report.start), end=when(report.end))


def figures(report: Report, language: str = DEFAULT_LANGUAGE) -> list[tuple[str, str]]:
    """(label, value) of the headline figures."""
    share = word("answered_share", language, share=report.answered_share)
    return [(word("questions", language), str(report.questions)),
            (word("answered", language), f"{report.answered} ({share})"),
            (word("unanswered", language), str(report.unanswered)),
            (word("helpful", language), str(report.helpful)),
            (word("unhelpful", language), str(report.unhelpful))]


def _capped(lines: list[Line], limit: int, language: str) -> tuple[Line, ...]:
    if not lines:
        return (Line(word("none", language)),)
    if len(lines) > limit:
        return (*lines[:limit], Line(word("more", language, count=len(lines) - limit)))
    return tuple(lines)


def report_sections(report: Report, language: str = DEFAULT_LANGUAGE, *, limit: int = 10) -> list[Section]:
    """The report after its figures, section by section, each at most `limit` lines (then "… and N more")."""
    say = lambda key, **values: word(key, language, **values)  # noqa: E731
    sections = [
        Section(say("worst"), _capped([Line(say("worst_line", question=w.question, up=w.up, down=w.down,
                                                answer=w.answer)) for w in report.worst], limit, language)),
        Section(say("gaps"), _capped([Line(say("gap_line", count=g.count, examples=" · ".join(
            f"“{example}”" for example in g.examples))) for g in report.gaps], limit, language)),
        Section(say("cited"), _capped([Line(say("cited_line_one" if c.count == 1 else "cited_line", title=c.title,
                                                count=c.count), c.url)
                                       for c in report.cited], limit, language)),
    ]
    if report.stale is None:
        return [*sections, Section(say("stale"), (Line(say("stale_unavailable")),))]
    for key, items in (("past_event", report.stale.past_events), ("closed_call", report.stale.closed_calls),
                       ("old_document", report.stale.old_documents)):
        sections.append(Section(say(f"{key}s"), _capped(
            [Line(say(f"{key}_line", title=item.title, date=item.date), item.url) for item in items],
            limit, language)))
    return sections


def summary_lines(report: Report, language: str = DEFAULT_LANGUAGE, *, limit: int = 10) -> list[str]:
    """The whole report as plain lines (the terminal, and a platform without a richer rendering)."""
    lines = [f"{word('title', language)} — {period_text(report, language)}"]
    lines += [f"{label}: {value}" for label, value in figures(report, language)]
    for section in report_sections(report, language, limit=limit):
        lines += ["", section.title]
        lines += [f"- {line.text}" + (f" <{line.url}>" if web_url(line.url, "") else "") for line in section.lines]
    return lines


def chart_alt(report: Report, language: str = DEFAULT_LANGUAGE) -> str:
    """The chart in one sentence, for screen readers (Slack's `alt_txt`, the page's `alt`)."""
    return word("chart_alt", language, start=report.start.date().isoformat(), end=report.end.date().isoformat(),
                answered=report.answered, unanswered=report.unanswered)


# --- the chart and the page ------------------------------------------------------------------------------------

_ANSWERED_COLOUR, _UNANSWERED_COLOUR = "#2e7d32", "#ef6c00"


def chart_png(report: Report, language: str = DEFAULT_LANGUAGE) -> bytes:
    """Questions per day, answered and "I don't know" stacked, as PNG bytes; the same report gives the same bytes.

    Drawn with matplotlib's object API on the Agg canvas: no display, no pyplot global state (the scheduler's
    thread and a listener's may draw at once)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    days = report.days or (DayCount(report.end.date(), 0, 0),)
    x = np.arange(len(days))
    answered = np.array([d.answered for d in days])
    unanswered = np.array([d.unanswered for d in days])
    figure = Figure(figsize=(8, 3.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.bar(x, answered, color=_ANSWERED_COLOUR, label=word("answered", language))
    axes.bar(x, unanswered, bottom=answered, color=_UNANSWERED_COLOUR, label=word("unanswered", language))
    step = max(1, -(-len(days) // 14))  # at most 14 day labels
    axes.set_xticks(x[::step], [d.day.strftime("%m-%d") for d in days][::step])
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(bottom=0, top=max(1, int((answered + unanswered).max())) * 1.15)
    axes.set_title(word("chart_title", language), loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    # Above the bars, beside the title: a legend inside the axes would hide the first days' bars.
    axes.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, frameon=False, borderaxespad=0.2)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})  # no version stamp: same data, same bytes
    return out.getvalue()


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 60rem;
       padding: 0 1rem; color: #1f2933; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } .period { color: #616e7c; margin-top: 0; }
.figures { display: flex; flex-wrap: wrap; gap: 0.8rem; padding: 0; list-style: none; }
.figures li { border: 1px solid #d9e2ec; border-radius: 6px; padding: 0.6rem 1rem; min-width: 9rem; }
.figures .value { display: block; font-size: 1.6rem; font-weight: 600; }
.figures .label { color: #616e7c; font-size: 0.9rem; }
img { max-width: 100%; height: auto; } h2 { border-bottom: 1px solid #d9e2ec; padding-bottom: 0.2rem; }
"""


def html_page(report: Report, language: str = DEFAULT_LANGUAGE, *, chart: bytes | None = None) -> str:
    """The report as one self-contained HTML page: inline CSS, the chart as a `data:` PNG, every text escaped;
    links only to the sources themselves (a Content-Security-Policy forbids loading anything else)."""
    esc = lambda text: html.escape(text, quote=True)  # noqa: E731
    png = chart if chart is not None else chart_png(report, language)
    title = f"{word('title', language)} — {period_text(report, language)}"
    parts = [
        "<!DOCTYPE html>", f'<html lang="{esc(language)}">', "<head>", '<meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        'style-src \'unsafe-inline\'">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<h1>{esc(word('title', language))}</h1>", f'<p class="period">{esc(period_text(report, language))}</p>',
        f"<h2>{esc(word('figures', language))}</h2>", '<ul class="figures">',
        *(f'<li><span class="value">{esc(value)}</span><span class="label">{esc(label)}</span></li>'
          for label, value in figures(report, language)),
        "</ul>",
        f'<img src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}" '
        f'alt="{esc(chart_alt(report, language))}" width="800" height="320">',
    ]
    for section in report_sections(report, language, limit=50):
        parts += [f"<h2>{esc(section.title)}</h2>", "<ul>"]
        for line in section.lines:
            url = web_url(line.url, ":/?#[]@!$&'()*+,;=%~-._")
            text = esc(line.text)
            parts.append(f'<li><a href="{esc(url)}" rel="noreferrer">{text}</a></li>' if url else f"<li>{text}</li>")
        parts.append("</ul>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


# --- the scheduled report --------------------------------------------------------------------------------------


def report_job(build: Callable[[datetime], Report], publish: Callable[[Report], str], *, schedule: str) -> Job:
    """The scheduled report: at each fire time, the report of the last `DEFAULT_DAYS` days up to then
    (`build(now)`), handed to `publish`, whose one line is the run's result for staff."""
    from bot.scheduler import Job

    def run(now: datetime) -> str:
        return publish(build(now))

    return Job("staff-report", schedule, run)


__all__ = ["CitedSource", "DayCount", "GapGroup", "LANGUAGES", "Line", "RatedAnswer", "Report", "Section",
           "StaleContent", "StaleItem", "build_report", "chart_alt", "chart_png", "figures", "group_questions",
           "html_page", "period_start", "period_text", "report_job", "report_sections", "stale_content",
           "summary_lines", "word"]
