"""Deadline reminders: a member clicks "Remind me" on an answer citing an open funding call, and gets a direct
message 7 days and 1 day before its deadline (at `REMIND_AT`, in the cluster's time zone), in their language.

- The button names the call as the answer showed it (`CallRef`: its path, title and deadline as shown); the
  click looks the call up in the index, records the reminder (`BotState.add_reminder`, members' data: purged
  with the rest and erased by "forget me") and says when the reminders will come.
- The scheduled job (`KB_REMINDER_SCHEDULE`, hourly by default) re-reads every reminded call in the index before
  sending: a call removed from the index gets one message saying so (and the reminder is dropped); a moved
  deadline gets one message saying from what to what, and the reminders follow the new date; once the deadline
  has passed nothing more is sent.
- Each message is claimed in the state file under (reminder, what, deadline) before it is sent: at most once,
  across runs, restarts and processes sharing the file. After downtime only the latest due reminder is sent.

This module imports no chat platform: a `ReminderSender` per platform (`bot.slack.reminders`) sends the text.

>>> ref = CallRef("calls.csv", "EIC Accelerator", "2027-03-04", "en")
>>> CallRef.from_value(ref.value()) == ref
True
>>> CallRef.from_value(CallRef("calls.csv", "R&D <2027>", "").value()).title
'R&D <2027>'
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from typing import Protocol

from bot import messages
from bot.digest import DigestItem, when_text
from bot.scheduler import Job
from bot.state import BotState, Reminder
from knowledge.answering import SourceRef
from knowledge.clock import Clock
from knowledge.filters import ChunkFilter, OneOf
from knowledge.models import MetadataValue, is_cancelled
from knowledge.store import KnowledgeStore

logger = logging.getLogger(__name__)

LEADS = (7, 1)  # days before the deadline
REMIND_AT = time(9, 0)  # on those days, in the cluster's time zone: a working hour, not the deadline's minute
MAX_CALLS = 3  # "Remind me" buttons under one answer
_VALUE_LIMIT = 2000  # characters of a Slack button's value


class ReminderNotSent(RuntimeError):
    """The platform could not deliver the message (no DM possible, refused); it is tried again next run."""


@dataclass(frozen=True)
class CallRef:
    """A cited call as the answer showed it: enough to find it in the index again, and the reply's language."""

    path: str
    title: str
    deadline: str  # as shown in the answer
    language: str = messages.DEFAULT_LANGUAGE

    def value(self) -> str:
        """The button's value: compact JSON, with `<`, `>` and `&` as JSON escapes (a title can never read as
        markup, wherever the value is echoed)."""
        text = json.dumps({"p": self.path, "t": self.title, "d": self.deadline, "l": self.language},
                          ensure_ascii=False, separators=(",", ":"))
        return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")

    @classmethod
    def from_value(cls, value: str) -> CallRef | None:
        """The reference a button carried, or None when it is not one."""
        try:
            data = json.loads(value)
            return cls(str(data["p"]), str(data["t"]), str(data.get("d", "")),
                       str(data.get("l") or messages.DEFAULT_LANGUAGE))
        except (TypeError, ValueError, KeyError):
            return None


def remindable(sources: Sequence[SourceRef], language: str) -> list[CallRef]:
    """The open funding calls with a deadline among an answer's sources, once each, at most `MAX_CALLS`.

    >>> open_call = SourceRef(1, "EIC", "https://kb.test/eic", "calls.csv", "funding_call", "", 1.0,
    ...                       dates={"deadline": "2027-03-04"}, status="open")
    >>> closed = SourceRef(2, "Old", "https://kb.test/old", "calls.csv", "funding_call", "", 1.0,
    ...                    dates={"deadline": "2026-01-04"}, status="closed")
    >>> [ref.title for ref in remindable([open_call, closed, open_call], "en")]
    ['EIC']
    """
    refs: list[CallRef] = []
    for source in sources:
        if source.kind != "funding_call" or source.status != "open" or not source.dates.get("deadline"):
            continue
        ref = CallRef(source.path, source.title, source.dates["deadline"], language)
        if all((r.path, r.title) != (ref.path, ref.title) for r in refs) and len(ref.value()) <= _VALUE_LIMIT:
            refs.append(ref)
    return refs[:MAX_CALLS]


@dataclass(frozen=True)
class Call:
    """A funding call as the index holds it now."""

    title: str
    url: str
    deadline: datetime | None
    deadline_text: str
    cancelled: bool = False  # its source says so (a table's status column): no reminder, a word to the member


def _call(meta: Mapping[str, MetadataValue], timezone: tzinfo) -> Call:
    stamp = meta.get("deadline_ts")
    deadline = (datetime.fromtimestamp(int(stamp), timezone)
                if isinstance(stamp, int | float) and not isinstance(stamp, bool) else None)
    return Call(str(meta.get("title", "")), str(meta.get("url", "")), deadline, str(meta.get("deadline", "")),
                is_cancelled(meta))


