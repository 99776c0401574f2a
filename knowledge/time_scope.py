"""Which period a question asks about ("upcoming", "this month", "la semaine prochaine", "avant mars"):
a date range and a kind, resolved against today's date. No I/O.

Dates written in source files (front matter, tables, calendars) are read by `knowledge.date_parsing`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from knowledge.text import fold, keywords

_MONTHS = {
    "january": 1, "jan": 1, "janvier": 1, "janv": 1,
    "february": 2, "feb": 2, "fevrier": 2, "fev": 2,
    "march": 3, "mar": 3, "mars": 3,
    "april": 4, "apr": 4, "avril": 4, "avr": 4,
    "may": 5, "mai": 5,
    "june": 6, "jun": 6, "juin": 6,
    "july": 7, "jul": 7, "juillet": 7, "juil": 7,
    "august": 8, "aug": 8, "aout": 8,
    "september": 9, "sep": 9, "sept": 9, "septembre": 9,
    "october": 10, "oct": 10, "octobre": 10,
    "november": 11, "nov": 11, "novembre": 11,
    "december": 12, "dec": 12, "decembre": 12,
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b"
_YEAR = r"(?:\s+(?P<year>20\d\d))?"

_EVENT_WORDS = re.compile(
    r"\b(events?|evenements?|atelier|ateliers|workshops?|webinars?|webinaires?|summit|sommet|conferences?|"
    r"meetups?|rencontres?|salons?|journees?|matinales?|cafe|formations?|trainings?|sessions?|"
    r"agenda|calendar|calendrier|when is|when does|quand a lieu|quand aura lieu|a quelle date)\b")
_CALL_WORDS = re.compile(
    r"\b(calls?|appels?|aap|funding|financements?|grants?|subventions?|deadlines?|date limite|"
    r"closes?|closing|cloture|clotures?|cloturent|tenders?|concours)\b")
_UPCOMING = re.compile(
    r"\b(upcoming|next|coming|future|soon|planned|prochains?|prochaines?|a venir|bientot|futurs?|prevus?)\b")
_OPEN = re.compile(r"\b(open|still open|currently open|ouverts?|ouvertes?|en cours|encore ouverts?|active)\b")
# Bare "last"/"dernier" is left out: "the last day to apply" is about the future.
_PAST = re.compile(r"\b(past|previous|precedente?s?|passes?|passees?|ago|last year|l annee derniere|"
                   r"last month|le mois dernier|last week|la semaine derniere)\b")


@dataclass(frozen=True)
class TimeScope:
    """What a question says about time: a kind it is about, a range, and whether only open/upcoming count."""

    kind: str | None = None  # "event" | "funding_call" | None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    upcoming_only: bool = False  # events not yet over / calls not yet closed
    past_only: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.kind or self.start or self.end or self.upcoming_only or self.past_only)


def _plain(text: str) -> str:
    return re.sub(r"[’']", " ", fold(text))


def _month_start(year: int, month: int, now: datetime) -> datetime:
    return datetime.combine(date(year, month, 1), time(0, 0), now.tzinfo)


def _next_month(moment: datetime) -> datetime:
    return _month_start(moment.year + (moment.month == 12), moment.month % 12 + 1, moment)


def _resolve_month(month: int, year: str | None, now: datetime) -> datetime:
    """A month named without a year is the next such month from today (this one if we are in it)."""
    if year:
        return _month_start(int(year), month, now)
    chosen = now.year if month >= now.month else now.year + 1
    return _month_start(chosen, month, now)


def parse_time_scope(question: str, now: datetime) -> TimeScope:
    """Read the time a question is about, relative to ``now``.

    >>> from zoneinfo import ZoneInfo
    >>> now = datetime(2026, 11, 22, tzinfo=ZoneInfo("Europe/Paris"))
    >>> scope = parse_time_scope("Which calls close before March?", now)
    >>> (scope.kind, scope.end.date().isoformat(), scope.upcoming_only)
    ('funding_call', '2027-03-01', True)
    """
    text = _plain(question)
    kind = None
    if _EVENT_WORDS.search(text):
        kind = "event"
    if _CALL_WORDS.search(text) and not (kind == "event" and not re.search(r"\b(calls?|appels?|aap)\b", text)):
        kind = "funding_call"
    start: datetime | None = None
    end: datetime | None = None
    upcoming = bool(_UPCOMING.search(text) or _OPEN.search(text))
    past = bool(_PAST.search(text)) and not upcoming
    today = datetime.combine(now.date(), time(0, 0), now.tzinfo)

    before = re.search(r"\b(?:before|until|by|avant|d ici|jusqu a|au plus tard)\s+(?:le\s+|la\s+|the\s+)?"
                       r"(?P<end_of>end of\s+|the end of\s+|fin\s+|la fin d?e?\s*)?" + _MONTH + _YEAR, text)
    after = re.search(r"\b(after|from|apres|a partir d?e?)\s+(?:le\s+|the\s+)?" + _MONTH + _YEAR, text)
    within = re.search(r"\b(in|en|during|pendant|du mois d?e?|for|of|for the month of)\s+" + _MONTH + _YEAR, text)
    if before:
        end = _resolve_month(_MONTHS[before.group("month")], before.group("year"), now)
        if before.group("end_of"):
            end = _next_month(end)
        upcoming = True
    if after:
        start = _next_month(_resolve_month(_MONTHS[after.group("month")], after.group("year"), now))
    if within and not before and not after:
        start = _resolve_month(_MONTHS[within.group("month")], within.group("year"), now)
        end = _next_month(start)
    if re.search(r"\b(this month|ce mois|du mois)\b", text) and not within:
        start, end = _month_start(now.year, now.month, now), _next_month(now)
    elif re.search(r"\b(next month|le mois prochain|du mois prochain)\b", text):
        start = _next_month(now)
        end = _next_month(start)
    elif re.search(r"\b(this week|cette semaine)\b", text):
        start = today - timedelta(days=now.weekday())
        end = start + timedelta(days=7)
    elif re.search(r"\b(next week|la semaine prochaine|semaine prochaine)\b", text):
        start = today - timedelta(days=now.weekday()) + timedelta(days=7)
        end = start + timedelta(days=7)
    elif re.search(r"\b(today|aujourd hui)\b", text):
        start, end = today, today + timedelta(days=1)
    elif re.search(r"\b(tomorrow|demain)\b", text):
        start, end = today + timedelta(days=1), today + timedelta(days=2)
    elif re.search(r"\b(this year|cette annee)\b", text):
        start, end = today, datetime.combine(date(now.year + 1, 1, 1), time(0, 0), now.tzinfo)
    if start is not None and start < now and end is not None and end > now and kind != "funding_call":
        upcoming = True  # "this month's events": the ones still ahead of us
    past = past and not upcoming and kind != "funding_call"
    return TimeScope(kind=kind, start=start, end=end, upcoming_only=upcoming and not past, past_only=past)


# Words that say what kind of thing and when, not what about: left out when judging a listing's topic.
_GENERIC = """event events evenement evenements atelier ateliers workshop workshops webinar webinars webinaire
summit sommet conference conferences meetup rencontre rencontres salon salons journee journees session
agenda calendar calendrier call calls appel appels projet projets aap funding financement financements grant
grants subvention subventions deadline deadlines date limite closes closing cloture cloturent concours
upcoming next coming future soon planned prochain prochaine prochains prochaines venir bientot open ouvert
ouverts ouverte ouvertes encore still currently cours past previous passe passes when quand lieu which what
quel quels quelle quelles month mois week semaine year annee today tomorrow demain before after avant apres
this ce cette lists list liste there any show tell give""".split()


@lru_cache(maxsize=1)
def _generic_keywords() -> frozenset[str]:
    return frozenset(keywords(" ".join(_GENERIC)) + keywords(" ".join(_MONTHS)))


def topical_words(keyword_list: list[str]) -> set[str]:
    """The keywords of a question that say what it is about (not "upcoming", "events", "open"...)."""
    generic = _generic_keywords()
    return {w for w in keyword_list if w not in generic and not w.isdigit()}
