"""Messages the bot sends first in Teams (digests, followed topics, reminders): one way to post to a conversation
whose reference the bot keeps (`BotState`), through the Agents SDK's `continue_conversation`."""

from __future__ import annotations

import asyncio
import json

from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import ChannelServiceAdapter, TurnContext
from microsoft_agents.hosting.core.app.proactive import Conversation


def post(adapter: ChannelServiceAdapter, app_id: str | None, kept: str, activity: Activity) -> str:
    """Post `activity` as a new message in the conversation `kept` (its stored reference, JSON); the id Teams
    gave it ("" if none). Raises what the SDK raised (its HTTP client's errors, as they are)."""
    return asyncio.run(_post(adapter, app_id, Conversation.from_json_to_store_item(json.loads(kept)), activity))


async def _post(adapter: ChannelServiceAdapter, app_id: str | None, conversation: Conversation,
                activity: Activity) -> str:
    sent, failure = None, None

    async def send(context: TurnContext) -> None:
        nonlocal sent, failure
        # The continuation event carries an id of its own, which the SDK would answer as a reply to
        # (POST .../activities/{id}); without it the message is a new post in the conversation.
        context.activity.id = None
        try:
            sent = await context.send_activity(activity)
        except Exception as exc:  # noqa: BLE001 - raised again below, outside the SDK's pipeline
            failure = exc

    continuation = conversation.conversation_reference.get_continuation_activity()
    if app_id:
        await adapter.continue_conversation(app_id, continuation, send)
    else:
        await adapter.continue_conversation_with_claims(
            Conversation.identity_from_claims(conversation.claims), continuation, send)
    if failure is not None:
        raise failure
    return str(getattr(sent, "id", "") or "")


__all__ = ["post"]
