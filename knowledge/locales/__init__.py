"""Every member-facing sentence and every language-specific word, one catalog module per language.

A catalog (`en.py`, `fr.py`, `de.py`) holds `NAME` (the language's English name), `MESSAGES` (the sentences
members read, by key), `TELLING_WORDS` and `ACCENTS` (what tells its text apart, for
`knowledge.language`), `MONTHS`, `TIME_WORDS` and `GENERIC_WORDS` (how its questions speak of time,
for `knowledge.time_scope`; a language whose function words are not the keyword search's stop words also lists
them in `FUNCTION_WORDS`), and `NO_ANSWER_WORDS`, `NUMBER_WORDS` and `WEEKDAYS` (how a chat model's reply says
"I don't know", and the words that are numbers or dates, for `knowledge.grounding`), and `ACRONYMS` (its
acronyms that other languages write differently, for `acronym_forms`), and `FOLLOW_UP_WORDS` (how a question
in a thread opens or points back like a follow-up, for `bot.conversation`), and `SMALL_TALK` (greetings and
thanks answered in kind). Adding a language is adding
one such module and its code to `LANGUAGES`.

>>> message("none_match", "de")
'nichts passt zu Ihrer Frage.'
>>> message("closed", "xx", date="2026-10-31")  # unknown language: English
'closed on 2026-10-31'
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache
from types import ModuleType

from knowledge.locales import de, en, fr

DEFAULT_LANGUAGE = "en"
# Order matters where languages share a word: detection breaks ties in this order after the default.
LANGUAGES: tuple[str, ...] = ("en", "fr", "de")
_CATALOGS: dict[str, ModuleType] = {"en": en, "fr": fr, "de": de}


def catalog(language: str) -> ModuleType:
    """The catalog module of `language` (English when there is none)."""
    return _CATALOGS.get(language, _CATALOGS[DEFAULT_LANGUAGE])


def catalogs() -> dict[str, ModuleType]:
    """Every catalog by language code, in `LANGUAGES` order."""
    return dict(_CATALOGS)


def messages(language: str) -> dict[str, str]:
    """All sentences of `language`, falling back to English key by key."""
    return {**en.MESSAGES, **catalog(language).MESSAGES}


def message(key: str, language: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """The sentence `key` in `language` (English when the language or the key is missing), filled with `values`."""
    sentence = catalog(language).MESSAGES.get(key) or en.MESSAGES[key]
    return sentence.format(**values) if values else sentence


@lru_cache(maxsize=1)
def _acronym_groups() -> dict[str, frozenset[str]]:
    by_meaning: dict[str, set[str]] = {}
    for module in _CATALOGS.values():
        for meaning, acronym in getattr(module, "ACRONYMS", {}).items():
            by_meaning.setdefault(meaning, set()).add(acronym.upper())
    return {acronym: frozenset(group) for group in by_meaning.values() for acronym in group}


def acronym_forms(word: str) -> frozenset[str]:
    """The forms an acronym takes in every language (upper case, itself included); empty for any other word.

    >>> sorted(acronym_forms("KI")), sorted(acronym_forms("PMEs")), acronym_forms("MDR")
    (['AI', 'IA', 'KI'], ['KMU', 'PME', 'SME'], frozenset())
    """
    upper = word.upper()
    if word[-1:] == "s" and word[:-1].isupper():  # "SMEs", "PMEs"
        upper = upper[:-1]
    return _acronym_groups().get(upper, frozenset())


def language_name(language: str) -> str:
    """'French' for "fr": how a prompt names the language to answer in."""
    return str(catalog(language).NAME) if language in _CATALOGS else "the question's language"


def written_day(day: date, language: str) -> str:
    """A day as `language` writes it.

    >>> written_day(date(2026, 12, 1), "fr"), written_day(date(2026, 12, 1), "en"), written_day(date(2026, 12, 1), "de")
    ('1er décembre 2026', '1 December 2026', '1. Dezember 2026')
    """
    months = message("month_names", language).split()
    number = message("first_day", language) if day.day == 1 else str(day.day)
    return message("day_written", language, day=number, month=months[day.month - 1], year=day.year)


def written_moment(moment: datetime, language: str, *, whole_day: bool = False) -> str:
    """A day and, unless `whole_day`, its time (the wall-clock time it carries) as `language` writes them.

    >>> written_moment(datetime(2026, 12, 10, 14, 0), "fr"), written_moment(datetime(2026, 12, 10, 14, 0), "de")
    ('10 décembre 2026 à 14:00', '10. Dezember 2026, 14:00 Uhr')
    """
    day = written_day(moment.date(), language)
    return day if whole_day else message("day_time_written", language, date=day, time=f"{moment:%H:%M}")


_STORED = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::\d{2})?(?: ?\(UTC[+-]\d{2}:\d{2}\))?)?")


def written_date(value: str, language: str) -> str:
    """A date as ingestion stores it ('2026-03-15', '2026-12-10 14:00 (UTC+01:00)') as `language` writes it,
    at the time of day the source gives; anything else is returned as it is.

    >>> written_date("2026-12-10 14:00 (UTC+01:00)", "en"), written_date("2027-03-01", "fr")
    ('10 December 2026, 14:00', '1er mars 2027')
    >>> written_date("spring 2027", "fr")
    'spring 2027'
    """
    found = _STORED.fullmatch(value.strip())
    if not found:
        return value
    year, month, day, hour, minute = found.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0))
    except ValueError:
        return value
    return written_moment(moment, language, whole_day=hour is None)
