"""The Teams bot through the real Agents SDK endpoint: Activities POSTed to /api/messages on a free loopback
port, with `expectReplies` (replies in the response) and in normal mode (replies POSTed to a local
`serviceUrl` that records them). Real conversation core, Chroma and embedding model behind it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

from bot.settings import BotSettings
from bot.state import BotState
from bot.teams.app import create_web_app
from tests.fakes.teams_service import AiohttpServer, ConnectorService

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
STAFF = "29:staff-user"


@pytest.fixture
def state(tmp_path, services):
    return BotState(tmp_path / "teams.sqlite3", clock=services.clock)


def start(services, state, *, anonymous: bool) -> AiohttpServer:
    settings = BotSettings(teams_staff_users=STAFF, teams_conversation_roles="19:public@thread.tacv2=public",
                           _env_file=None)
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
    assert "2027-03-04" in reply["text"] and "[1]" in reply["text"]
    [entity] = [e for e in reply["entities"] if e.get("type") == "https://schema.org/Message"]
    claim = entity["citation"][0]
    assert claim["position"] == 1 and claim["appearance"]["url"] == "https://kb.test/eic"
    assert "Date limite 2027-03-04" in claim["appearance"]["abstract"]
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
    assert "2026-12-10 14:00" in json.dumps(card, ensure_ascii=False)
    assert [a["data"]["concierge_feedback"] for a in card["actions"] if a["type"] == "Action.Submit"] == ["up", "down"]


def test_follow_ups_keep_the_chat_context(teams):
    conversation = "a:personal-follow-up"
    post(teams, activity("Tell me about the EIC Accelerator", conversation_id=conversation))
    _, body = post(teams, activity("and the deadline?", conversation_id=conversation))
    assert "2027-03-04" in messages(body)[0]["text"]


def test_staff_documents_never_reach_a_channel_but_reach_staff_in_a_chat(teams):
    question = "What is the internal escalation procedure for invoices?"
    _, channel = post(teams, activity(question, user=STAFF, conversation_type="channel",
                                      conversation_id="19:general@thread.tacv2;messageid=2"))
    assert "kb.test/internal" not in json.dumps(channel)
    _, chat = post(teams, activity(question, user=STAFF))
    assert "kb.test/internal" in json.dumps(chat)


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


def test_non_staff_cannot_reingest(teams):
    _, body = post(teams, activity("reingest"))
    assert "for the cluster team" in messages(body)[0]["text"]


def test_an_error_becomes_a_polite_reply(teams, services, monkeypatch):
    def broken(incoming):  # noqa: ANN001, ANN202
        raise RuntimeError("index unavailable")

    monkeypatch.setattr(services.concierge, "answer", broken)
    _, body = post(teams, activity("Quels appels à projets sont ouverts ?"))
    assert messages(body)[0]["text"].startswith("Désolé")


def test_the_teams_feedback_loop_is_recorded_against_the_answer(teams, state, connector):
    post(teams, activity("Combien coûte l'adhésion au cluster ?", service_url=connector.url, expect_replies=False,
                         conversation_type="groupChat", conversation_id="19:feedback@thread.v2"))
    sent = connector.wait_for(lambda a: a.get("type") == "message")
    message_id = f"sent-{connector.activities.index(sent) + 1}"
    status, _ = post(teams, {**activity("", conversation_type="groupChat", conversation_id="19:feedback@thread.v2",
                                        service_url=connector.url, expect_replies=False),
                             "type": "invoke", "name": "message/submitAction", "replyToId": message_id,
                             "value": {"actionName": "feedback",
                                       "actionValue": {"reaction": "dislike", "feedback": "{\"feedbackText\":\"old\"}"}}})
    assert status == 200
    [gap] = state.gaps()
    assert gap.reason == "marked unhelpful" and gap.question == "Combien coûte l'adhésion au cluster ?"


def test_staff_reingest_in_a_chat_returns_the_summary(teams, services):
    from pathlib import Path

    services.settings.sources = [Path(services.store.sources()["kb/calls.csv"].root)]  # the folder indexed at start
    _, body = post(teams, activity("reingest", user=STAFF))
    text = messages(body)[0]["text"]
    assert text.startswith("Ingestion done") and "5 unchanged" in text and "0 failed" in text
