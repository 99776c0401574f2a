"""Typed settings of the chat front ends (Slack, Teams), read once from the environment and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
                                     description="Slash command for staff (`reingest`, `gaps`, `status`).")
    teams_staff_users: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="TEAMS_STAFF_USERS",
        description="Comma-separated Teams user ids or Entra object ids of staff.")
    teams_conversation_roles: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="TEAMS_CONVERSATION_ROLES",
        description="Per-channel or group-chat audience, e.g. `19:abc@thread.tacv2=public` (default: member).")
    state_path: Path = Field(Path("var/concierge.sqlite3"),
                             validation_alias=AliasChoices("CONCIERGE_STATE_PATH", "state_path"),
                             description="SQLite file for threads, feedback and knowledge gaps.")

    @field_validator("slack_staff_users", "slack_staff_groups", "slack_channel_roles", "teams_staff_users",
                     "teams_conversation_roles", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split(value)

    def channel_roles(self) -> dict[str, str]:
        """`SLACK_CHANNEL_ROLES` as {channel id: role}; only `public` and `member` are allowed in channels."""
        return _roles(self.slack_channel_roles, "SLACK_CHANNEL_ROLES")

    def conversation_roles(self) -> dict[str, str]:
        """`TEAMS_CONVERSATION_ROLES` as {conversation id: role}."""
        return _roles(self.teams_conversation_roles, "TEAMS_CONVERSATION_ROLES")

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


def _roles(items: list[str], name: str) -> dict[str, str]:
    roles = {}
    for item in items:
        key, _, role = item.rpartition("=")
        if role.strip() not in {"public", "member"} or not key.strip():
            raise ValueError(f"{name}: {item!r} must be ID=public or ID=member")
        roles[key.strip()] = role.strip()
    return roles
