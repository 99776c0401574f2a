"""Parses the dates written in source files (front matter, tables, calendars) into aware datetimes.

What period a member's question asks about is read by `knowledge.time_scope`.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from dateutil import parser as dateparser

_HAS_TIME = re.compile(r"\d{1,2}[:h]\d{2}")
_DAY_FIRST = re.compile(r"^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}")


class DateError(ValueError):
    """A value that is not a date we can read."""


def to_datetime(value: object, tz: ZoneInfo, *, end_of_day: bool = False) -> datetime:
    """Read a date or date-time; dates alone become the start (or end) of that day in ``tz``.

    >>> to_datetime("15/03/2026", ZoneInfo("Europe/Paris"), end_of_day=True).isoformat()
    '2026-03-15T23:59:59+01:00'
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(23, 59, 59) if end_of_day else time(0, 0), tz)
    text = str(value).strip()
    if not text:
        raise DateError("empty date")
    try:
        parsed = dateparser.parse(text, dayfirst=bool(_DAY_FIRST.match(text)))
    except (ValueError, OverflowError):
        raise DateError(f"not a date: {text!r}") from None
    if not _HAS_TIME.search(text):
        return to_datetime(parsed.date(), tz, end_of_day=end_of_day)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def timestamp(moment: datetime) -> int:
    """Seconds since the epoch: the sortable form kept in Chroma metadata."""
    return int(moment.timestamp())
