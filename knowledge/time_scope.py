"""Which period a question asks about ("upcoming", "this month", "la semaine prochaine", "avant mars"):
a date range and a kind, resolved against today's date. No I/O.

Dates written in source files (front matter, tables, calendars) are read by `knowledge.date_parsing`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from knowledge.locales import catalogs
from knowledge.text import fold, keywords


def _alternatives(name: str) -> str:
    """One regex alternation of a kind of time word ("before", "next_week"...) over every language's catalog."""
    return "|".join(word for module in catalogs().values() for word in module.TIME_WORDS.get(name, []))


def _words(name: str) -> re.Pattern[str]:
    return re.compile(r"\b(" + _alternatives(name) + r")\b")


# Every language's time words at once: a question names its period in its own language, and a French
# question quoting an English title ("Medtech Summit") still names an event.
_MONTHS: dict[str, int] = {word: number for module in catalogs().values() for word, number in module.MONTHS.items()}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b"
_YEAR = r"(?:\s+(?P<year>20\d\d))?"
_ARTICLE = r"(?:(?:" + _alternatives("article") + r")\s+)?"

_EVENT_WORDS = _words("event")
_CALL_WORDS = _words("call")
_CALL_NOUNS = _words("call_noun")
_UPCOMING = _words("upcoming")
_OPEN = _words("open")
_PAST = _words("past")
_WHEN = _words("when")
_PRICE = _words("price")
_AMOUNT = re.compile(r"[€$£]|\d\s*%|\b(?:" + _alternatives("amount") + r")\b")
# "before March", "before 20 March", "avant le 20 mars", "before March 20th"
_DAY_NUMBER = r"0?[1-9]|[12]\d|3[01]"
# "mid-March", "mi-mars", "Mitte März": the 15th; "jusqu'au mois de mars": March
_MID = r"(?:(?P<mid>mid-?|mi-|mi\s|mitte)\s*)?"
_MONTH_OF = r"(?:mois\s+d(?:e\s+|\s+))?"
_BEFORE = re.compile(r"\b(?P<word>" + _alternatives("before") + r")\s+" + _ARTICLE
                     + r"(?P<end_of>(?:" + _alternatives("end_of") + r")\s+)?"
                     + r"(?:(?P<day>" + _DAY_NUMBER + r")(?:st|nd|rd|th|er|\.)?\s+(?:of\s+)?)?" + _MID + _MONTH_OF
                     + _MONTH
                     + r"(?:\s+(?P<day_after>" + _DAY_NUMBER + r")(?:st|nd|rd|th)?\b)?" + _YEAR)
# "by 29 January" and "jusqu'au 15 avril" include that day; "before" and "avant" do not
_INCLUSIVE = frozenset({"by", "until", "through", "thru", "till", "til", "up to", "up until", "no later than",
                        "jusqu au", "jusqu a", "d ici", "au plus tard", "bis", "bis zum", "spatestens"})
# "until March", "through March", "jusqu'à mars", "bis März" take March in; "before March", "by March", "d'ici
# mars" stop as it begins
_MONTH_INCLUSIVE = (_INCLUSIVE - {"by", "d ici"}) | {"jusqu en", "au plus tard en"}
# ... and "from March", "à partir de mars", "dès mars", "ab März" start with March; "after March", "après mars" after it
_FROM = frozenset({"from", "a partir de", "a partir d", "a partir", "ab"})
_AFTER = re.compile(r"\b(?P<word>" + _alternatives("after") + r")\s+" + _ARTICLE
                    + r"(?:(?P<day>" + _DAY_NUMBER + r")(?:st|nd|rd|th|er|\.)?\s+(?:of\s+)?)?" + _MID + _MONTH_OF
                    + _MONTH
                    + r"(?:\s+(?P<day_after>" + _DAY_NUMBER + r")(?:st|nd|rd|th)?\b)?" + _YEAR)
