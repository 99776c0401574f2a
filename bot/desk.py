"""The help desk every chat platform shares: who sees what, answering and recording, feedback, staff commands.

It imports no chat platform. An adapter (`bot.slack`, `bot.teams`) translates its platform's events into
calls of a `Desk` and renders what comes back (a `Reply`, a `Notice`, a `Home`) as blocks, cards or text.
The desk holds every product rule the adapters used to copy: the audience of a conversation
(`role_for`), answer -> record -> link, 👍/👎, `reingest` (one at a time) / `gaps` / `status` (with the scheduled
jobs) / `report` (`bot.report`) for staff only, "forget me" for every member, and the apology, thanks and refusal
in the member's language (`bot.messages`).

A third platform (a web widget, Mattermost) is one translation module beside `bot/slack` and `bot/teams`:

1. build `Desk(services, state, platform="mattermost")` once;
2. for each message, find the platform's facts (is it a direct chat, do outsiders read it, a configured
   role, is the sender staff: from the authenticated sender only) and call `desk.role(...)`;
3. `claim` the message, `ask` in a worker thread, render the `Reply` with its answer id for 👍/👎, `finish`;
   on an exception log it and send `desk.apology(question)`;
4. route a click to `desk.feedback`, and a staff command to `desk.staff_command`, sending each `Notice`;
5. route "forget me" (`desk.is_forget_request`), said where only the member reads the reply, to `desk.forget`
   with the same identity answers are recorded under.

>>> role_for(direct=True, is_staff=lambda: False)  # a DM with a member
'member'
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from bot import follows as topics
from bot import messages
from bot.conversation import Incoming, Reply
from bot.reminders import CallRef, date_text, remember_call, upcoming
from bot.report import Report, build_report, summary_lines, word
from bot.state import BotState
from bot.wiring import Services
from knowledge.language import detect_language
from knowledge.store import StoreError

if TYPE_CHECKING:
    from bot.scheduler import JobStatus, Scheduler

logger = logging.getLogger(__name__)

STAFF_COMMANDS = ("reingest", "gaps", "status", "report")
ROLES = ("public", "member", "staff")
_GAPS_LISTED = 20
_GAPS_ON_HOME = 10
_FOLD = re.compile(r"[\s\-_’']+")
_REPORT = re.compile(r"report(?:\s+(?:--since\s+)?(\S+))?")  # `report`, `report 2026-11-01`
_REPORT_DATED = re.compile(r"report(?:\s+(?:--since\s+)?\d{4}-\d\d-\d\d)?")  # what a Teams message may be


def _no() -> bool:
    return False


def role_for(*, direct: bool, is_staff: Callable[[], bool], private: bool = False,
             shared: Callable[[], bool] = _no, configured: str | None = None) -> str:
    """The highest audience whose sources a reply may quote, from platform-neutral facts.

    - `direct`: a DM or 1:1 chat, read by the asker only: `staff` for staff, else `member`;
    - `private`: the reply is shown to the asker only (Slack's ephemeral `/ask`): `staff` for staff, else as
      the conversation it was asked in;
    - a conversation people from other organisations read (`shared`): `public`;
    - else the role configured for the conversation, `member` by default.

    `is_staff` and `shared` are lookups, called only when the rule needs them (they may cost an API call).
    Staff are recognised from the authenticated sender only, never from what the message says.

    >>> role_for(direct=False, is_staff=lambda: True, shared=lambda: True)
    'public'
    """
    if (direct or private) and is_staff():
        return "staff"
    if direct:
        return "member"
    if shared():
        return "public"
    return configured or "member"


@dataclass(frozen=True)
class Notice:
    """Plain lines for a member or staff (a summary, a refusal); the adapter escapes and lays them out.
    `items`: the lines are a list (the adapter bullets them); `lead`: lines shown before them, never bulleted."""

    lines: tuple[str, ...]
    items: bool = False
    lead: tuple[str, ...] = ()
    report: Report | None = None  # the staff report behind the lines: adapters render it as blocks or a card

    @classmethod
    def say(cls, sentence: str) -> Notice:
        return cls((sentence,))


@dataclass(frozen=True)
class Home:
    """What a home page shows: the next events and the calls closing soonest; for staff, the index, the gaps
    and the scheduled jobs (one line each)."""

    staff: bool
    events: list[dict[str, str]] = field(default_factory=list)
    calls: list[dict[str, str]] = field(default_factory=list)
    status: dict[str, object] | None = None
    gaps: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)


class Desk:
    """One platform's front desk over the shared services and the bot's state (`platform` keys the state).

    Thread-safe: adapters call it from worker threads (bolt's listeners, `asyncio.to_thread`).
    `scheduler`: the process's scheduler, whose jobs staff see in `status` and on the home page.
    """

    def __init__(self, services: Services, state: BotState, *, platform: str,
                 scheduler: Scheduler | None = None) -> None:
        self.services = services
        self.state = state
        self.platform = platform
        self.scheduler = scheduler
        self._reingest_lock = threading.Lock()

    # --- who sees what ------------------------------------------------------------------------------------

    role = staticmethod(role_for)  # the audience of a reply, from the platform's facts

    # --- exactly once ---------------------------------------------------------------------------------------

    def first_delivery(self, event_id: str) -> bool:
        """True the first time this run sees a platform's event id (re-deliveries are acknowledged only)."""
        return self.state.first_time(event_id)

    def claim(self, conversation: str, message: str) -> bool:
        """True for the first to take a message: one answer even when it arrives twice, or again after a restart."""
        return self.state.claim_message(self.platform, conversation, message)

    def finish(self, conversation: str, message: str) -> None:
        """The message got its answer (or the apology): no later run answers it again."""
        self.state.finish_message(self.platform, conversation, message)

    def follow(self, conversation: str, thread: str) -> None:
        """Follow-ups in this thread are ours without a new mention (called before posting: a quick
        follow-up may arrive before the answer is sent)."""
        self.state.remember_thread(self.platform, conversation, thread)

    def follows(self, conversation: str, thread: str) -> bool:
        return self.state.is_answered_thread(self.platform, conversation, thread)

    # --- answering ------------------------------------------------------------------------------------------

    def ask(self, question: str, *, conversation: str, user: str, role: str, thread: str = "",
            on_text: Callable[[str], None] | None = None) -> tuple[Reply, int]:
        """Answer a question with the thread's earlier turns, record it, and return the reply with its id
        (what 👍/👎 name). Raises on failure: the adapter logs it and sends `apology(question)`. `on_text` shows
        a chat model's reply as it is written (`Incoming.on_text`); the adapter then finishes it from the Reply."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        history = self.state.history(self.platform, conversation, thread)
        reply = self.services.concierge.answer(Incoming(question.strip(), role=role, history=tuple(history),
                                                        on_text=on_text))
        answer_id = self.state.record_answer(self.platform, conversation, thread, user, role, reply)
        return reply, answer_id

    def link(self, message_id: str, answer_id: int) -> None:
        """Remember that a sent message carries an answer (for feedback that names the message)."""
        self.state.link_message(self.platform, message_id, answer_id)

    @staticmethod
    def apology(question: str) -> str:
        """The short apology, in the question's language."""
        return messages.apology(detect_language(question or ""))

    # --- feedback ----------------------------------------------------------------------------------------

    def feedback(self, answer_id: int, user: str, helpful: bool, *, language: str = "en") -> str | None:
        """Store a 👍/👎 under `user` (the identity the answer was recorded for); the thanks to show, or None
        when the answer is unknown."""
        if not self.state.record_feedback(answer_id, user, helpful):
            return None
        return messages.thanks(language, helpful)

    def feedback_on_message(self, message_id: str, user: str, helpful: bool) -> bool:
        """A 👍/👎 that names the sent message rather than the answer; False when no answer is linked to it."""
        answer_id = self.state.answer_for_message(self.platform, message_id)
        return answer_id is not None and self.state.record_feedback(answer_id, user, helpful)

    # --- deadline reminders ---------------------------------------------------------------------------------------

    def remind(self, value: str, user: str, *, reachable: bool = True) -> str:
        """"Remind me" clicked on an answer citing an open call (`value`: the button's `CallRef.value()`): record
        `user`'s reminder and say when it comes, in the answer's language (`bot.reminders`). `reachable`: False
        when the platform cannot message the member yet (Teams before a 1:1 chat): they are told how."""
        ref = CallRef.from_value(value)
        if ref is None or not user:
            return messages.apology(messages.DEFAULT_LANGUAGE)
        try:
            said, recorded = remember_call(self.services.store, self.state, platform=self.platform, user=user, ref=ref,
                                 now=self.services.clock(), timezone=self.services.tz)
        except StoreError:
            logger.exception("reminder not recorded: the knowledge base could not be read platform=%s",
                             self.platform)
            return messages.apology(ref.language)
        return said if reachable or not recorded else f"{said} {messages.text('reminder_needs_chat', ref.language)}"

    @staticmethod
    def is_reminder_list(text: str) -> bool:
        """`reminders`, `rappels`, `Erinnerungen`: a member asking for their deadline reminders.

        >>> Desk.is_reminder_list(" Rappels "), Desk.is_reminder_list("reminders for calls?")
        (True, False)
        """
        return _fold(text) in messages.REMINDER_LIST_WORDS

    def reminder_list(self, user: str) -> Notice:
        """`user`'s deadline reminders on this platform, soonest deadline first, each with its next reminder."""
        mine = [r for r in self.state.reminders(user) if r.platform == self.platform]
        if not mine:
            latest = self.state.questions_of(user, limit=1)
            language = detect_language(latest[0]) if latest else messages.DEFAULT_LANGUAGE
            return Notice.say(messages.text("reminders_none", language))
        language, tz, now = mine[0].language, self.services.tz, self.services.clock()
        lines = []
        for reminder in mine:
            deadline = datetime.fromtimestamp(reminder.deadline, tz)
            coming = [m for m in upcoming(deadline, tz, now) if m.timestamp() >= reminder.since]
            values = {"title": reminder.title, "deadline": date_text(deadline, language)}
            lines.append(messages.text("reminders_line", language, **values,
                                       next=date_text(coming[0], language, with_time=False)) if coming
                         else messages.text("reminders_line_last", language, **values))
        return Notice(tuple(lines), items=True, lead=(messages.text("reminders_heading", language),))

    # --- staff ------------------------------------------------------------------------------------------------

    @staticmethod
    def is_staff_command(text: str) -> bool:
        text = text.strip().lower()
        return text in STAFF_COMMANDS or _REPORT_DATED.fullmatch(text) is not None

    def staff_command(self, action: str, *, staff: bool, tell: Callable[[Notice], object],
                      invoked_as: str = "", ask_command: str | None = None, language: str = "en",
                      user: str = "") -> None:
        """Run `reingest`, `gaps`, `status` or `report [YYYY-MM-DD]` for staff, `tell`-ing each notice as it comes
        (reingest says "started", then the summary; report's notice carries the `Report`). `staff` comes from
        the authenticated sender only; others are refused.
        `invoked_as` (e.g. `/concierge`) prefixes the usage line for an unknown action; `ask_command`, if
        given, is how the refusal says to ask a question instead. `forget-me` is for everyone: pass `user`
        (the authenticated sender) where the reply reaches that member only (a slash command's ephemeral reply)."""
        if user and self.is_forget_request(action):
            tell(self.forget(user, said=action))
            return
        if user and self.is_reminder_list(action):  # every member's own deadline reminders
            tell(self.reminder_list(user))
            return
        if not staff:
            tell(Notice.say(messages.refusal(language, ask_command)))
            return
        action = action.strip().lower()
        if action == "reingest":
            self.reingest(tell, language=language)
        elif action == "gaps":
            tell(self.gaps(language))
        elif action == "status":
            tell(self.status(language))
        elif (asked := _REPORT.fullmatch(action)) is not None:
            tell(self._report(asked.group(1), invoked_as=invoked_as, language=language))
        else:
            tell(Notice.say(messages.text("staff_usage", language, command=invoked_as,
                                          actions=" | ".join(STAFF_COMMANDS)).strip()))

    def reingest(self, tell: Callable[[Notice], object], *, language: str = "en") -> None:
        """Ingest the configured sources, one run at a time: a second request is told one is running."""
        if not self._reingest_lock.acquire(blocking=False):
            tell(Notice.say(messages.text("reingest_running", language)))
            return
        try:
            tell(Notice.say(messages.text("reingest_started", language)))
            try:
                report = self.services.ingestor().run(self.services.settings.sources)
            except Exception:  # noqa: BLE001 - staff get one line; the traceback goes to the log
                logger.exception("reingest failed platform=%s", self.platform)
                tell(Notice.say(messages.text("reingest_failed", language)))
                return
        finally:
            self._reingest_lock.release()
        tell(Notice(tuple(report.summary_lines())))

    def status(self, language: str = "en") -> Notice:
        """The index in one line, then each scheduled job: schedule, last run and result, next run."""
        jobs = self.job_lines(language)
        if not jobs:
            return Notice.say(self.services.status_line())
        return Notice(tuple(jobs), items=True, lead=(self.services.status_line(), messages.text("jobs", language)))

    def report(self, since: date | None = None, language: str = "en") -> Notice:
        """The staff report from `since` (by default the last 7 days) up to now, as lines, carrying the `Report`
        that adapters render richer (Slack blocks and a chart, a Teams card)."""
        report = build_report(self.state, embedder=self.services.embedder, store=self.services.store,
                              now=self.services.clock(), since=since)
        return Notice(tuple(summary_lines(report, language)), report=report)

    def _report(self, since: str | None, *, invoked_as: str, language: str) -> Notice:
        try:
            first = date.fromisoformat(since) if since else None
        except ValueError:
            first = None
        if (since and first is None) or (first is not None and first > self.services.clock().date()):
            return Notice.say(word("usage", language, command=invoked_as).strip())
        try:
            return self.report(first, language)
        except Exception:  # noqa: BLE001 - staff get one line; the traceback goes to the log
            logger.exception("staff report failed platform=%s", self.platform)
            return Notice.say(word("failed", language))

    def job_lines(self, language: str = "en") -> list[str]:
        """One line per scheduled job (none without a scheduler)."""
        if self.scheduler is None:
            return []
        return [_job_line(job, language) for job in self.scheduler.status()]

    def gaps(self, language: str = "en", limit: int = _GAPS_LISTED) -> Notice:
        """Unanswered questions and answers marked 👎, newest first, from every platform."""
        lines = tuple(f"{g.question} — {g.reason} ({g.platform})" for g in self.state.gaps(limit))
        return Notice(lines, items=True) if lines else Notice.say(messages.text("no_gaps", language))

    # --- home ----------------------------------------------------------------------------------------------

    def home(self, *, staff: bool) -> Home:
        """The next events and closing calls the asker may see; for staff also the index status and the gaps.
        Without the knowledge base the page still opens, with empty lists."""
        role = "staff" if staff else "member"
        retriever, now = self.services.retriever, self.services.clock()
        try:
            events = [{"title": str(m["title"]), "url": str(m["url"]), "start": str(m.get("start", ""))}
                      for m in retriever.upcoming("event", role, now)]
            calls = [{"title": str(m["title"]), "url": str(m["url"]), "deadline": str(m.get("deadline", ""))}
                     for m in retriever.upcoming("funding_call", role, now)]
            status = self.services.index_status() if staff else None
        except StoreError:
            logger.exception("home page without the knowledge base")
            events, calls, status = [], [], None
        gaps = [f"{g.question} ({g.reason}, {g.platform})" for g in self.state.gaps(_GAPS_ON_HOME)] if staff else []
        return Home(staff=staff, events=events, calls=calls, status=status, gaps=gaps,
                    jobs=self.job_lines() if staff else [])

    # --- members' data ------------------------------------------------------------------------------------------

    @staticmethod
    def is_forget_request(text: str) -> bool:
        """`forget me`, `forget-me`, `oublie-moi`, `vergiss mich`... (`bot.messages.FORGET_PHRASES`).

        >>> Desk.is_forget_request(" Forget-Me "), Desk.is_forget_request("forget my password")
        (True, False)
        """
        return _fold(text) in messages.FORGET_PHRASES

    def forget(self, user: str, *, said: str = "") -> Notice:
        """Erase everything tied to `user` (the identity answers and feedback are recorded under, on every
        platform sharing the state) and say what was removed, in the member's language: the phrase's when it
        is not English, else that of the member's latest questions."""
        language = messages.FORGET_PHRASES.get(_fold(said), messages.DEFAULT_LANGUAGE)
        if language == messages.DEFAULT_LANGUAGE:
            latest = self.state.questions_of(user, limit=1)
            language = detect_language(latest[0], default=language) if latest else language
        removed = {what: count for what, count in self.state.forget(user).items() if count}
        logger.info("member data erased on request platform=%s rows=%d", self.platform, sum(removed.values()))
        if not removed:
            return Notice.say(messages.text("forgotten_nothing", language))
        return Notice(tuple(messages.text(f"forgotten_{what}", language, count=count)
                            for what, count in removed.items()),
                      items=True, lead=(messages.text("forgotten", language),))

    # --- followed topics (bot.follows) -------------------------------------------------------------------------

    @staticmethod
    def is_follow_command(text: str) -> bool:
        """`follow medical AI`, `unfollow medical AI`, `following`.

        >>> Desk.is_follow_command("follow medical AI"), Desk.is_follow_command("follow up on my invoice?")
        (True, False)
        """
        return topics.parse_command(text) is not None

    def follow_command(self, text: str, *, user: str, role: str, invoked_as: str = "",
                       language: str | None = None) -> Notice:
        """Follow, unfollow or list topics for `user` (the authenticated sender), said where only they read the
        reply; `role`: the audience they may see there, kept with the follow; `language`: the member's, when the
        platform says (for topics whose words do not tell)."""
        parsed = topics.parse_command(text)
        if parsed is None:
            raise ValueError("not a follow command: check with is_follow_command first")
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        reply = topics.command(self.state, self.platform, user, *parsed, role=role, invoked_as=invoked_as,
                               hint=language)
        return Notice(reply.topics, items=True, lead=reply.lines) if reply.topics else Notice(reply.lines)

    @staticmethod
    def follow_in_private(text: str) -> Notice:
        """Where others would read the reply (a Teams channel): how to follow in a 1:1 chat."""
        parsed = topics.parse_command(text)
        topic = parsed[1] if parsed else ""
        return Notice.say(messages.text("follow_in_private", detect_language(topic) if topic else "en"))

    @staticmethod
    def forget_in_private(said: str = "") -> Notice:
        """Where others would read the reply: how to ask in a 1:1 chat (nothing is erased)."""
        return Notice.say(messages.text("forget_in_private",
                                        messages.FORGET_PHRASES.get(_fold(said), messages.DEFAULT_LANGUAGE)))


def _fold(text: str) -> str:
    """Lower case, hyphens and apostrophes as spaces, no closing punctuation: "Oublie-moi !" -> "oublie moi"."""
    return _FOLD.sub(" ", text.strip().lower()).strip(" .!?")


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _job_line(job: JobStatus, language: str) -> str:
    """`retention-purge · 30 3 * * * (Europe/Paris) · last run: 2026-11-22 03:30, removed ... · next run: ...`"""
    say = messages.text
    if job.last is None:
        last = say("job_never", language)
    elif job.last.finished is None:
        last = say("job_unfinished", language, at=_when(job.last.period))
    else:
        last = say("job_last", language, at=_when(job.last.period), result=job.last.result)
    if job.next_run is None:
        upcoming = say("job_never", language)
    else:
        upcoming = say("job_due", language, at=_when(job.next_run)) if job.due else _when(job.next_run)
    return say("job_line", language, name=job.name, schedule=job.schedule, last=last, next=upcoming)


def notice_lines(notice: Notice, bullet: str) -> list[str]:
    """The notice's lines, each prefixed with `bullet` when it is a list (for adapters' renderers)."""
    lines = [f"{bullet}{line}" for line in notice.lines] if notice.items else list(notice.lines)
    return [*notice.lead, *lines]


__all__ = ["Desk", "Home", "Notice", "STAFF_COMMANDS", "notice_lines", "role_for"]
