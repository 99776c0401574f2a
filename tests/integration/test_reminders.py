"""Deadline reminders as a member lives them: "Remind me" under an answer citing an open call, clicked through the
real Slack app (signed block_actions), then direct messages 7 days and 1 day before the deadline through the
recording fake Slack API, on a pinned clock the tests advance; the call is re-read in a real Chroma index (fast
fake embedder) before each message, so a moved deadline or a removed call is said instead."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient

from bot.reminders import Reminders
from bot.scheduler import Scheduler
from bot.settings import BotSettings
from bot.slack.app import create_app
from bot.slack.reminders import SlackReminderSender
from bot.state import BotState
from bot.teams.app import auth_configuration, create_web_app
from bot.teams.reminders import TeamsReminderSender
from bot.wiring import Services
from knowledge.settings import KnowledgeSettings
from knowledge.store import release_embedded_store
from tests.conftest import PARIS, SHARED_DATA
from tests.fakes.embedding import HashingEmbedder
from tests.fakes.slack_api import TEAM, SlackAPIServer
from tests.fakes.slack_events import CHANNEL, MEMBER, SECRET, mention, message, send_event, signed, slash
from tests.fakes.teams_service import AiohttpServer, ConnectorService

pytestmark = [pytest.mark.integration]

HOURLY = "0 * * * *"
CALLS = (
    "reference;title;kind;deadline;audience;language;url\n"
    "EIC;EIC Accelerator;funding_call;2026-12-15;public;en;https://kb.test/eic\n"
    "PROTO;Prototyping voucher;funding_call;2026-11-27 17:00;public;en;https://kb.test/prototyping\n"
    "OLD;Feasibility aid;funding_call;2026-11-01;public;en;https://kb.test/closed\n"
)
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=PARIS)


class Clock:
    """The process's clock, pinned; a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Bot:
    services: Services
    clock: Clock
    kb: Path
    state_path: Path
    slack_api: SlackAPIServer

    def ingest(self, calls: str) -> None:
        (self.kb / "calls.csv").write_text(calls, encoding="utf-8")
        report = self.services.ingestor().run([self.kb])
        assert report.ok, report.failed

    def app(self, state: BotState):  # noqa: ANN201 - a bolt App
        settings = BotSettings(slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
                               slack_api_url=self.slack_api.url, state_path=self.state_path, _env_file=None)
        return create_app(self.services, settings, state,
                          client=WebClient(token="xoxb-test", base_url=self.slack_api.url))

    def scheduler(self) -> Scheduler:
        """A bot process's scheduler with the reminders job: its own connection to the state file."""
        state = BotState(self.state_path, clock=self.clock)
        reminders = Reminders(self.services.store, state, clock=self.clock, timezone=PARIS, schedule=HOURLY,
                              senders={"slack": SlackReminderSender(WebClient(token="xoxb-test",
                                                                              base_url=self.slack_api.url))})
        scheduler = Scheduler(state, clock=self.clock, timezone=PARIS)
        scheduler.add(reminders.job())
        return scheduler

    def run_at(self, scheduler: Scheduler, at: datetime) -> None:
        self.clock.now = at
        scheduler.run_due()

    def dms(self) -> list[str]:
        return [post["text"] for post in self.slack_api.of("chat.postMessage") if post["channel"] == f"D{MEMBER}"]


@pytest.fixture
def bot(tmp_path) -> Iterator[Bot]:
    kb = tmp_path / "kb"
    kb.mkdir()
    settings = KnowledgeSettings(store_path=tmp_path / "chroma", _env_file=None)
    clock = Clock(MONDAY)
    api = SlackAPIServer(SHARED_DATA / "slack-fixtures")
    built = Bot(Services(settings, embedder=HashingEmbedder(), clock=clock), clock, kb, tmp_path / "state.sqlite3",
                api)
    built.ingest(CALLS)
    yield built
    api.close()
    release_embedded_store(settings.store_path)


def answer_buttons(bot: Bot, app, question: str, ts: str) -> tuple[dict, list[dict]]:  # noqa: ANN001
    """Ask in a channel; the answer's post and its "Remind me" buttons."""
    before = len(bot.slack_api.of("chat.postMessage"))
    send_event(app, mention(question, ts=ts))
    post = bot.slack_api.wait_for("chat.postMessage", before + 1)[before]
    [actions] = [b for b in post["blocks"] if b["type"] == "actions"]
    return actions, [e for e in actions["elements"] if e["action_id"].startswith("remind_call")]


