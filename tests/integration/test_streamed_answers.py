"""A chat model's answer streamed into Slack and Teams while it is written: the real bolt App and the real Agents
SDK endpoint, a recording Slack Web API and Bot Connector, and an OpenAI-compatible stub streaming its reply word
by word. The member sees checked sentences as they come, then the sources and feedback; a reply failing its check
after it was shown is replaced by the extractive answer."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr
from slack_sdk import WebClient

from bot.settings import BotSettings
from bot.slack.app import create_app
from bot.state import BotState
from bot.wiring import Services, make_chat_model
from tests.conftest import SHARED_DATA, says_eic_deadline
from tests.fakes.chat import OpenAIStub
from tests.fakes.slack_api import SlackAPIServer
from tests.fakes.slack_events import SECRET, mention, send_event, text_of
from tests.fakes.teams_service import ConnectorService
from tests.integration.test_teams_app import activity, post, start

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
QUESTION = "What is the deadline of the EIC Accelerator?"
# Passage [2] is the feasibility aid, [1] the EIC Accelerator: the member reads them numbered in citation order.
STREAMED = ("Feasibility studies of medtech projects were funded up to EUR 30,000 [2]. "
            "The EIC Accelerator closes on 4 March 2027 [1]. Single start-ups and SMEs can apply [1].")
FAILING = "The EIC Accelerator closes on 4 March 2027 [1]. It grants up to €25 million [1]. Apply online soon."


@pytest.fixture
def with_chat_model(services, tmp_path):
    """Services answering with the stub as `KB_LLM=openai:...` (the module's index and embedder)."""

    def build(stub: OpenAIStub) -> Services:
        settings = services.settings.model_copy(update={
            "llm": "openai:stub-model", "llm_base_url": stub.url, "llm_api_key": SecretStr("k"), "llm_timeout": 10.0})
        return Services(settings, embedder=services.embedder, store=services.store,
                        chat_model=make_chat_model(settings), clock=services.clock)

    return build


@pytest.fixture
def slack_api():
    server = SlackAPIServer(SHARED_DATA / "slack-fixtures")
    yield server
    server.close()


def slack_app(built: Services, slack_api: SlackAPIServer, tmp_path):  # noqa: ANN001, ANN201
    settings = BotSettings(slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_url=slack_api.url,
                           state_path=tmp_path / "state.sqlite3", _env_file=None)
    state = BotState(tmp_path / "state.sqlite3", clock=built.clock)
    return create_app(built, settings, state, client=WebClient(token="xoxb-test", base_url=slack_api.url))


def streamed_text(call: dict) -> str:
    return "".join(chunk.get("text", "") for chunk in call.get("chunks") or [])


def test_slack_shows_checked_sentences_as_they_are_written_then_the_sources_and_buttons(
        with_chat_model, slack_api, tmp_path):
    slack_api.streaming = True
    with OpenAIStub(reply=STREAMED, chunk_delay=0.05) as stub:
        app = slack_app(with_chat_model(stub), slack_api, tmp_path)
        send_event(app, mention(QUESTION, ts="1700002000.1"))
        [stopped] = slack_api.wait_for("chat.stopStream")
    [started] = slack_api.of("chat.startStream")
    assert started["thread_ts"] == "1700002000.1"
    assert streamed_text(started) == "Feasibility studies of medtech projects were funded up to EUR 30,000 [1]."
    assert [streamed_text(c) for c in slack_api.of("chat.appendStream")] == [
        " The EIC Accelerator closes on 4 March 2027 [2]."]
    assert streamed_text(stopped) == " Single start-ups and SMEs can apply [2]."
    sources = json.dumps(stopped["blocks"])
    assert "https://kb.test/feasibility" in sources and "https://kb.test/eic" in sources
    assert sources.index("kb.test/feasibility") < sources.index("kb.test/eic"), "numbered in citation order"
    assert "feedback_up" in sources and "feedback_down" in sources
    started_at = slack_api.arrivals[[m for m, _ in slack_api.calls].index("chat.startStream")]
    assert started_at < stub.streamed[-1], "the first sentence was in Slack before the model finished"
    assert slack_api.of("chat.postMessage") == [] and slack_api.of("chat.update") == []


def test_slack_replaces_a_streamed_reply_that_fails_its_check_with_the_extractive_answer(
        with_chat_model, slack_api, tmp_path):
    slack_api.streaming = True
    with OpenAIStub(reply=FAILING) as stub:
        app = slack_app(with_chat_model(stub), slack_api, tmp_path)
        send_event(app, mention(QUESTION, ts="1700002100.1"))
        [update] = slack_api.wait_for("chat.update")
    [started] = slack_api.of("chat.startStream")
    assert streamed_text(started) == "The EIC Accelerator closes on 4 March 2027 [1]."
    assert "25 million" not in json.dumps(slack_api.calls), "the unchecked sentence was never shown"
    methods = [m for m, _ in slack_api.calls if m.startswith("chat.")]
    assert methods.index("chat.stopStream") < methods.index("chat.update")
    assert update["ts"] == "123.123", "the streamed message itself is rewritten"
    replaced = text_of(update)
    assert "could not be checked" in replaced and says_eic_deadline(replaced) and "feedback_up" in replaced
    assert slack_api.of("chat.postMessage") == []


def test_slack_without_streaming_posts_the_checked_reply_once(with_chat_model, slack_api, tmp_path):
    with OpenAIStub(reply=STREAMED) as stub:
        app = slack_app(with_chat_model(stub), slack_api, tmp_path)
        send_event(app, mention(QUESTION, ts="1700002200.1"))
        [post_] = slack_api.wait_for("chat.postMessage")
        send_event(app, mention(QUESTION, ts="1700002201.1"))
        slack_api.wait_for("chat.postMessage", 2)
    assert "Feasibility studies of medtech projects were funded up to EUR 30,000 [1]." in text_of(post_)
    assert len(slack_api.of("chat.startStream")) == 1, "refused once: not tried again"


@pytest.fixture
def connector():
    service = ConnectorService()
    yield service
    service.close()


def is_final(sent: dict) -> bool:
    return any(e.get("streamType") == "final" for e in sent.get("entities") or [])


def streaming_texts(connector: ConnectorService) -> list[str]:
    return [a.get("text") or "" for a in connector.activities
            if any(e.get("streamType") == "streaming" for e in a.get("entities") or [])]


def test_teams_streams_checked_sentences_then_the_final_message_with_citations(with_chat_model, connector, tmp_path):
    with OpenAIStub(reply=STREAMED, chunk_delay=0.05) as stub:
        built = with_chat_model(stub)
        teams = start(built, BotState(tmp_path / "teams.sqlite3", clock=built.clock), anonymous=True)
        try:
            post(teams, activity(QUESTION, service_url=connector.url, expect_replies=False))
            final = connector.wait_for(is_final, timeout=60)
        finally:
            teams.close()
    partial = streaming_texts(connector)
    assert partial and partial[0].startswith("Feasibility studies of medtech projects were funded up to EUR 30,000 [1].")
    assert "Single start-ups" not in partial[0], "streamed before the reply was complete"
    answer = STREAMED.replace("[2]", "[x]").replace("[1]", "[2]").replace("[x]", "[1]")
    assert final["text"].startswith(answer + "\n\n[1] [Feasibility aid for medtech projects](https://kb.test/feasibility)")
    [entity] = [e for e in final["entities"] if e.get("type") == "https://schema.org/Message"]
    assert {c["position"]: c["appearance"]["url"] for c in entity["citation"]} == {  # the SDK lists them unordered
        1: "https://kb.test/feasibility", 2: "https://kb.test/eic"}
    assert "feedbackLoop" in final["channelData"]


def test_teams_replaces_a_streamed_reply_that_fails_its_check_in_the_final_message(
        with_chat_model, connector, tmp_path):
    with OpenAIStub(reply=FAILING, chunk_delay=0.05) as stub:
        built = with_chat_model(stub)
        teams = start(built, BotState(tmp_path / "teams.sqlite3", clock=built.clock), anonymous=True)
        try:
            post(teams, activity(QUESTION, service_url=connector.url, expect_replies=False))
            final = connector.wait_for(is_final, timeout=60)
        finally:
            teams.close()
    assert any(text.startswith("The EIC Accelerator closes on 4 March 2027 [1].") for text in streaming_texts(connector))
    assert "25 million" not in json.dumps(connector.activities)
    assert final["text"].startswith("Here is what the cluster's sources say:")
    assert "could not be checked" in final["text"] and says_eic_deadline(final["text"])
