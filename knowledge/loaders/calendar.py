"""iCalendar (.ics) and jCal (.jcal) feeds: each VEVENT, and each occurrence of a recurring one, is an event."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path

from knowledge.loaders.base import LoadContext, Loaded, LoaderError, build_record, read_text

logger = logging.getLogger(__name__)

MAX_OCCURRENCES = 60  # per recurring event: a weekly meetup over a year, not an endless list


def _parse(path: Path) -> list:
    import icalendar

    text = read_text(path)
    if path.suffix.lower() != ".jcal":
        # A cut-off download must fail (keeping the indexed version), not read as a calendar with no events.
        upper = text.upper()
        if not upper.lstrip().startswith("BEGIN:VCALENDAR"):
            raise LoaderError("not an iCalendar file (it does not start with BEGIN:VCALENDAR)")
        if upper.count("BEGIN:VCALENDAR") != upper.count("END:VCALENDAR"):
            raise LoaderError("truncated calendar (BEGIN:VCALENDAR without END:VCALENDAR)")
        if upper.count("BEGIN:VEVENT") != upper.count("END:VEVENT"):
            raise LoaderError("truncated calendar (BEGIN:VEVENT without END:VEVENT)")
    try:
        if path.suffix.lower() == ".jcal":
            parsed = icalendar.Calendar.from_jcal(text)
            return parsed if isinstance(parsed, list) else [parsed]
        return list(icalendar.Calendar.from_ical(text, multiple=True))
    except Exception as exc:  # icalendar raises ValueError, KeyError, IndexError... on broken input
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise LoaderError(f"malformed calendar: {reason}") from None


def _moment(value: object, ctx: LoadContext, end: bool = False) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=ctx.tz)
    if isinstance(value, date):
        # All-day: DTEND is exclusive, so the last day is the one before.
        day = value - timedelta(days=1) if end else value
        return datetime(day.year, day.month, day.day, 23 if end else 0, 59 if end else 0, 59 if end else 0,
                        tzinfo=ctx.tz)
    raise LoaderError(f"not a date: {value!r}")


def _text(component, name: str) -> str:
    value = component.get(name)
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()


def _first(component, name: str):
    value = component.get(name)
    return value[0] if isinstance(value, list) and value else value


def _event_record(event, ctx: LoadContext):
    start_prop = _first(event, "DTSTART")
    if start_prop is None:
        raise LoaderError("event without DTSTART")
    start_value = start_prop.dt
    end_prop = _first(event, "DTEND")
    if end_prop is not None:
        end_value = end_prop.dt
    elif _first(event, "DURATION") is not None:
        end_value = start_value + _first(event, "DURATION").dt
    elif isinstance(start_value, datetime):
        end_value = start_value
    else:
        end_value = start_value + timedelta(days=1)
    start = _moment(start_value, ctx)
    end = _moment(end_value, ctx, end=True)  # `end` only matters for all-day dates
    fields: dict[str, object] = {
        "title": _text(event, "SUMMARY") or "(untitled event)",
        "kind": "event",
        "start": start,
        "end": max(end, start),
    }
    if _text(event, "LOCATION"):
        fields["location"] = _text(event, "LOCATION")
    if _text(event, "URL"):
        fields["url"] = _text(event, "URL")
    audience = _text(event, "X-CLUSTER-AUDIENCE") or _text(event, "CLASS").lower()
    if audience in {"public", "member", "staff"}:
        fields["audience"] = audience
    elif audience in {"private", "confidential"}:
        fields["audience"] = "staff"  # a private event is never shown to members
    if _text(event, "X-CLUSTER-LANGUAGE"):
        fields["language"] = _text(event, "X-CLUSTER-LANGUAGE")
    return build_record(fields, _text(event, "DESCRIPTION"), default_title="", ctx=ctx, default_kind="event")


def _expand(calendar, series: list, window: tuple[datetime, datetime]) -> list:
    """Occurrences of one recurring series (with its overrides) inside the window."""
    import icalendar
    import recurring_ical_events

    mini = icalendar.Calendar()
    for timezone in calendar.walk("VTIMEZONE"):
        mini.add_component(timezone)
    for event in series:
        mini.add_component(event)
    return list(recurring_ical_events.of(mini).between(*window))


def _describe(event) -> str:
    return _text(event, "SUMMARY") or _text(event, "UID") or "?"


def load_calendar(path: Path, ctx: LoadContext) -> Loaded:
    """Read every event; expand recurring ones over the configured window around `ctx.now`.

    Each series (events sharing a UID: the rule and its overrides) is read on its own, so one
    broken event is reported without losing the others.
    """
    calendars = _parse(path)
    records = []
    problems: list[str] = []
    window = (ctx.now - timedelta(days=ctx.recurrence_past_days),
              ctx.now + timedelta(days=ctx.recurrence_future_days))
    for calendar in calendars:
        series: dict[str, list] = {}
        for position, event in enumerate(calendar.walk("VEVENT")):
            series.setdefault(_text(event, "UID") or f"#{position}", []).append(event)
        for events in series.values():
            recurring = any(e.get("RRULE") is not None or e.get("RDATE") is not None for e in events)
            try:
                occurrences = _expand(calendar, events, window)[:MAX_OCCURRENCES] if recurring else events
                for occurrence in occurrences:
                    records.append(_event_record(occurrence, ctx))
            except LoaderError as exc:
                problems.append(f"event {_describe(events[0])}: {exc}")
            except Exception as exc:  # a property icalendar or the rule expansion could not read
                reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
                problems.append(f"event {_describe(events[0])}: unreadable ({reason})")
    if not records and problems:
        raise LoaderError(problems[0])
    if not records:
        logger.warning("calendar has no events path=%s", path)
    return Loaded(records, problems)