def click(bot: Bot, app, actions: dict, button: dict, user: str = MEMBER) -> str:  # noqa: ANN001
    """Click a button as `user` through the signed block_actions request; the ephemeral reply's text."""
    before = len(bot.slack_api.of("/respond/1"))
    payload = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": user}, "api_app_id": "A1",
               "token": "t", "trigger_id": "1.2", "response_url": bot.slack_api.response_url,
               "container": {"type": "message", "channel_id": CHANNEL, "message_ts": "1"},
               "channel": {"id": CHANNEL}, "actions": [{**button, "block_id": actions["block_id"], "type": "button",
                                                          "action_ts": "1"}]}
    response = app.dispatch(signed(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"))
    assert response.status == 200
    reply = bot.slack_api.wait_for("/respond/1", before + 1)[before]
    assert reply["response_type"] == "ephemeral"
    return str(reply["text"])


def remind_me_of(bot: Bot, app, title: str) -> str:  # noqa: ANN001
    actions, buttons = answer_buttons(bot, app, "Which funding calls are open?", ts="1700000100.1")
    [button] = [b for b in buttons if title in b["text"]["text"]]
    return click(bot, app, actions, button)


def test_answers_citing_open_calls_carry_a_remind_me_button_each_and_closed_calls_none(bot):
    app = bot.app(BotState(bot.state_path, clock=bot.clock))
    _, buttons = answer_buttons(bot, app, "Which funding calls are open?", ts="1700000100.1")
    labels = [b["text"]["text"] for b in buttons]
    assert labels == ["⏰ Remind me: Prototyping voucher", "⏰ Remind me: EIC Accelerator"]
    _, buttons = answer_buttons(bot, app, "What is the deadline of the Feasibility aid?", ts="1700000200.1")
    assert "Feasibility aid" not in json.dumps(buttons)  # closed: nothing to remind of


def test_a_click_sets_the_reminder_and_says_when_it_comes(bot):
    state = BotState(bot.state_path, clock=bot.clock)
    said = remind_me_of(bot, bot.app(state), "EIC Accelerator")
    assert "I will remind you of “EIC Accelerator” (deadline 15 December 2026)" in said
    assert "on 8 December 2026 and on 14 December 2026" in said
    [reminder] = state.reminders()
    assert (reminder.platform, reminder.user, reminder.title) == ("slack", MEMBER, "EIC Accelerator")


def test_a_call_closing_within_a_week_gets_the_one_day_reminder_only(bot):
    said = remind_me_of(bot, bot.app(BotState(bot.state_path, clock=bot.clock)), "Prototyping voucher")
    assert "You will hear from me on 26 November 2026." in said


@pytest.mark.parametrize(("clicked_at", "said"), [
    (datetime(2026, 11, 27, 10, 0, tzinfo=PARIS),
     "“Prototyping voucher” closes on 27 November 2026, 17:00, in less than a day: too soon for a reminder."),
    (datetime(2026, 11, 27, 18, 0, tzinfo=PARIS),
     "“Prototyping voucher” closed on 27 November 2026, 17:00: there is nothing to remind you of."),
])
def test_a_click_too_late_for_any_reminder_says_so_and_records_nothing(bot, clicked_at, said):
    state = BotState(bot.state_path, clock=bot.clock)
    app = bot.app(state)
    actions, buttons = answer_buttons(bot, app, "Which funding calls are open?", ts="1700000100.1")
    bot.clock.now = clicked_at  # the answer was read days later
    assert click(bot, app, actions, buttons[0]) == said
    assert state.reminders() == []


def test_a_click_on_a_call_whose_deadline_moved_since_the_answer_says_so(bot):
    state = BotState(bot.state_path, clock=bot.clock)
    app = bot.app(state)
    actions, buttons = answer_buttons(bot, app, "Which funding calls are open?", ts="1700000100.1")
    bot.ingest(CALLS.replace("2026-12-15", "2026-12-22"))
    said = click(bot, app, actions, buttons[1])
    assert said.startswith("The deadline of “EIC Accelerator” changed from 2026-12-15 to 22 December 2026. ")
    assert "on 15 December 2026 and on 21 December 2026" in said
    assert [r.deadline_text for r in state.reminders()] == ["2026-12-22"]


def test_a_click_on_a_call_removed_since_the_answer_says_so(bot):
    state = BotState(bot.state_path, clock=bot.clock)
    app = bot.app(state)
    actions, buttons = answer_buttons(bot, app, "Which funding calls are open?", ts="1700000100.1")
    bot.ingest("\n".join(line for line in CALLS.splitlines() if not line.startswith("PROTO")) + "\n")
    assert click(bot, app, actions, buttons[0]) == ("I can no longer find “Prototyping voucher” in the knowledge "
                                                    "base: no reminder was set.")
    assert state.reminders() == []


def test_reminders_come_7_days_and_1_day_before_once_each_across_runs_and_restarts(bot):
    remind_me_of(bot, bot.app(BotState(bot.state_path, clock=bot.clock)), "EIC Accelerator")
    scheduler = bot.scheduler()
    bot.run_at(scheduler, datetime(2026, 12, 8, 8, 0, tzinfo=PARIS))
    assert bot.dms() == []  # not yet: reminders come at 09:00
    bot.run_at(scheduler, datetime(2026, 12, 8, 9, 0, tzinfo=PARIS))
    [first] = bot.dms()
    assert "Reminder: “EIC Accelerator” closes in 7 days, on 15 December 2026." in first
    assert "<https://kb.test/eic|EIC Accelerator>" in first
    bot.run_at(scheduler, datetime(2026, 12, 8, 10, 0, tzinfo=PARIS))
    bot.run_at(bot.scheduler(), datetime(2026, 12, 8, 11, 0, tzinfo=PARIS))  # a restart: a new process, same file
    assert len(bot.dms()) == 1
    restarted = bot.scheduler()
    bot.run_at(restarted, datetime(2026, 12, 14, 9, 0, tzinfo=PARIS))
    assert len(bot.dms()) == 2 and "closes tomorrow, 15 December 2026" in bot.dms()[1]
    bot.run_at(restarted, datetime(2026, 12, 16, 9, 0, tzinfo=PARIS))  # closed: nothing more, the reminder ends
    assert len(bot.dms()) == 2
    assert BotState(bot.state_path, clock=bot.clock).reminders() == []


def test_after_downtime_only_the_latest_due_reminder_is_sent(bot):
    remind_me_of(bot, bot.app(BotState(bot.state_path, clock=bot.clock)), "EIC Accelerator")
    bot.run_at(bot.scheduler(), datetime(2026, 12, 14, 12, 0, tzinfo=PARIS))
    assert len(bot.dms()) == 1 and "closes tomorrow" in bot.dms()[0]


def test_a_moved_deadline_is_announced_and_the_reminders_follow_it(bot):
    remind_me_of(bot, bot.app(BotState(bot.state_path, clock=bot.clock)), "EIC Accelerator")
    bot.clock.now = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS)
    bot.ingest(CALLS.replace("2026-12-15", "2026-12-22"))
    scheduler = bot.scheduler()
    bot.run_at(scheduler, datetime(2026, 12, 1, 11, 0, tzinfo=PARIS))
    [moved] = bot.dms()
    assert "The deadline of “EIC Accelerator” changed from 15 December 2026 to 22 December 2026." in moved
    assert "on 15 December 2026 and on 21 December 2026" in moved
    bot.run_at(scheduler, datetime(2026, 12, 8, 9, 0, tzinfo=PARIS))  # the old date's reminder: not sent
    assert len(bot.dms()) == 1
    bot.run_at(scheduler, datetime(2026, 12, 15, 9, 0, tzinfo=PARIS))
    assert len(bot.dms()) == 2 and "closes in 7 days, on 22 December 2026" in bot.dms()[1]


def test_a_removed_call_is_announced_once_and_its_reminder_dropped(bot):
    remind_me_of(bot, bot.app(BotState(bot.state_path, clock=bot.clock)), "EIC Accelerator")
    bot.clock.now = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS)
    bot.ingest("\n".join(line for line in CALLS.splitlines() if not line.startswith("EIC")) + "\n")
    scheduler = bot.scheduler()
    bot.run_at(scheduler, datetime(2026, 12, 1, 11, 0, tzinfo=PARIS))
    bot.run_at(scheduler, datetime(2026, 12, 8, 9, 0, tzinfo=PARIS))
    [removed] = bot.dms()
    assert "“EIC Accelerator” (deadline 15 December 2026) was removed from the knowledge base" in removed
    assert BotState(bot.state_path, clock=bot.clock).reminders() == []


