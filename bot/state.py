"""What the bot remembers between messages, in one SQLite file: events already handled, threads it
answered in (with their turns), every answer given, the feedback on it, the scheduled jobs' runs, the channel digests
posted, how to reach Teams channels unprompted (conversation references, without any sender), the topics
members follow with the items they were told about (and how to reach them in a Teams 1:1 chat). Shared by
Slack and Teams.

Members' data is kept `BOT_RETENTION_DAYS`, then purged (`purge`, run by the scheduler); a member may have it
erased at once (`forget`). Both walk `MEMBER_DATA`: a new table holding a member id and a timestamp is kept
no longer than the rest once it is listed there.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.conversation import Reply, Turn
from knowledge.clock import Clock

_CLAIMS_KEPT_SECONDS = 7 * 86400
_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, at REAL NOT NULL, owner TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS threads (platform TEXT, channel TEXT, thread TEXT, at REAL,
    PRIMARY KEY (platform, channel, thread));
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT, platform TEXT, channel TEXT, thread TEXT, user TEXT,
    role TEXT, question TEXT, answer TEXT, sources TEXT, abstained INTEGER, at REAL);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id INTEGER, user TEXT, value INTEGER, at REAL, PRIMARY KEY (answer_id, user));
CREATE INDEX IF NOT EXISTS answers_thread ON answers (platform, channel, thread);
CREATE TABLE IF NOT EXISTS messages (platform TEXT, message_id TEXT, answer_id INTEGER,
    PRIMARY KEY (platform, message_id));
CREATE TABLE IF NOT EXISTS jobs (job TEXT PRIMARY KEY, since REAL NOT NULL);
CREATE TABLE IF NOT EXISTS job_runs (job TEXT NOT NULL, period REAL NOT NULL, owner TEXT NOT NULL,
    started REAL NOT NULL, finished REAL, ok INTEGER, result TEXT, PRIMARY KEY (job, period));
CREATE TABLE IF NOT EXISTS digests (channel TEXT NOT NULL, period REAL NOT NULL, owner TEXT NOT NULL,
    at REAL NOT NULL, status TEXT NOT NULL, items INTEGER NOT NULL DEFAULT 0, message TEXT, calls TEXT,
    PRIMARY KEY (channel, period));
CREATE TABLE IF NOT EXISTS conversations (platform TEXT NOT NULL, conversation TEXT NOT NULL,
    reference TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (platform, conversation));
CREATE TABLE IF NOT EXISTS follows (platform TEXT NOT NULL, user TEXT NOT NULL, topic_key TEXT NOT NULL,
    topic TEXT NOT NULL, language TEXT NOT NULL, role TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (platform, user, topic_key));
CREATE TABLE IF NOT EXISTS follow_notices (platform TEXT NOT NULL, user TEXT NOT NULL, item TEXT NOT NULL,
    at REAL NOT NULL, status TEXT NOT NULL, PRIMARY KEY (platform, user, item));
CREATE TABLE IF NOT EXISTS follow_seen (platform TEXT NOT NULL, item TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (platform, item));
CREATE TABLE IF NOT EXISTS member_conversations (platform TEXT NOT NULL, user TEXT NOT NULL,
    reference TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (platform, user));
CREATE TABLE IF NOT EXISTS reminders (id INTEGER PRIMARY KEY AUTOINCREMENT, platform TEXT NOT NULL,
    user TEXT NOT NULL, path TEXT NOT NULL, title TEXT NOT NULL, url TEXT NOT NULL, deadline REAL NOT NULL,
    deadline_text TEXT NOT NULL, language TEXT NOT NULL, at REAL NOT NULL, UNIQUE (platform, user, path, title));
CREATE TABLE IF NOT EXISTS reminder_messages (reminder_id INTEGER NOT NULL, what TEXT NOT NULL,
    deadline REAL NOT NULL, at REAL NOT NULL, PRIMARY KEY (reminder_id, what, deadline));
"""


