"""Followed topics as a member lives them: `/concierge follow medical AI` through the real slack-bolt App (signed
slash commands, ephemeral replies recorded by the local Slack Web API) and `follow ...` in a Teams 1:1 chat (the
real Agents SDK endpoint); then an ingestion adds calls to a real Chroma index (the real multilingual model: an
English topic must find a French call) and the scheduled follow job sends one direct message per item, never twice,
only what the member's role may see."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.follows import FollowJob
from bot.scheduler import Scheduler
from bot.settings import BotSettings
from bot.slack.app import create_app
from bot.slack.follows import SlackFollowNotifier
from bot.state import BotState
from bot.teams.app import auth_configuration, create_web_app
from bot.teams.follows import TeamsFollowNotifier
from bot.wiring import Services
from knowledge.settings import KnowledgeSettings
from knowledge.store import release_embedded_store
from knowledge.topic_match import TopicMatcher
from tests.conftest import PARIS, SHARED_DATA
from tests.fakes.slack_api import SlackAPIServer
from tests.fakes.slack_events import SECRET, slash
from tests.fakes.teams_service import AiohttpServer, ConnectorService

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

STAFF, MEMBER, OTHER = "USTAFF", "UMEMBER", "UOTHER"
CHANNEL = "CGENERAL"
EVERY_FIVE_MINUTES = "*/5 * * * *"

CALLS = (
    "reference;title;kind;deadline;audience;language;url;description\n"
    "EIC;EIC Accelerator;funding_call;2027-03-04;public;en;https://kb.test/eic;"
    "Support for high-risk innovations of start-ups and SMEs.\n"
    "RAD;Appel imagerie et IA;funding_call;2027-02-01;public;fr;https://kb.test/imagerie;"
    "Analyse d'images radiologiques par intelligence artificielle.\n"
)
# Added on 21 November: a French call on medical AI for members, a staff-only one on the same topic, and one
# on something else.
NEW_CALLS = (
    "reference;title;kind;deadline;audience;language;url;description\n"
    "IADIAG;Appel à projets IA et diagnostic médical;funding_call;2027-02-15;member;fr;https://kb.test/ia-diagnostic;"
    "Financement de projets d'intelligence artificielle appliquée au diagnostic médical.\n"
    "STAFFIA;Fonds interne IA médicale;funding_call;2027-02-20;staff;fr;https://kb.test/fonds-interne;"
    "Fonds réservé à l'équipe pour des projets d'intelligence artificielle médicale.\n"
    "EXPORT;Export voucher;funding_call;2027-01-10;public;en;https://kb.test/export;"
    "Travel expenses of a first trade mission abroad.\n"
)
FOLLOWED_AT = datetime(2026, 11, 20, 10, 0, tzinfo=PARIS)
ADDED_AT = datetime(2026, 11, 21, 10, 0, tzinfo=PARIS)


class Clock:
    """The process's clock, pinned; a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Cluster:
    """The calls as staff ingested them on 1 November; the clock is 20 November, 10:00."""

    services: Services
    clock: Clock
    kb: Path

    def add_calls(self) -> None:
        """Staff ingest a new table (`ingest.py` in another process, or `reingest`) on 21 November."""
        (self.kb / "new-calls.csv").write_text(NEW_CALLS, encoding="utf-8")
        self.clock.now = ADDED_AT
        report = self.services.ingestor().run([self.kb])
        assert report.ok, report.failed


@pytest.fixture
def cluster(tmp_path, real_embedder) -> Iterator[Cluster]:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "calls.csv").write_text(CALLS, encoding="utf-8")
    settings = KnowledgeSettings(store_path=tmp_path / "chroma", _env_file=None)
    clock = Clock(datetime(2026, 11, 1, 10, 0, tzinfo=PARIS))
    services = Services(settings, embedder=real_embedder, clock=clock)
    assert services.ingestor().run([kb]).ok
    clock.now = FOLLOWED_AT
    yield Cluster(services, clock, kb)
    release_embedded_store(settings.store_path)


