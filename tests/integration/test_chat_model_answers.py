"""Answers written by a chat model: citations checked, failures answered extractively, never silence.

LangChain's fake chat models for the logic; a local OpenAI-compatible server for the real client path
(`KB_LLM=openai:...` with `KB_LLM_BASE_URL`), its timeouts and errors.
"""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from pydantic import SecretStr

from bot.conversation import Incoming
from bot.wiring import Services, make_chat_model
from knowledge.settings import KnowledgeSettings
from tests.fakes.chat import FailingChatModel, OpenAIStub
from tests.integration.conftest import TODAY

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
QUESTION = "What is the deadline of the EIC Accelerator?"


@pytest.fixture
def with_model(services):
    """Services sharing the module's index and embedder, with another chat model."""

    def build(model) -> Services:  # noqa: ANN001
        return Services(services.settings, embedder=services.embedder, store=services.store, chat_model=model,
                        clock=services.clock)

    return build


def ask(built: Services, text: str = QUESTION):
    return built.concierge.answer(Incoming(text, now=TODAY))


def test_a_cited_answer_is_sent_with_only_the_cited_sources(with_model):
    reply = ask(with_model(FakeListChatModel(responses=["The deadline is 4 March 2027 [1]."])))
    assert reply.answer == "The deadline is 4 March 2027 [1]."
    assert [s.title for s in reply.sources] == ["EIC Accelerator"]
    assert reply.note is None


def test_citations_are_renumbered_in_the_order_they_appear(with_model):
    reply = ask(with_model(FakeListChatModel(responses=["Apply before 4 March 2027 [2][1]."])))
    assert reply.answer == "Apply before 4 March 2027 [1][2]."
    assert len(reply.sources) == 2 and [s.n for s in reply.sources] == [1, 2]


@pytest.mark.parametrize("invented", ["The deadline is 4 March 2027.", "The deadline is 4 March 2027 [9]."])
def test_an_answer_citing_nothing_or_a_missing_passage_is_not_sent(with_model, invented):
    reply = ask(with_model(FakeListChatModel(responses=[invented])))
    assert reply.answer != invented
    assert "could not be checked" in reply.answer
    assert reply.sources[0].title == "EIC Accelerator" and "2027-03-04" in reply.answer


def test_a_failing_model_gets_the_extractive_answer_with_a_note(with_model):
    reply = ask(with_model(FailingChatModel()))
    assert "unavailable" in reply.note and "2027-03-04" in reply.answer


def test_the_model_saying_no_answer_becomes_an_honest_abstention(with_model):
    reply = ask(with_model(FakeListChatModel(responses=["NO_ANSWER"])))
    assert reply.abstained and "team@kb.test" in reply.answer


def _openai_settings(services, stub: OpenAIStub, timeout: float = 5.0) -> KnowledgeSettings:
    return services.settings.model_copy(update={
        "llm": "openai:stub-model", "llm_base_url": stub.url, "llm_api_key": SecretStr("test-key"), "llm_timeout": timeout})


def test_an_openai_compatible_server_gets_the_passages_and_its_answer_is_used(services, with_model):
    with OpenAIStub(reply="La date limite est le 4 mars 2027 [1].") as stub:
        settings = _openai_settings(services, stub)
        reply = ask(with_model(make_chat_model(settings)), "Quelle est la date limite de l'EIC Accelerator ?")
    assert reply.answer == "La date limite est le 4 mars 2027 [1]."
    [request] = stub.requests
    assert request["path"] == "/v1/chat/completions" and request["body"]["model"] == "stub-model"
    assert request["auth"] == "Bearer test-key"
    system = request["body"]["messages"][0]["content"]
    assert "[1] EIC Accelerator" in system and "Answer in French" in system


@pytest.mark.parametrize("stub_kwargs", [{"delay": 3.0}, {"status": 500}, {"status": 429}])
def test_server_timeouts_and_errors_fall_back_to_the_extractive_answer(services, with_model, stub_kwargs):
    with OpenAIStub(reply="late [1]", **stub_kwargs) as stub:
        reply = ask(with_model(make_chat_model(_openai_settings(services, stub, timeout=1.0))))
    assert reply.note and "unavailable" in reply.note
    assert "2027-03-04" in reply.answer and reply.sources