# "from 1 to 15 April", "du 4 au 8 mars", "vom 4. bis 8. März", "between 4 and 8 March"
_RANGE = re.compile(r"\b(?:from|between|du|entre le|entre|vom|zwischen dem|zwischen)\s+(?:the\s+)?"
                    r"(?P<first>" + _DAY_NUMBER + r")(?:st|nd|rd|th|er|\.)?(?:\s+(?P<first_month>"
                    + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r"))?\s+(?:to|and|au|et le|et|bis|und)\s+"
                    r"(?:the\s+)?(?P<last>" + _DAY_NUMBER + r")(?:st|nd|rd|th|er|\.)?\s+(?:of\s+)?" + _MONTH + _YEAR)
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))


def _month_range(starts: str, links: str) -> re.Pattern[str]:
    """A range of months: a start word, the first month (its year), a link word, the last month (a day of it, its
    year); "the end of", "fin", "Ende", "mois de" before the last month change nothing."""
    return re.compile(r"\b(?:" + starts + r")\s+(?P<first>" + _MONTH_NAMES + r")\b(?:\s+(?P<first_year>20\d\d))?,?\s+"
                      r"(?:" + links + r")\s+(?:(?:the\s+)?end\s+of\s+|fin\s+|ende\s+|mois\s+d(?:e\s+|\s+))?"
                      r"(?:(?P<last_day>" + _DAY_NUMBER + r")(?:st|nd|rd|th|er|\.)?\s+(?:of\s+)?)?" + _MONTH
                      + r"(?:\s+(?P<last_day_after>" + _DAY_NUMBER + r")(?:st|nd|rd|th)?\b)?" + _YEAR)


# "from March to May", "de mars à mai", "d'avril à juin", "du mois de mars au mois de mai", "von März bis Mai",
# "from March to May 15"; and "between March and May", "entre mars et mai", "zwischen März und Mai" ("de
# novembre et janvier" is two months, not a range)
_MONTH_RANGES = (
    _month_range("from|de|d|du mois de|du mois d|von|vom", "to|until|through|till|a|au|jusqu a|jusqu en|bis"),
    _month_range("between|entre|zwischen", "and|et|und"),
)
_DES = re.compile(r"\bdès\b", re.IGNORECASE)  # "dès mars" is "à partir de mars"; folded, "des" is an article
_WITHIN = re.compile(r"\b(" + _alternatives("within") + r")\s+" + _MONTH + _YEAR)
_THIS_MONTH = _words("this_month")
_NEXT_MONTH = _words("next_month")
_THIS_WEEK = _words("this_week")
_NEXT_WEEK = _words("next_week")
_TODAY = _words("today")
_TOMORROW = _words("tomorrow")
_THIS_YEAR = _words("this_year")
_WEEKDAYS: dict[str, int] = {day: number for module in catalogs().values()
                             for number, day in enumerate(module.WEEKDAYS.split())}
_WEEKDAY = r"(?P<weekday>" + "|".join(_WEEKDAYS) + r")"
_DAY = r"(?P<day>" + _DAY_NUMBER + r")(?:st|nd|rd|th|er|\.)?"
# Month words that are also other words ("May I...", "2 may attend"): a date only after a preposition or article,
# with a weekday or a year, or written as an ordinal.
_AMBIGUOUS_MONTHS = frozenset({"may", "mar", "jun", "jul", "jan", "feb", "apr", "aug", "sep", "oct", "nov", "dec",
                               "fev", "avr", "juil", "janv", "okt", "dez"})
