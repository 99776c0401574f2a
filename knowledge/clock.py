"""The one place that reads the machine's clock. Everything else is handed a `Clock` where objects are wired
(`bot.wiring.Services`, `ingest.py`), so tests pin "now" and no behaviour depends on the day a test runs.

    >>> from zoneinfo import ZoneInfo
    >>> system_clock(ZoneInfo("Europe/Paris"))().tzinfo
    zoneinfo.ZoneInfo(key='Europe/Paris')
    >>> fixed_clock(datetime(2027, 6, 15, 9, tzinfo=ZoneInfo("Europe/Paris")))().isoformat()
    '2027-06-15T09:00:00+02:00'
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo

Clock = Callable[[], datetime]  # returns an aware datetime


def system_clock(tz: tzinfo) -> Clock:
    """The machine's clock in `tz`: wire it once, at the entry points."""

    def now() -> datetime:
        return datetime.now(tz)

    return now


def fixed_clock(moment: datetime) -> Clock:
    """A clock that always says `moment` (an aware datetime): tests, `--today`, evaluation."""
    if moment.tzinfo is None:
        raise ValueError("fixed_clock needs an aware datetime")
    return lambda: moment