def cancelled(calls: str, reference: str) -> str:
    """The table of calls with a status column, `reference`'s row marked as its staff would ("annulé")."""
    lines = calls.splitlines()
    return "\n".join([lines[0] + ";status"] + [line + (";annulé" if line.startswith(reference + ";") else ";")
                                              for line in lines[1:]]) + "\n"


def test_a_cancelled_call_is_announced_once_its_reminder_dropped_and_answers_say_cancelled(bot):
    app = bot.app(BotState(bot.state_path, clock=bot.clock))
    remind_me_of(bot, app, "EIC Accelerator")
    bot.clock.now = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS)
    bot.ingest(cancelled(CALLS, "EIC"))
    scheduler = bot.scheduler()
    bot.run_at(scheduler, datetime(2026, 12, 1, 11, 0, tzinfo=PARIS))
    bot.run_at(scheduler, datetime(2026, 12, 8, 9, 0, tzinfo=PARIS))  # no 7-day reminder for it
    [told] = bot.dms()
    assert told == ("“EIC Accelerator” has been cancelled: your reminder for it is cancelled too.\n"
                    "<https://kb.test/eic|EIC Accelerator>")
    assert BotState(bot.state_path, clock=bot.clock).reminders() == []
    before = len(bot.slack_api.of("chat.postMessage"))
    send_event(app, mention("Which funding calls are open?", ts="1700000300.1"))
    listing = json.dumps(bot.slack_api.wait_for("chat.postMessage", before + 1)[before], ensure_ascii=False)
    assert "Funding calls still open: none; these were cancelled:" in listing and "Remind me" not in listing
    before = len(bot.slack_api.of("chat.postMessage"))
    send_event(app, mention("What is the deadline of the EIC Accelerator?", ts="1700000400.1"))
    answer = json.dumps(bot.slack_api.wait_for("chat.postMessage", before + 1)[before], ensure_ascii=False)
    assert "cancelled (its deadline was 15 December 2026)" in answer and "Remind me" not in answer


