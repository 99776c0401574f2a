"""Posts channel digests (`bot.digest`) to Slack: one `chat.postMessage` with blocks and a notification text."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.digest import Digest, DigestNotPosted, DigestTarget
from bot.slack import render
from bot.slack.directory import SlackDirectory

logger = logging.getLogger(__name__)

# What Slack's errors mean for staff who configured the channel.
_HINTS = {
    "not_in_channel": "invite the bot to the channel (/invite @Concierge)",
    "channel_not_found": "check the channel id in KB_DIGEST_CHANNELS (C..., from the channel's details)",
    "is_archived": "the channel is archived",
    "invalid_auth": "check SLACK_BOT_TOKEN",
    "not_authed": "set SLACK_BOT_TOKEN",
    "missing_scope": "the app needs the chat:write scope",
}


class SlackDigestPoster:
    """Posts in Slack channels; a channel shared with other organisations (Slack Connect) is read as public."""

    def __init__(self, client: WebClient, directory: SlackDirectory) -> None:
        self._client = client
        self._directory = directory

    def audience_cap(self, target: DigestTarget) -> str | None:
        return "public" if self._directory.is_shared(target.channel) else None

    def post(self, digest: Digest) -> str:
        channel = digest.target.channel
        try:
            response = self._client.chat_postMessage(channel=channel, text=render.digest_fallback(digest),
                                                     blocks=render.digest_blocks(digest), unfurl_links=False,
                                                     unfurl_media=False)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc)
            hint = _HINTS.get(error, "see Slack's error")
            raise DigestNotPosted(f"Slack refused the digest for channel {channel}: {error} ({hint})") from None
        except OSError as exc:  # the connection, after slack_sdk's own retries
            raise DigestNotPosted(f"cannot reach Slack to post the digest for channel {channel}: {exc}") from None
        return str(response.get("ts") or "")