_DATE_LEAD = re.compile(r"\b(?:on|the|by|before|after|until|from|of|in|le|du|au|am|vom|bis|ab|dem|den)\s*$")
# "4 March", "Thursday 4 March 2027", "le jeudi 4 mars", "am 4. März", "March 4th", "March 20":
_DAY_MONTH = re.compile(r"\b(?:" + _WEEKDAY + r",?\s+)?" + _DAY + r"\s+(?:of\s+)?" + _MONTH + _YEAR)
_MONTH_DAY = re.compile(r"\b" + _MONTH + r"\s+" + _DAY + r"\b(?:,?\s+(?P<year>20\d\d))?")
# "next Tuesday", "on Tuesday", "mardi prochain", "nächsten Dienstag"
_WEEKDAY_NAMED = re.compile(r"\b(?:(?P<word>" + _alternatives("next_weekday") + r")\s+)?" + _WEEKDAY
                            + r"(?P<after>\s+(?:" + _alternatives("upcoming") + r"))?\b")
# "open to the public", "ouvert aux non-adhérents", "offen für Studierende", "open to startups": who may come or
# apply, not when; "open for registration", "ouverts aux inscriptions" are about what is ahead.
_OPEN_TO = re.compile(r"\b(?:" + _alternatives("open") + r")\s+(?:to|aux?|a|fur|pour)\s+"
                      r"(?!(?:les\s+|l\s+|der\s+|die\s+)?"
                      r"(?:inscriptions?|registrations?|sign[ -]?ups?|anmeldung(?:en)?)\b)")
# ... and an event question says "open" of the events ahead only when it asks which ones ("Which events are
# open?"), not of one ("Les inscriptions au hackathon sont-elles ouvertes ?": its details, not a list)
_WHICH = re.compile(r"\b(?:which|what|any|quel|quels|quelle|quelles|lesquels|welche|welcher|welches|welchen)\b")
# "Which events", "quels ateliers", "welche Veranstaltungen", "any workshops": several items of a kind, asked for
_WHICH_ONES = re.compile(r"\b(?P<which>which|what|any|quels|quelles|welche|gibt es)\s+(?:[\w-]+\s+)?(?P<noun>"
                         + _alternatives("event") + r")\b")
# ... and of funding ("what funding", "quels financements", "welche Förderaufrufe"): the open calls, listed
_WHICH_FUNDING = re.compile(r"\b(?:which|what|any|quels|quelles|welche|gibt es)\s+(?:[\w-]+\s+)?(?:"
                            + _alternatives("call") + r")\b")
_NEXT_STEPS = re.compile(r"\b(?:next|prochaines?|nachsten?)\s+(?:steps?|etapes?|schritte?)\b")
_WEEK_OF = re.compile(r"\b(?:" + _alternatives("week_of") + r")\s*$")
_WEEKEND_OF = re.compile(r"\b(?:" + _alternatives("weekend_of") + r")\s*$")


@dataclass(frozen=True)
class TimeScope:
    """What a question says about time: a kind it is about, a range, and whether only open/upcoming count."""

    kind: str | None = None  # "event" | "funding_call" | None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    upcoming_only: bool = False  # events not yet over / calls not yet closed
    asks_when: bool = False  # a date, a period, "next", "past" (not "open", not "the next steps")
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


def _day_of(month_start: datetime, number: int, year: str | None, today: datetime) -> datetime:
    """Day `number` of the month starting at `month_start` (the month's last when shorter); a day of this month
    already gone, without a year, is next year's."""
    def in_month(first: datetime) -> datetime:
        return first.replace(day=min(number, (_next_month(first) - timedelta(days=1)).day))

    day = in_month(month_start)
    return in_month(_month_start(day.year + 1, day.month, day)) if day < today and not year else day


def _resolve_month(month: int, year: str | None, now: datetime) -> datetime:
    """A month named without a year is the next such month from today (this one if we are in it)."""
    if year:
        return _month_start(int(year), month, now)
    chosen = now.year if month >= now.month else now.year + 1
    return _month_start(chosen, month, now)