def test_a_cancelled_calls_message_slack_refuses_is_told_at_the_next_run_and_the_reminder_kept_until_then(bot):
    remind_me_of(bot, bot.app(BotState(bot.state_path, clock=bot.clock)), "EIC Accelerator")
    bot.ingest(cancelled(CALLS, "EIC"))
    scheduler = bot.scheduler()
    bot.slack_api.fail_next("chat.postMessage", 500)
    bot.run_at(scheduler, datetime(2026, 12, 1, 11, 0, tzinfo=PARIS))
    assert bot.dms() == [] and bot.slack_api.refused == [("chat.postMessage", 500)]
    assert [r.title for r in BotState(bot.state_path, clock=bot.clock).reminders()] == ["EIC Accelerator"]
    bot.run_at(scheduler, datetime(2026, 12, 1, 12, 0, tzinfo=PARIS))
    bot.run_at(scheduler, datetime(2026, 12, 1, 13, 0, tzinfo=PARIS))
    [told] = bot.dms()
    assert told.startswith("“EIC Accelerator” has been cancelled: your reminder for it is cancelled too.")
    assert BotState(bot.state_path, clock=bot.clock).reminders() == []


def test_a_call_cancelled_with_its_deadline_cleared_is_said_cancelled_not_removed(bot):
    remind_me_of(bot, bot.app(BotState(bot.state_path, clock=bot.clock)), "EIC Accelerator")
    bot.ingest(cancelled(CALLS, "EIC").replace(";2026-12-15;", ";;"))
    bot.run_at(bot.scheduler(), datetime(2026, 12, 1, 11, 0, tzinfo=PARIS))
    [told] = bot.dms()
    assert told.startswith("“EIC Accelerator” has been cancelled: your reminder for it is cancelled too.")
    assert BotState(bot.state_path, clock=bot.clock).reminders() == []


def test_a_click_on_a_call_cancelled_since_the_answer_sets_nothing_and_says_so(bot):
    state = BotState(bot.state_path, clock=bot.clock)
    app = bot.app(state)
    actions, buttons = answer_buttons(bot, app, "Which funding calls are open?", ts="1700000100.1")
    bot.ingest(cancelled(CALLS, "EIC"))
    assert click(bot, app, actions, buttons[1]) == ("“EIC Accelerator” (deadline 15 December 2026) has been "
                                                    "cancelled: there is nothing to remind you of.")
    assert state.reminders() == []


