"""Channel digests: what a channel reads each period (`KB_DIGEST_SCHEDULE`, Monday 09:00 by default) about the
funding calls and events its audience may see, in its language, posted once per period.

A digest has three sections, each sorted by date, each item linked to its source:

- funding calls added since the channel's last digest (still open);
- funding calls closing within 14 days (from today);
- events starting in the next 14 days (from today).

"Added" is decided from the index and the record of the last digest (`BotState.last_digest`): a call is new when
its source was ingested after that digest and the call was not among the calls the channel's audience could see
then (editing a table of thirty calls to add one makes one new call, not thirty). A channel's first digest counts
what was ingested in the week before it. Nothing to say: nothing is posted.

What a channel may read is its audience's (`knowledge.filters.allowed_audiences`): a `public` channel never gets
a member-only or staff-only call or event, a `member` channel never a staff-only one. The platform may lower it
(a Slack channel shared with other organisations is public whatever the configuration).

Once per period: the scheduler claims each (job, period) run in the state file, and the digest itself claims
(channel, period) there before posting, so a digest posted by hand (`python -m bot digest`) and the scheduled one
in the same period, or two bot processes, post once. This module imports no chat platform: a `DigestPoster` per
platform (`bot.slack.digest`, `bot.teams.digest`) sends the `Digest` it composes.

>>> parse_target("teams:19:abc@thread.tacv2:fr:public")
DigestTarget(platform='teams', channel='19:abc@thread.tacv2', language='fr', audience='public')
>>> parse_target("C0123").language, parse_target("C0123").audience
('en', 'member')
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Protocol

from bot import messages
from bot.scheduler import Job, latest_fire, parse_schedule
from bot.state import BotState
from knowledge.clock import Clock
from knowledge.filters import AtLeast, Below, ChunkFilter, OneOf, allowed_audiences
from knowledge.locales import written_day, written_moment
from knowledge.models import MetadataValue, audience_rank, is_cancelled
from knowledge.store import KnowledgeStore

logger = logging.getLogger(__name__)

HORIZON_DAYS = 14  # "closing within" and "in the next": two weeks from the digest's day
FIRST_LOOKBACK = timedelta(days=7)  # a channel's first digest: calls ingested in the week before it
MAX_ITEMS = 15  # per section; the rest is counted ("and 4 more")
CHANNEL_AUDIENCES = ("public", "member")  # a channel is read by several people: never staff
PLATFORMS = ("slack", "teams")
_PERIOD_SEARCH = timedelta(days=400)  # the latest fire time of a yearly schedule is found too
SECTIONS = ("added", "closing", "events")


class DigestError(ValueError):
    """A digest channel that cannot be configured as written; the message says what to write."""


class DigestNotPosted(RuntimeError):
    """The platform could not take the digest (not in the channel, no conversation reference, refused)."""


@dataclass(frozen=True)
class DigestTarget:
    """A channel that gets digests: a Slack channel id or a Teams conversation id, in a language, for an audience."""

    platform: str
    channel: str
    language: str = messages.DEFAULT_LANGUAGE
    audience: str = "member"

    @property
    def key(self) -> str:
        """How staff name it (`KB_DIGEST_CHANNELS`, `--channel`) and how its digests are recorded."""
        return self.channel if self.platform == "slack" else f"{self.platform}:{self.channel}"


def channel_named(spec: str) -> tuple[str, str]:
    """(platform, channel id) of a channel as staff name it: `teams:<conversation id>` is Teams, anything else a
    Slack channel id (checked by the caller). No language or audience here.

    >>> channel_named("teams:19:abc@thread.tacv2"), channel_named(" C0123 ")
    (('teams', '19:abc@thread.tacv2'), ('slack', 'C0123'))
    """
    prefix, colon, rest = spec.strip().partition(":")
    if colon and prefix.strip().lower() in PLATFORMS:
        return prefix.strip().lower(), rest.strip()
    return "slack", spec.strip()


def parse_target(spec: str, *, language: str | None = None, audience: str | None = None) -> DigestTarget:
    """`C0123`, `C0123:fr`, `C0123:fr:member`, `teams:19:abc@thread.tacv2:en:public` (the language and the
    audience are optional, in any order, read from the end: Teams ids hold colons). `language` and `audience`,
    when given, override what the spec says."""
    parts = [part.strip() for part in spec.strip().split(":")]
    said: dict[str, str] = {}
    while len(parts) > 1:
        last = parts[-1].lower()
        if last in messages.LANGUAGES and "language" not in said:
            said["language"] = last
        elif last in ("public", "member", "staff") and "audience" not in said:
            said["audience"] = last
        else:
            break
        parts.pop()
    platform, channel = channel_named(":".join(parts))
    if not channel:
        raise DigestError(f"digest channel {spec!r}: no channel id (e.g. C0123:fr:member or "
                          "teams:19:abc@thread.tacv2:en:public)")
    if platform == "slack" and not channel.isalnum():
        raise DigestError(f"digest channel {spec!r}: a Slack channel id is letters and digits (C0123); "
                          "a Teams conversation is written teams:<conversation id>")
    chosen_audience = audience or said.get("audience", "member")
    if chosen_audience not in CHANNEL_AUDIENCES:
        raise DigestError(f"digest channel {spec!r}: the audience of a channel is public or member, "
                          f"not {chosen_audience!r}")
    chosen_language = language or said.get("language", messages.DEFAULT_LANGUAGE)
    if chosen_language not in messages.LANGUAGES:
        raise DigestError(f"digest channel {spec!r}: language {chosen_language!r} is not one of "
                          f"{', '.join(messages.LANGUAGES)}")
    return DigestTarget(platform, channel, chosen_language, chosen_audience)


def lower_audience(audience: str, cap: str | None) -> str:
    """The lower of two audiences (`cap` None: no cap).

    >>> lower_audience("member", "public"), lower_audience("public", "member"), lower_audience("member", None)
    ('public', 'public', 'member')
    """
    if cap is None:
        return audience
    return audience if audience_rank(audience) <= audience_rank(cap) else cap


@dataclass(frozen=True)
class DigestItem:
    """A call or an event as a digest lists it: `when` is the call's deadline or the event's start (None: a call
    without a deadline); `whole_day` when that date has no time of its own."""

    title: str
    url: str
    kind: str
    when: datetime | None
    whole_day: bool = False


@dataclass(frozen=True)
class Digest:
    """One channel's digest as of `now` (its day, in the cluster's time zone), for `audience` (the target's, or
    lower when the platform says so). `known_calls`: the calls that audience sees now, recorded with the digest
    (what "added since the last digest" compares with next time)."""

    target: DigestTarget
    now: datetime
    audience: str
    added: tuple[DigestItem, ...] = ()
    closing: tuple[DigestItem, ...] = ()
    events: tuple[DigestItem, ...] = ()
    known_calls: frozenset[str] = field(default_factory=frozenset)

    @property
    def language(self) -> str:
        return self.target.language

    @property
    def empty(self) -> bool:
        return not (self.added or self.closing or self.events)

    @property
    def size(self) -> int:
        return len(self.added) + len(self.closing) + len(self.events)

    def sections(self) -> list[tuple[str, tuple[DigestItem, ...], int]]:
        """The non-empty sections as (heading, the items shown, how many more are left out), in order."""
        out = []
        for name, items in zip(SECTIONS, (self.added, self.closing, self.events)):
            if items:
                out.append((heading(name, self.language), items[:MAX_ITEMS], max(0, len(items) - MAX_ITEMS)))
        return out


# --- words -----------------------------------------------------------------------------------------------------


def say(key: str, language: str, **values: object) -> str:
    return messages.text(key, language, **values)


def heading(section: str, language: str) -> str:
    """'New funding calls', 'Funding calls closing within 14 days', 'Events in the next 14 days'."""
    return say(f"digest_{section}", language, days=HORIZON_DAYS)


def day_text(day: date, language: str) -> str:
    """A date as the channel's language writes it.

    >>> day_text(date(2026, 12, 1), "fr"), day_text(date(2026, 12, 1), "en"), day_text(date(2026, 12, 1), "de")
    ('1er décembre 2026', '1 December 2026', '1. Dezember 2026')
    """
    return written_day(day, language)


def when_text(item: DigestItem, language: str) -> str:
    """The item's date, with its time unless it is a whole day: '10 December 2026, 14:00', '10 décembre 2026 à
    14:00'."""
    if item.when is None:
        return ""
    return written_moment(item.when, language, whole_day=item.whole_day)


