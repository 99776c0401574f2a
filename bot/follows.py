"""Followed topics: a member writes `follow medical AI` (Slack: `/concierge follow medical AI`), `unfollow …`,
`following`; when an ingestion adds a call or an event about the topic, they get one direct message per item.

- The follows are members' data (`bot.state.MEMBER_DATA`): kept the retention, erased by "forget me".
- Ingestion runs elsewhere (`ingest.py`, staff `reingest`): a scheduled job (`KB_FOLLOW_SCHEDULE`, every five
  minutes by default) looks at the calls and events in the index. An item is new to a follow when the job of that
  platform never saw it before (`BotState.seen_items`; editing a table of thirty calls to add one makes one new
  call) and its source was ingested after the member followed (the manifest's `ingested_at`). A call already
  closed, or an event already over, is not news.
- It matches by meaning and by words, in either language (`knowledge.topic_match`); only items of an audience the
  member's role at the time of the follow may see (`knowledge.filters.allowed_audiences`).
- Never twice: each (member, item) is claimed in the state file before the message is sent, so a second run, a
  restart, or another process sharing the file sends nothing. A message the platform refuses is logged and not
  tried again.

This module imports no chat platform: a `FollowNotifier` per platform (`bot.slack.follows`, `bot.teams.follows`)
sends the `FollowNotice`.

>>> parse_command("follow  medical AI"), parse_command("Following"), parse_command("follow up on my invoice?")
(('follow', 'medical AI'), ('following', ''), None)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Protocol

from bot import messages
from bot.digest import DigestItem, ingested_moment, item_note
from bot.scheduler import Job
from bot.state import BotState, FollowRecord
from knowledge.clock import Clock
from knowledge.filters import ChunkFilter, OneOf, allowed_audiences
from knowledge.language import detect_language
from knowledge.models import MetadataValue, is_cancelled
from knowledge.store import KnowledgeStore
from knowledge.text import fold
from knowledge.topic_match import TopicMatcher

logger = logging.getLogger(__name__)

MAX_TOPIC = 80  # characters: a topic, not a paragraph
MAX_FOLLOWS = 20  # per member
_COMMAND = re.compile(r"(follow|unfollow)\s+(.+)|(following)", re.IGNORECASE | re.DOTALL)
_DESCRIPTION = 600  # characters of an item's text compared with the topics


class NotDelivered(RuntimeError):
    """The platform could not take the message (no 1:1 conversation known, refused)."""


def parse_command(text: str) -> tuple[str, str] | None:
    """(`follow` | `unfollow` | `following`, the topic) for a follow command, else None (a question ends with
    '?', and is not one)."""
    text = " ".join(text.split())
    found = _COMMAND.fullmatch(text)
    if found is None or text.endswith("?"):
        return None
    if found.group(3):
        return "following", ""
    return found.group(1).lower(), found.group(2).strip(" \"“”«»'")


def topic_key(topic: str) -> str:
    """How a topic is recognised again (`unfollow Medical  AI` stops `follow medical AI`)."""
    return " ".join(fold(topic).split())


@dataclass(frozen=True)
class FollowItem:
    """A call or an event as the follow job sees it."""

    key: str  # "<kind>:<source id>#<title>", as the job remembers it
    source_id: str
    audience: str
    text: str  # the item's own text (its description), compared with the topics
    item: DigestItem  # title, link, date: what the message shows


@dataclass(frozen=True)
class FollowNotice:
    """One message to a member: the item, the topic it matched, in the follow's language."""

    member: str
    item: DigestItem
    topic: str
    language: str

    def lines(self) -> tuple[str, str, str]:
        """The heading ("New funding call about “medical AI”"), the item's date note, why it was sent."""
        heading = messages.text("follow_new_call" if self.item.kind == "funding_call" else "follow_new_event",
                                self.language, topic=self.topic)
        return heading, item_note(self.item, self.language), messages.text("follow_why", self.language,
                                                                           topic=self.topic)