def test_members_list_their_reminders_with_the_next_date(bot):
    app = bot.app(BotState(bot.state_path, clock=bot.clock))
    remind_me_of(bot, app, "EIC Accelerator")

    def listed(user: str) -> str:
        before = len(bot.slack_api.of("/respond/1"))
        assert app.dispatch(slash("/concierge", "reminders", user, bot.slack_api)).status == 200
        return str(bot.slack_api.wait_for("/respond/1", before + 1)[before]["text"])

    assert listed(MEMBER) == ("Your deadline reminders:\n• EIC Accelerator · deadline 15 December 2026 · "
                              "next reminder 8 December 2026")
    assert listed("USOMEONE") == "You have no deadline reminders."


def test_forget_me_erases_reminders_and_says_so(bot):
    state = BotState(bot.state_path, clock=bot.clock)
    app = bot.app(state)
    remind_me_of(bot, app, "EIC Accelerator")
    send_event(app, message("forget me", channel=f"D{MEMBER}", ts="1700000900.1", channel_type="im"))
    bot.slack_api.wait_for("chat.postMessage", 2)
    [reply] = bot.dms()
    assert "reminders: 1" in reply
    assert state.reminders() == []
    bot.run_at(bot.scheduler(), datetime(2026, 12, 8, 9, 0, tzinfo=PARIS))
    assert [text for text in bot.dms() if "Reminder" in text] == []


def test_reminders_are_in_the_language_of_the_answer(bot):
    state = BotState(bot.state_path, clock=bot.clock)
    app = bot.app(state)
    actions, buttons = answer_buttons(bot, app, "Quels appels à projets sont ouverts ?", ts="1700000300.1")
    [button] = [b for b in buttons if "EIC Accelerator" in b["text"]["text"]]
    assert button["text"]["text"].startswith("⏰ Me le rappeler")
    said = click(bot, app, actions, button)
    assert "le 8 décembre 2026 et le 14 décembre 2026" in said
    bot.run_at(bot.scheduler(), datetime(2026, 12, 8, 9, 0, tzinfo=PARIS))
    assert "Rappel : « EIC Accelerator » ferme dans 7 jours, le 15 décembre 2026." in bot.dms()[0]


# --- Teams ------------------------------------------------------------------------------------------------------

TEAMS_CHANNEL = "19:general@thread.tacv2;messageid=1"
TEAMS_MEMBER = {"id": "29:member-user", "name": "Member", "aadObjectId": "aad-member"}


