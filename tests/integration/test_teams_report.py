"""`report` in Teams through the real Agents SDK endpoint: staff get an Adaptive Card with the figures, members
the staff-only refusal; and the weekly report posted by the Teams process's scheduler (driven by `run_due` on a
pinned clock) to the staff conversation of KB_REPORT_CHANNEL=teams:<conversation id>, proactively through the real
Agents SDK to a local Bot Connector. Real conversation core, Chroma and embedding model answer the questions it
counts."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.__main__ import CommandFailed, scheduled_jobs, teams_report_job
from bot.scheduler import Scheduler
from bot.settings import BotSettings
from bot.state import BotState
from bot.wiring import Services
from tests.conftest import PARIS
from tests.fakes.teams_service import ConnectorService
from tests.integration.conftest import TODAY
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


# --- the scheduled post to the staff conversation (KB_REPORT_CHANNEL=teams:<conversation id>) ----------------------

MONDAY = datetime(2026, 11, 23, 8, 0, tzinfo=PARIS)  # the default KB_REPORT_SCHEDULE, the day after TODAY
STAFF_CHANNEL = "19:staff@thread.tacv2"
QUESTIONS = ("Quelle est la date limite de l'EIC Accelerator ?", "What is the capital of Australia?")


class Clock:
    """The process's one clock, pinned; a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(TODAY)  # Sunday 22 November, 12:00: members ask; the report is due on Monday at 08:00


@pytest.fixture
def pinned(services, clock) -> Services:
    """The module's services (real model, real Chroma) on the clock the test moves."""
    return Services(services.settings, embedder=services.embedder, store=services.store, clock=clock)


@pytest.fixture
def connector() -> Iterator[ConnectorService]:
    service = ConnectorService()
    yield service
    service.close()


@pytest.fixture
def asked(pinned, clock, connector, tmp_path) -> Path:
    """The state file of a Teams bot that was added to the staff channel (Teams sent the conversationUpdate from
    the connector's service URL: the reference is kept) and that members asked two questions in their 1:1 chats
    (one answered, one not), on Sunday."""
    path = tmp_path / "teams.sqlite3"
    server = start(pinned, BotState(path, clock=clock), anonymous=True)
    try:
        post(server, {"type": "conversationUpdate", "id": "u1", "channelId": "msteams", "serviceUrl": connector.url,
                      "from": {"id": STAFF, "name": "Staff"}, "recipient": {"id": "28:concierge", "name": "Bot"},
                      "conversation": {"id": f"{STAFF_CHANNEL};messageid=17", "conversationType": "channel",
                                       "tenantId": "t1"}, "membersAdded": [{"id": "28:concierge"}]})
        for n, question in enumerate(QUESTIONS):
            post(server, activity(question, user=MEMBER, conversation_id=f"a:personal-{n}"))  # two chats
    finally:
        server.close()
    assert connector.activities == [], "being added posts nothing"
    return path


def teams_process(path: Path, pinned: Services, clock: Clock, channel: str) -> Scheduler:
    """A Teams bot process on the state file: its scheduler, with the staff report job as `python -m bot teams
    --allow-anonymous` wires it for KB_REPORT_CHANNEL=`channel`; driven by `run_due`."""
    settings = BotSettings(report_channel=channel, state_path=path, _env_file=None)
    state = BotState(path, clock=clock)
    scheduler = Scheduler(state, clock=clock, timezone=PARIS)
    scheduler.add(teams_report_job(pinned, settings, state, allow_anonymous=True))
    return scheduler