def item_note(item: DigestItem, language: str) -> str:
    """What follows the title: 'closes 4 March 2027', 'no deadline given', or an event's date."""
    if item.kind == "funding_call":
        if item.when is None:
            return say("digest_no_deadline", language)
        return say("digest_deadline", language, date=when_text(item, language))
    return when_text(item, language)


def title_text(digest: Digest) -> str:
    """'Cluster digest · 23 November 2026'."""
    return say("digest_title", digest.language, date=day_text(digest.now.date(), digest.language))


def summary_text(digest: Digest) -> str:
    """One line for notifications: the title and each section's count."""
    counts = " · ".join(f"{name}: {len(items) + more}" for name, items, more in digest.sections())
    return f"{title_text(digest)} — {counts}"


def digest_text(digest: Digest) -> str:
    """The digest as plain text (the CLI's dry run): a title, then each section, one item a line with its link."""
    lines = [title_text(digest)]
    for name, items, more in digest.sections():
        lines += ["", name]
        for item in items:
            parts = [item.title, item_note(item, digest.language), item.url]
            lines.append("- " + " — ".join(part for part in parts if part))
        if more:
            lines.append("- " + say("digest_more", digest.language, count=more))
    return "\n".join(lines)


# --- posting ----------------------------------------------------------------------------------------------------


