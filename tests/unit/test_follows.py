"""Follow commands as a member writes them, and the replies they read, without any chat platform."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bot.follows import MAX_FOLLOWS, command, parse_command
from bot.state import BotState
from tests.conftest import PARIS

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=PARIS)


@pytest.fixture
def state(tmp_path: Path) -> BotState:
    return BotState(tmp_path / "state.sqlite3", clock=lambda: NOW)


@pytest.mark.parametrize(("text", "parsed"), [
    ("follow medical AI", ("follow", "medical AI")),
    ("  Follow   IA   médicale ", ("follow", "IA médicale")),
    ("follow “medical AI”", ("follow", "medical AI")),
    ("unfollow medical AI", ("unfollow", "medical AI")),
    ("following", ("following", "")),
    ("follow", None),  # no topic
    ("follow up on my application?", None),  # a question
    ("followers of the cluster", None),
    ("reingest", None),
])
def test_follow_commands_are_recognised_and_questions_are_not(text, parsed):
    assert parse_command(text) == parsed


def test_a_topic_is_followed_once_whatever_its_case_and_spaces(state):
    command(state, "slack", "U1", "follow", "medical AI", role="member")
    command(state, "slack", "U1", "follow", "Medical  AI", role="member")
    assert [f.topic for f in state.follows("slack", "U1")] == ["medical AI"]
    assert command(state, "slack", "U1", "unfollow", "MEDICAL ai", role="member").lines == (
        "I'll no longer tell you about “medical AI”.",)


def test_a_member_follows_a_bounded_number_of_topics(state):
    for n in range(MAX_FOLLOWS):
        command(state, "teams", "U1", "follow", f"topic {n}", role="member")
    assert command(state, "teams", "U1", "follow", "one more", role="member").lines == (
        f"You follow {MAX_FOLLOWS} topics already: unfollow one first.",)


def test_a_topic_too_long_is_refused_with_the_usage(state):
    reply = command(state, "slack", "U1", "follow", "x" * 81, role="member", invoked_as="/concierge")
    assert reply.lines[0].startswith("Write “/concierge follow <topic>” (at most 80 characters)")
    assert state.follows("slack", "U1") == []


def test_forget_erases_follows_and_the_members_1_1_conversation(state):
    command(state, "teams", "U1", "follow", "export", role="member")
    state.remember_member_conversation("teams", "U1", "{}")
    assert state.forget("U1")["follows"] == 1
    assert state.follows("teams") == [] and state.member_conversation("teams", "U1") is None


def test_a_topic_that_does_not_tell_its_language_is_answered_in_the_members(state):
    """"essais cliniques" reads as English as well as French: the member's latest question or Teams' locale says."""
    assert command(state, "teams", "U1", "follow", "essais cliniques", role="member", hint="fr").lines == (
        "Je vous préviendrai quand un appel ou un événement sur « essais cliniques » sera ajouté.",)
    assert command(state, "slack", "U2", "follow", "export", role="member").lines == (
        "I'll tell you when a call or an event about “export” is added.",)
    assert command(state, "slack", "U2", "follow", "imagerie médicale", role="member").lines[0].startswith("Je vous")
    assert command(state, "slack", "U2", "unfollow", "export", role="member").lines == (
        "I'll no longer tell you about “export”.",), "in the language the follow was answered in"
    assert command(state, "slack", "U2", "unfollow", "robotique", role="member").lines == (
        "Vous ne suiviez pas « robotique ».",), "in the language of the member's latest follow"