@pytest.fixture
def slack_api() -> Iterator[SlackAPIServer]:
    server = SlackAPIServer(SHARED_DATA / "slack-fixtures")
    yield server
    server.close()


def slack_app(cluster: Cluster, state: BotState, slack_api: SlackAPIServer, path: Path):  # noqa: ANN201
    settings = BotSettings(slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_url=slack_api.url,
                           slack_staff_users=STAFF, state_path=path, _env_file=None)
    return create_app(cluster.services, settings, state, client=WebClient(token="xoxb-test", base_url=slack_api.url))


def concierge(app, slack_api: SlackAPIServer, text: str, user: str = MEMBER) -> str:  # noqa: ANN001
    """What the member reads after `/concierge <text>` (the replies are ephemeral)."""
    before = len(slack_api.of("/respond/1"))
    assert app.dispatch(slash("/concierge", text, user, slack_api)).status == 200
    reply = slack_api.wait_for("/respond/1", before + 1)[before]
    assert reply["response_type"] == "ephemeral"
    return str(reply["text"])


def slack_scheduler(cluster: Cluster, path: Path, slack_api: SlackAPIServer) -> Scheduler:
    """A bot process's scheduler with the follow job, on its own connection to the state file."""
    state = BotState(path, clock=cluster.clock)
    notifier = SlackFollowNotifier(WebClient(token="xoxb-test", base_url=slack_api.url))
    job = FollowJob(cluster.services.store, state, TopicMatcher(cluster.services.embedder), clock=cluster.clock,
                    timezone=PARIS, platform="slack", notifier=notifier, schedule=EVERY_FIVE_MINUTES)
    scheduler = Scheduler(state, clock=cluster.clock, timezone=PARIS)
    scheduler.add(job.job())
    return scheduler


def dms(slack_api: SlackAPIServer, user: str) -> list[dict]:
    return [p for p in slack_api.of("chat.postMessage") if p["channel"] == f"D{user}"]


def shown(post: dict) -> str:
    return json.dumps(post["blocks"], ensure_ascii=False)


# --- Slack ------------------------------------------------------------------------------------------------------


def test_follow_following_and_unfollow_answer_the_member_privately(tmp_path, cluster, slack_api):
    path = tmp_path / "state.sqlite3"
    app = slack_app(cluster, BotState(path, clock=cluster.clock), slack_api, path)

    assert concierge(app, slack_api, "following").startswith("You follow no topic yet. Write “/concierge follow")
    assert concierge(app, slack_api, "follow medical AI") == \
        "I'll tell you when a call or an event about “medical AI” is added."
    assert concierge(app, slack_api, "follow imagerie médicale") == \
        "Je vous préviendrai quand un appel ou un événement sur « imagerie médicale » sera ajouté."
    assert concierge(app, slack_api, "following") == \
        "Vous suivez ces sujets :\n• medical AI\n• imagerie médicale"
    assert concierge(app, slack_api, "unfollow Medical  AI") == "I'll no longer tell you about “medical AI”."
    # "medical AI" says nothing of its language: the member's latest follow (French) does.
    assert concierge(app, slack_api, "unfollow medical AI") == "Vous ne suiviez pas « medical AI »."
    assert concierge(app, slack_api, "following", user=OTHER).startswith("You follow no topic yet")


