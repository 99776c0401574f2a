"""The Teams bot through the real Agents SDK endpoint: Activities POSTed to /api/messages on a free loopback
port, with `expectReplies` (replies in the response) and in normal mode (replies POSTed to a local
`serviceUrl` that records them). Real conversation core, Chroma and embedding model behind it."""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.settings import BotSettings
from bot.state import BotState
from bot.teams.app import create_web_app
from tests.conftest import says_eic_deadline
from tests.fakes.services import BlockingIngestor
from tests.fakes.teams_service import AiohttpServer, ConnectorService
from tests.integration.conftest import BY_AUDIENCE, CORPUS

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
STAFF = "29:staff-user"
PUBLIC_CHANNEL, PUBLIC_GROUP = "19:public@thread.tacv2", "19:public-group@thread.v2"
PINGS = ("<!channel>", "<!here>", "<@U123>", "<at>", "<https://evil.test")
_LINK_TO_EVIL = re.compile(r"(?<!\\)\]\(https://evil")  # a Markdown link whose `]` is not escaped


def assert_pings_nobody(activities: list[dict]) -> None:
    """No raw mention or tag anywhere in what was sent, no Markdown link in what Teams renders as Markdown."""
    sent = json.dumps(activities, ensure_ascii=False)
    assert "Journalists download the press kit" in sent
    for ping in PINGS:
        assert ping not in sent
    markdown = [a.get("text") or "" for a in activities] + [
        block["text"] for a in activities for attachment in a.get("attachments") or []
        for block in attachment["content"]["body"]]
    assert not [text for text in markdown if _LINK_TO_EVIL.search(text)]


@pytest.fixture
def state(tmp_path, services):
    return BotState(tmp_path / "teams.sqlite3", clock=services.clock)


def start(services, state, *, anonymous: bool) -> AiohttpServer:
    settings = BotSettings(teams_staff_users=STAFF, teams_conversation_roles=f"{PUBLIC_CHANNEL}=public,"
                           f"{PUBLIC_GROUP}=public", _env_file=None)
    return AiohttpServer(create_web_app(services, settings, state, allow_anonymous=anonymous))


@pytest.fixture
def teams(services, state):
    server = start(services, state, anonymous=True)
    yield server
    server.close()


@pytest.fixture
def connector():
    service = ConnectorService()
    yield service
    service.close()


def activity(text: str, *, conversation_type: str = "personal", conversation_id: str = "a:personal-1",
             user: str = "29:member-user", service_url: str = "http://127.0.0.1:9/", expect_replies: bool = True,
             **extra) -> dict:
    body = {"type": "message", "id": str(uuid.uuid4()), "channelId": "msteams", "serviceUrl": service_url,
            "from": {"id": user, "name": "Member"}, "recipient": {"id": "28:concierge", "name": "Concierge"},
            "conversation": {"id": conversation_id, "conversationType": conversation_type, "tenantId": "t1"},
            "text": text, "locale": "fr-FR"}
    if expect_replies:
        body["deliveryMode"] = "expectReplies"
    body.update(extra)
    return body


