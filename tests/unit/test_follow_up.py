"""Which questions in a thread are read with the one before: follow-ups, not every short question."""

from __future__ import annotations

import pytest

from bot.conversation import Concierge, Turn, is_follow_up


@pytest.mark.parametrize("question", ["and the deadline?", "Und die Frist?", "Et pour les non-adhérents ?",
                                      "What about Horizon Europe?", "Is it free for members?", "C'est payant ?",
                                      "Where?", "c'est quand ?", "How do I apply?", "Combien ça coûte ?"])
def test_follow_ups_are_read_with_the_question_before(question):
    assert is_follow_up(question)


@pytest.mark.parametrize("question", ["Which events are about regulation?", "Are there any events on AI?",
                                      "How do I apply for the accreditation programme?",
                                      "Is the summit in June free for members?", "Gibt es Workshops zu KI?",
                                      "Quels appels à projets pour les medtech ?",
                                      "Is it possible to join the cluster as a lab?",
                                      "Which events are coming up?", "Quels événements en mars ?",
                                      "Welche Veranstaltungen gibt es?"])
def test_questions_that_name_what_they_ask_about_stand_alone(question):
    assert not is_follow_up(question)


def test_a_follow_up_of_a_follow_up_is_read_with_the_question_that_stood_alone():
    history = [Turn("user", "Tell me about the EIC Accelerator"), Turn("assistant", "..."),
               Turn("user", "and the deadline?"), Turn("assistant", "...")]
    assert Concierge._standalone_query("Is it open to startups?", history) == (
        "Tell me about the EIC Accelerator Is it open to startups?")
    assert Concierge._standalone_query("Which events are about AI?", history) == "Which events are about AI?"