def calls_in(store: KnowledgeStore, timezone: tzinfo,
             paths: Iterable[str] | None = None) -> dict[tuple[str, str], Call]:
    """The funding calls of the index (of `paths` only, when given), by (path, title)."""
    conditions = [OneOf("kind", ("funding_call",))]
    if paths is not None:
        conditions.append(OneOf("path", tuple(sorted(set(paths)))))
    found: dict[tuple[str, str], Call] = {}
    for page in store.iter_chunks(where=ChunkFilter(tuple(conditions)), include=["metadatas"]):
        for meta in page.metadatas:
            found.setdefault((str(meta.get("path", "")), str(meta.get("title", ""))), _call(meta, timezone))
    return found


def moments(deadline: datetime, timezone: tzinfo) -> dict[int, datetime]:
    """When each reminder is due: `REMIND_AT` on the day 7 days and 1 day before the deadline.

    >>> from zoneinfo import ZoneInfo
    >>> paris = ZoneInfo("Europe/Paris")
    >>> [m.isoformat() for m in moments(datetime(2026, 12, 15, 23, 59, tzinfo=paris), paris).values()]
    ['2026-12-08T09:00:00+01:00', '2026-12-14T09:00:00+01:00']
    """
    day = deadline.astimezone(timezone).date()
    return {lead: datetime.combine(day - timedelta(days=lead), REMIND_AT, timezone) for lead in LEADS}


def upcoming(deadline: datetime, timezone: tzinfo, after: datetime) -> list[datetime]:
    """The reminder moments still to come after `after`, in order."""
    return [moment for moment in moments(deadline, timezone).values() if moment > after]


def date_text(moment: datetime, language: str, *, with_time: bool = True) -> str:
    """'8 December 2026', '15 décembre 2026 à 17:00' (a time only when the deadline has one)."""
    whole = not with_time or (moment.hour, moment.minute, moment.second) in {(0, 0, 0), (23, 59, 59)}
    return when_text(DigestItem("", "", "funding_call", moment, whole), language)


def _say(key: str, language: str, **values: object) -> str:
    return messages.text(key, language, **values)


def _schedule_sentence(dates: Sequence[datetime], language: str) -> str:
    if len(dates) >= 2:
        return _say("reminder_on_two", language, first=date_text(dates[0], language, with_time=False),
                    second=date_text(dates[1], language, with_time=False))
    if dates:
        return _say("reminder_on_one", language, date=date_text(dates[0], language, with_time=False))
    return _say("reminder_too_soon", language)


def remember_call(store: KnowledgeStore, state: BotState, *, platform: str, user: str, ref: CallRef,
                  now: datetime, timezone: tzinfo) -> tuple[str, bool]:
    """Record `user`'s reminder for the call `ref` names, as the index holds it now; what to tell them, and
    whether a reminder was recorded.

    The deadline is read from the index (it may have moved since the answer). A call that is gone, closed or
    closes within a day gets no reminder, and the member is told why."""
    language = ref.language
    call = calls_in(store, timezone, [ref.path]).get((ref.path, ref.title))
    if call is not None and call.cancelled:
        deadline = date_text(call.deadline, language) if call.deadline else ref.deadline
        return _say("reminder_cancelled_call", language, title=call.title, deadline=deadline), False
    if call is None or call.deadline is None:
        return _say("reminder_unknown", language, title=ref.title), False
    deadline = date_text(call.deadline, language)
    if call.deadline <= now:
        return _say("reminder_closed", language, title=call.title, deadline=deadline), False
    dates = upcoming(call.deadline, timezone, now)
    if not dates:
        return _say("reminder_too_late", language, title=call.title, deadline=deadline), False
    state.add_reminder(platform, user, path=ref.path, title=call.title, url=call.url,
                       deadline=call.deadline.timestamp(), deadline_text=call.deadline_text, language=language)
    logger.info("reminder set platform=%s reminders=%d", platform, len(dates))
    said = _say("reminder_set", language, title=call.title, deadline=deadline) + " " + \
        _schedule_sentence(dates, language)
    if ref.deadline and call.deadline_text and ref.deadline != call.deadline_text:  # re-ingested since the answer
        said = _say("reminder_moved", language, title=call.title, old=ref.deadline, new=deadline) + " " + said
    return said, True


# --- sending ----------------------------------------------------------------------------------------------------


class ReminderSender(Protocol):
    """Sends a reminder's message to its member on one platform (a direct message)."""

    def send(self, reminder: Reminder, text: str) -> None:
        """Deliver `text` (plain: the sender escapes it and links the call's title); raises `ReminderNotSent`."""