class FollowNotifier(Protocol):
    """Sends a notice to a member, in a direct message (`bot.slack.follows`, `bot.teams.follows`)."""

    def notify(self, notice: FollowNotice) -> str:
        """Send it; the message's id. Raises `NotDelivered` when the platform cannot take it."""


@dataclass(frozen=True)
class FollowReply:
    """What a follow command answers: sentences, and the topics when they are listed."""

    lines: tuple[str, ...]
    topics: tuple[str, ...] = ()


def command(state: BotState, platform: str, user: str, action: str, topic: str, *, role: str,
            invoked_as: str = "", hint: str | None = None) -> FollowReply:
    """Run a parsed follow command for `user` (the authenticated sender), with the `role` they have where they
    asked; the reply in the topic's language (`following`: in the language of their follows). `invoked_as`: how
    the commands are written on the platform (`/concierge`; none in Teams); `hint`: the language the platform
    says the member uses (Teams' locale), for a topic whose words do not tell."""
    invoked_as = f"{invoked_as} " if invoked_as else ""
    if action == "following":
        follows = state.follows(platform, user)
        language = follows[-1].language if follows else messages.DEFAULT_LANGUAGE
        if not follows:
            return FollowReply((messages.text("follow_none", language, command=invoked_as),))
        return FollowReply((messages.text("follow_list", language),), tuple(f.topic for f in follows))
    language = member_language(state, platform, user, topic, hint)
    if not topic_key(topic) or len(topic) > MAX_TOPIC:
        return FollowReply((messages.text("follow_usage", language, command=invoked_as, max=MAX_TOPIC),))
    if action == "unfollow":
        followed = {topic_key(f.topic): f.language for f in state.follows(platform, user)}
        language = followed.get(topic_key(topic), language)  # said as the follow was
        removed = state.remove_follow(platform, user, topic_key(topic))
        key = "follow_removed" if removed is not None else "follow_not_followed"
        return FollowReply((messages.text(key, language, topic=removed or topic),))
    if len(state.follows(platform, user)) >= MAX_FOLLOWS:
        return FollowReply((messages.text("follow_too_many", language, max=MAX_FOLLOWS),))
    state.add_follow(platform, user, key=topic_key(topic), topic=topic, language=language, role=role)
    logger.info("topic followed platform=%s", platform)
    return FollowReply((messages.text("follow_added", language, topic=topic),))


def member_language(state: BotState, platform: str, user: str, topic: str, hint: str | None = None) -> str:
    """The language to answer a follow in: the topic's when its words tell ("imagerie médicale"), else the
    platform's `hint`, else that of the member's latest question, else of their latest follow, else English
    ("medical AI", "export" and "essais cliniques" alike say nothing of their language)."""
    said = detect_language(topic, default="")
    if said:
        return said
    if hint in messages.LANGUAGES:
        return str(hint)
    latest = state.questions_of(user, limit=1)
    if latest and (asked := detect_language(latest[0], default="")):
        return asked
    follows = state.follows(platform, user)
    return follows[-1].language if follows else messages.DEFAULT_LANGUAGE