class DigestPoster(Protocol):
    """Sends a digest to one platform's channels (`bot.slack.digest`, `bot.teams.digest`)."""

    def audience_cap(self, target: DigestTarget) -> str | None:
        """The highest audience the platform lets this channel read (None: as configured)."""

    def post(self, digest: Digest) -> str:
        """Post the digest in its channel; the message's id. Raises `DigestNotPosted` when it cannot."""


@dataclass(frozen=True)
class DigestResult:
    """What one digest run did, as staff read it (`/concierge status`, the CLI)."""

    target: DigestTarget
    period: datetime
    outcome: str  # "posted" | "empty" | "already"
    items: int = 0
    message: str = ""

    def line(self) -> str:
        if self.outcome == "posted":
            return f"posted {self.items} items to {self.target.key}"
        if self.outcome == "empty":
            return f"nothing to post to {self.target.key}: no new call, no call closing and no event in the next " \
                   f"{HORIZON_DAYS} days"
        return f"nothing posted to {self.target.key}: its digest for the period of " \
               f"{self.period:%Y-%m-%d %H:%M} was posted already"


class Digests:
    """Composes digests from the index and posts them, once per period of `schedule` (crontab, in `timezone`).

    `posters`: one `DigestPoster` per platform (none: compose only, as the dry run does).
    """

    def __init__(self, store: KnowledgeStore, state: BotState, *, clock: Clock, timezone: tzinfo, schedule: str,
                 posters: Mapping[str, DigestPoster] | None = None) -> None:
        self.store = store
        self.state = state
        self.clock = clock
        self.timezone = timezone
        self.schedule = schedule
        self._trigger = parse_schedule(schedule, timezone)
        self.posters = dict(posters or {})

    def period(self, now: datetime) -> datetime:
        """The period `now` falls in: the schedule's latest fire time (the scheduler runs a job for the same)."""
        return latest_fire(self._trigger, after=now - _PERIOD_SEARCH, now=now) or now

    # --- composing --------------------------------------------------------------------------------------------

    def compose(self, target: DigestTarget, now: datetime | None = None, *, audience: str | None = None) -> Digest:
        """The digest `target` would get at `now` (the clock's by default), for `audience` (the target's by default,
        never higher). Reads the index and the record of the last digest; writes nothing."""
        now = (now or self.clock()).astimezone(self.timezone)
        audience = lower_audience(target.audience, audience)
        seen = tuple(allowed_audiences(audience))
        today = datetime.combine(now.date(), time(0, 0), self.timezone)
        horizon = today + timedelta(days=HORIZON_DAYS)
        calls = self._records(ChunkFilter((OneOf("kind", ("funding_call",)), OneOf("audience", seen))))
        events = self._records(ChunkFilter((OneOf("kind", ("event",)), OneOf("audience", seen),
                                            AtLeast("start_ts", int(today.timestamp())),
                                            Below("start_ts", int(horizon.timestamp())))))
        now_ts = int(now.timestamp())
        still_open = [m for m in calls if not is_cancelled(m)
                      and (not _has(m, "deadline_ts") or int(m["deadline_ts"]) >= now_ts)]
        known = frozenset(_call_key(m) for m in still_open)
        new = {_call_key(m) for m in self._added(target, still_open, now)}
        added = [m for m in still_open if _call_key(m) in new]
        closing = [m for m in still_open if _call_key(m) not in new and _has(m, "deadline_ts")
                   and int(m["deadline_ts"]) < int(horizon.timestamp())]
        return Digest(target, now, audience,
                      added=self._items(added, "deadline_ts"), closing=self._items(closing, "deadline_ts"),
                      events=self._items([m for m in events if not is_cancelled(m)], "start_ts"),
                      known_calls=known)

    def _records(self, where: ChunkFilter) -> list[dict[str, MetadataValue]]:
        """The metadata of each record (a call, an event) the filter keeps, once per record."""
        records: dict[tuple[object, object], dict[str, MetadataValue]] = {}
        for page in self.store.iter_chunks(where=where, include=["metadatas"]):
            for meta in page.metadatas:
                records.setdefault((meta.get("source_id"), meta.get("record_index")), dict(meta))
        return list(records.values())

    def _added(self, target: DigestTarget, calls: Sequence[dict[str, MetadataValue]],
               now: datetime) -> list[dict[str, MetadataValue]]:
        """The calls ingested since the last digest that its audience did not see then."""
        last = self.state.last_digest(target.key)
        since = last.at if last is not None else now - FIRST_LOOKBACK
        known_then = last.calls if last is not None else frozenset()
        ingested = {source_id: ingested_moment(state.ingested_at)
                    for source_id, state in self.store.sources().items()}
        out = []
        for meta in calls:
            at = ingested.get(str(meta.get("source_id", "")))
            if at is not None and since < at <= now and _call_key(meta) not in known_then:
                out.append(meta)
        return out

    def _items(self, records: Iterable[dict[str, MetadataValue]], date_field: str) -> tuple[DigestItem, ...]:
        items = []
        for meta in records:
            when = (datetime.fromtimestamp(int(meta[date_field]), self.timezone)
                    if _has(meta, date_field) else None)
            whole = when is not None and (when.hour, when.minute, when.second) in {(0, 0, 0), (23, 59, 59)}
            items.append(DigestItem(str(meta.get("title", "")), str(meta.get("url", "")),
                                    str(meta.get("kind", "")), when, whole))
        # By date (a call without a deadline last), then by title: the same order on every run.
        return tuple(sorted(items, key=lambda i: (i.when is None, i.when.timestamp() if i.when else 0, i.title)))

    # --- sending ----------------------------------------------------------------------------------------------

    def send(self, target: DigestTarget, now: datetime | None = None) -> DigestResult:
        """Post `target`'s digest for the period `now` falls in, unless it was posted already: the period is
        claimed in the state file first. Nothing to say: nothing is posted (the run is recorded, and the calls
        seen then count as seen). Raises `DigestNotPosted` (the period is released: it may be tried again by
        hand) or `StoreError`."""
        now = (now or self.clock()).astimezone(self.timezone)
        poster = self.posters.get(target.platform)
        if poster is None:
            raise DigestNotPosted(f"cannot post to {target.key}: this process does not post to {target.platform}")
        period = self.period(now)
        if not self.state.claim_digest(target.key, period):
            return DigestResult(target, period, "already")
        try:
            digest = self.compose(target, now, audience=poster.audience_cap(target))
            if digest.empty:
                self.state.finish_digest(target.key, period, at=now, posted=False, items=0, message="",
                                         calls=digest.known_calls)
                logger.info("digest empty channel=%s period=%s", target.key, period.isoformat())
                return DigestResult(target, period, "empty")
            message = poster.post(digest)
        except BaseException:
            self.state.drop_digest(target.key, period)
            raise
        self.state.finish_digest(target.key, period, at=now, posted=True, items=digest.size, message=message,
                                 calls=digest.known_calls)
        logger.info("digest posted channel=%s period=%s items=%d", target.key, period.isoformat(), digest.size)
        return DigestResult(target, period, "posted", digest.size, message)

    def job(self, target: DigestTarget) -> Job:
        """The scheduled job posting `target`'s digest on the schedule (`digest:C0123`, `digest:teams:19:...`)."""

        def run(now: datetime) -> str:
            return self.send(target, now).line()

        return Job(f"digest:{target.key}", self.schedule, run)


def _has(meta: Mapping[str, MetadataValue], name: str) -> bool:
    return isinstance(meta.get(name), int | float) and not isinstance(meta.get(name), bool)


def _call_key(meta: Mapping[str, MetadataValue]) -> str:
    """A call as the record of digests remembers it: its source and title (its row may move in a table)."""
    return f"{meta.get('source_id', '')}#{meta.get('title', '')}"


def ingested_moment(stamp: str) -> datetime | None:
    """An ingestion time from the manifest (ISO 8601, aware), or None when it is missing or unreadable."""
    try:
        moment = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None


def with_audience(target: DigestTarget, cap: str | None) -> DigestTarget:
    """The target with its audience lowered to `cap` (a channel role configured elsewhere)."""
    return replace(target, audience=lower_audience(target.audience, cap))


__all__ = ["CHANNEL_AUDIENCES", "Digest", "DigestError", "DigestItem", "DigestNotPosted", "DigestPoster",
           "DigestResult", "DigestTarget", "Digests", "HORIZON_DAYS", "MAX_ITEMS", "channel_named", "day_text",
           "digest_text",
           "ingested_moment", "item_note", "lower_audience", "parse_target", "summary_text", "title_text", "when_text",
           "with_audience"]
