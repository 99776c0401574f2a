"""Answers written by a chat model: in the member's language, every sentence checked against the passages it
cites, "I don't know" when they do not answer, shown while written, and never later than KB_LLM_TIMEOUT; failures
answered extractively, never silence.

LangChain's fake chat models for the logic; a local OpenAI-compatible server for the real client path
(`KB_LLM=openai:...` with `KB_LLM_BASE_URL`): streamed replies, retries, timeouts and errors.
"""

from __future__ import annotations

import time

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from pydantic import SecretStr

from bot.conversation import Incoming
from bot.wiring import Services, make_chat_model
from knowledge.settings import KnowledgeSettings
from tests.conftest import says_eic_deadline
from tests.fakes.chat import FailingChatModel, OpenAIStub
from tests.integration.conftest import TODAY

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
QUESTION = "What is the deadline of the EIC Accelerator?"


@pytest.fixture
def with_model(services):
    """Services sharing the module's index and embedder, with another chat model."""

    def build(model, settings: KnowledgeSettings | None = None) -> Services:  # noqa: ANN001
        return Services(settings or services.settings, embedder=services.embedder, store=services.store,
                        chat_model=model, clock=services.clock)

    return build


def ask(built: Services, text: str = QUESTION, on_text=None):  # noqa: ANN001
    return built.concierge.answer(Incoming(text, now=TODAY, on_text=on_text))


def test_a_cited_answer_is_sent_with_only_the_cited_sources(with_model):
    reply = ask(with_model(FakeListChatModel(responses=["The deadline is 4 March 2027 [1]."])))
    assert reply.answer == "The deadline is 4 March 2027 [1]."
    assert [s.title for s in reply.sources] == ["EIC Accelerator"]
    assert reply.note is None


def test_citations_are_renumbered_in_the_order_they_appear(with_model):
    reply = ask(with_model(FakeListChatModel(responses=["Apply before 4 March 2027 [2][1]."])))
    assert reply.answer == "Apply before 4 March 2027 [1][2]."
    assert len(reply.sources) == 2 and [s.n for s in reply.sources] == [1, 2]


def test_an_answer_without_markers_is_cited_to_the_passage_holding_its_facts(with_model):
    """Small local models often answer right but drop the [n]: the passage holding every fact is cited."""
    reply = ask(with_model(FakeListChatModel(responses=["The deadline is 4 March 2027."])))
    assert reply.answer == "The deadline is 4 March 2027. [1]" and reply.note is None
    assert [s.title for s in reply.sources] == ["EIC Accelerator"]


def test_a_sentence_citing_the_wrong_passage_is_cited_to_the_one_holding_its_facts(with_model):
    """The model numbered the passages wrongly: the link goes where the date is, and the date is still checked."""
    reply = ask(with_model(FakeListChatModel(responses=["The deadline is 4 March 2027 [2]."])))
    assert reply.answer == "The deadline is 4 March 2027 [1]." and reply.note is None
    assert [s.title for s in reply.sources] == ["EIC Accelerator"]


@pytest.mark.parametrize("invented", ["The deadline is 9 March 2027.", "The deadline is 4 March 2027 [9].", "[1]",
                                      "Apply online.", "What is the deadline of the EIC Accelerator? [1]"])
def test_an_answer_citing_nothing_or_a_missing_passage_is_not_sent(with_model, invented):
    reply = ask(with_model(FakeListChatModel(responses=[invented])))
    assert reply.answer != invented
    assert "could not be checked" in reply.answer
    assert reply.sources[0].title == "EIC Accelerator" and says_eic_deadline(reply.answer)


def test_a_failing_model_gets_the_extractive_answer_with_a_note(with_model):
    reply = ask(with_model(FailingChatModel()))
    assert "unavailable" in reply.note and says_eic_deadline(reply.answer)


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
    assert says_eic_deadline(reply.answer) and reply.sources


def with_stub(services, with_model, stub: OpenAIStub, timeout: float = 5.0) -> Services:
    """Services whose chat model is the stub, as `KB_LLM=openai:...` builds it (one timeout for both)."""
    settings = _openai_settings(services, stub, timeout)
    return with_model(make_chat_model(settings), settings)


# --- the member's language -----------------------------------------------------------------------------------

FRENCH_QUESTION = "Quelle est la date limite de l'EIC Accelerator ?"
ENGLISH_REPLY = "The deadline of the EIC Accelerator is 4 March 2027 [1]. Single start-ups and SMEs can apply [1]."
FRENCH_REPLY = "La date limite de l'EIC Accelerator est le 4 mars 2027 [1]. Le programme finance des start-ups [1]."


