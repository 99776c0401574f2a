"""Slack's facts about people and channels (staff user groups, channels shared with other organisations), looked
up through the Web API and cached; `bot.desk.role_for` decides what they mean."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.settings import BotSettings

logger = logging.getLogger(__name__)

_CACHE_SECONDS = 300
T = TypeVar("T")


class SlackDirectory:
    """Who is staff (by user ID or user group) and which channels outsiders read, cached for five minutes."""

    def __init__(self, settings: BotSettings, client: WebClient) -> None:
        self._staff_users = set(settings.slack_staff_users)
        self._staff_groups = list(settings.slack_staff_groups)
        self._channel_roles = settings.channel_roles()
        self._client = client
        self._cache: dict[tuple[str, str], tuple[float, object]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: tuple[str, str], compute: Callable[[], T]) -> T:
        with self._lock:
            hit = self._cache.get(key)
            if hit and time.monotonic() - hit[0] < _CACHE_SECONDS:
                return hit[1]  # type: ignore[return-value]
        value = compute()
        with self._lock:
            self._cache[key] = (time.monotonic(), value)
        return value

    def is_staff(self, user: str) -> bool:
        """A staff user ID, or a member of a staff user group (`usergroups.users.list`)."""
        if user in self._staff_users:
            return True
        for group in self._staff_groups:
            def members(group: str = group) -> set[str]:
                try:
                    return set(self._client.usergroups_users_list(usergroup=group)["users"])
                except SlackApiError:
                    logger.exception("cannot list user group=%s", group)
                    return set()
            if user in self._cached(("group", group), members):
                return True
        return False

    def is_shared(self, channel: str) -> bool:
        """A channel people from other organisations read (Slack Connect); unknown counts as shared."""
        def lookup() -> bool:
            try:
                info = self._client.conversations_info(channel=channel)["channel"]
            except SlackApiError:
                logger.exception("cannot read channel=%s; treating it as shared", channel)
                return True  # unknown: assume people from outside may read it
            return bool(info.get("is_ext_shared") or info.get("is_shared") or info.get("is_org_shared"))
        return self._cached(("shared", channel), lookup)

    def configured_role(self, channel: str) -> str | None:
        """The channel's audience from `SLACK_CHANNEL_ROLES`, if any."""
        return self._channel_roles.get(channel)

    @staticmethod
    def is_direct(channel: str, channel_type: str | None) -> bool:
        """A DM: Slack says `im`, or the channel ID starts with D."""
        return channel_type == "im" or channel.startswith("D")
