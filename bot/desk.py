"""The help desk every chat platform shares: who sees what, answering and recording, feedback, staff commands.

It imports no chat platform. An adapter (`bot.slack`, `bot.teams`) translates its platform's events into
calls of a `Desk` and renders what comes back (a `Reply`, a `Notice`, a `Home`) as blocks, cards or text.
The desk holds every product rule the adapters used to copy: the audience of a conversation
(`role_for`), answer -> record -> link, 👍/👎, `reingest` (one at a time) / `gaps` / `status` for staff
only, and the apology, thanks and refusal in the member's language (`bot.messages`).

A third platform (a web widget, Mattermost) is one translation module beside `bot/slack` and `bot/teams`:

1. build `Desk(services, state, platform="mattermost")` once;
2. for each message, find the platform's facts (is it a direct chat, do outsiders read it, a configured
   role, is the sender staff: from the authenticated sender only) and call `desk.role(...)`;
3. `claim` the message, `ask` in a worker thread, render the `Reply` with its answer id for 👍/👎, `finish`;
   on an exception log it and send `desk.apology(question)`;
4. route a click to `desk.feedback`, and a staff command to `desk.staff_command`, sending each `Notice`.

>>> role_for(direct=True, is_staff=lambda: False)  # a DM with a member
'member'
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from bot import messages
from bot.conversation import Incoming, Reply
from bot.state import BotState
from bot.wiring import Services
from knowledge.language import detect_language
from knowledge.store import StoreError

logger = logging.getLogger(__name__)

STAFF_COMMANDS = ("reingest", "gaps", "status")
ROLES = ("public", "member", "staff")
_GAPS_LISTED = 20
_GAPS_ON_HOME = 10


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
    `items`: the lines are a list (the adapter bullets them)."""

    lines: tuple[str, ...]
    items: bool = False

    @classmethod
    def say(cls, sentence: str) -> Notice:
        return cls((sentence,))


@dataclass(frozen=True)
class Home:
    """What a home page shows: the next events and the calls closing soonest; for staff, the index and gaps."""

    staff: bool
    events: list[dict[str, str]] = field(default_factory=list)
    calls: list[dict[str, str]] = field(default_factory=list)
    status: dict[str, object] | None = None
    gaps: list[str] = field(default_factory=list)


class Desk:
    """One platform's front desk over the shared services and the bot's state (`platform` keys the state).

    Thread-safe: adapters call it from worker threads (bolt's listeners, `asyncio.to_thread`).
    """

    def __init__(self, services: Services, state: BotState, *, platform: str) -> None:
        self.services = services
        self.state = state
        self.platform = platform
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

    def ask(self, question: str, *, conversation: str, user: str, role: str, thread: str = "") -> tuple[Reply, int]:
        """Answer a question with the thread's earlier turns, record it, and return the reply with its id
        (what 👍/👎 name). Raises on failure: the adapter logs it and sends `apology(question)`."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        history = self.state.history(self.platform, conversation, thread)
        reply = self.services.concierge.answer(Incoming(question.strip(), role=role, history=tuple(history)))
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

    # --- staff ------------------------------------------------------------------------------------------------

    @staticmethod
    def is_staff_command(text: str) -> bool:
        return text.strip().lower() in STAFF_COMMANDS

    def staff_command(self, action: str, *, staff: bool, tell: Callable[[Notice], object],
                      invoked_as: str = "", ask_command: str | None = None, language: str = "en") -> None:
        """Run `reingest`, `gaps` or `status` for staff, `tell`-ing each notice as it comes (reingest says
        "started", then the summary). `staff` comes from the authenticated sender only; others are refused.
        `invoked_as` (e.g. `/concierge`) prefixes the usage line for an unknown action; `ask_command`, if
        given, is how the refusal says to ask a question instead."""
        if not staff:
            tell(Notice.say(messages.refusal(language, ask_command)))
            return
        action = action.strip().lower()
        if action == "reingest":
            self.reingest(tell, language=language)
        elif action == "gaps":
            tell(self.gaps(language))
        elif action == "status":
            tell(Notice.say(self.services.status_line()))
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
        return Home(staff=staff, events=events, calls=calls, status=status, gaps=gaps)


def notice_lines(notice: Notice, bullet: str) -> list[str]:
    """The notice's lines, each prefixed with `bullet` when it is a list (for adapters' renderers)."""
    return [f"{bullet}{line}" for line in notice.lines] if notice.items else list(notice.lines)


__all__ = ["Desk", "Home", "Notice", "STAFF_COMMANDS", "notice_lines", "role_for"]