class FollowJob:
    """Finds the calls and events added to the index and tells the members following them, on one `platform`."""

    def __init__(self, store: KnowledgeStore, state: BotState, matcher: TopicMatcher, *, clock: Clock,
                 timezone: tzinfo, platform: str, notifier: FollowNotifier | None, schedule: str) -> None:
        self.store = store
        self.state = state
        self.matcher = matcher
        self.clock = clock
        self.timezone = timezone
        self.platform = platform
        self.notifier = notifier
        self.schedule = schedule

    def items(self, now: datetime) -> list[FollowItem]:
        """Every call still open and every event not over, once each (a record's first chunk)."""
        records: dict[str, tuple[dict[str, MetadataValue], str]] = {}
        where = ChunkFilter((OneOf("kind", ("funding_call", "event")),))
        for page in self.store.iter_chunks(where=where, include=["metadatas", "documents"]):
            for meta, text in zip(page.metadatas, page.documents):
                key = f"{meta.get('kind', '')}:{meta.get('source_id', '')}#{meta.get('title', '')}"
                kept = records.get(key)
                if kept is None or (_number(meta, "chunk_index") or 0) < (_number(kept[0], "chunk_index") or 0):
                    described = meta.get("description")
                    records[key] = (dict(meta), str(described) if isinstance(described, str) and described
                                    else str(text or ""))
        out = []
        for key, (meta, text) in records.items():
            kind = str(meta.get("kind", ""))
            end = _number(meta, "deadline_ts") if kind == "funding_call" else (
                _number(meta, "end_ts") or _number(meta, "start_ts"))
            if (end is not None and end < now.timestamp()) or is_cancelled(meta):
                continue  # over, or cancelled: nothing to tell (a call or event un-cancelled later is new then)
            stamp = _number(meta, "deadline_ts" if kind == "funding_call" else "start_ts")
            when = datetime.fromtimestamp(stamp, self.timezone) if stamp is not None else None
            whole = when is not None and (when.hour, when.minute, when.second) in {(0, 0, 0), (23, 59, 59)}
            item = DigestItem(str(meta.get("title", "")), str(meta.get("url", "")), kind, when, whole)
            out.append(FollowItem(key, str(meta.get("source_id", "")), str(meta.get("audience", "public")),
                                  text[:_DESCRIPTION], item))
        return sorted(out, key=lambda i: i.key)

    def run(self, now: datetime | None = None) -> str:
        """Tell each follower about the new items matching their topics; a line for staff."""
        now = (now or self.clock()).astimezone(self.timezone)
        items = self.items(now)
        seen = self.state.seen_items(self.platform)
        new = [item for item in items if item.key not in seen]
        if not new:
            return "no new call or event"
        ingested = {source_id: ingested_moment(state.ingested_at)
                    for source_id, state in self.store.sources().items()}
        outcomes: list[bool] = []
        for follow in self.state.follows(self.platform):
            for item in self._matching(follow, new, ingested):
                if self.notifier is not None and self.state.claim_notice(self.platform, follow.user, item.key):
                    outcomes.append(self._tell(follow, item))
        sent, failed = outcomes.count(True), outcomes.count(False)
        self.state.mark_seen(self.platform, [item.key for item in new])
        logger.info("follow job ran platform=%s new=%d sent=%d failed=%d", self.platform, len(new), sent, failed)
        result = f"{len(new)} new calls or events, {sent} messages sent"
        return result + (f", {failed} could not be sent" if failed else "")

    def _matching(self, follow: FollowRecord, new: Iterable[FollowItem],
                  ingested: dict[str, datetime | None]) -> list[FollowItem]:
        audiences = set(allowed_audiences(follow.role))
        candidates = [item for item in new if item.audience in audiences
                      and (at := ingested.get(item.source_id)) is not None and at > follow.at]
        matches = self.matcher.match(follow.topic, [(c.item.title, c.text) for c in candidates])
        return [item for item, match in zip(candidates, matches) if match.matched]

    def _tell(self, follow: FollowRecord, item: FollowItem) -> bool:
        """Send one notice (claimed already); whether it went."""
        assert self.notifier is not None  # checked before claiming
        try:
            self.notifier.notify(FollowNotice(follow.user, item.item, follow.topic, follow.language))
        except NotDelivered as exc:
            logger.warning("follow notice not delivered platform=%s: %s", self.platform, exc)
            self.state.finish_notice(self.platform, follow.user, item.key, sent=False)
            return False
        except Exception:  # noqa: BLE001 - the next members still get theirs
            logger.exception("follow notice failed platform=%s", self.platform)
            self.state.finish_notice(self.platform, follow.user, item.key, sent=False)
            return False
        self.state.finish_notice(self.platform, follow.user, item.key, sent=True)
        return True

    def job(self) -> Job:
        """The scheduled job (`follow:slack`, `follow:teams`)."""
        return Job(f"follow:{self.platform}", self.schedule, self.run)


def _number(meta: dict[str, MetadataValue], name: str) -> int | None:
    value = meta.get(name)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


__all__ = ["FollowItem", "FollowJob", "FollowNotice", "FollowNotifier", "FollowReply", "NotDelivered", "command",
           "parse_command", "topic_key"]
