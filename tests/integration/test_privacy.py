"""Members' data through the real chat front ends: `/concierge forget-me` (a signed slash command to the real
slack-bolt App, replies recorded by a local Slack Web API) and Teams `forget me` (the real Agents SDK endpoint)
erase what is kept under the member's id and say what went; staff see the scheduled jobs in `status` and on
App Home, and no member id in the gaps. The answers come from a scripted concierge: what is checked here is
what the bot keeps, not what it answers."""

from __future__ import annotations

import json
import urllib.request
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient

from bot.conversation import Reply
from bot.scheduler import Scheduler, purge_job
from bot.settings import BotSettings
from bot.slack.app import create_app
from bot.state import BotState
from bot.teams.app import create_web_app
from knowledge.retrieval import Retriever
from tests.conftest import PARIS, SHARED_DATA
from tests.fakes.services import FakeServices
from tests.fakes.slack_api import TEAM, SlackAPIServer
from tests.fakes.slack_events import SECRET, mention, message, send_event, signed, slash
from tests.fakes.teams_service import AiohttpServer

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=PARIS)
STAFF, MEMBER, OTHER = "USTAFF", "UMEMBER", "UOTHER"
CHANNEL = "CGENERAL"


class NoEvents(Retriever):
    """A knowledge base with nothing upcoming (App Home's lists stay empty)."""

    def __init__(self) -> None:  # no store to search
        pass

    def upcoming(self, kind: str, role: str, now: datetime, limit: int = 5) -> list[dict]:  # type: ignore[override]
        return []


class HomeServices(FakeServices):
    """FakeServices that can also fill App Home."""

    def __init__(self, now: datetime) -> None:
        super().__init__(now)
        self.retriever = NoEvents()

    def index_status(self) -> dict[str, object]:
        return {"sources": 3, "chunks": 12}


@pytest.fixture
def services() -> HomeServices:
    return HomeServices(NOW)


@pytest.fixture
def state(tmp_path, services) -> BotState:
    return BotState(tmp_path / "state.sqlite3", clock=services.clock)


@pytest.fixture
def scheduler(state, services) -> Scheduler:
    """The process's scheduler as `python -m bot` wires it (not started: each test runs what it needs)."""
    built = Scheduler(state, clock=services.clock, timezone=PARIS)
    built.add(purge_job(state, days=180, schedule="30 3 * * *"))
    return built


@pytest.fixture
def slack_api():
    server = SlackAPIServer(SHARED_DATA / "slack-fixtures", groups={"SSTAFF": [STAFF]})
    yield server
    server.close()


@pytest.fixture
def app(services, state, scheduler, slack_api, tmp_path):
    settings = BotSettings(slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_url=slack_api.url,
                           slack_staff_groups="SSTAFF", state_path=tmp_path / "state.sqlite3", _env_file=None)
    return create_app(services, settings, state, client=WebClient(token="xoxb-test", base_url=slack_api.url),
                      scheduler=scheduler)


def click_down(app, slack_api, post: dict, user: str) -> None:  # noqa: ANN001
    """`user` clicks 👎 under an answer (Slack's block_actions payload, signed)."""
    [actions] = [b for b in post["blocks"] if b["type"] == "actions"]
    down = next(e for e in actions["elements"] if e["action_id"] == "feedback_down")
    payload = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": user}, "api_app_id": "A1",
               "token": "t", "trigger_id": "1.2", "response_url": slack_api.response_url,
               "container": {"type": "message", "channel_id": CHANNEL, "message_ts": post.get("ts", "1")},
               "channel": {"id": CHANNEL}, "actions": [{**down, "block_id": actions["block_id"], "type": "button",
                                                          "action_ts": "1"}]}
    assert app.dispatch(signed(urlencode({"payload": json.dumps(payload)}),
                               "application/x-www-form-urlencoded")).status == 200


def responses(slack_api, count: int) -> list[str]:  # noqa: ANN001
    return [r["text"] for r in slack_api.wait_for("/respond/1", count)]


