"""Tells Slack members about calls and events on the topics they follow (`bot.follows`): a direct message from the
bot (`conversations.open`, then `chat.postMessage`), the item's title linked, its date, and the topic it matched."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.follows import FollowNotice, NotDelivered
from bot.slack import render


def notice_blocks(notice: FollowNotice) -> list[dict]:
    """The notice as blocks: the heading in bold, the linked title and its date, then why it was sent (no I/O).

    >>> from bot.digest import DigestItem
    >>> item = DigestItem("Appel IA <santé>", "https://kb.test/ia", "funding_call", None)
    >>> notice_blocks(FollowNotice("U1", item, "medical AI", "en"))[0]["text"]["text"]
    '*New funding call about “medical AI”*\\n<https://kb.test/ia|Appel IA &lt;santé&gt;> · no deadline given'
    """
    heading, note, why = notice.lines()
    line = render.link(notice.item.url, notice.item.title) + (f" · {render.escape(note)}" if note else "")
    return [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{render.escape(heading)}*\n{line}"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": render.escape(why)}]}]


def notice_fallback(notice: FollowNotice) -> str:
    """The notification's text: the heading and the title."""
    heading, _, _ = notice.lines()
    return render.escape(f"{heading}: {notice.item.title}")


class SlackFollowNotifier:
    """Sends each notice in the member's DM with the bot."""

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def notify(self, notice: FollowNotice) -> str:
        try:
            channel = self._client.conversations_open(users=notice.member)["channel"]["id"]
            response = self._client.chat_postMessage(channel=channel, text=notice_fallback(notice),
                                                     blocks=notice_blocks(notice), unfurl_links=False,
                                                     unfurl_media=False)
        except SlackApiError as exc:
            raise NotDelivered(f"Slack refused the message: {exc.response.get('error') or exc}") from None
        except OSError as exc:  # the connection, after slack_sdk's own retries
            raise NotDelivered(f"cannot reach Slack: {exc}") from None
        return str(response.get("ts") or "")