def _plausible_date(found: re.Match[str], text: str) -> bool:
    """Whether "2 may" or "May 2" is a date: an unambiguous month word, or a lead-in, a weekday, a year or an
    ordinal with it ("on May 2", "May 2nd 2027"; not "May 2 people attend?")."""
    groups = found.groupdict()
    return (found.group("month") not in _AMBIGUOUS_MONTHS or bool(found.group("year"))
            or bool(groups.get("weekday")) or bool(_DATE_LEAD.search(text[: found.start()]))
            or bool(re.search(r"\d(?:st|nd|rd|th)\b", found.group(0))))


def _day_asked(text: str, now: datetime) -> tuple[datetime, datetime] | None:
    """The day a question names ("le jeudi 4 mars", "March 20th", "next Tuesday"), or the week or weekend of it
    ("la semaine du 7 juin", "the weekend of March 20"), as [start, end); None when it names none. A date
    without a year is the next such date from today; a weekday alone, the next such day (today's included,
    unless "next" says the one after)."""
    today = now.date()
    found = next((m for pattern in (_DAY_MONTH, _MONTH_DAY) for m in pattern.finditer(text)
                  if _plausible_date(m, text)), None)
    day: date | None = None
    if found:
        month, number = _MONTHS[found.group("month")], int(found.group("day"))
        weekday = _WEEKDAYS.get(found.group("weekday") or "") if "weekday" in found.groupdict() else None
        try:
            if found.group("year"):
                day = date(int(found.group("year")), month, number)
            elif weekday is not None:  # "jeudi 25 février": the year in which it is a Thursday, this one first
                years = (now.year, now.year + 1, now.year - 1)
                day = next((d for d in (date(y, month, number) for y in years) if d.weekday() == weekday),
                           date(now.year, month, number))
            else:
                day = date(now.year, month, number)
                if day < today:
                    day = date(now.year + 1, month, number)
        except ValueError:  # "31 June"
            return None
    else:
        named = _WEEKDAY_NAMED.search(text)
        if named is None or not (named.group("word") or named.group("after")):
            return None  # a bare weekday ("the Tuesday office hour") names no date
        ahead = (_WEEKDAYS[named.group("weekday")] - today.weekday()) % 7
        nextword = named.group("after") or (named.group("word") and _UPCOMING.fullmatch(named.group("word")))
        day = today + timedelta(days=ahead or (7 if nextword else 0))
    start = datetime.combine(day, time(0, 0), now.tzinfo)
    before = text[: found.start()] if found else ""
    if _WEEK_OF.search(before):
        start -= timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if _WEEKEND_OF.search(before):  # Saturday and Sunday of that week (the one ahead from a weekday)
        start += timedelta(days=5 - day.weekday()) if day.weekday() < 5 else -timedelta(days=day.weekday() - 5)
        return start, start + timedelta(days=2)
    return start, start + timedelta(days=1)


# "Is the summit in June free?", "la conférence en juin", "die Konferenz im Juni": one item, named by its kind noun,
# also at the end of a compound ("das FHIR-Meetup im Februar", "der Cybersicherheits-Workshop")
_THE_ITEM = re.compile(r"\b(?:the|le|la|l|der|die|das|den|dem)\s+(?:[\w-]+\s+){0,2}?(?:\w+-)?(?P<noun>"
                       + _alternatives("event") + "|" + _alternatives("call_noun") + r")\b")


def _which_ones(text: str) -> bool:
    """Whether a (plain) question asks which items of a kind there are, in the plural ("which events", "quels
    webinaires", "welche Veranstaltungen"); not "which event is ..." nor "quelle langue"."""
    return any(found.group("noun").endswith(("s", "x", "en")) or (found.group("which") == "welche"
               and found.group("noun").endswith("e")) for found in _WHICH_ONES.finditer(text))


def lists_a_kind(question: str) -> bool:
    """Whether a question asks which items of a kind there are, in the plural ("Which events are coming up?",
    "Quels appels sont ouverts ?", "Welche Veranstaltungen gibt es?"): a question of its own, though it names no
    topic.

    >>> lists_a_kind("Which events are coming up?"), lists_a_kind("Is it free?")
    (True, False)
    """
    return _which_ones(_plain(question))