# --- Slack --------------------------------------------------------------------------------------------------


def test_forget_me_erases_the_members_questions_and_feedback_and_says_what_went(app, slack_api, tmp_path):
    send_event(app, mention("Which funding calls are open?", ts="1700000100.1"))
    send_event(app, mention("What does the export voucher cover?", user=OTHER, ts="1700000200.1"))
    posts = {p["thread_ts"]: p for p in slack_api.wait_for("chat.postMessage", 2)}
    click_down(app, slack_api, posts["1700000100.1"], MEMBER)  # a gap, from the member's question
    click_down(app, slack_api, posts["1700000200.1"], MEMBER)  # the member's 👎 on the other's answer
    click_down(app, slack_api, posts["1700000200.1"], OTHER)
    assert app.dispatch(slash("/ask", "How do I join the cluster?", MEMBER, slack_api)).status == 200
    seen = len(slack_api.wait_for("/respond/1", 4))  # three thanks, one private answer

    app.dispatch(slash("/concierge", "forget-me", MEMBER, slack_api))
    reply = slack_api.wait_for("/respond/1", seen + 1)[-1]
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] == ("Done: I have erased everything I kept under your id. Removed:\n"
                             "• questions and their answers: 2\n• 👍/👎 feedback: 2")

    restarted = BotState(tmp_path / "state.sqlite3", clock=lambda: NOW)
    assert restarted.questions_of(MEMBER) == [], "nothing under the member's id, after a restart too"
    assert restarted.questions_of(OTHER) == ["What does the export voucher cover?"]
    assert not restarted.is_answered_thread("slack", CHANNEL, "1700000100.1")
    assert restarted.is_answered_thread("slack", CHANNEL, "1700000200.1")
    app.dispatch(slash("/concierge", "gaps", STAFF, slack_api))
    gaps = slack_api.wait_for("/respond/1", seen + 2)[-1]["text"]
    assert gaps == "• What does the export voucher cover? — marked unhelpful (slack)", "the other's 👎 is kept"

    app.dispatch(slash("/concierge", "forget me", MEMBER, slack_api))
    again = slack_api.wait_for("/respond/1", seen + 3)[-1]["text"]
    assert again == "I kept nothing under your id: there was nothing to erase."


@pytest.mark.parametrize("question, said, expected", [
    ("Quels appels à projets sont ouverts ?", "forget-me", "C'est fait : j'ai effacé tout ce que je gardais"),
    ("Which funding calls are open?", "oublie-moi", "C'est fait : j'ai effacé tout ce que je gardais"),
    ("Welche Förderaufrufe sind noch offen?", "forget-me", "Erledigt: Ich habe alles gelöscht"),
], ids=["asked-in-french", "said-in-french", "asked-in-german"])
def test_forget_me_answers_in_the_members_language(app, slack_api, question, said, expected):
    app.dispatch(slash("/ask", question, MEMBER, slack_api))
    slack_api.wait_for("/respond/1")
    app.dispatch(slash("/concierge", said, MEMBER, slack_api))
    reply = slack_api.wait_for("/respond/1", 2)[-1]["text"]
    assert reply.startswith(expected) and reply.endswith(": 1")


def test_forget_me_in_a_direct_message_is_answered_there_and_never_recorded_as_a_question(app, slack_api, state):
    send_event(app, message("Which funding calls are open?", channel="DMEMBER", ts="1700000500.1", channel_type="im"))
    slack_api.wait_for("chat.postMessage")
    send_event(app, message("Oublie-moi", channel="DMEMBER", ts="1700000501.1", channel_type="im"))
    reply = slack_api.wait_for("chat.postMessage", 2)[-1]
    assert reply["channel"] == "DMEMBER" and "thread_ts" not in reply
    assert reply["text"] == ("C'est fait : j'ai effacé tout ce que je gardais sous votre identifiant. Supprimé :\n"
                             "• questions et leurs réponses : 1")
    assert state.questions_of(MEMBER) == [], "the request itself is not kept either"