def test_a_french_call_added_for_an_english_topic_is_sent_once_by_direct_message(tmp_path, cluster, slack_api):
    path = tmp_path / "state.sqlite3"
    app = slack_app(cluster, BotState(path, clock=cluster.clock), slack_api, path)
    concierge(app, slack_api, "follow medical AI")
    concierge(app, slack_api, "follow medical AI", user=STAFF)
    scheduler = slack_scheduler(cluster, path, slack_api)

    cluster.clock.now = FOLLOWED_AT + timedelta(minutes=5)
    assert scheduler.run_due() == ["follow:slack"]
    assert slack_api.of("chat.postMessage") == [], "what was there before the follow is not news"

    cluster.add_calls()
    cluster.clock.now = ADDED_AT + timedelta(minutes=5)
    assert scheduler.run_due() == ["follow:slack"]
    [post] = dms(slack_api, MEMBER)
    assert MEMBER in [call.get("users") for call in slack_api.of("conversations.open")]
    assert "New funding call about “medical AI”" in shown(post)
    assert "<https://kb.test/ia-diagnostic|Appel à projets IA et diagnostic médical> · closes 15 February 2027" \
        in shown(post)
    assert "Write “unfollow medical AI” to stop." in shown(post)
    assert "Export voucher" not in json.dumps(slack_api.of("chat.postMessage"), ensure_ascii=False)

    # Staff follow the same topic: they are told about the staff-only call too; the member never is.
    staff_titles = sorted(p["text"] for p in dms(slack_api, STAFF))
    assert staff_titles == ["New funding call about “medical AI”: Appel à projets IA et diagnostic médical",
                            "New funding call about “medical AI”: Fonds interne IA médicale"]
    assert all("Fonds interne" not in shown(p) for p in dms(slack_api, MEMBER))

    # The next run, and a restarted bot on the same state file, send nothing again.
    cluster.clock.now = ADDED_AT + timedelta(minutes=10)
    assert scheduler.run_due() == ["follow:slack"]
    restarted = slack_scheduler(cluster, path, slack_api)
    cluster.clock.now = ADDED_AT + timedelta(minutes=15)
    assert restarted.run_due() == ["follow:slack"]
    assert len(slack_api.of("chat.postMessage")) == 3


def test_two_bot_processes_on_one_state_file_send_each_message_once(tmp_path, cluster, slack_api):
    path = tmp_path / "state.sqlite3"
    app = slack_app(cluster, BotState(path, clock=cluster.clock), slack_api, path)
    concierge(app, slack_api, "follow IA médicale")
    first, second = slack_scheduler(cluster, path, slack_api), slack_scheduler(cluster, path, slack_api)
    cluster.add_calls()
    cluster.clock.now = ADDED_AT + timedelta(minutes=5)
    assert first.run_due() + second.run_due() == ["follow:slack"], "the period is run by one process"
    cluster.clock.now = ADDED_AT + timedelta(minutes=10)
    second.run_due()
    [post] = dms(slack_api, MEMBER)
    assert "Nouvel appel à projets sur « IA médicale »" in shown(post)
    assert "clôture le 15 février 2027" in shown(post)


def following_medical_imaging(tmp_path: Path, cluster: Cluster, slack_api: SlackAPIServer) -> Scheduler:
    """A member follows "medical imaging"; the follow job's first run sees the calls of 1 November (not news)."""
    path = tmp_path / "state.sqlite3"
    concierge(slack_app(cluster, BotState(path, clock=cluster.clock), slack_api, path), slack_api,
              "follow medical imaging")
    scheduler = slack_scheduler(cluster, path, slack_api)
    cluster.clock.now = FOLLOWED_AT + timedelta(minutes=5)
    scheduler.run_due()  # "Appel imagerie et IA" was there before the follow
    return scheduler


def ingested_then_run(cluster: Cluster, scheduler: Scheduler) -> None:
    """Staff ingest the folder on 21 November; the follow job runs five minutes later."""
    cluster.clock.now = ADDED_AT
    assert cluster.services.ingestor().run([cluster.kb]).ok
    cluster.clock.now = ADDED_AT + timedelta(minutes=5)
    scheduler.run_due()


def test_editing_a_table_makes_only_its_added_row_news(tmp_path, cluster, slack_api):
    """Staff fix a typo in the first table and add a row: the table is ingested again, its old calls are not new."""
    scheduler = following_medical_imaging(tmp_path, cluster, slack_api)
    (cluster.kb / "calls.csv").write_text(CALLS.replace("high-risk", "high risk") + (
        "ECHO;Appel échographie assistée par IA;funding_call;2027-04-01;public;fr;https://kb.test/echo;"
        "Imagerie médicale : échographie guidée par intelligence artificielle.\n"), encoding="utf-8")
    ingested_then_run(cluster, scheduler)
    assert [p["text"] for p in dms(slack_api, MEMBER)] == [
        "New funding call about “medical imaging”: Appel échographie assistée par IA"]


