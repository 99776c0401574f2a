"""What the bot remembers between messages, in one SQLite file: events already handled, threads it
answered in (with their turns), every answer given, and the feedback on it. Shared by Slack and Teams."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
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
"""


@dataclass(frozen=True)
class Gap:
    """A question the bot could not answer, or an answer marked unhelpful."""

    answer_id: int
    platform: str
    question: str
    reason: str  # "no answer" | "marked unhelpful"
    at: float


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
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        # Who claims events and messages: a later run of the bot may take over what an earlier one (killed
        # mid-answer) claimed and never finished.
        self._owner = uuid.uuid4().hex
        with self._db:  # Slack retries for minutes, not weeks: old claims only grow the file
            self._db.execute("DELETE FROM claims WHERE at < ?", (self._now() - _CLAIMS_KEPT_SECONDS,))

    def _now(self) -> float:
        return self._clock().timestamp()

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
                (platform, channel, thread, user, role, reply.question, reply.answer, sources, int(reply.abstained),
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