def test_the_gap_list_shows_questions_but_no_member_ids(app, slack_api, state):
    send_event(app, mention("Who is <@U0SOMEONE>?", ts="1700000300.1"))
    [post] = slack_api.wait_for("chat.postMessage")
    click_down(app, slack_api, post, MEMBER)
    slack_api.wait_for("/respond/1")
    app.dispatch(slash("/concierge", "gaps", STAFF, slack_api))
    listing = responses(slack_api, 2)[-1]
    assert "Who is" in listing and "marked unhelpful" in listing
    assert MEMBER not in listing and STAFF not in listing


def test_staff_status_shows_each_scheduled_job_and_its_last_result(app, slack_api, state, scheduler, services):
    app.dispatch(slash("/concierge", "status", STAFF, slack_api))
    [before] = responses(slack_api, 1)
    assert before.splitlines() == [
        "3 sources, 12 chunks; last ingestion never, 0 failed.", "Scheduled jobs:",
        "• retention-purge · 30 3 * * * (Europe/Paris) · last run: never · next run: 2026-11-24 03:30"]

    services.clock = lambda: NOW + timedelta(days=1)  # the next morning: the nightly purge has run
    scheduler.clock = services.clock
    scheduler.run_due()
    app.dispatch(slash("/concierge", "status", STAFF, slack_api))
    after = responses(slack_api, 2)[-1]
    [purge] = [line for line in after.splitlines() if line.startswith("• retention-purge")]
    assert purge.startswith("• retention-purge · 30 3 * * * (Europe/Paris) · last run: 2026-11-24 03:30, removed "
                            "what was older than 180 days: threads 0, answers 0, feedback 0, ")  # then each table
    assert purge.endswith("reminders 0 · next run: 2026-11-25 03:30")


def test_app_home_shows_staff_the_scheduled_jobs_and_members_not(app, slack_api):
    for user in (MEMBER, STAFF):
        send_event(app, {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home",
                         "event_ts": "1700001100.1"})
    views = {v["user_id"]: json.dumps(v["view"], ensure_ascii=False) for v in slack_api.wait_for("views.publish", 2)}
    assert "Scheduled jobs (staff)" in views[STAFF]
    assert "retention-purge · 30 3 * * * (Europe/Paris) · last run: never · next run: 2026-11-24 03:30" in views[STAFF]
    assert "Scheduled jobs" not in views[MEMBER] and "retention-purge" not in views[MEMBER]


def test_members_may_forget_themselves_but_other_concierge_commands_stay_for_staff(app, slack_api):
    app.dispatch(slash("/concierge", "status", MEMBER, slack_api))
    [refusal] = responses(slack_api, 1)
    assert "for the cluster team" in refusal


# --- Teams ----------------------------------------------------------------------------------------------------

TEAMS_STAFF = "29:staff-user"
ME = {"id": "29:member-user", "name": "Member", "aadObjectId": "aad-member"}
THEM = {"id": "29:other-user", "name": "Other", "aadObjectId": "aad-other"}


@pytest.fixture
def teams(services, state, scheduler):
    settings = BotSettings(teams_staff_users=TEAMS_STAFF, _env_file=None)
    server = AiohttpServer(create_web_app(services, settings, state, allow_anonymous=True, scheduler=scheduler))
    yield server
    server.close()


