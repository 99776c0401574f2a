"""Posts channel digests (`bot.digest`) to Teams as proactive messages, and keeps the conversation references
they need.

Teams lets a bot post unprompted only where it knows the conversation's reference: the service URL of the
tenant's region, the conversation id and the bot's own id, which arrive with the conversation's activities. The
bot learns it when it is added to a team or a group chat (conversationUpdate, installationUpdate) and from every
message there (`remember`, called before each turn), and keeps it in the state file without the sender: a
channel post needs none. So a Teams digest channel must have seen the bot once (added it, or mentioned it) before
its first digest; until then the digest fails with a message that says so.

A channel's reference is kept under the channel's id (`19:...@thread.tacv2`, without `;messageid=`): the digest
is a new post in the channel, not a reply in a thread.
"""

from __future__ import annotations

import json
import logging

from microsoft_agents.hosting.core import ChannelServiceAdapter, TurnContext
from microsoft_agents.hosting.core.app.proactive import Conversation

from bot.digest import Digest, DigestNotPosted, DigestTarget
from bot.state import BotState
from bot.teams import proactive, render

logger = logging.getLogger(__name__)

PLATFORM = "teams"


def conversation_key(conversation_id: str) -> str:
    """A channel's id from the id of a thread in it.

    >>> conversation_key("19:abc@thread.tacv2;messageid=1700000000000")
    '19:abc@thread.tacv2'
    """
    return conversation_id.split(";", 1)[0]


def remember(state: BotState, context: TurnContext) -> None:
    """Keep the reference of a channel or group chat the activity comes from (1:1 chats are members' own: not
    kept). Never raises: a reference that cannot be kept only delays that conversation's digests."""
    activity = context.activity
    conversation = activity.conversation
    if (conversation is None or not conversation.id or not activity.service_url
            or (conversation.conversation_type or "personal") == "personal"):
        return
    try:
        key = conversation_key(conversation.id)
        reference = activity.get_conversation_reference().model_copy(update={
            "user": None, "activity_id": None, "request_id": None,
            "conversation": conversation.model_copy(update={"id": key})})
        kept = Conversation(context.identity or {}, reference).store_item_to_json()
        kept.pop("_span_context", None)
        state.remember_conversation(PLATFORM, key, json.dumps(kept, sort_keys=True, ensure_ascii=False))
    except Exception:  # noqa: BLE001 - the member's turn goes on
        logger.exception("cannot keep the Teams conversation reference conversation=%s", conversation.id)


class TeamsDigestPoster:
    """Posts in Teams channels and group chats through `adapter` (the SDK's CloudAdapter), as the bot `app_id`
    (the configured client id; None: as the identity the reference was learnt with, e.g. anonymous in development).

    `post` runs its own event loop: call it from a thread without one (the scheduler's, the CLI)."""

    def __init__(self, adapter: ChannelServiceAdapter, state: BotState, *, app_id: str | None = None) -> None:
        self._adapter = adapter
        self._state = state
        self._app_id = app_id

    def audience_cap(self, target: DigestTarget) -> str | None:
        return None  # the channel's configured role is applied with the target (`BotSettings.digest_target`)

    def post(self, digest: Digest) -> str:
        channel = digest.target.channel
        kept = self._state.conversation_reference(PLATFORM, channel)
        if kept is None:
            raise DigestNotPosted(
                f"no conversation reference for Teams conversation {channel} yet: the bot learns it when it is added "
                "to the team or chat, or mentioned there; add or mention the bot there once, then try again")
        try:
            return proactive.post(self._adapter, self._app_id, kept, render.digest_message(digest))
        except Exception as exc:  # noqa: BLE001 - the SDK raises its HTTP client's errors as they are
            raise DigestNotPosted(f"Teams refused the digest for conversation {channel}: "
                                  f"{type(exc).__name__}: {exc}") from exc
