"""A chat model's sentences are checked against the passages they cite: honest rewording passes, an invented or
misattributed number, date or name does not; "I don't know" in words is recognised; the streamed part of a reply
is only ever checked, cited text in the member's language."""

from __future__ import annotations

import pytest

from knowledge.chat_answering import Draft, Rejected
from knowledge.grounding import effective_cites, facts_of, says_no_answer, sentences, unsupported

EIC = facts_of("EIC Accelerator (open until 2027-03-04)\nReference: EIC-ACC-2027\nFunder: European Innovation "
               "Council\nDeadline: 2027-03-04\nBudget: Grant up to EUR 20 000 000\nEligibility: Single start-ups "
               "and SMEs\n\nThe label is granted for two years.")
WEBINAR = facts_of("Webinar on MDR clinical evaluation (on 2027-01-14 11:00 (UTC+01:00))\nStarts: 2027-01-14 11:00\n"
                   "Ends: 2027-01-14 12:30\nLocation: Online")
INNOV = facts_of("Appel à projets Innov'Santé 2027\nFinanceur: Région Auvergne-Rhône-Alpes\nDate limite: 15/03/2027\n"
                 "Budget: Jusqu'à 200 000 €")


@pytest.mark.parametrize("sentence, language", [
    ("The budget is 20 000 000 EUR.", "en"),
    ("The budget is 20,000,000 euros.", "en"),
    ("Grants reach €20 million.", "en"),
    ("Grants reach €20m.", "en"),
    ("Le budget est de 20 millions d'euros.", "fr"),
    ("Das Budget beträgt 20.000.000 EUR.", "de"),
    ("The deadline is 4 March 2027.", "en"),
    ("The deadline is March 4th, 2027.", "en"),
    ("The deadline is 04/03/2027.", "en"),
    ("La date limite est le 4 mars 2027.", "fr"),
    ("Die Frist endet am 4. März 2027.", "de"),
    ("The call is open until 2027-03-04, in March.", "en"),
    ("Single start-ups and SMEs may apply to the EIC Accelerator (EIC-ACC-2027).", "en"),
    ("The european innovation council funds it.", "en"),
    ("The label lasts 2 years.", "en"),
])
def test_honest_rewording_of_numbers_dates_and_names_passes(sentence, language):
    assert unsupported(sentence, [EIC], language) == []


@pytest.mark.parametrize("sentence, passages, missing", [
    ("The webinar is on Thursday 14 January at 11 am, online.", [WEBINAR], []),
    ("Le webinaire a lieu le 14/01/2027 de 11h00 à 12h30.", [WEBINAR], []),
    ("Das Webinar beginnt um 11 Uhr.", [WEBINAR], []),
    ("L'appel Innov'Santé de la Région Auvergne-Rhône-Alpes clôt le 15 mars 2027.", [INNOV], []),
    ("Innov'Sante closes on 2027-03-15 with up to EUR 200,000.", [INNOV], []),
    ("The webinar starts at 2 pm.", [WEBINAR], ["2 pm"]),
    ("The budget is €25 million.", [EIC], ["25 million"]),
    ("The deadline is 14 March 2027.", [EIC], ["14 March 2027"]),
    ("The EIC Accelerator is run by Bpifrance.", [EIC], ["Bpifrance"]),
    ("The reference is EIC-ACC-2028.", [EIC], ["EIC-ACC-2028"]),
    ("The deadline is 15 March 2027.", [EIC], ["15 March 2027"]),  # true of another passage: not of this one
    ("The deadline is 15 March 2027.", [EIC, INNOV], []),
])
def test_a_fact_is_checked_against_the_passages_the_sentence_cites(sentence, passages, missing):
    language = "fr" if "Le " in sentence or "L'" in sentence else "de" if "Das " in sentence else "en"
    assert unsupported(sentence, passages, language) == missing


def test_citation_markers_and_list_numbers_are_not_facts():
    [first, second] = sentences("1. Fill in the form [3].\n2. Book a call [12].")
    assert (first.text, first.cites, second.text, second.cites) == ("Fill in the form.", (3,), "Book a call.", (12,))
    assert unsupported(first.text, [facts_of("Fill in the form.")]) == []