def card_facts(sent: dict) -> dict[str, str]:
    [attachment] = sent["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    return {fact["title"]: fact["value"] for fact in attachment["content"]["body"][2]["facts"]}


def test_the_scheduled_report_is_one_card_in_the_staff_channel_once_per_week_across_restarts(
        asked, pinned, clock, connector):
    process = teams_process(asked, pinned, clock, f"teams:{STAFF_CHANNEL}")
    clock.now = MONDAY + timedelta(minutes=5)
    assert process.run_due() == ["staff-report"]

    [sent] = connector.activities
    assert sent["path"] == f"/v3/conversations/{STAFF_CHANNEL}/activities", "a new post in the channel"
    assert sent["type"] == "message" and sent["text"].startswith("Concierge report — ")
    assert card_facts(sent) == {"Questions asked": "2", "Answered": "1 (50% answered)", "“I don't know”": "1",
                                "👍 Helpful": "0", "👎 Unhelpful": "0"}
    card = json.dumps(sent["attachments"][0]["content"], ensure_ascii=False)
    assert "What is the capital of Australia?" in card
    assert "[EIC Accelerator — cited in 1 answer](https://kb.test/eic)" in card
    assert MEMBER not in card and STAFF not in card
    [status] = process.status()
    assert status.last is not None and status.last.ok and status.last.result == (
        f"posted to teams:{STAFF_CHANNEL}: 2 questions, 1 unanswered")
    assert status.next_run == MONDAY + timedelta(days=7)

    clock.now = MONDAY + timedelta(hours=2)  # the bot restarted the same morning: a new scheduler, same state
    restarted = teams_process(asked, pinned, clock, f"teams:{STAFF_CHANNEL}")
    assert restarted.run_due() == [] and process.run_due() == []
    assert len(connector.activities) == 1, "the week's report is posted already"

    clock.now = MONDAY + timedelta(days=7, minutes=1)
    assert [p.run_due() for p in (process, restarted)] == [["staff-report"], []]
    assert len(connector.activities) == 2, "the next week is posted once too"
    assert card_facts(connector.activities[1])["Questions asked"] == "0", "nothing was asked that week"


def test_a_conversation_the_bot_has_not_seen_is_a_failed_run_with_one_clear_log_line(
        asked, pinned, clock, connector, caplog):
    unseen = "19:unseen@thread.tacv2"
    process = teams_process(asked, pinned, clock, f"teams:{unseen}")
    clock.now = MONDAY + timedelta(minutes=5)
    with caplog.at_level(logging.INFO):
        assert process.run_due() == ["staff-report"]
    assert connector.activities == []
    [status] = process.status()
    assert status.last is not None and status.last.ok is False and status.last.result == "failed: ReportNotPosted"
    [line] = [r for r in caplog.records if r.name == "bot.teams.report"]
    assert line.levelname == "WARNING" and line.getMessage() == (
        f"staff report not posted: no conversation reference for Teams conversation {unseen} yet; add the bot to "
        "the team or chat (or mention it there) once")
    assert "Concierge report" not in caplog.text and "Australia" not in caplog.text, "no report text in the log"


def test_a_conversation_teams_cannot_be_reached_at_is_a_failed_run_with_one_clear_log_line(
        asked, pinned, clock, connector, caplog):
    connector.close()  # the service URL the reference holds no longer answers
    process = teams_process(asked, pinned, clock, f"teams:{STAFF_CHANNEL}")
    clock.now = MONDAY + timedelta(minutes=5)
    with caplog.at_level(logging.INFO):
        assert process.run_due() == ["staff-report"]
    [status] = process.status()
    assert status.last is not None and status.last.ok is False and status.last.result == "failed: ReportNotPosted"
    [line] = [r for r in caplog.records if r.name == "bot.teams.report"]
    assert line.levelname == "WARNING" and line.getMessage().startswith(
        f"staff report not posted: Teams conversation {STAFF_CHANNEL} cannot be reached (")
    assert "Concierge report" not in caplog.text and "Australia" not in caplog.text, "no report text in the log"


@pytest.mark.parametrize("channel, platform, scheduled", [
    (f"teams:{STAFF_CHANNEL}", "teams", True),
    ("CSTAFF", "teams", False),
    (f"teams:{STAFF_CHANNEL}", "slack", False),
    ("CSTAFF", "slack", True),
], ids=["teams-channel-in-teams", "slack-channel-in-teams", "teams-channel-in-slack", "slack-channel-in-slack"])
def test_each_process_schedules_the_report_only_for_a_channel_of_its_own_platform(
        asked, pinned, clock, connector, channel, platform, scheduled):
    """`python -m bot teams|slack` wrap the app in `scheduled_jobs`: the Teams process posts the report to a
    `teams:` conversation only, the Slack process to a Slack channel only."""
    settings = BotSettings(report_channel=channel, state_path=asked, slack_bot_token="xoxb-test",
                           slack_api_url="http://127.0.0.1:9/", _env_file=None)
    with scheduled_jobs(pinned, settings, BotState(asked, clock=clock), platform=platform,
                        allow_anonymous=True) as scheduler:
        assert ("staff-report" in [job.name for job in scheduler.jobs]) is scheduled
    if platform == "teams" and not scheduled:  # stopped: run_due alone decides, on the pinned clock
        clock.now = MONDAY + timedelta(minutes=5)
        assert "staff-report" not in scheduler.run_due()
        assert connector.activities == [], "the Slack channel's report is the Slack process's"


def test_a_teams_process_without_its_teams_connection_says_so_at_start(pinned, clock, tmp_path):
    settings = BotSettings(report_channel=f"teams:{STAFF_CHANNEL}", teams_client_id=None, _env_file=None)
    with pytest.raises(CommandFailed, match=r"set the Teams connection .* to post the staff report to Teams"):
        teams_report_job(pinned, settings, BotState(tmp_path / "teams.sqlite3", clock=clock))