def test_a_reply_in_another_language_is_asked_again_in_the_members_language(services, with_model):
    with OpenAIStub(replies=[ENGLISH_REPLY, FRENCH_REPLY]) as stub:
        reply = ask(with_stub(services, with_model, stub), FRENCH_QUESTION)
    assert reply.answer == FRENCH_REPLY and reply.note is None
    first, second = (r["body"]["messages"][0]["content"] for r in stub.requests)
    assert "Answer in French" in first
    assert second.startswith("Tu es l'assistant") and "Réponds en français" in second
    assert "[1] EIC Accelerator (ouvert jusqu'au 4 mars 2027)" in second, "the retry's passages speak French too"


def test_a_second_reply_in_another_language_gets_the_extractive_answer(services, with_model):
    with OpenAIStub(replies=[ENGLISH_REPLY, ENGLISH_REPLY]) as stub:
        reply = ask(with_stub(services, with_model, stub), FRENCH_QUESTION)
    assert len(stub.requests) == 2
    assert "pas dans la langue de votre question" in reply.note and says_eic_deadline(reply.answer)
    assert reply.answer.startswith("Voici ce qu'indiquent les sources")


# --- every sentence checked against the passages it cites -----------------------------------------------------

@pytest.mark.parametrize("question, honest", [
    (QUESTION, "The EIC Accelerator closes on 04/03/2027 and grants up to €2,500,000 [1]."),
    (QUESTION, "Apply by March 4, 2027 for a grant of up to 2.5 million euros [1]. Single start-ups and SMEs "
               "are eligible [1]."),
    (QUESTION, "The European Innovation Council runs the EIC Accelerator for start-ups and SMEs. Its deadline "
               "is 2027-03-04 [1]."),  # the first sentence borrows the citation that closes its paragraph
    (FRENCH_QUESTION, "La date limite de l'EIC Accelerator est le 4 mars 2027, pour une subvention "
                      "jusqu'à 2,5 millions d'euros [1]."),
    ("Was ist die Frist für den EIC Accelerator?", "Die Frist für den EIC Accelerator endet am 4. März 2027; "
                                                   "gefördert werden bis zu 2.500.000 EUR [1]."),
], ids=["numeric-date-and-grouped-amount", "us-date-and-million", "borrowed-citation", "french", "german"])
def test_an_honest_reply_with_reworded_numbers_and_dates_is_sent(services, with_model, question, honest):
    with OpenAIStub(reply=honest) as stub:
        reply = ask(with_stub(services, with_model, stub), question)
    assert reply.answer == honest and reply.note is None
    assert [s.title for s in reply.sources] == ["EIC Accelerator"]


@pytest.mark.parametrize("invented", [
    "The EIC Accelerator grants up to €25 million; apply by 4 March 2027 [1].",
    "The deadline of the EIC Accelerator is 14 March 2027 [1].",
    "The EIC Accelerator is run by Bpifrance and closes on 4 March 2027 [1].",
    "The EIC Accelerator closes on 2026-10-31 [1].",  # the date of passage [2], cited as [1]
    "The EIC Accelerator closes on 4 March 2027 [1].\n\nIt was launched in 2021.",  # a fact citing nothing
], ids=["amount", "date", "name", "misattributed", "uncited"])
def test_a_sentence_stating_what_its_passage_does_not_gets_the_extractive_answer(services, with_model, invented):
    with OpenAIStub(reply=invented) as stub:
        reply = ask(with_stub(services, with_model, stub))
    assert "could not be checked" in reply.note and "could not be checked" in reply.answer
    assert says_eic_deadline(reply.answer) and reply.sources[0].title == "EIC Accelerator"


# --- abstention ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("question, said", [
    ("Who is the speaker of the AI workshop in Lyon?", "I don't know: the passages do not mention the speaker."),
    ("Qui anime l'atelier IA en santé à Lyon ?", "Les passages ne précisent pas qui anime cet atelier de 2026."),
    ("Wer leitet den KI-Workshop in Lyon?", "Die Passagen enthalten keine Angaben zur Leitung des Workshops."),
    ("Who is the speaker of the AI workshop in Lyon?", "NO_ANSWER"),
], ids=["en", "fr", "de", "no-answer"])
def test_a_model_saying_the_passages_do_not_answer_is_an_honest_i_dont_know(services, with_model, question, said):
    shown: list[str] = []
    with OpenAIStub(reply=said) as stub:
        reply = ask(with_stub(services, with_model, stub), question, on_text=shown.append)
    assert len(stub.requests) == 1, "retrieval found passages: the model was asked"
    assert reply.abstained and "team@kb.test" in reply.answer and reply.sources == []
    assert reply.note is None, "an abstention is not a failed check"
    assert shown == [], "nothing of it was shown while it was written"


# --- shown while written ----------------------------------------------------------------------------------------

STREAMED = ("Feasibility studies of medtech projects were funded up to EUR 30,000 [2]. "
            "The EIC Accelerator closes on 4 March 2027 [1]. Single start-ups and SMEs can apply [1].")