def test_a_sentence_without_citation_borrows_the_next_citation_of_its_paragraph_only():
    reply = ("The EIC Accelerator funds SMEs. Its deadline is 4 March 2027 [1].\n\n"
             "It is also open to start-ups.\n- A list item [2]\n- Another item\n\nA closing remark.")
    units = sentences(reply)
    cites = [effective_cites(units, i) for i in range(len(units))]
    assert [u.text for u in units] == ["The EIC Accelerator funds SMEs.", "Its deadline is 4 March 2027.",
                                       "It is also open to start-ups.", "A list item", "Another item",
                                       "A closing remark."]
    assert cites == [(1,), (1,), (), (2,), (), ()]


def test_a_line_ending_with_a_colon_borrows_from_the_list_it_opens():
    units = sentences("Two calls are open in 2027:\n- EIC Accelerator [1]\n- Innov'Santé [2]")
    assert [effective_cites(units, i) for i in range(3)] == [(1,), (1,), (2,)]


@pytest.mark.parametrize("reply", [
    "I don't know: the passages do not mention this workshop.",
    "The provided passages do not contain the answer.",
    "Je ne sais pas.",
    "Les passages ne précisent pas la date de cet atelier.",
    "Les extraits ne contiennent aucune information sur ce sujet.",
    "Ich weiß es nicht.",
    "Die Passagen enthalten keine Angaben zu diesem Workshop.",
])
def test_saying_in_words_that_the_passages_do_not_answer_is_recognised(reply):
    assert says_no_answer(reply)


def test_an_answer_is_not_mistaken_for_an_abstention():
    assert not says_no_answer("The deadline of the EIC Accelerator is 4 March 2027.")


def feed(draft: Draft, reply: str) -> list[str]:
    """The reply word by word, as a model streams it; what may be shown after each word."""
    import re

    return [draft.add(piece) for piece in re.findall(r"\s*\S+", reply)]


def test_streamed_text_is_whole_checked_sentences_with_their_final_numbers():
    draft = Draft("en", [EIC, WEBINAR])
    shown = feed(draft, "The MDR webinar is on 14 January 2027 at 11:00 [2]. The EIC Accelerator closes on "
                        "4 March 2027 [1]. Apply online.")
    assert [s for s in shown if s] == ["The MDR webinar is on 14 January 2027 at 11:00 [1].",
                                       " The EIC Accelerator closes on 4 March 2027 [2]."]
    verdict = draft.finish()
    assert verdict.kind == "ok" and verdict.cited == (2, 1)
    assert verdict.text == "".join(shown) + " Apply online."


def test_an_unsupported_sentence_stops_the_reply_before_it_is_shown():
    draft = Draft("en", [EIC])
    with pytest.raises(Rejected) as rejected:
        feed(draft, "The EIC Accelerator closes on 4 March 2027 [1]. Grants reach €25 million [1]. More text follows")
    assert rejected.value.verdict.kind == "unchecked" and "25 million" in rejected.value.verdict.why
    assert draft.shown == "The EIC Accelerator closes on 4 March 2027 [1]."


@pytest.mark.parametrize("reply", ["NO_ANSWER", "I don't know: the passages do not say when it is in 2028."])
def test_an_abstention_is_never_shown(reply):
    draft = Draft("en", [EIC])
    assert not any(feed(draft, reply))
    assert draft.finish().kind == "abstain"


def test_a_reply_in_another_language_is_stopped_before_anything_is_shown():
    draft = Draft("fr", [EIC])
    with pytest.raises(Rejected) as rejected:
        feed(draft, "The deadline of the EIC Accelerator is 4 March 2027 [1]. You can apply online.")
    assert rejected.value.verdict.kind == "language" and draft.shown == ""


def test_uncited_facts_fail_once_the_reply_is_finished():
    draft = Draft("en", [EIC])
    feed(draft, "The EIC Accelerator closes on 4 March 2027 [1].\n\nIt opened in 2021.")
    verdict = draft.finish()
    assert verdict.kind == "unchecked" and "2021" in verdict.why
