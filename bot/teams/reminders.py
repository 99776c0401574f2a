"""Sends deadline reminders (`bot.reminders`) to Teams members: a proactive message in their 1:1 chat with the bot.

Teams lets a bot write unprompted only where it knows the conversation's reference. A member's 1:1 chat is learnt
when they click "Remind me" there, or write `follow ...` there (`bot.teams.follows.remember_member`); it is kept
under their id with the rest of their data. A member who clicked in a channel and never wrote to the bot 1:1 is
told so when clicking; their reminders are not delivered (logged, tried again next run).
"""

from __future__ import annotations

from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import ChannelServiceAdapter

from bot.reminders import ReminderNotSent
from bot.state import BotState, Reminder
from bot.teams import proactive
from bot.teams.render import escape, escape_plain, safe_url

PLATFORM = "teams"


def reminder_message(reminder: Reminder, text: str) -> Activity:
    """The reminder as Markdown: the sentence, then the call's title linked to it (no I/O).

    >>> r = Reminder(1, "teams", "U1", "calls.csv", "EIC <at>", "https://kb.test/eic", 0.0, "", "en", 0.0)
    >>> reminder_message(r, "Reminder: closes tomorrow.").text.splitlines()[-1]
    '[EIC &lt;at&gt;](https://kb.test/eic)'
    """
    url = safe_url(reminder.url)
    title = f"[{escape(reminder.title)}]({url})" if url else escape(reminder.title)
    return Activity(type="message", text=f"{escape(text)}\n\n{title}", text_format="markdown",
                    summary=escape_plain(text))


class TeamsReminderSender:
    """Sends through `adapter` (the SDK's CloudAdapter) as the bot `app_id` (None: as the identity the reference was
    learnt with, e.g. anonymous in development). `send` runs its own event loop: call it from a thread without one
    (the scheduler's)."""

    def __init__(self, adapter: ChannelServiceAdapter, state: BotState, *, app_id: str | None = None) -> None:
        self._adapter = adapter
        self._state = state
        self._app_id = app_id

    def send(self, reminder: Reminder, text: str) -> None:
        kept = self._state.member_conversation(PLATFORM, reminder.user)
        if kept is None:
            raise ReminderNotSent("no 1:1 conversation reference for the member: they never wrote to the bot 1:1")
        try:
            proactive.post(self._adapter, self._app_id, kept, reminder_message(reminder, text))
        except Exception as exc:  # noqa: BLE001 - the SDK raises its HTTP client's errors as they are
            raise ReminderNotSent(f"Teams refused the reminder: {type(exc).__name__}: {exc}") from exc


__all__ = ["TeamsReminderSender", "reminder_message"]
