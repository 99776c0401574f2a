"""Tells Teams members about calls and events on the topics they follow (`bot.follows`): a proactive message in
their 1:1 chat with the bot.

Teams lets a bot write unprompted only where it knows the conversation's reference; a member's 1:1 chat is learnt
when they write `follow <topic>` there (`remember_member`), kept under their id in the state file with the rest of
their data (erased by "forget me", purged after the retention).
"""

from __future__ import annotations

import json
import logging

from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import ChannelServiceAdapter, TurnContext
from microsoft_agents.hosting.core.app.proactive import Conversation

from bot.follows import FollowNotice, NotDelivered
from bot.state import BotState
from bot.teams import proactive
from bot.teams.render import escape, escape_plain, safe_url

logger = logging.getLogger(__name__)

PLATFORM = "teams"


def remember_member(state: BotState, context: TurnContext, user: str) -> None:
    """Keep the reference of the 1:1 chat the activity comes from, under `user` (the id follows are kept under).
    Never raises: without it the member's notices are not delivered, and the log says so."""
    activity = context.activity
    conversation = activity.conversation
    if conversation is None or not conversation.id or not activity.service_url or not user:
        return
    try:
        reference = activity.get_conversation_reference().model_copy(update={"activity_id": None,
                                                                             "request_id": None})
        kept = Conversation(context.identity or {}, reference).store_item_to_json()
        kept.pop("_span_context", None)
        state.remember_member_conversation(PLATFORM, user, json.dumps(kept, sort_keys=True, ensure_ascii=False))
    except Exception:  # noqa: BLE001 - the member's turn goes on
        logger.exception("cannot keep the Teams 1:1 conversation reference")


def notice_message(notice: FollowNotice) -> Activity:
    """The notice as Markdown: the heading in bold, the linked title and its date, why it was sent (no I/O).

    >>> from bot.digest import DigestItem
    >>> item = DigestItem("Appel [IA]", "https://kb.test/ia", "event", None)
    >>> notice_message(FollowNotice("U1", item, "medical AI", "en")).text.splitlines()[:2]
    ['**New event about “medical AI”**', '[Appel \\\\[IA\\\\]](https://kb.test/ia)']
    """
    heading, note, why = notice.lines()
    url = safe_url(notice.item.url)
    title = f"[{escape(notice.item.title)}]({url})" if url else escape(notice.item.title)
    body = "\n".join(line for line in (f"**{escape(heading)}**", title + (f" · {escape(note)}" if note else ""))
                     if line)
    return Activity(type="message", text=f"{body}\n\n{escape(why)}", summary=escape_plain(
        f"{heading}: {notice.item.title}"))


class TeamsFollowNotifier:
    """Sends notices through `adapter` (the SDK's CloudAdapter) as the bot `app_id` (None: as the identity the
    reference was learnt with, e.g. anonymous in development). `notify` runs its own event loop: call it from a
    thread without one (the scheduler's)."""

    def __init__(self, adapter: ChannelServiceAdapter, state: BotState, *, app_id: str | None = None) -> None:
        self._adapter = adapter
        self._state = state
        self._app_id = app_id

    def notify(self, notice: FollowNotice) -> str:
        kept = self._state.member_conversation(PLATFORM, notice.member)
        if kept is None:
            raise NotDelivered("no 1:1 conversation reference for the member: they followed from elsewhere")
        try:
            return proactive.post(self._adapter, self._app_id, kept, notice_message(notice))
        except Exception as exc:  # noqa: BLE001 - the SDK raises its HTTP client's errors as they are
            raise NotDelivered(f"Teams refused the message: {type(exc).__name__}: {exc}") from exc