def test_a_call_added_as_cancelled_is_not_news(tmp_path, cluster, slack_api):
    """Staff add a table where a call on the followed topic is already marked cancelled: no message for it."""
    scheduler = following_medical_imaging(tmp_path, cluster, slack_api)
    (cluster.kb / "added.csv").write_text(
        "reference;title;kind;deadline;audience;language;url;description;status\n"
        "ECHO;Appel échographie assistée par IA;funding_call;2027-04-01;public;fr;https://kb.test/echo;"
        "Imagerie médicale : échographie guidée par intelligence artificielle.;annulé\n"
        "IRM;Appel IRM et IA;funding_call;2027-05-01;public;fr;https://kb.test/irm;"
        "Imagerie médicale : IRM et intelligence artificielle.;\n", encoding="utf-8")
    ingested_then_run(cluster, scheduler)
    assert [p["text"] for p in dms(slack_api, MEMBER)] == ["New funding call about “medical imaging”: Appel IRM et IA"]


def test_an_event_added_as_cancelled_is_not_news(tmp_path, cluster, slack_api):
    """Staff add a calendar where a workshop on the followed topic is already cancelled: only the other is news."""
    scheduler = following_medical_imaging(tmp_path, cluster, slack_api)

    def event(uid: str, day: str, title: str, status: str) -> str:
        return (f"BEGIN:VEVENT\r\nUID:{uid}@kb.test\r\nDTSTAMP:20261121T090000Z\r\n"
                f"DTSTART;TZID=Europe/Paris:{day}T140000\r\nDTEND;TZID=Europe/Paris:{day}T170000\r\n"
                f"SUMMARY:{title}\r\nDESCRIPTION:Imagerie médicale et intelligence artificielle.\r\n"
                f"STATUS:{status}\r\nURL:https://kb.test/{uid}\r\nEND:VEVENT\r\n")

    (cluster.kb / "events.ics").write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//kb.test//EN\r\n"
        + event("echo", "20270114", "Atelier échographie et IA", "CANCELLED")
        + event("irm", "20270121", "Atelier IRM et IA", "CONFIRMED") + "END:VCALENDAR\r\n", encoding="utf-8")
    ingested_then_run(cluster, scheduler)
    assert [p["text"] for p in dms(slack_api, MEMBER)] == ["New event about “medical imaging”: Atelier IRM et IA"]


def test_a_message_slack_refuses_is_counted_for_staff_and_not_sent_twice(tmp_path, cluster, slack_api):
    path = tmp_path / "state.sqlite3"
    concierge(slack_app(cluster, BotState(path, clock=cluster.clock), slack_api, path), slack_api,
              "follow medical AI")
    scheduler = slack_scheduler(cluster, path, slack_api)
    cluster.add_calls()
    slack_api.fail_next("chat.postMessage", 500)
    cluster.clock.now = ADDED_AT + timedelta(minutes=5)
    scheduler.run_due()
    [status] = scheduler.status()
    assert status.last is not None and status.last.result.endswith("0 messages sent, 1 could not be sent")
    cluster.clock.now = ADDED_AT + timedelta(minutes=10)
    scheduler.run_due()
    assert dms(slack_api, MEMBER) == []


def test_forget_me_removes_the_members_follows_and_says_so(tmp_path, cluster, slack_api):
    path = tmp_path / "state.sqlite3"
    state = BotState(path, clock=cluster.clock)
    app = slack_app(cluster, state, slack_api, path)
    concierge(app, slack_api, "follow medical AI")
    concierge(app, slack_api, "follow export", user=OTHER)

    reply = concierge(app, slack_api, "forget-me")
    assert "follows: 1" in reply
    assert concierge(app, slack_api, "following").startswith("You follow no topic yet")
    assert [f.topic for f in state.follows("slack")] == ["export"], "another member's follow stays"

    cluster.add_calls()
    cluster.clock.now = ADDED_AT + timedelta(minutes=5)
    slack_scheduler(cluster, path, slack_api).run_due()
    assert dms(slack_api, MEMBER) == []