@dataclass(frozen=True)
class Kept:
    """A table of members' data. `purge` deletes its rows older than the retention (`at` < :cutoff);
    `forget` deletes the rows `of_member` selects (`:member` is the member's id). `what` names the rows in
    the member's "forget me" reply (`bot.messages` key `forgotten_<what>`); None: not counted on their own."""

    table: str
    what: str | None
    of_member: str = "user = :member"
    at: str = "at"


# In order: a row selected through another table's rows goes before them (a member's threads are found through
# their answers). Messages that only point at answers (`messages`) and feedback on answers that are gone follow
# the answers (`_drop_orphans`). Claims hold no member id and are kept a week (`_CLAIMS_KEPT_SECONDS`).
MEMBER_DATA: tuple[Kept, ...] = (
    Kept("threads", None, of_member="EXISTS (SELECT 1 FROM answers a WHERE a.user = :member AND "
         "a.platform = threads.platform AND a.channel = threads.channel AND a.thread = threads.thread)"),
    Kept("answers", "questions"),
    Kept("feedback", "feedback"),
    Kept("follows", "follows"),  # topics followed (`bot.follows`); a follow lasts the retention, like the rest
    Kept("follow_notices", None),  # which items a member was told about (a purged row's item is seen already)
    Kept("member_conversations", None),  # how to message a member unprompted (Teams 1:1 chats)
    # Deadline reminders (`bot.reminders`): the messages sent for a member's reminders, then the reminders.
    Kept("reminder_messages", None, of_member="reminder_id IN (SELECT id FROM reminders WHERE user = :member)"),
    Kept("reminders", "reminders"),
)


@dataclass(frozen=True)
class JobRun:
    """One run of a scheduled job: the period it ran for (the fire time), when, and how it went.
    `finished` is None while it runs, or when the process died during it."""

    job: str
    period: datetime
    started: datetime
    finished: datetime | None
    ok: bool | None
    result: str


@dataclass(frozen=True)
class FollowRecord:
    """A topic a member follows: what they wrote, in which language, with the role they had then, since when."""

    platform: str
    user: str
    topic: str
    language: str
    role: str
    at: datetime


@dataclass(frozen=True)
class DigestRecord:
    """A channel's digest for one period: when it was composed, whether it was posted (False: there was nothing
    to say), how many items, the posted message's id, and the calls its audience could see then."""

    channel: str
    period: datetime
    at: datetime
    posted: bool
    items: int
    message: str
    calls: frozenset[str]


@dataclass(frozen=True)
class Gap:
    """A question the bot could not answer, or an answer marked unhelpful."""

    answer_id: int
    platform: str
    question: str
    reason: str  # "no answer" | "marked unhelpful"
    at: float


@dataclass(frozen=True)
class AnswerRecord:
    """An answer as staff reports read it: never who asked (no member id is selected)."""

    answer_id: int
    platform: str
    question: str
    answer: str
    sources: tuple[dict[str, object], ...]  # `SourceRef.as_dict()` of the sources cited
    abstained: bool
    at: float
    up: int  # 👍 on it
    down: int  # 👎 on it


@dataclass(frozen=True)
class Reminder:
    """A member's deadline reminder (`bot.reminders`): the call as the index held it when they clicked (its
    path and title find it again), the deadline the reminders are scheduled for, and since when."""

    id: int
    platform: str
    user: str
    path: str
    title: str
    url: str
    deadline: float  # timestamp
    deadline_text: str  # as the index writes it
    language: str
    since: float  # when the member asked (a reminder due before that is never sent)


