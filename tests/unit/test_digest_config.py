"""How staff configure digest channels (`KB_DIGEST_CHANNELS`, `KB_DIGEST_SCHEDULE`) and what a mistake tells them."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from bot.digest import DigestError, day_text, parse_target
from bot.settings import BotSettings

TEAMS_CHANNEL = "19:abc@thread.tacv2"


def test_slack_channels_and_teams_conversations_with_their_language_and_audience():
    settings = BotSettings(digest_channels=f"C0123:fr:member, C0456:en:public, C0789, teams:{TEAMS_CHANNEL}:de",
                           _env_file=None)
    assert [(t.key, t.platform, t.channel, t.language, t.audience) for t in settings.digest_targets()] == [
        ("C0123", "slack", "C0123", "fr", "member"),
        ("C0456", "slack", "C0456", "en", "public"),
        ("C0789", "slack", "C0789", "en", "member"),  # the default language, for members
        (f"teams:{TEAMS_CHANNEL}", "teams", TEAMS_CHANNEL, "de", "member"),
    ]


def test_the_flags_override_the_channel_configuration_and_an_unconfigured_channel_gets_the_defaults():
    settings = BotSettings(digest_channels="C0123:fr:public", _env_file=None)
    assert settings.digest_target("C0123") == parse_target("C0123:fr:public")
    assert settings.digest_target("C0123", language="en") == parse_target("C0123:en:public")
    assert settings.digest_target("C0123", audience="member") == parse_target("C0123:fr:member")
    assert settings.digest_target("C0999") == parse_target("C0999:en:member")


def test_a_channel_configured_public_elsewhere_never_gets_a_member_digest():
    settings = BotSettings(digest_channels=f"C0123:member,teams:{TEAMS_CHANNEL}:member", slack_channel_roles="C0123=public",
                           teams_conversation_roles=f"{TEAMS_CHANNEL}=public", _env_file=None)
    assert [t.audience for t in settings.digest_targets()] == ["public", "public"]
    assert settings.digest_target("C0123", audience="member").audience == "public"


@pytest.mark.parametrize("channels, problem", [
    ("C0123:fr:staff", "the audience of a channel is public or member"),
    ("#general", "a Slack channel id is letters and digits"),
    ("C0123,C0123:fr", "names a channel twice: C0123"),
    ("teams:", "no channel id"),
])
def test_a_channel_that_cannot_be_read_says_what_to_write(channels, problem):
    with pytest.raises(DigestError, match=problem):
        BotSettings(digest_channels=channels, _env_file=None).digest_targets()


def test_the_schedule_defaults_to_monday_nine_and_a_bad_one_is_refused_at_start():
    assert BotSettings(_env_file=None).digest_schedule == "0 9 * * mon"
    with pytest.raises(ValidationError, match="weekdays as names"):
        BotSettings(digest_schedule="0 9 * * 1", _env_file=None)


def test_the_environment_names_are_the_documented_ones(monkeypatch):
    monkeypatch.setenv("KB_DIGEST_SCHEDULE", "30 8 * * mon-fri")
    monkeypatch.setenv("KB_DIGEST_CHANNELS", "C0123:fr")
    settings = BotSettings(_env_file=None)
    assert settings.digest_schedule == "30 8 * * mon-fri"
    assert [t.key for t in settings.digest_targets()] == ["C0123"]


@pytest.mark.parametrize("language, written", [
    ("en", "1 December 2026"), ("fr", "1er décembre 2026"), ("de", "1. Dezember 2026")])
def test_dates_are_written_the_way_each_language_writes_them(language, written):
    assert day_text(date(2026, 12, 1), language) == written
