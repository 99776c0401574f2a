"""iCalendar (.ics) and jCal (.jcal) feeds: each VEVENT, and each occurrence of a recurring one, is an event."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path

from knowledge.loaders.base import LoadContext, Loaded, LoaderError, build_record, read_text

logger = logging.getLogger(__name__)

# Seconds between two repetitions of a rule, by frequency (months and years on average).
_STEP_SECONDS = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600, "DAILY": 86400, "WEEKLY": 604800,
                 "MONTHLY": 2629746, "YEARLY": 31556952}
# The rule library walks a rule from its first occurrence: this many repetitions before the window at most.
_MAX_SKIPPED = 100_000


def _parse(path: Path, ctx: LoadContext) -> list:
    import icalendar

    text = read_text(path, ctx)
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


def _categories(event) -> str:  # noqa: ANN001 - an icalendar Event
    """CATEGORIES, however many properties and values: 'Workshop, Cybersecurity'."""
    value = event.get("CATEGORIES")
    properties = value if isinstance(value, list) else [value] if value is not None else []
    names = (str(name).strip() for prop in properties for name in getattr(prop, "cats", [prop]))
    return ", ".join(dict.fromkeys(name for name in names if name))


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
    if topics := _categories(event):  # "Workshop, Cybersecurity": what the event is about, often in no other field
        fields["topics"] = topics
    if _text(event, "STATUS").upper() == "CANCELLED":  # kept, so "is it still on?" gets its answer
        fields["status"] = "cancelled"
    audience = _text(event, "X-CLUSTER-AUDIENCE") or _text(event, "CLASS").lower()
    if audience in {"public", "member", "staff"}:
        fields["audience"] = audience
    elif audience in {"private", "confidential"}:
        fields["audience"] = "staff"  # a private event is never shown to members
    if _text(event, "X-CLUSTER-LANGUAGE"):
        fields["language"] = _text(event, "X-CLUSTER-LANGUAGE")
    return build_record(fields, _text(event, "DESCRIPTION"), default_title="", ctx=ctx, default_kind="event")


def _period(rule) -> float:  # noqa: ANN001 - an icalendar vRecur
    """Seconds between two occurrences of a rule at its densest (BYHOUR=9,17 on a daily rule: 12 hours)."""
    freq = str((rule.get("FREQ") or ["YEARLY"])[0]).upper()
    step = _STEP_SECONDS.get(freq, _STEP_SECONDS["YEARLY"])
    try:
        interval = max(1, int((rule.get("INTERVAL") or [1])[0]))
    except (TypeError, ValueError):
        interval = 1
    per_step = 1
    for part, unit in (("BYSECOND", 1), ("BYMINUTE", 60), ("BYHOUR", 3600)):
        if step > unit:
            per_step *= max(1, len(rule.get(part) or [None]))
    return step * interval / per_step


def _repetitions_before(rule, first: datetime, begin: datetime) -> float:  # noqa: ANN001
    """How many repetitions the rule library walks through from the rule's start to `begin`."""
    walked = max(0.0, (begin - first).total_seconds()) / _period(rule)
    count = rule.get("COUNT")
    return min(walked, float(count[0])) if count else walked


def _every(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}(s)"
    return f"{seconds:g} second(s)"


def _expand(calendar, series: list, window: tuple[datetime, datetime], ctx: LoadContext) -> list:  # noqa: ANN001
    """The first `ctx.max_occurrences` occurrences of one recurring series (with its overrides) in the window.

    The window is read in slices from the series' start (or the window's), each slice twice as long as
    the one before, and reading stops at the cap: an event repeating every second costs 60 occurrences,
    not the 40 million of a year. A rule that would be walked through more than _MAX_SKIPPED repetitions
    before the window (the rule library cannot jump ahead) is refused.
    """
    import icalendar
    import recurring_ical_events

    mini = icalendar.Calendar()
    for timezone in calendar.walk("VTIMEZONE"):
        mini.add_component(timezone)
    for event in series:
        mini.add_component(event)
    rules = [(rule, _moment(_first(event, "DTSTART").dt, ctx)) for event in series if _first(event, "DTSTART")
             for rule in (event["RRULE"] if isinstance(event.get("RRULE"), list) else [event.get("RRULE")])
             if rule is not None]
    begin, end = window
    if rules:
        begin = max(begin, min(first for _, first in rules))
        for rule, first in rules:
            if _repetitions_before(rule, first, begin) > _MAX_SKIPPED:
                raise LoaderError(f"repeats every {_every(_period(rule))} since {first:%Y-%m-%d}, "
                                  "too often to expand")
    period = min((_period(rule) for rule, _ in rules), default=86400.0)
    span = timedelta(seconds=max(60.0, ctx.max_occurrences * period))  # about max_occurrences at first
    query = recurring_ical_events.of(mini)
    found: dict[tuple[str, str], tuple[datetime, object]] = {}
    while begin < end and len(found) < ctx.max_occurrences:
        stop = min(end, begin + span)
        for occurrence in query.between(begin, stop):
            start = _moment(_first(occurrence, "DTSTART").dt, ctx)
            # An occurrence across two slices is returned twice.
            found.setdefault((_text(occurrence, "UID"), start.isoformat()), (start, occurrence))
        begin, span = stop, span * 2
    return [occurrence for _, occurrence in sorted(found.values(), key=lambda item: item[0])][:ctx.max_occurrences]


def _describe(event) -> str:
    return _text(event, "SUMMARY") or _text(event, "UID") or "?"


def load_calendar(path: Path, ctx: LoadContext) -> Loaded:
    """Read every event; expand recurring ones over the configured window around `ctx.now`.

    Each series (events sharing a UID: the rule and its overrides) is read on its own, so one
    broken event is reported without losing the others.
    """
    calendars = _parse(path, ctx)
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
                occurrences = _expand(calendar, events, window, ctx) if recurring else events
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