class BotState:
    """Thread-safe access to the SQLite file (one connection, one lock: writes are tiny)."""

    def __init__(self, path: Path, *, clock: Clock, claim_lease_seconds: float = 60.0) -> None:
        self._clock = clock  # the process's one clock (bot.wiring.Services.clock)
        # Another run's unfinished claim is taken over only once it is this old: a live process sharing the
        # file (a rolling deploy) is still answering; one killed mid-answer left it to age. Slack retries
        # after about one and five minutes.
        self._lease = claim_lease_seconds
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        # Erased and purged rows are overwritten, not left in free pages for anyone who copies the file.
        self._db.execute("PRAGMA secure_delete = ON")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        # Who claims events and messages: a later run of the bot may take over what an earlier one (killed
        # mid-answer) claimed and never finished.
        self._owner = uuid.uuid4().hex
        with self._db:
            self._forget_old_claims()

    def _now(self) -> float:
        return self._clock().timestamp()

    def _forget_old_claims(self) -> None:
        """Slack retries for minutes, not weeks: old claims only grow the file (at start, and at each purge)."""
        self._db.execute("DELETE FROM claims WHERE at < ?", (self._now() - _CLAIMS_KEPT_SECONDS,))

    def _claim(self, key: str, *, take_over_finished: bool) -> bool:
        with self._lock, self._db:
            if self._db.execute("INSERT OR IGNORE INTO claims VALUES (?, ?, ?, 0)",
                                (key, self._now(), self._owner)).rowcount == 1:
                return True
            owner, done, at = self._db.execute("SELECT owner, done, at FROM claims WHERE key=?", (key,)).fetchone()
            if owner == self._owner or (done and not take_over_finished) or (
                    not done and self._now() - at < self._lease):
                return False
            self._db.execute("UPDATE claims SET owner=?, at=? WHERE key=?", (self._owner, self._now(), key))
            return True

    def first_time(self, event_id: str) -> bool:
        """True the first time this run of the bot sees an event id: a retried delivery is handled once.
        An event an earlier run took is let through once more (it may have died before answering); the
        message claim then decides whether it was answered."""
        return self._claim(f"event:{event_id}", take_over_finished=True)

    def claim_message(self, platform: str, channel: str, message_id: str) -> bool:
        """True for the first to take a message: one answer even when it arrives as two events, or again after
        a restart. A message another run claimed but never finished (`finish_message`) is taken over once the
        claim is older than the lease."""
        return self._claim(f"{platform}:message:{channel}:{message_id}", take_over_finished=False)

    def finish_message(self, platform: str, channel: str, message_id: str) -> None:
        """The message got its answer (or an apology): no later run answers it again."""
        with self._lock, self._db:
            self._db.execute("UPDATE claims SET done=1 WHERE key=?", (f"{platform}:message:{channel}:{message_id}",))

    def remember_thread(self, platform: str, channel: str, thread: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR IGNORE INTO threads VALUES (?, ?, ?, ?)",
                             (platform, channel, thread, self._now()))

    def is_answered_thread(self, platform: str, channel: str, thread: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM threads WHERE platform=? AND channel=? AND thread=?",
                                   (platform, channel, thread)).fetchone()
        return row is not None

    def record_answer(self, platform: str, channel: str, thread: str, user: str, role: str, reply: Reply) -> int:
        sources = json.dumps([s.as_dict() for s in reply.sources], ensure_ascii=False)
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT INTO answers (platform, channel, thread, user, role, question, answer, sources, abstained, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (platform, channel, thread, user, role, reply.question, reply.answer, sources, int(reply.unanswered),
                 self._now()))
            return int(cursor.lastrowid or 0)  # always set after an INSERT

    def history(self, platform: str, channel: str, thread: str, limit: int = 6) -> list[Turn]:
        """The earlier turns of a thread, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT question, answer FROM answers WHERE platform=? AND channel=? AND thread=? "
                "ORDER BY id DESC LIMIT ?", (platform, channel, thread, limit)).fetchall()
        turns: list[Turn] = []
        for question, answer in reversed(rows):
            turns += [Turn("user", question), Turn("assistant", answer)]
        return turns

    def record_feedback(self, answer_id: int, user: str, helpful: bool) -> bool:
        """Store (or change) a user's 👍/👎 on an answer; False when the answer is unknown."""
        with self._lock, self._db:
            if self._db.execute("SELECT 1 FROM answers WHERE id=?", (answer_id,)).fetchone() is None:
                return False
            self._db.execute("INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, ?)",
                             (answer_id, user, 1 if helpful else -1, self._now()))
            return True

    def link_message(self, platform: str, message_id: str, answer_id: int) -> None:
        """Remember which answer a sent message carries (Teams feedback names the message, not the answer)."""
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO messages VALUES (?, ?, ?)", (platform, message_id, answer_id))

    def answer_for_message(self, platform: str, message_id: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT answer_id FROM messages WHERE platform=? AND message_id=?",
                                   (platform, message_id)).fetchone()
        return int(row[0]) if row else None

    def feedback(self, answer_id: int) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT user, value FROM feedback WHERE answer_id=?", (answer_id,)).fetchall()
        return dict(rows)

    def gaps(self, limit: int = 20) -> list[Gap]:
        """Unanswered questions and answers marked 👎, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT a.id, a.platform, a.question, a.abstained, a.at FROM answers a "
                "WHERE a.abstained = 1 OR EXISTS (SELECT 1 FROM feedback f WHERE f.answer_id = a.id AND f.value < 0) "
                "ORDER BY a.id DESC LIMIT ?", (limit,)).fetchall()
        return [Gap(r[0], r[1], r[2], "no answer" if r[3] else "marked unhelpful", r[4]) for r in rows]

    def answers_between(self, start: datetime, end: datetime) -> list[AnswerRecord]:
        """The answers given from `start` to `end` (both included), oldest first, with their 👍/👎 counts."""
        with self._lock:
            rows = self._db.execute(
                "SELECT a.id, a.platform, a.question, a.answer, a.sources, a.abstained, a.at, "
                "COALESCE(SUM(f.value > 0), 0), COALESCE(SUM(f.value < 0), 0) "
                "FROM answers a LEFT JOIN feedback f ON f.answer_id = a.id WHERE a.at >= ? AND a.at <= ? "
                "GROUP BY a.id ORDER BY a.at, a.id", (start.timestamp(), end.timestamp())).fetchall()
        return [AnswerRecord(r[0], r[1], r[2] or "", r[3] or "", tuple(json.loads(r[4] or "[]")), bool(r[5]), r[6],
                             int(r[7]), int(r[8])) for r in rows]

    # --- retention and erasure ------------------------------------------------------------------------------

    def purge(self, before: datetime) -> dict[str, int]:
        """Delete members' data older than `before` (every table of `MEMBER_DATA`, and what pointed at it);
        the rows removed per table.

        >>> from datetime import timezone
        >>> now = datetime(2027, 1, 1, tzinfo=timezone.utc)
        >>> BotState(Path(":memory:"), clock=lambda: now).purge(now)
        {'threads': 0, 'answers': 0, 'feedback': 0, 'follows': 0, 'follow_notices': 0, 'member_conversations': 0, \
'reminder_messages': 0, 'reminders': 0}
        """
        with self._lock, self._db:
            removed = {kept.table: self._db.execute(f"DELETE FROM {kept.table} WHERE {kept.at} < ?",
                                                    (before.timestamp(),)).rowcount for kept in MEMBER_DATA}
            self._drop_orphans()
            self._forget_old_claims()
        return removed

    def forget(self, member: str) -> dict[str, int]:
        """Delete everything tied to a member's id (a Slack user id, a Teams Entra object id): their questions
        with the answers, their feedback, the threads they asked in. The rows removed per `Kept.what`
        (tables counted on their own only).

        >>> from datetime import timezone
        >>> BotState(Path(":memory:"), clock=lambda: datetime(2027, 1, 1, tzinfo=timezone.utc)).forget("U1")
        {'questions': 0, 'feedback': 0, 'follows': 0, 'reminders': 0}
        """
        if not member:
            raise ValueError("forget needs a member id")
        removed: dict[str, int] = {}
        with self._lock, self._db:
            for kept in MEMBER_DATA:
                count = self._db.execute(f"DELETE FROM {kept.table} WHERE {kept.of_member}",
                                         {"member": member}).rowcount
                if kept.what is not None:
                    removed[kept.what] = removed.get(kept.what, 0) + count
            self._drop_orphans()
        return removed

    def questions_of(self, member: str, limit: int = 5) -> list[str]:
        """A member's latest questions, newest first (the language to speak to them in)."""
        with self._lock:
            rows = self._db.execute("SELECT question FROM answers WHERE user = ? ORDER BY id DESC LIMIT ?",
                                    (member, limit)).fetchall()
        return [question for (question,) in rows]

    def _drop_orphans(self) -> None:
        """Rows that only made sense with an answer now gone: 👍/👎 on it (anyone's), the sent messages naming it."""
        for table in ("feedback", "messages"):
            self._db.execute(f"DELETE FROM {table} WHERE answer_id NOT IN (SELECT id FROM answers)")

    # --- scheduled jobs -------------------------------------------------------------------------------------

    def job_since(self, job: str) -> datetime:
        """When a job was first scheduled on this file (recorded now the first time): a job never misses a
        run from before it existed."""
        with self._lock, self._db:
            self._db.execute("INSERT OR IGNORE INTO jobs VALUES (?, ?)", (job, self._now()))
            (since,) = self._db.execute("SELECT since FROM jobs WHERE job = ?", (job,)).fetchone()
        return datetime.fromtimestamp(since, self._clock().tzinfo)

    def claim_run(self, job: str, period: datetime) -> bool:
        """True for the one process that runs `job` for `period` (its fire time); every other process sharing
        the file, and every later start, gets False. A run whose process died stays claimed: at most once."""
        with self._lock, self._db:
            return self._db.execute("INSERT OR IGNORE INTO job_runs (job, period, owner, started) VALUES (?, ?, ?, ?)",
                                    (job, period.timestamp(), self._owner, self._now())).rowcount == 1

    def finish_run(self, job: str, period: datetime, *, ok: bool, result: str) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE job_runs SET finished = ?, ok = ?, result = ? WHERE job = ? AND period = ?",
                             (self._now(), int(ok), result, job, period.timestamp()))

    def last_run(self, job: str) -> JobRun | None:
        """The run of the latest period, finished or not."""
        with self._lock:
            row = self._db.execute("SELECT period, started, finished, ok, result FROM job_runs WHERE job = ? "
                                   "ORDER BY period DESC LIMIT 1", (job,)).fetchone()
        if row is None:
            return None
        tz = self._clock().tzinfo
        period, started, finished, ok, result = row
        return JobRun(job, datetime.fromtimestamp(period, tz), datetime.fromtimestamp(started, tz),
                      datetime.fromtimestamp(finished, tz) if finished is not None else None,
                      None if ok is None else bool(ok), result or "")

    def runs(self, job: str) -> int:
        """How many periods `job` has been run for on this file."""
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM job_runs WHERE job = ?", (job,)).fetchone()
        return int(count)

    # --- channel digests ------------------------------------------------------------------------------------

    def claim_digest(self, channel: str, period: datetime) -> bool:
        """True for the one run that posts `channel`'s digest for `period` (scheduled or by hand, in any process
        sharing the file). A period whose digest had nothing to say may be claimed again (staff may post by hand
        once calls are added); one being posted, or posted, may not."""
        with self._lock, self._db:
            if self._db.execute("INSERT OR IGNORE INTO digests (channel, period, owner, at, status) "
                                "VALUES (?, ?, ?, ?, 'sending')",
                                (channel, period.timestamp(), self._owner, self._now())).rowcount == 1:
                return True
            return self._db.execute("UPDATE digests SET status = 'sending', owner = ?, at = ? WHERE channel = ? "
                                    "AND period = ? AND status = 'empty'",
                                    (self._owner, self._now(), channel, period.timestamp())).rowcount == 1

    def finish_digest(self, channel: str, period: datetime, *, at: datetime, posted: bool, items: int,
                      message: str, calls: frozenset[str]) -> None:
        """Record the claimed digest as posted (or as having nothing to say), composed at `at` with `calls` seen."""
        with self._lock, self._db:
            self._db.execute("UPDATE digests SET at = ?, status = ?, items = ?, message = ?, calls = ? "
                             "WHERE channel = ? AND period = ?",
                             (at.timestamp(), "posted" if posted else "empty", items, message,
                              json.dumps(sorted(calls), ensure_ascii=False), channel, period.timestamp()))

    def drop_digest(self, channel: str, period: datetime) -> None:
        """Give a claimed period back (its digest could not be posted): it may be posted by hand."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM digests WHERE channel = ? AND period = ? AND status = 'sending'",
                             (channel, period.timestamp()))

    def last_digest(self, channel: str) -> DigestRecord | None:
        """The latest finished digest of `channel` (posted, or with nothing to say)."""
        with self._lock:
            row = self._db.execute("SELECT period, at, status, items, message, calls FROM digests WHERE channel = ? "
                                   "AND status IN ('posted', 'empty') ORDER BY period DESC LIMIT 1",
                                   (channel,)).fetchone()
        if row is None:
            return None
        tz = self._clock().tzinfo
        period, at, status, items, message, calls = row
        return DigestRecord(channel, datetime.fromtimestamp(period, tz), datetime.fromtimestamp(at, tz),
                            status == "posted", int(items), message or "", frozenset(json.loads(calls or "[]")))

    def digests_posted(self, channel: str) -> int:
        """How many digests were posted to `channel` from this file."""
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM digests WHERE channel = ? AND status = 'posted'",
                                        (channel,)).fetchone()
        return int(count)

    # --- conversation references (proactive messages) ---------------------------------------------------------

    def remember_conversation(self, platform: str, conversation: str, reference: str) -> None:
        """Keep how to post in a conversation later, unprompted (a Teams conversation reference, as JSON)."""
        with self._lock, self._db:
            self._db.execute("INSERT INTO conversations VALUES (?, ?, ?, ?) ON CONFLICT (platform, conversation) "
                             "DO UPDATE SET reference = excluded.reference, at = excluded.at "
                             "WHERE reference != excluded.reference",
                             (platform, conversation, reference, self._now()))

    def conversation_reference(self, platform: str, conversation: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT reference FROM conversations WHERE platform = ? AND conversation = ?",
                                   (platform, conversation)).fetchone()
        return str(row[0]) if row else None

    # --- followed topics (bot.follows) ------------------------------------------------------------------------

    def add_follow(self, platform: str, user: str, *, key: str, topic: str, language: str, role: str) -> bool:
        """Record that `user` follows `topic` (`key`: its folded form); False when they followed it already."""
        with self._lock, self._db:
            return self._db.execute("INSERT OR IGNORE INTO follows VALUES (?, ?, ?, ?, ?, ?, ?)",
                                    (platform, user, key, topic, language, role, self._now())).rowcount == 1

    def remove_follow(self, platform: str, user: str, key: str) -> str | None:
        """Stop following the topic `key` names; the topic as it was written, or None when it was not followed."""
        with self._lock, self._db:
            row = self._db.execute("SELECT topic FROM follows WHERE platform = ? AND user = ? AND topic_key = ?",
                                   (platform, user, key)).fetchone()
            self._db.execute("DELETE FROM follows WHERE platform = ? AND user = ? AND topic_key = ?",
                             (platform, user, key))
        return str(row[0]) if row else None

    def follows(self, platform: str, user: str | None = None) -> list[FollowRecord]:
        """The follows on `platform` (of `user` only, when given), oldest first."""
        query = "SELECT user, topic, language, role, at FROM follows WHERE platform = ?"
        values: tuple[str, ...] = (platform,)
        if user is not None:
            query, values = query + " AND user = ?", (platform, user)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY at, rowid", values).fetchall()
        tz = self._clock().tzinfo
        return [FollowRecord(platform, r[0], r[1], r[2], r[3], datetime.fromtimestamp(r[4], tz)) for r in rows]

    def seen_items(self, platform: str) -> set[str]:
        """The calls and events the follow job of `platform` has looked at already."""
        with self._lock:
            return {item for (item,) in self._db.execute("SELECT item FROM follow_seen WHERE platform = ?",
                                                         (platform,))}

    def mark_seen(self, platform: str, items: set[str] | list[str]) -> None:
        with self._lock, self._db:
            self._db.executemany("INSERT OR IGNORE INTO follow_seen VALUES (?, ?, ?)",
                                 [(platform, item, self._now()) for item in items])

    def claim_notice(self, platform: str, user: str, item: str) -> bool:
        """True for the one run that tells `user` about `item` (any process sharing the file, any later run)."""
        with self._lock, self._db:
            return self._db.execute("INSERT OR IGNORE INTO follow_notices VALUES (?, ?, ?, ?, 'sending')",
                                    (platform, user, item, self._now())).rowcount == 1

    def finish_notice(self, platform: str, user: str, item: str, *, sent: bool) -> None:
        """The notice was sent, or could not be (`failed`: never tried again, so never sent twice)."""
        with self._lock, self._db:
            self._db.execute("UPDATE follow_notices SET status = ? WHERE platform = ? AND user = ? AND item = ?",
                             ("sent" if sent else "failed", platform, user, item))

    def notices_sent(self, platform: str, user: str) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM follow_notices WHERE platform = ? AND user = ? AND "
                                        "status = 'sent'", (platform, user)).fetchone()
        return int(count)

    def remember_member_conversation(self, platform: str, user: str, reference: str) -> None:
        """Keep how to message `user` unprompted in their 1:1 chat with the bot (a Teams conversation reference)."""
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO member_conversations VALUES (?, ?, ?, ?)",
                             (platform, user, reference, self._now()))

    def member_conversation(self, platform: str, user: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT reference FROM member_conversations WHERE platform = ? AND user = ?",
                                   (platform, user)).fetchone()
        return str(row[0]) if row else None

    # --- deadline reminders ---------------------------------------------------------------------------------------

    def add_reminder(self, platform: str, user: str, *, path: str, title: str, url: str, deadline: float,
                     deadline_text: str, language: str) -> int:
        """Record (or renew) a member's reminder for a call; its id."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO reminders (platform, user, path, title, url, deadline, deadline_text, language, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, user, path, title) DO UPDATE SET "
                "url = excluded.url, deadline = excluded.deadline, deadline_text = excluded.deadline_text, "
                "language = excluded.language",
                (platform, user, path, title, url, deadline, deadline_text, language, self._now()))
            (reminder_id,) = self._db.execute("SELECT id FROM reminders WHERE platform = ? AND user = ? AND path = ? "
                                              "AND title = ?", (platform, user, path, title)).fetchone()
        return int(reminder_id)

    def reminders(self, user: str | None = None) -> list[Reminder]:
        """Every reminder (of `user` only, when given), soonest deadline first."""
        query = ("SELECT id, platform, user, path, title, url, deadline, deadline_text, language, at FROM reminders"
                 + (" WHERE user = ?" if user is not None else "") + " ORDER BY deadline, id")
        with self._lock:
            rows = self._db.execute(query, (user,) if user is not None else ()).fetchall()
        return [Reminder(*row) for row in rows]

    def move_reminder(self, reminder_id: int, deadline: float, deadline_text: str) -> None:
        """The call's deadline moved: the reminder follows it."""
        with self._lock, self._db:
            self._db.execute("UPDATE reminders SET deadline = ?, deadline_text = ? WHERE id = ?",
                             (deadline, deadline_text, reminder_id))

    def drop_reminder(self, reminder_id: int) -> None:
        """Nothing more to send for this reminder (the call closed, or was removed)."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM reminder_messages WHERE reminder_id = ?", (reminder_id,))
            self._db.execute("DELETE FROM reminders WHERE id = ?", (reminder_id,))

    def claim_reminder_message(self, reminder_id: int, what: str, deadline: float) -> bool:
        """True for the one run that sends a reminder's message (`7d`, `1d`, `moved`, `removed`) for a deadline,
        in any process sharing the file, however often the job runs."""
        with self._lock, self._db:
            return self._db.execute("INSERT OR IGNORE INTO reminder_messages VALUES (?, ?, ?, ?)",
                                    (reminder_id, what, deadline, self._now())).rowcount == 1

    def release_reminder_message(self, reminder_id: int, what: str, deadline: float) -> None:
        """The claimed message could not be delivered: the next run may try again."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM reminder_messages WHERE reminder_id = ? AND what = ? AND deadline = ?",
                             (reminder_id, what, deadline))