def post(server: AiohttpServer, body: dict, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{server.url}/api/messages", data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else {}


def messages(body: dict) -> list[dict]:
    return [a for a in body.get("activities", []) if a.get("type") == "message"]


def test_a_chat_question_gets_native_citations_and_the_feedback_loop(teams):
    status, body = post(teams, activity("Quelle est la date limite de l'EIC Accelerator ?"))
    assert status == 200
    [reply] = messages(body)
    assert says_eic_deadline(reply["text"]) and "[1]" in reply["text"]
    [entity] = [e for e in reply["entities"] if e.get("type") == "https://schema.org/Message"]
    claim = entity["citation"][0]
    assert claim["position"] == 1 and claim["appearance"]["url"] == "https://kb.test/eic"
    assert "Date limite 4 mars 2027" in claim["appearance"]["abstract"]
    assert reply["channelData"]["feedbackLoopEnabled"] is True
    assert any(a.get("type") == "typing" for a in body["activities"]), "a typing indicator first"


def test_a_channel_mention_gets_an_adaptive_card_with_one_link_per_source(teams):
    status, body = post(teams, activity("<at>Concierge</at> What are the upcoming events?",
                                        conversation_type="channel",
                                        conversation_id="19:general@thread.tacv2;messageid=1"))
    [reply] = messages(body)
    card = reply["attachments"][0]["content"]
    assert reply["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    urls = [a["url"] for a in card["actions"] if a["type"] == "Action.OpenUrl"]
    assert urls == ["https://kb.test/atelier-ia", "https://kb.test/mdr-webinar"]
    assert "10 December 2026, 14:00" in json.dumps(card, ensure_ascii=False)
    assert [a["data"]["concierge_feedback"] for a in card["actions"] if a["type"] == "Action.Submit"] == ["up", "down"]


def test_follow_ups_keep_the_chat_context(teams):
    conversation = "a:personal-follow-up"
    post(teams, activity("Tell me about the EIC Accelerator", conversation_id=conversation))
    _, body = post(teams, activity("and the deadline?", conversation_id=conversation))
    assert says_eic_deadline(messages(body)[0]["text"])


@pytest.mark.parametrize("conversation_type, conversation_id, user, sees", [
    ("channel", f"{PUBLIC_CHANNEL};messageid=2", STAFF, {"public"}),  # configured public: whoever asks
    ("groupChat", PUBLIC_GROUP, STAFF, {"public"}),
    ("channel", "19:general@thread.tacv2;messageid=2", STAFF, {"public", "member"}),
    ("groupChat", "19:group@thread.v2", STAFF, {"public", "member"}),
    ("personal", "a:personal-member", "29:member-user", {"public", "member"}),
    ("personal", "a:personal-staff", STAFF, {"public", "member", "staff"}),
], ids=["public-channel", "public-group-chat", "member-channel", "member-group-chat", "member-chat", "staff-chat"])
def test_each_conversation_sees_its_audiences_sources_only(teams, conversation_type, conversation_id, user, sees):
    for audience, (question, url, words) in BY_AUDIENCE.items():
        mention = "" if conversation_type == "personal" else "<at>Concierge</at> "
        _, body = post(teams, activity(mention + question, user=user, conversation_type=conversation_type,
                                       conversation_id=conversation_id))
        seen = json.dumps(messages(body), ensure_ascii=False)
        if audience in sees:
            assert url in seen and words in seen, audience
        else:
            assert url not in seen and words not in seen, f"{audience} content in {conversation_id}"


@pytest.mark.parametrize("conversation_type", ["personal", "channel"])
def test_a_quoted_document_pings_nobody_and_makes_no_link(teams, conversation_type):
    _, body = post(teams, activity("<at>Concierge</at> Where can journalists download the press kit?",
                                   conversation_type=conversation_type, conversation_id="19:press@thread.tacv2"))
    assert_pings_nobody(messages(body))
    sent = json.dumps(messages(body), ensure_ascii=False)
    assert "&lt;!channel&gt;" in sent and "https://kb.test/press%20kit?a=1&b=2%7C%3C!channel%3E" in sent


def test_a_streamed_answer_pings_nobody_and_makes_no_link(teams, connector):
    post(teams, activity("Where can journalists download the press kit?", service_url=connector.url,
                         expect_replies=False))
    connector.wait_for(lambda a: any(e.get("streamType") == "final" for e in a.get("entities") or []), timeout=60)
    assert_pings_nobody(connector.activities)


def answer_user(tmp_path: Path, answer_id: int) -> str:
    """Who an answer was recorded for, read from the state file itself."""
    with sqlite3.connect(tmp_path / "teams.sqlite3") as db:
        return db.execute("SELECT user FROM answers WHERE id=?", (answer_id,)).fetchone()[0]


def test_card_feedback_is_tied_to_the_identity_the_answer_was_recorded_for(teams, state, tmp_path):
    sender = {"id": "29:member-user", "name": "Member", "aadObjectId": "aad-member"}
    conversation = {"conversation_type": "channel", "conversation_id": "19:c@thread.tacv2;messageid=4"}
    _, body = post(teams, activity("<at>Concierge</at> Quels appels à projets sont ouverts ?", **conversation,
                                   **{"from": sender}))
    card = messages(body)[0]["attachments"][0]["content"]
    answer_id = next(a["data"]["answer_id"] for a in card["actions"] if a["type"] == "Action.Submit")
    post(teams, activity("", **conversation, **{"from": sender},
                         value={"concierge_feedback": "down", "answer_id": answer_id}))
    assert answer_user(tmp_path, answer_id) == "aad-member"
    assert state.feedback(answer_id) == {"aad-member": -1}
    assert [(g.answer_id, g.reason) for g in state.gaps()] == [(answer_id, "marked unhelpful")]


def test_card_feedback_and_the_feedback_loop_are_recorded(teams, state):
    _, body = post(teams, activity("<at>Concierge</at> Quels appels à projets sont ouverts ?",
                                   conversation_type="channel", conversation_id="19:c@thread.tacv2;messageid=3"))
    card = messages(body)[0]["attachments"][0]["content"]
    answer_id = next(a["data"]["answer_id"] for a in card["actions"] if a["type"] == "Action.Submit")
    post(teams, activity("", conversation_type="channel", conversation_id="19:c@thread.tacv2;messageid=3",
                         value={"concierge_feedback": "down", "answer_id": answer_id}))
    assert state.feedback(answer_id) == {"29:member-user": -1}
    assert [g.platform for g in state.gaps()] == ["teams"]


def test_normal_mode_replies_go_to_the_service_url(teams, connector):
    status, _ = post(teams, activity("Combien coûte l'adhésion au cluster ?", service_url=connector.url,
                                     expect_replies=False, conversation_type="groupChat",
                                     conversation_id="19:group@thread.v2"))
    assert status in (200, 202)
    sent = connector.wait_for(lambda a: a.get("type") == "message")
    assert sent["path"].startswith("/v3/conversations/19:group@thread.v2/activities")
    assert "900 EUR" in sent["text"] and "https://kb.test/adhesion" in json.dumps(sent)


def test_one_to_one_chats_stream_in_normal_mode(teams, connector):
    post(teams, activity("How do I apply for the accreditation programme?", service_url=connector.url,
                         expect_replies=False))
    final = connector.wait_for(lambda a: any(e.get("streamType") == "final" for e in a.get("entities") or []),
                               timeout=60)
    assert "Fill in the application form" in final["text"]
    assert any(e.get("streamType") in ("informative", "streaming")
               for a in connector.activities for e in a.get("entities") or []), "streamed before the final"


@pytest.mark.parametrize("token", [None, "not-a-jwt", "a.b.c"])
def test_requests_without_a_valid_token_are_refused_when_anonymous_is_off(services, state, token):
    server = start(services, state, anonymous=False)
    try:
        status, _ = post(server, activity("Quels appels à projets sont ouverts ?"), token=token)
    finally:
        server.close()
    assert status == 401


@pytest.mark.parametrize("extra", [
    {},
    {"entities": [{"type": "mention", "mentioned": {"id": STAFF, "name": "Staff"}, "text": "<at>Staff</at>"}]},
    {"from": {"id": "29:member-user", "name": STAFF}},
], ids=["plain", "mentioning-staff", "named-like-staff"])
def test_only_the_sender_of_the_activity_counts_for_staff_commands(teams, services, monkeypatch, extra):
    ingestor = BlockingIngestor()
    monkeypatch.setattr(services, "ingestor", lambda: ingestor)
    text = "<at>Staff</at> reingest" if "entities" in extra else "reingest"
    _, body = post(teams, activity(text, **extra))
    assert "for the cluster team" in messages(body)[0]["text"]
    assert ingestor.runs == 0


def test_a_second_reingest_while_one_runs_is_told_so(teams, services, monkeypatch):
    ingestor = BlockingIngestor()
    monkeypatch.setattr(services, "ingestor", lambda: ingestor)
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            first = pool.submit(post, teams, activity("reingest", user=STAFF))
            assert ingestor.started.wait(10)
            _, second = post(teams, activity("reingest", user=STAFF))
        finally:
            ingestor.release.set()
        _, first_body = first.result(timeout=30)
    assert [m["text"] for m in messages(second)] == ["An ingestion is already running."]
    assert [m["text"][:16] for m in messages(first_body)] == ["Ingestion starte", "Ingestion done i"]
    assert ingestor.runs == 1


def test_an_error_becomes_a_polite_reply(teams, services, monkeypatch):
    def broken(incoming):  # noqa: ANN001, ANN202
        raise RuntimeError("index unavailable")

    monkeypatch.setattr(services.concierge, "answer", broken)
    _, body = post(teams, activity("Quels appels à projets sont ouverts ?"))
    assert messages(body)[0]["text"].startswith("Désolé")


def test_the_teams_feedback_loop_is_recorded_against_the_answer(teams, state, connector, tmp_path):
    sender = {"id": "29:member-user", "name": "Member", "aadObjectId": "aad-member"}
    post(teams, activity("Combien coûte l'adhésion au cluster ?", service_url=connector.url, expect_replies=False,
                         conversation_type="groupChat", conversation_id="19:feedback@thread.v2", **{"from": sender}))
    sent = connector.wait_for(lambda a: a.get("type") == "message")
    message_id = f"sent-{connector.activities.index(sent) + 1}"
    status, _ = post(teams, {**activity("", conversation_type="groupChat", conversation_id="19:feedback@thread.v2",
                                        service_url=connector.url, expect_replies=False, **{"from": sender}),
                             "type": "invoke", "name": "message/submitAction", "replyToId": message_id,
                             "value": {"actionName": "feedback", "actionValue": {
                                 "reaction": "dislike", "feedback": "{\"feedbackText\":\"old\"}"}}})
    assert status == 200
    [gap] = state.gaps()
    assert gap.reason == "marked unhelpful" and gap.question == "Combien coûte l'adhésion au cluster ?"
    assert answer_user(tmp_path, gap.answer_id) == "aad-member"
    assert state.feedback(gap.answer_id) == {"aad-member": -1}


def test_staff_reingest_in_a_chat_returns_the_summary(teams, services):
    services.settings.sources = [Path(services.store.sources()["kb/calls.csv"].root)]  # the folder indexed at start
    _, body = post(teams, activity("reingest", user=STAFF))
    started, text = (m["text"] for m in messages(body))
    assert started == "Ingestion started…"
    assert text.startswith("Ingestion done") and f"{len(CORPUS)} unchanged" in text and "0 failed" in text


def test_a_failed_reingest_is_reported_to_staff_in_one_line(teams, services, monkeypatch):
    class Broken:
        def run(self, sources):  # noqa: ANN001, ANN201
            raise RuntimeError("disk full")

    monkeypatch.setattr(services, "ingestor", lambda: Broken())
    _, body = post(teams, activity("reingest", user=STAFF))
    assert [m["text"] for m in messages(body)] == [
        "Ingestion started…", "The ingestion failed; the details are in the bot's log."]
