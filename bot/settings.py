"""Typed settings of the chat front ends (Slack, Teams), read once from the environment and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:
    from bot.digest import DigestTarget


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class BotSettings(BaseSettings):
    """Credentials and behaviour of the chat adapters. Tokens are secrets: never logged."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN",
                                              description="Bot token (xoxb-...).")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN",
                                              description="App-level token (xapp-...) for Socket Mode.")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET",
                                                   description="Signing secret, for HTTP mode.")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL",
                               description="Slack Web API base URL (a local server in tests).")
    slack_staff_users: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="SLACK_STAFF_USERS",
        description="Comma-separated Slack user IDs of staff (U...).")
    slack_staff_groups: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="SLACK_STAFF_GROUPS",
        description="Comma-separated Slack user group IDs (S...) whose members are staff.")
    slack_channel_roles: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="SLACK_CHANNEL_ROLES",
        description="Per-channel audience, e.g. `C0PUBLIC=public,C0MEMBERS=member` (default: member; "
        "channels shared with other organisations are always public).")
    slack_ask_command: str = Field("/ask", validation_alias="SLACK_ASK_COMMAND",
                                   description="Slash command that answers privately.")
    slack_admin_command: str = Field("/concierge", validation_alias="SLACK_ADMIN_COMMAND",
                                     description="Slash command for staff (`reingest`, `gaps`, `status`, `report`).")
    teams_staff_users: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="TEAMS_STAFF_USERS",
        description="Comma-separated Teams user ids or Entra object ids of staff.")
    teams_conversation_roles: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="TEAMS_CONVERSATION_ROLES",
        description="Per-channel or group-chat audience, e.g. `19:abc@thread.tacv2=public` (default: member).")
    state_path: Path = Field(Path("var/concierge.sqlite3"),
                             validation_alias=AliasChoices("CONCIERGE_STATE_PATH", "state_path"),
                             description="SQLite file for threads, feedback and knowledge gaps.")
    retention_days: int = Field(180, ge=1, validation_alias=AliasChoices("BOT_RETENTION_DAYS", "retention_days"),
                                description="Days members' questions, answers, feedback and threads are kept; "
                                "the scheduled purge deletes older ones.")
    purge_schedule: str = Field("30 3 * * *", validation_alias=AliasChoices("BOT_PURGE_SCHEDULE", "purge_schedule"),
                                description="When the retention purge runs: crontab syntax (minute hour day month "
                                "weekday, weekdays as names) in KB_TIMEZONE; default daily at 03:30.")
    digest_schedule: str = Field("0 9 * * mon", validation_alias=AliasChoices("KB_DIGEST_SCHEDULE", "digest_schedule"),
                                 description="When channel digests are posted: crontab syntax (minute hour day month "
                                 "weekday, weekdays as names) in KB_TIMEZONE; default Monday at 09:00.")
    reminder_schedule: str = Field("0 * * * *", validation_alias=AliasChoices("KB_REMINDER_SCHEDULE",
                                                                              "reminder_schedule"),
                                   description="When due deadline reminders are sent (7 days and 1 day before a "
                                   "call's deadline, from 09:00): crontab syntax in KB_TIMEZONE; default hourly.")
    digest_channels: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("KB_DIGEST_CHANNELS", "digest_channels"),
        description="Channels that get digests, comma-separated: a Slack channel id or `teams:<conversation id>`, "
        "each optionally followed by `:language` (en, fr, de) and `:audience` (public, member), e.g. "
        "`C0123:fr:member,teams:19:abc@thread.tacv2:en:public` (default: English, member).")
    follow_schedule: str = Field("*/5 * * * *", validation_alias=AliasChoices("KB_FOLLOW_SCHEDULE", "follow_schedule"),
                                 description="When the bot looks for calls and events added to the index, to tell "
                                 "the members following their topics (`follow <topic>`): crontab syntax in "
                                 "KB_TIMEZONE; default every five minutes.")
    report_schedule: str = Field("0 8 * * mon", validation_alias=AliasChoices("KB_REPORT_SCHEDULE", "report_schedule"),
                                 description="When the staff report is posted to KB_REPORT_CHANNEL: crontab syntax "
                                 "(minute hour day month weekday, weekdays as names) in KB_TIMEZONE; default Monday "
                                 "at 08:00. Each report covers the 7 days before it.")
    report_channel: str | None = Field(None, validation_alias=AliasChoices("KB_REPORT_CHANNEL", "report_channel"),
                                       description="The staff channel that gets the scheduled report: a Slack "
                                       "channel id (C...), posted by the Slack process, or `teams:<conversation id>` "
                                       "(e.g. `teams:19:abc@thread.tacv2`), posted by the Teams process as an "
                                       "Adaptive Card; unset: none is posted (`/concierge report` and Teams "
                                       "`report` still work).")
    report_language: Literal["en", "fr", "de"] = Field(
        "en", validation_alias=AliasChoices("KB_REPORT_LANGUAGE", "report_language"),
        description="Language of the scheduled staff report.")

    @field_validator("slack_staff_users", "slack_staff_groups", "slack_channel_roles", "teams_staff_users",
                     "teams_conversation_roles", "digest_channels", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split(value)

    @field_validator("purge_schedule", "digest_schedule", "report_schedule", "reminder_schedule",
                     "follow_schedule")
    @classmethod
    def _crontab(cls, value: str) -> str:
        from datetime import UTC

        from bot.scheduler import parse_schedule

        parse_schedule(value, UTC)  # raises a ScheduleError (a ValueError) that says what to write
        return value

    @field_validator("report_channel")
    @classmethod
    def _report_channel(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # KB_REPORT_CHANNEL= (empty): no scheduled report
        _report_destination(value)  # raises a ValueError that says what to write
        return value.strip()

    def report_target(self, platform: str) -> str | None:
        """The channel `platform`'s process posts the scheduled report to: the Slack channel id (`C0123`) or the
        Teams conversation id (from `teams:19:abc@thread.tacv2`) `KB_REPORT_CHANNEL` names, when it is one of
        `platform`'s; else None (the other process posts it, or none does).

        >>> settings = BotSettings(report_channel="teams:19:abc@thread.tacv2", _env_file=None)
        >>> settings.report_target("teams"), settings.report_target("slack")
        ('19:abc@thread.tacv2', None)
        """
        if self.report_channel is None:
            return None
        named, channel = _report_destination(self.report_channel)
        return channel if named == platform else None

    def channel_roles(self) -> dict[str, str]:
        """`SLACK_CHANNEL_ROLES` as {channel id: role}; only `public` and `member` are allowed in channels."""
        return _roles(self.slack_channel_roles, "SLACK_CHANNEL_ROLES")

    def conversation_roles(self) -> dict[str, str]:
        """`TEAMS_CONVERSATION_ROLES` as {conversation id: role}."""
        return _roles(self.teams_conversation_roles, "TEAMS_CONVERSATION_ROLES")

    def digest_targets(self) -> list[DigestTarget]:
        """`KB_DIGEST_CHANNELS`, each channel's audience no higher than its role (`SLACK_CHANNEL_ROLES`,
        `TEAMS_CONVERSATION_ROLES`). Raises `DigestError` (a ValueError) for an entry that cannot be read."""
        from bot.digest import DigestError

        targets = [self.digest_target(item) for item in self.digest_channels]
        keys = [target.key for target in targets]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice:
            raise DigestError(f"KB_DIGEST_CHANNELS names a channel twice: {twice[0]}")
        return targets

    def digest_target(self, spec: str, *, language: str | None = None, audience: str | None = None) -> DigestTarget:
        """The digest channel `spec` names (`C0123`, `teams:19:...`) as `KB_DIGEST_CHANNELS` configures it (else in
        the default language, for members), `language` and `audience` overriding it; its audience no higher than
        the channel's role."""
        from bot.digest import parse_target, with_audience

        named = parse_target(spec)
        configured = {target.key: target for target in map(parse_target, self.digest_channels)}.get(named.key, named)
        wanted = parse_target(configured.key, language=language or configured.language,
                              audience=audience or configured.audience)
        roles = self.channel_roles() if wanted.platform == "slack" else self.conversation_roles()
        return with_audience(wanted, roles.get(wanted.channel))

    teams_client_id: str | None = Field(
        None, validation_alias="CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID",
        description="The Agents SDK's usual setting: the bot's Entra app (client) id; read here only to decide "
        "that `python -m bot` should start Teams.")

    @property
    def teams_configured(self) -> bool:
        return bool(self.teams_client_id)

    @property
    def slack_configured(self) -> bool:
        return self.slack_bot_token is not None and (
            self.slack_app_token is not None or self.slack_signing_secret is not None)


def _report_destination(value: str) -> tuple[str, str]:
    """`KB_REPORT_CHANNEL` as (platform, channel id): `teams:<conversation id>` is Teams, a plain id Slack (the
    naming of `KB_DIGEST_CHANNELS`, without its language and audience)."""
    from bot.digest import channel_named

    value = value.strip()
    platform, channel = channel_named(value)
    if platform == "teams" and not channel:
        raise ValueError(f"KB_REPORT_CHANNEL {value!r}: write the Teams conversation id after `teams:` "
                         "(teams:19:abc@thread.tacv2)")
    if platform == "slack" and not channel.isalnum():
        raise ValueError(f"KB_REPORT_CHANNEL {value!r}: a Slack channel id is letters and digits (C0123); "
                         "a Teams conversation is written teams:<conversation id>")
    return platform, channel


def _roles(items: list[str], name: str) -> dict[str, str]:
    roles = {}
    for item in items:
        key, _, role = item.rpartition("=")
        if role.strip() not in {"public", "member"} or not key.strip():
            raise ValueError(f"{name}: {item!r} must be ID=public or ID=member")
        roles[key.strip()] = role.strip()
    return roles