def says_next_or_past(question: str) -> bool:
    """Whether a question asks for what is next or past in words ("the next summit", "last year's"), not only
    by a window that happens to hold today."""
    text = _NEXT_STEPS.sub(" ", _plain(question))
    return bool(_UPCOMING.search(text) or _PAST.search(text))


def names_a_call(question: str) -> bool:
    """Whether a question names a call by its noun ("the cybersecurity call", "l'appel", "der Aufruf"), not
    only by a deadline word.

    >>> names_a_call("What is the deadline of the cybersecurity call?"), names_a_call("When does i-Nov close?")
    (True, False)
    """
    return bool(_CALL_NOUNS.search(_plain(question)))


def asks_date(question: str) -> bool:
    """Whether a question asks for a date or a time ("When is the Demo Day?", "C'est quand ?", "Wann ist ...").

    >>> asks_date("C'est quand le Demo Day ?"), asks_date("Is the Demo Day free?")
    (True, False)
    """
    return bool(_WHEN.search(_plain(question)))


def asks_price(question: str) -> bool:
    """Whether a question asks what something costs ("How much is the workshop?", "C'est payant ?", "Was kostet
    ...?").

    >>> asks_price("Le hackathon, c'est payant ?"), asks_price("When is the hackathon?")
    (True, False)
    """
    return bool(_PRICE.search(_plain(question)))


_INTENTS = {"when": _WHEN, "price": _PRICE, **{name: _words(name) for name in ("who", "how", "contact")}}


def intents(text: str) -> frozenset[str]:
    """What a question asks, or a section's heading answers, in any language: "when", "price", "who", "how",
    "contact" ("Who can apply?" and "Eligibility", "How do I apply?" and "How to apply", "Combien coûte
    l'adhésion ?" and "Montant de la cotisation").

    >>> sorted(intents("How do I apply?")), sorted(intents("Who can apply")), sorted(intents("How much is it?"))
    (['how'], ['who'], ['price'])
    """
    plain = _plain(text)
    return frozenset(name for name, words in _INTENTS.items() if words.search(plain))


def says_amount(sentence: str) -> bool:
    """Whether a sentence gives a price: a currency sign or name, a percentage, a word for free.

    >>> says_amount("In English, 60 EUR for members."), says_amount("Gratuit pour les adhérents."), says_amount(
    ...     "Teams of 3 to 6.")
    (True, True, False)
    """
    return bool(_AMOUNT.search(_plain(sentence)))


_CLOCK_TIME = re.compile(r"\b(?:[01]?\d|2[0-3])(?::|h|\.)[0-5]\d\b|\b\d{1,2}\s?(?:am|pm|uhr)\b")


def says_when(sentence: str) -> bool:
    """Whether a sentence gives a day, a month, a weekday or a time ("Doors open at 18:30", "until 1 March",
    "jeudi"); "May" or "mar" only next to a number.

    >>> says_when("Companies can book a table until 1 March."), says_when("About 25 companies recruit.")
    (True, False)
    """
    text = _plain(sentence)
    if _CLOCK_TIME.search(text) or re.search(r"\b(?:" + "|".join(_WEEKDAYS) + r")\b", text):
        return True
    return any(_MONTHS.get(word) and (word not in _AMBIGUOUS_MONTHS or re.search(
        r"\d\s+" + word + r"\b|\b" + word + r"\s+\d", text)) for word in re.findall(r"[a-z]+", text))


def item_noun(question: str) -> str | None:
    """The event or call noun a question names one item by ("the summit", "le webinaire"), as written plainly.

    >>> item_noun("Is the summit in June free for members?"), item_noun("Any workshops in June?")
    ('summit', None)
    >>> item_noun("Muss man sich für das FHIR-Meetup im Februar anmelden?")
    'meetup'
    """
    found = _THE_ITEM.search(_plain(question))
    return found.group("noun") if found else None


