"""`report` in Teams through the real Agents SDK endpoint: staff get an Adaptive Card with the figures, members
the staff-only refusal. Real conversation core, Chroma and embedding model answer the questions it counts."""

from __future__ import annotations

import json

import pytest

from bot.state import BotState
from tests.integration.test_teams_app import STAFF, activity, messages, post, start

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
MEMBER = "29:member-user"


@pytest.fixture
def teams(services, tmp_path):
    server = start(services, BotState(tmp_path / "teams.sqlite3", clock=services.clock), anonymous=True)
    yield server
    server.close()


def test_staff_get_the_report_as_a_card_with_the_figures(teams):
    for n, question in enumerate(("Quelle est la date limite de l'EIC Accelerator ?",
                                  "What is the capital of Australia?")):
        post(teams, activity(question, conversation_id=f"a:personal-{n}"))  # two chats: no follow-up
    _, body = post(teams, activity("report", user=STAFF))
    [message] = messages(body)
    assert message["text"].startswith("Concierge report — ")
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Questions asked"] == "2" and facts["“I don't know”"] == "1"
    assert facts["Answered"] == "1 (50% answered)"
    texts = json.dumps(card, ensure_ascii=False)
    assert "What is the capital of Australia?" in texts and "[EIC Accelerator — cited in 1 answer](https://kb.test/eic)" \
        in texts
    assert MEMBER not in texts


def test_a_member_asking_for_the_report_gets_the_staff_only_refusal(teams):
    _, body = post(teams, activity("report", user=MEMBER))
    [message] = messages(body)
    assert "for the cluster team" in message["text"] and not message.get("attachments")