def say(server: AiohttpServer, text: str, sender: dict, *, conversation_type: str = "personal",
        conversation_id: str = "a:personal-1") -> list[str]:
    """Post a message to /api/messages (`expectReplies`); the texts of the bot's replies."""
    body = {"type": "message", "id": str(uuid.uuid4()), "channelId": "msteams", "serviceUrl": "http://127.0.0.1:9/",
            "from": sender, "recipient": {"id": "28:concierge", "name": "Concierge"},
            "conversation": {"id": conversation_id, "conversationType": conversation_type, "tenantId": "t1"},
            "text": text, "locale": "en-US", "deliveryMode": "expectReplies"}
    request = urllib.request.Request(f"{server.url}/api/messages", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        activities = json.loads(response.read() or b"{}").get("activities", [])
    return [a.get("text") or "" for a in activities if a.get("type") == "message"]


def test_teams_forget_me_in_a_chat_erases_the_members_data_and_says_what_went(teams, tmp_path):
    say(teams, "Which funding calls are open?", ME)
    say(teams, "And the deadlines?", ME)
    say(teams, "What does the export voucher cover?", THEM, conversation_id="a:personal-2")

    assert say(teams, "forget me", ME) == [
        "Done: I have erased everything I kept under your id. Removed:\n\n- questions and their answers: 2"]
    restarted = BotState(tmp_path / "state.sqlite3", clock=lambda: NOW)
    assert restarted.questions_of("aad-member") == [] and restarted.history("teams", "a:personal-1", "") == []
    assert restarted.questions_of("aad-other") == ["What does the export voucher cover?"]
    assert say(teams, "Vergiss mich", ME) == ["Unter Ihrer Kennung war nichts gespeichert: Es gab nichts zu löschen."]


def test_teams_forget_me_in_a_channel_points_to_a_private_chat_and_erases_nothing(teams, state):
    say(teams, "Which funding calls are open?", ME)
    replies = say(teams, "<at>Concierge</at> forget me", ME, conversation_type="channel",
                  conversation_id="19:general@thread.tacv2;messageid=1")
    assert replies == ["To have me erase what I keep about you, write “forget me” to me in a 1:1 chat."]
    assert state.questions_of("aad-member") == ["Which funding calls are open?"]


def test_teams_staff_status_shows_the_scheduled_jobs(teams):
    [status] = say(teams, "status", {"id": TEAMS_STAFF, "name": "Staff"})
    assert status.split("\n\n")[1:] == [
        "Scheduled jobs:",
        "- retention-purge · 30 3 * * * (Europe/Paris) · last run: never · next run: 2026-11-24 03:30"]


def test_a_purge_started_with_the_bot_after_downtime_runs_once(tmp_path):
    """Data recorded before a long downtime; the bot starts 200 days later: the purge runs once at start."""
    path = tmp_path / "state.sqlite3"
    BotState(path, clock=lambda: NOW).record_answer("slack", CHANNEL, "1.0", MEMBER, "member", Reply(
        question="old", language="en", answer="answer", abstained=False, sources=[]))
    Scheduler(BotState(path, clock=lambda: NOW), clock=lambda: NOW, timezone=PARIS).add(
        purge_job(BotState(path, clock=lambda: NOW), days=180, schedule="30 3 * * *"))  # first deployed then
    later = lambda: NOW + timedelta(days=200)  # noqa: E731
    for _ in range(2):  # started, stopped, started again the same day
        state = BotState(path, clock=later)
        scheduler = Scheduler(state, clock=later, timezone=PARIS)
        scheduler.add(purge_job(state, days=180, schedule="30 3 * * *"))
        scheduler.start()
        try:
            assert scheduler.caught_up.wait(10)
        finally:
            scheduler.shutdown()
    assert state.questions_of(MEMBER) == [] and state.runs("retention-purge") == 1


def test_an_erased_question_is_not_left_in_the_state_file(slack_api, tmp_path, app):
    """Deleted rows are overwritten, not left in SQLite's free pages for anyone reading the file."""
    send_event(app, mention("Is the Zorblax-7 grant for my start-up?", ts="1700000400.1"))
    slack_api.wait_for("chat.postMessage")
    assert b"Zorblax-7" in (tmp_path / "state.sqlite3").read_bytes()
    app.dispatch(slash("/concierge", "forget-me", MEMBER, slack_api))
    slack_api.wait_for("/respond/1")
    assert b"Zorblax-7" not in (tmp_path / "state.sqlite3").read_bytes()