def parse_time_scope(question: str, now: datetime) -> TimeScope:
    """Read the time a question is about, relative to ``now``.

    >>> from zoneinfo import ZoneInfo
    >>> now = datetime(2026, 11, 22, tzinfo=ZoneInfo("Europe/Paris"))
    >>> scope = parse_time_scope("Which calls close before March?", now)
    >>> (scope.kind, scope.end.date().isoformat(), scope.upcoming_only)
    ('funding_call', '2027-03-01', True)
    """
    text = _plain(_DES.sub("à partir de", question))
    kind = None
    if _EVENT_WORDS.search(text):
        kind = "event"
    if _CALL_WORDS.search(text) and not (kind == "event" and not _CALL_NOUNS.search(text)):
        kind = "funding_call"
    start: datetime | None = None
    end: datetime | None = None
    # "Is the Demo Day open to the public?", "Is the EIC call open to startups?" and "the next steps to register"
    # ask nothing about when
    upcoming = bool(_UPCOMING.search(_NEXT_STEPS.sub(" ", text))
                    or (_OPEN.search(text) and not _OPEN_TO.search(text)
                        and (kind != "event" or _WHICH.search(text))))
    past = bool(_PAST.search(text)) and not upcoming
    today = datetime.combine(now.date(), time(0, 0), now.tzinfo)

    before = _BEFORE.search(text)
    after = _AFTER.search(text)
    within = _WITHIN.search(text)
    if months := next((found for pattern in _MONTH_RANGES if (found := pattern.search(text))), None):
        # "from March to May": neither "before May" nor "from March" alone
        before = after = None
    if before:
        end = _resolve_month(_MONTHS[before.group("month")], before.group("year"), now)
        number = before.group("day") or before.group("day_after") or ("15" if before.group("mid") else None)
        if before.group("end_of") or (not number and (before.group("word") in _MONTH_INCLUSIVE
                                                         or (end <= today and not before.group("year")))):
            # "until March" takes March in; so does "by March" asked in March: the month under way, to its end
            end = _next_month(end)
        elif number:  # "before 20 March": up to that day
            end = _day_of(end, int(number), before.group("year"), today)
            if before.group("word") in _INCLUSIVE:  # "by 29 January": that day too
                end += timedelta(days=1)
        upcoming = True
    if after:
        start = _resolve_month(_MONTHS[after.group("month")], after.group("year"), now)
        if number := after.group("day") or after.group("day_after") or ("15" if after.group("mid") else None):
            # "after 4 March", "à partir du 15 avril", "after mid-March"
            start = _day_of(start, int(number), after.group("year"), today)
        elif after.group("word") not in _FROM:
            start = _next_month(start)
    if (span := _RANGE.search(text)) and not before:  # "from 1 to 15 April"
        month = _MONTHS[span.group("first_month") or span.group("month")]
        last = _resolve_month(_MONTHS[span.group("month")], span.group("year"), now)
        start = _day_of(_resolve_month(month, span.group("year"), now), int(span.group("first")), span.group("year"),
                        today)
        end = _day_of(last, int(span.group("last")), span.group("year"), today) + timedelta(days=1)
        after = span
    if months:
        start, end = _months_between(months, now)
        after = months
    if within and not before and not after:
        start = _resolve_month(_MONTHS[within.group("month")], within.group("year"), now)
        end = _next_month(start)
    if _THIS_MONTH.search(text) and not within:
        start, end = _month_start(now.year, now.month, now), _next_month(now)
    elif _NEXT_MONTH.search(text):
        start = _next_month(now)
        end = _next_month(start)
    elif _THIS_WEEK.search(text):
        start = today - timedelta(days=now.weekday())
        end = start + timedelta(days=7)
    elif _NEXT_WEEK.search(text):
        start = today - timedelta(days=now.weekday()) + timedelta(days=7)
        end = start + timedelta(days=7)
    elif _TODAY.search(text):
        start, end = today, today + timedelta(days=1)
    elif _TOMORROW.search(text):
        start, end = today + timedelta(days=1), today + timedelta(days=2)
    elif _THIS_YEAR.search(text):
        start, end = today, datetime.combine(date(now.year + 1, 1, 1), time(0, 0), now.tzinfo)
    elif not (before or after) and (day := _day_asked(text, now)) is not None:
        start, end = day
    if kind == "funding_call" and not (upcoming or past or start or end) and _WHICH_FUNDING.search(text):
        upcoming = True  # "What funding is there for medtech startups?", "Which calls are open to startups?"
    elif kind and not (upcoming or past or start or end) and _which_ones(text) and not _OPEN_TO.search(text):
        upcoming = True  # "Quels événements à Genève ?", "Which calls fund AI projects?": the ones ahead, listed
    if start is not None and start < now and (end is None or end > now) and kind != "funding_call":
        upcoming = True  # "this month's events": the ones still ahead of us
    past = past and not upcoming and kind != "funding_call"
    when = bool(start or end or past or (upcoming and not _OPEN.search(text)))
    return TimeScope(kind=kind, start=start, end=end, upcoming_only=upcoming and not past, past_only=past,
                     asks_when=when)


