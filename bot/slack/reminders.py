"""Sends deadline reminders (`bot.reminders`) to Slack members: a direct message from the bot
(`conversations.open`, then `chat.postMessage`), the call's title linked to it."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.reminders import ReminderNotSent
from bot.slack import render
from bot.state import Reminder


class SlackReminderSender:
    """Direct messages with the bot's token (scopes `im:write`, `chat:write`)."""

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def send(self, reminder: Reminder, text: str) -> None:
        body = f"{render.escape(text)}\n{render.link(reminder.url or reminder.path, reminder.title)}"
        try:
            direct = self._client.conversations_open(users=reminder.user)["channel"]["id"]
            self._client.chat_postMessage(channel=direct, text=body, unfurl_links=False)
        except (SlackApiError, SlackRequestError, OSError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            raise ReminderNotSent(f"Slack refused the reminder's direct message: {error}") from exc


__all__ = ["SlackReminderSender"]