def test_follows_are_purged_after_the_retention(tmp_path, cluster):
    state = BotState(tmp_path / "state.sqlite3", clock=cluster.clock)
    state.add_follow("slack", MEMBER, key="medical ai", topic="medical AI", language="en", role="member")
    assert state.purge(FOLLOWED_AT - timedelta(days=1))["follows"] == 0
    assert state.purge(FOLLOWED_AT + timedelta(seconds=1))["follows"] == 1
    assert state.follows("slack", MEMBER) == []


# --- Teams ------------------------------------------------------------------------------------------------------


@pytest.fixture
def connector() -> Iterator[ConnectorService]:
    service = ConnectorService()
    yield service
    service.close()


def teams_message(text: str, connector: ConnectorService, *, conversation_type: str = "personal",
                  conversation_id: str = "a:personal-1") -> dict:
    """A message from the member to the bot (expectReplies: the replies come back in the response)."""
    body = {"type": "message", "id": str(uuid.uuid4()), "channelId": "msteams", "serviceUrl": connector.url,
            "from": {"id": "29:member-user", "name": "Member", "aadObjectId": "aad-member"},
            "recipient": {"id": "28:concierge", "name": "Concierge"},
            "conversation": {"id": conversation_id, "conversationType": conversation_type, "tenantId": "t1"},
            "text": text, "locale": "en-US", "deliveryMode": "expectReplies"}
    return body


def post_to(server: AiohttpServer, body: dict) -> list[str]:
    request = urllib.request.Request(f"{server.url}/api/messages", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        raw = response.read()
    return [a.get("text", "") for a in (json.loads(raw) if raw else {}).get("activities", [])
            if a.get("type") == "message"]


def test_a_teams_member_follows_in_a_1_1_chat_and_is_told_there(tmp_path, cluster, connector):
    state = BotState(tmp_path / "state.sqlite3", clock=cluster.clock)
    server = AiohttpServer(create_web_app(cluster.services, BotSettings(_env_file=None), state,
                                          allow_anonymous=True))
    try:
        in_channel = teams_message("follow medical AI", connector, conversation_type="channel",
                                   conversation_id="19:general@thread.tacv2")
        assert post_to(server, in_channel) == [
            "To follow a topic, write “follow &lt;topic&gt;” to me in a 1:1 chat: that is where I'll tell you."]
        assert post_to(server, teams_message("follow medical AI", connector)) == [
            "I'll tell you when a call or an event about “medical AI” is added."]
        assert post_to(server, teams_message("following", connector)) == [
            "You follow these topics:\n\n- medical AI"]
    finally:
        server.close()
    assert [f.user for f in state.follows("teams")] == ["aad-member"], "kept under the Entra object id"

    _, adapter, _ = auth_configuration(allow_anonymous=True)  # as `python -m bot teams --allow-anonymous` wires it
    job = FollowJob(cluster.services.store, state, TopicMatcher(cluster.services.embedder), clock=cluster.clock,
                    timezone=PARIS, platform="teams", notifier=TeamsFollowNotifier(adapter, state),
                    schedule=EVERY_FIVE_MINUTES)
    cluster.add_calls()
    assert job.run(ADDED_AT + timedelta(minutes=5)).endswith("1 messages sent")
    [sent] = [a for a in connector.activities if a["path"].endswith("/activities")]
    assert sent["path"] == "/v3/conversations/a:personal-1/activities", "a new message in the member's 1:1 chat"
    assert sent["text"].splitlines()[:2] == [
        "**New funding call about “medical AI”**",
        "[Appel à projets IA et diagnostic médical](https://kb.test/ia-diagnostic) · closes 15 February 2027"]
    assert job.run(ADDED_AT + timedelta(minutes=10)) == "no new call or event"
    assert len(connector.activities) == 1