@dataclass
class RunResult:
    sent: int = 0
    moved: int = 0
    removed: int = 0
    cancelled: int = 0
    failed: int = 0

    def line(self) -> str:
        return (f"sent {self.sent} reminders, {self.moved} deadline changes, {self.removed} removed calls"
                + (f", {self.cancelled} cancelled calls" if self.cancelled else "")
                + (f", {self.failed} not delivered (tried again next run)" if self.failed else ""))


class Reminders:
    """Sends the due reminders of the platforms it has a `ReminderSender` for (`senders`)."""

    def __init__(self, store: KnowledgeStore, state: BotState, *, clock: Clock, timezone: tzinfo,
                 schedule: str, senders: Mapping[str, ReminderSender]) -> None:
        self.store = store
        self.state = state
        self.clock = clock
        self.timezone = timezone
        self.schedule = schedule
        self.senders = dict(senders)

    def run(self, now: datetime | None = None) -> RunResult:
        """Send what is due at `now` (the clock's by default), each message once."""
        now = (now or self.clock()).astimezone(self.timezone)
        reminders = [r for r in self.state.reminders() if r.platform in self.senders]
        result = RunResult()
        if not reminders:
            return result
        calls = calls_in(self.store, self.timezone, [r.path for r in reminders])  # read before anything is claimed
        for reminder in reminders:
            self._one(reminder, calls.get((reminder.path, reminder.title)), now, result)
        logger.info("reminders run %s", result.line())
        return result

    def _one(self, reminder: Reminder, call: Call | None, now: datetime, result: RunResult) -> None:
        language = reminder.language
        old = datetime.fromtimestamp(reminder.deadline, self.timezone)
        if call is not None and call.cancelled:  # the member hears it once (before the deadline), then it goes
            if old > now:
                if not self._send(reminder, "cancelled", reminder.deadline, _say(
                        "reminder_call_cancelled", language, title=reminder.title), result):
                    return  # not delivered: told at the next run
                result.cancelled += 1
            self.state.drop_reminder(reminder.id)
            return
        if call is None or call.deadline is None:
            if old > now and self._send(reminder, "removed", reminder.deadline, _say(
                    "reminder_removed", language, title=reminder.title, deadline=date_text(old, language)), result):
                result.removed += 1
                self.state.drop_reminder(reminder.id)
            elif old <= now:
                self.state.drop_reminder(reminder.id)
            return
        deadline = call.deadline
        if deadline.timestamp() != reminder.deadline:
            if deadline > now:
                text = _say("reminder_moved", language, title=reminder.title, old=date_text(old, language),
                            new=date_text(deadline, language)) + " " + _schedule_sentence(
                    upcoming(deadline, self.timezone, now), language)
                if not self._send(reminder, "moved", deadline.timestamp(), text, result):
                    return  # told next run, before any reminder for the new date
                result.moved += 1
            self.state.move_reminder(reminder.id, deadline.timestamp(), call.deadline_text)
        if deadline <= now:
            self.state.drop_reminder(reminder.id)  # closed: nothing more
            return
        due = [lead for lead, moment in moments(deadline, self.timezone).items()
               if reminder.since <= moment.timestamp() and moment <= now]
        if not due:
            return
        latest = min(due)
        for lead in due:
            if lead != latest:  # missed while the bot was down: only the latest is sent
                self.state.claim_reminder_message(reminder.id, f"{lead}d", deadline.timestamp())
        text = _say(f"reminder_due_{latest}", language, title=reminder.title, deadline=date_text(deadline, language))
        if self._send(reminder, f"{latest}d", deadline.timestamp(), text, result):
            result.sent += 1

    def _send(self, reminder: Reminder, what: str, deadline: float, text: str, result: RunResult) -> bool:
        """Claim the message, then send it; False when it was sent already or could not be (released again)."""
        if not self.state.claim_reminder_message(reminder.id, what, deadline):
            return False
        try:
            self.senders[reminder.platform].send(reminder, text)
        except ReminderNotSent:
            logger.warning("reminder not delivered reminder=%d what=%s", reminder.id, what, exc_info=True)
            self.state.release_reminder_message(reminder.id, what, deadline)
            result.failed += 1
            return False
        return True

    def job(self) -> Job:
        """The scheduled job sending due reminders (`KB_REMINDER_SCHEDULE`)."""

        def run(now: datetime) -> str:
            return self.run(now).line()

        return Job("deadline-reminders", self.schedule, run)


__all__ = ["CallRef", "LEADS", "MAX_CALLS", "REMIND_AT", "ReminderNotSent", "ReminderSender", "Reminders",
           "calls_in", "date_text", "moments", "remember_call", "remindable", "upcoming"]