def teams_post(server: AiohttpServer, body: dict) -> dict:
    request = urllib.request.Request(f"{server.url}/api/messages", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        raw = response.read()
        return json.loads(raw) if raw else {}


def teams_activity(text: str, *, conversation_type: str, conversation_id: str, service_url: str,
                   **extra: object) -> dict:
    return {"type": "message", "id": str(uuid.uuid4()), "channelId": "msteams", "serviceUrl": service_url,
            "from": TEAMS_MEMBER, "recipient": {"id": "28:concierge", "name": "Concierge"},
            "conversation": {"id": conversation_id, "conversationType": conversation_type, "tenantId": "t1"},
            "text": text, "deliveryMode": "expectReplies", **extra}


def teams_texts(body: dict) -> list[str]:
    return [a.get("text") or "" for a in body.get("activities", []) if a.get("type") == "message"]


@pytest.fixture
def connector() -> Iterator[ConnectorService]:
    service = ConnectorService()
    yield service
    service.close()


def test_teams_remind_me_from_a_card_is_recorded_and_delivered_in_the_members_1_to_1_chat(bot, connector):
    state = BotState(bot.state_path, clock=bot.clock)
    server = AiohttpServer(create_web_app(bot.services, BotSettings(_env_file=None), state, allow_anonymous=True))
    try:
        channel = {"conversation_type": "channel", "conversation_id": TEAMS_CHANNEL, "service_url": connector.url}
        body = teams_post(server, teams_activity("<at>Concierge</at> Which funding calls are open?", **channel))
        [card] = [a["content"] for m in body["activities"] for a in m.get("attachments") or []]
        reminders = [a for a in card["actions"] if "concierge_remind" in a.get("data", {})]
        assert [a["title"] for a in reminders] == ["⏰ Remind me: Prototyping voucher", "⏰ Remind me: EIC Accelerator"]
        eic = reminders[1]["data"]
        # Clicked in the channel: recorded, and the member learns where reminders will come.
        [said] = teams_texts(teams_post(server, teams_activity("", **channel, value=eic)))
        assert "I will remind you of “EIC Accelerator”" in said and "write “reminders” to me once in a 1:1 chat" in said
        assert [(r.platform, r.user) for r in state.reminders()] == [("teams", "aad-member")]
        # Asked again in the 1:1 chat, the answer carries the buttons too; a click there is how the bot can write.
        personal = {"conversation_type": "personal", "conversation_id": "a:personal-1", "service_url": connector.url}
        body = teams_post(server, teams_activity("Which funding calls are open?", **personal))
        [chat_card] = [a["content"] for m in body["activities"] for a in m.get("attachments") or []]
        [said] = teams_texts(teams_post(server, teams_activity("", **personal, value=chat_card["actions"][1]["data"])))
        assert "1:1" not in said and len(state.reminders()) == 1
    finally:
        server.close()

    _, adapter, _ = auth_configuration(allow_anonymous=True)
    reminders_job = Reminders(bot.services.store, state, clock=bot.clock, timezone=PARIS, schedule=HOURLY,
                              senders={"teams": TeamsReminderSender(adapter, state)})
    before = len(connector.activities)
    bot.clock.now = datetime(2026, 12, 8, 9, 0, tzinfo=PARIS)
    assert reminders_job.run().sent == 1 and reminders_job.run().sent == 0
    [sent] = connector.activities[before:]
    assert sent["path"] == "/v3/conversations/a:personal-1/activities"
    assert "Reminder: “EIC Accelerator” closes in 7 days, on 15 December 2026." in sent["text"]
    assert "[EIC Accelerator](https://kb.test/eic)" in sent["text"]


def test_a_streamed_teams_answer_ends_with_the_remind_me_buttons(bot, connector):
    state = BotState(bot.state_path, clock=bot.clock)
    server = AiohttpServer(create_web_app(bot.services, BotSettings(_env_file=None), state, allow_anonymous=True))
    try:
        body = teams_activity("Which funding calls are open?", conversation_type="personal",
                              conversation_id="a:personal-1", service_url=connector.url)
        del body["deliveryMode"]  # normal mode: the answer is streamed to the Bot Connector
        teams_post(server, body)
        final = connector.wait_for(lambda a: any(e.get("streamType") == "final" for e in a.get("entities") or []),
                                   timeout=60)
    finally:
        server.close()
    [card] = [a["content"] for a in final.get("attachments") or []]
    assert [a["title"] for a in card["actions"]] == ["⏰ Remind me: Prototyping voucher", "⏰ Remind me: EIC Accelerator"]


def test_a_teams_member_who_clicked_in_a_channel_is_reached_once_they_list_their_reminders_1_to_1(bot, connector):
    state = BotState(bot.state_path, clock=bot.clock)
    server = AiohttpServer(create_web_app(bot.services, BotSettings(_env_file=None), state, allow_anonymous=True))
    try:
        channel = {"conversation_type": "channel", "conversation_id": TEAMS_CHANNEL, "service_url": connector.url}
        body = teams_post(server, teams_activity("<at>Concierge</at> Quels appels à projets sont ouverts ?", **channel))
        [card] = [a["content"] for m in body["activities"] for a in m.get("attachments") or []]
        eic = next(a["data"] for a in card["actions"] if "EIC" in a.get("title", "") and "data" in a)
        [said] = teams_texts(teams_post(server, teams_activity("", **channel, value=eic)))
        assert said.endswith("Pour le recevoir, écrivez-moi « rappels » une fois dans une conversation privée.")
        personal = {"conversation_type": "personal", "conversation_id": "a:personal-9", "service_url": connector.url}
        [listed] = teams_texts(teams_post(server, teams_activity("Rappels", **personal)))
        assert listed == ("Vos rappels de dates limites :\n\n- EIC Accelerator · date limite le 15 décembre 2026 · "
                          "prochain rappel le 8 décembre 2026")
    finally:
        server.close()
    _, adapter, _ = auth_configuration(allow_anonymous=True)
    before = len(connector.activities)
    bot.clock.now = datetime(2026, 12, 8, 9, 0, tzinfo=PARIS)
    Reminders(bot.services.store, state, clock=bot.clock, timezone=PARIS, schedule=HOURLY,
              senders={"teams": TeamsReminderSender(adapter, state)}).run()
    [sent] = connector.activities[before:]
    assert sent["path"] == "/v3/conversations/a:personal-9/activities"
    assert sent["text"].startswith("Rappel : « EIC Accelerator » ferme dans 7 jours, le 15 décembre 2026.")