def test_a_streamed_reply_is_shown_sentence_by_sentence_with_its_final_numbers(services, with_model):
    shown: list[tuple[float, str]] = []
    with OpenAIStub(reply=STREAMED, chunk_delay=0.05) as stub:
        reply = ask(with_stub(services, with_model, stub), on_text=lambda text: shown.append((time.perf_counter(), text)))
    assert stub.requests[0]["body"]["stream"] is True
    assert [text for _, text in shown] == [
        "Feasibility studies of medtech projects were funded up to EUR 30,000 [1].",
        " The EIC Accelerator closes on 4 March 2027 [2]."]
    assert shown[0][0] < stub.streamed[-1], "the first sentence was shown before the model finished"
    assert reply.answer == "".join(text for _, text in shown) + " Single start-ups and SMEs can apply [2]."
    assert [s.title for s in reply.sources] == ["Feasibility aid for medtech projects", "EIC Accelerator"]


def test_a_streamed_reply_failing_later_is_replaced_by_the_extractive_answer(services, with_model):
    shown: list[str] = []
    failing = "The EIC Accelerator closes on 4 March 2027 [1]. It grants up to €25 million [1]. More follows here."
    with OpenAIStub(reply=failing) as stub:
        reply = ask(with_stub(services, with_model, stub), on_text=shown.append)
    assert shown == ["The EIC Accelerator closes on 4 March 2027 [1]."]
    assert not reply.answer.startswith(shown[0]) and "could not be checked" in reply.answer


def test_a_streamed_reply_opening_on_a_question_shows_it_only_with_its_answer(services, with_model):
    # The 1.5B model sometimes gives the member's question back: never flashed on screen before it is judged.
    shown: list[str] = []
    echoed = "What is the deadline of the EIC Accelerator? [1] It closes on 4 March 2027 [1]."
    with OpenAIStub(reply=echoed + " Single start-ups and SMEs can apply [1].", chunk_delay=0.01) as stub:
        reply = ask(with_stub(services, with_model, stub), on_text=shown.append)
    assert shown == [echoed], "the question is shown with the answer after it, not before"
    assert reply.answer == echoed + " Single start-ups and SMEs can apply [1]."
    shown.clear()
    with OpenAIStub(reply="What is the deadline of the EIC Accelerator? [1]", chunk_delay=0.01) as stub:
        reply = ask(with_stub(services, with_model, stub), on_text=shown.append)
    assert shown == [] and "could not be checked" in reply.answer


# --- never later than KB_LLM_TIMEOUT ------------------------------------------------------------------------------

def test_a_model_silent_past_the_timeout_gets_the_extractive_answer_on_time(services, with_model):
    with OpenAIStub(reply=STREAMED, delay=6.0) as stub:
        reply = ask(with_stub(services, with_model, stub, timeout=1.0))
        waited = time.perf_counter() - stub.arrivals[0]  # from the model call: retrieval is not its budget
    assert "unavailable" in reply.note and says_eic_deadline(reply.answer)
    # Not a speed measure: the member is not kept waiting for the model (6 s), whatever the machine's load.
    assert waited < 4.0, f"answered {waited:.1f}s after the model was asked"


def test_a_stream_running_past_the_timeout_is_stopped_for_the_extractive_answer(services, with_model):
    shown: list[str] = []
    with OpenAIStub(reply=STREAMED, chunk_delay=0.25) as stub:  # 30 words: about 7.5 s, the first sentence at 3 s
        reply = ask(with_stub(services, with_model, stub, timeout=4.0), on_text=shown.append)
        waited = time.perf_counter() - stub.arrivals[0]
    assert shown, "part of the reply was shown before the deadline"
    assert "unavailable" in reply.note and not reply.answer.startswith(shown[0])
    assert waited < 6.5, f"answered {waited:.1f}s after the model was asked: the stream was waited for"


def test_the_language_retry_shares_the_timeout(services, with_model):
    """3 s per reply, 4 s in all: the retry is asked at 3 s and given up at 4 s, not waited for until 6 s."""
    with OpenAIStub(replies=[ENGLISH_REPLY, FRENCH_REPLY], delay=3.0) as stub:
        reply = ask(with_stub(services, with_model, stub, timeout=4.0), FRENCH_QUESTION)
        answered = time.perf_counter()
    assert len(stub.requests) == 2 and "indisponible" in reply.note
    assert answered - stub.arrivals[0] < 5.5, "the extractive answer came before the retry's reply was due"


def test_a_local_openai_compatible_server_needs_no_api_key(services, with_model):
    """`make llm-server` checks no key: KB_LLM=openai:local with a base URL and no key answers (not a crash)."""
    with OpenAIStub(reply="The deadline is 4 March 2027 [1].") as stub:
        settings = services.settings.model_copy(update={"llm": "openai:local", "llm_base_url": stub.url,
                                                        "llm_api_key": None, "llm_timeout": 5.0})
        reply = ask(with_model(make_chat_model(settings), settings))
    assert reply.answer == "The deadline is 4 March 2027 [1]." and reply.note is None