def _months_between(found: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    """The window of a month range: the first month's first day to the end of the last month (or to its day).

    A year given to one month places the other: "from January 2027 to December" ends in December 2027,
    "from November to January 2027" starts in November 2026. Without one, the last month is read as any month
    is (the next such one, this one if we are in it) and the first is the one before it: asked in April, "from
    March to May" is this spring; "from November to January" asked in December is the season under way.
    """
    first, last_month = _MONTHS[found.group("first")], _MONTHS[found.group("month")]
    if found.group("first_year") and not found.group("year"):
        year = int(found.group("first_year"))
        start = _month_start(year, first, now)
        last = _month_start(year + (last_month < first), last_month, now)
    else:
        last = _resolve_month(last_month, found.group("year"), now)
        year = int(found.group("first_year") or (last.year if first <= last.month else last.year - 1))
        start = _month_start(year, first, now)
    if number := found.group("last_day") or found.group("last_day_after"):  # "to May 15": that day included
        return start, last.replace(day=min(int(number), (_next_month(last) - timedelta(days=1)).day)) + timedelta(
            days=1)
    return start, _next_month(last)


@lru_cache(maxsize=1)
def _generic_keywords() -> frozenset[str]:
    # Words that say what kind of thing and when, not what about: left out when judging a listing's topic.
    generic = " ".join(f"{module.GENERIC_WORDS} {getattr(module, 'FUNCTION_WORDS', '')}"
                       for module in catalogs().values())
    return frozenset(keywords(generic) + keywords(" ".join(_MONTHS)) + keywords(" ".join(_WEEKDAYS))
                     + keywords("weekend week-end wochenende"))


def kinds_named(text: str) -> set[str]:
    """The kinds of event a text names, the same in every language ("workshops", "Atelier", "Workshop": the
    workshop kind; `KIND_NOUNS` of each catalog): said by the word itself, not by word vectors, where
    "workshop" and "afterwork" come close.

    >>> sorted(kinds_named("Any workshops or webinars in June?")), kinds_named("Atelier : IA"), kinds_named("Events")
    (['webinar', 'workshop'], {'workshop'}, set())
    """
    table = {word: kind for module in catalogs().values() for word, kind in getattr(module, "KIND_NOUNS", {}).items()}
    return {table[word] for word in re.findall(r"\w+", fold(text)) if word in table}


def topical_words(keyword_list: list[str]) -> set[str]:
    """The keywords of a question that say what it is about (not "upcoming", "events", "open"...)."""
    generic = _generic_keywords()
    return {w for w in keyword_list if w not in generic and not re.fullmatch(r"\d+(?:st|nd|rd|th|er|e)?", w)}
