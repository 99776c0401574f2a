"""What `eval` counts: the answer's language is read from the reply as the member reads it (the passages it
quotes included), not from the question; false abstentions are a share of the answerable questions."""

from __future__ import annotations

import pytest

from bot.conversation import Reply
from bot.evaluation import _Tally
from knowledge.answering import SourceRef

FRENCH_PASSAGE = ("La cotisation annuelle d'une PME de moins de 50 salariés est de 900 EUR HT. "
                  "Une start-up de moins de 3 ans paie 300 EUR HT.")


def reply(answer: str, *, abstained: bool = False, language: str = "en") -> Reply:
    source = SourceRef(n=1, title="Adhésion", url="https://kb.test/adhesion", path="adhesion.md", kind="document",
                       snippet=FRENCH_PASSAGE, score=1.0, language="fr")
    return Reply(question="How much is the membership fee?", language=language, answer=answer,
                 abstained=abstained, sources=[] if abstained else [source])


@pytest.mark.parametrize("answer, in_english", [
    # English frame, French quotation: the member mostly reads French (issue 10 counts it as a miss).
    ("Here is what the cluster's sources say:\n"
     "La cotisation annuelle d'une PME de moins de 50 salariés est de 900 EUR HT. [1]\n"
     "Une start-up de moins de 3 ans paie 300 EUR HT. [1]\n(The source is in another language.)", False),
    # An English answer.
    ("Here is what the cluster's sources say:\nThe annual fee of an SME is 900 EUR before tax. [1]", True),
    # The same quotation framed in French: not the question's language, whatever language was detected.
    ("Voici ce qu'indiquent les sources du cluster :\n"
     "La cotisation annuelle d'une PME de moins de 50 salariés est de 900 EUR HT. [1]", False),
    # A written answer (chat model) in French for an English question.
    ("La cotisation annuelle est de 900 EUR HT pour une PME et de 300 EUR HT pour une start-up [1].", False),
])
def test_the_answer_language_is_read_from_the_reply_text_as_the_member_reads_it(answer, in_english):
    tally = _Tally()
    tally.add({"question": "How much is the membership fee?", "lang": "en", "expected": ["adhesion.md"]},
              reply(answer))
    assert tally.metrics(1)["answer_in_question_language"] == (1.0 if in_english else 0.0)


def test_the_false_abstention_rate_is_a_share_of_answerable_questions():
    tally = _Tally()
    for answerable, abstained in [(True, True), (True, False), (True, False), (True, False), (False, True)]:
        tally.add({"question": "q", "expected": ["a.md"] if answerable else [], "answerable": answerable},
                  reply("Here is what the cluster's sources say:", abstained=abstained))
    metrics = tally.metrics(5)
    assert (metrics["false_abstentions"], metrics["false_abstention_rate"]) == (1, 0.25)
    assert metrics["abstention_recall"] == 1.0


@pytest.mark.parametrize("answer, in_cited, in_answer", [
    # the expected span quoted across two sentences: the "[1]" markers and the line break do not split it
    ("Here is what the cluster's sources say:\nLa cotisation annuelle d'une PME de moins de 50 salariés est de "
     "900 EUR HT. [1]\nUne start-up de moins de 3 ans paie 300 EUR HT. [1]", True, True),
    # only the source holds it: the member did not read it
    ("Here is what the cluster's sources say:\nThe membership page gives the fees. [1]", True, False),
])
def test_the_expected_span_is_looked_for_in_the_cited_passages_and_in_the_answer_text(answer, in_cited, in_answer):
    tally = _Tally()
    tally.add({"question": "How much is the membership fee?", "expected": ["adhesion.md"],
               "answer": "900 EUR HT. Une start-up de moins de 3 ans"}, reply(answer))
    metrics = tally.metrics(1)
    assert (metrics["span_in_citations"], metrics["span_in_answer"]) == (float(in_cited), float(in_answer))
