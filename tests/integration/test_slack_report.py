"""`/concierge report` through the real slack-bolt `App`: signed slash commands in, Web API calls out to the
recording fake Slack API (the report in the staff member's DM, its chart uploaded with `files_upload_v2`); the
real conversation core, Chroma and embedding model answer the questions the report counts."""

from __future__ import annotations

import json
import time

import pytest

from bot.state import BotState
from tests.conftest import SHARED_DATA
from tests.fakes.slack_api import SlackAPIServer
from tests.fakes.slack_events import mention, send_event, slash
from tests.integration.test_slack_app import STAFF, build_app

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
MEMBER, OTHER = "UMEMBER", "UOTHER"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def slack_api():
    server = SlackAPIServer(SHARED_DATA / "slack-fixtures", groups={"SSTAFF": [STAFF]})
    yield server
    server.close()


@pytest.fixture
def app(services, slack_api, tmp_path):
    return build_app(services, BotState(tmp_path / "state.sqlite3", clock=services.clock), slack_api, tmp_path)


def ask_a_few(app, slack_api) -> None:  # noqa: ANN001
    """Members ask: two questions the corpus answers, two about parking it cannot."""
    for n, (text, user) in enumerate([("Quelle est la date limite de l'EIC Accelerator ?", MEMBER),
                                       ("How do I apply for the accreditation programme?", OTHER),
                                       ("Where can I park my car at the cluster office?", MEMBER),
                                       ("Is there a car park near the cluster office?", OTHER)]):
        send_event(app, mention(text, user=user, ts=f"1700001{n}00.1"))
    slack_api.wait_for("chat.postMessage", 4, timeout=120)


def test_staff_get_the_report_in_their_dm_with_the_chart_uploaded(app, slack_api):
    ask_a_few(app, slack_api)
    app.dispatch(slash("/concierge", "report", STAFF, slack_api))
    [reply] = slack_api.wait_for("/respond/1", timeout=120)
    assert reply == {"text": "Your report is in your direct messages with me.", "response_type": "ephemeral"}

    [opened] = slack_api.of("conversations.open")
    assert opened["users"] == STAFF
    report = slack_api.of("chat.postMessage")[-1]
    assert report["channel"] == f"D{STAFF}"
    blocks = json.dumps(report["blocks"], ensure_ascii=False)
    assert "*Questions asked*\\n4" in blocks and "*“I don't know”*\\n2" in blocks
    [gaps] = [text for b in report["blocks"] if (text := b.get("text", {}).get("text", "")).startswith(
        "*Knowledge gaps by topic*")]
    assert gaps.count("\n• ") == 1 and "\n• 2 × “" in gaps, "the two parking questions are one topic"
    assert "“Where can I park my car at the cluster office?”" in gaps
    assert "“Is there a car park near the cluster office?”" in gaps
    assert "<https://kb.test/eic|EIC Accelerator — cited in 1 answer>" in blocks
    assert MEMBER not in blocks and OTHER not in blocks

    [asked] = slack_api.of("files.getUploadURLExternal")
    [upload] = slack_api.of("upload")
    [done] = slack_api.of("files.completeUploadExternal")
    assert upload["content"].startswith(PNG_SIGNATURE) and int(asked["length"]) == len(upload["content"])
    assert asked["filename"].endswith(".png") and "2 answered, 2" in asked["alt_txt"]
    assert done["channel_id"] == f"D{STAFF}"
    assert json.loads(done["files"]) == [{"id": upload["file_id"], "title": "Questions per day"}]
    calls = [method for method, _ in slack_api.calls]
    assert calls.index("chat.postMessage", calls.index("conversations.open")) < calls.index("upload")


def test_a_member_asking_for_the_report_is_refused_and_nothing_is_posted(app, slack_api):
    ask_a_few(app, slack_api)
    posted = len(slack_api.of("chat.postMessage"))
    app.dispatch(slash("/concierge", "report", MEMBER, slack_api))
    [refusal] = slack_api.wait_for("/respond/1")
    assert "for the cluster team" in refusal["text"]
    time.sleep(0.5)
    assert len(slack_api.of("chat.postMessage")) == posted
    assert not slack_api.of("conversations.open") and not slack_api.of("upload")
    assert not slack_api.of("files.getUploadURLExternal")
