"""The steps that rank retrieved chunks, each on its own: keyword weights, coverage, kind boost, per-source cap,
confidence."""

from __future__ import annotations

import pytest

from knowledge.ranking import (
    Hit,
    Ranking,
    answering_section_first,
    best_first,
    boost_kind,
    cap_per_source,
    coverage,
    keyword_weight,
)


def hit(cid: str, score: float = 0.0, **metadata: object) -> Hit:
    return Hit(cid, f"text of {cid}", {"source_id": cid.split(":")[0], **metadata}, score=score)


def test_a_candidate_adds_its_reciprocal_rank():
    ranking = Ranking(rrf_k=60)
    assert ranking.fused(0) == 1 / 60 and ranking.fused(3, weight=0.25) == 0.25 / 63


@pytest.mark.parametrize(
    "asked_names, tokens, passage_language, question_language, weight",
    [
        ({"eic"}, {"eic", "accelerator"}, "en", "fr", 1.0),  # the question's name, in any language
        ({"eic"}, {"accelerator"}, "fr", "fr", 0.25),  # names asked, none found: weak even in the same language
        (set(), {"cotisation"}, "fr", "fr", 1.0),  # no names: the question's language counts fully
        (set(), {"cotisation"}, "fr", "en", 0.25),  # ... another language is mostly noise
        (set(), {"cotisation"}, None, "en", 1.0),  # a passage of unknown language is not held against it
        (set(), {"cotisation"}, "", "en", 1.0),
        (set(), {"cotisation"}, "fr", None, 1.0),  # nor a question of unknown language
    ],
)
def test_keyword_matches_weigh_by_names_and_language(asked_names, tokens, passage_language, question_language,
                                                      weight):
    assert keyword_weight(asked_names, tokens, passage_language, question_language, 0.25) == weight


@pytest.mark.parametrize("asked, tokens, share", [
    ({"call", "sme"}, {"call", "deadline"}, 0.5), ({"call"}, {"call"}, 1.0), (set(), {"call"}, 0.0),
])
def test_coverage_is_the_share_of_the_question_keywords_found(asked, tokens, share):
    assert coverage(asked, tokens) == share


def test_the_kind_a_question_is_about_is_boosted():
    event, guide = hit("ics:1", 1.0, kind="event"), hit("guide:0", 1.0, kind="document")
    boost_kind([event, guide], "event", 1.25)
    assert (event.score, guide.score) == (1.25, 1.0)
    boost_kind([event, guide], None, 1.25)
    assert (event.score, guide.score) == (1.25, 1.0)


def test_best_first_keeps_the_order_of_ties():
    a, b, c = hit("a:0", 0.1), hit("b:0", 0.3), hit("c:0", 0.1)
    assert best_first([a, b, c]) == [b, a, c]


def test_at_most_max_per_source_chunks_of_one_document_and_k_in_all():
    ranked = [hit("a:0"), hit("a:1"), hit("a:2"), hit("b:0"), hit("c:0"), hit("d:0")]
    assert [h.id for h in cap_per_source(ranked, 2, 4)] == ["a:0", "a:1", "b:0", "c:0"]
    assert [h.id for h in cap_per_source(ranked, 1, 10)] == ["a:0", "b:0", "c:0", "d:0"]


def test_each_event_series_and_call_of_a_table_counts_as_its_own_source():
    calls = [hit(f"calls.csv:{n}", kind="funding_call", title=title) for n, title in enumerate("AAABC")]
    assert [h.id for h in cap_per_source(calls, 2, 10)] == ["calls.csv:0", "calls.csv:1", "calls.csv:3",
                                                           "calls.csv:4"]


def test_confidence_mixes_cosine_and_coverage_of_the_first_passages():
    ranking = Ranking(confidence_dense_weight=0.7, confidence_coverage_weight=0.3, confidence_passages=3)
    hits = [Hit("a:0", "", {}, dense=0.2, coverage=0.0), Hit("b:0", "", {}, dense=0.5, coverage=1.0),
            Hit("c:0", "", {}, dense=0.1), Hit("d:0", "", {}, dense=0.99, coverage=1.0)]
    assert ranking.confidence(hits) == pytest.approx(0.7 * 0.5 + 0.3), "the fourth passage is not looked at"
    assert ranking.confidence([]) == 0.0


def test_a_passage_sharing_a_word_but_far_in_meaning_gives_no_confidence():
    """"What is the capital of Peru?" shares "capital" with a page on capital raising: declined, not quoted."""
    ranking = Ranking()
    shares_a_word = Hit("a", "Raising capital for a medtech start-up", {}, dense=0.09, coverage=0.5)
    assert ranking.confidence([shares_a_word]) == 0.0 < ranking.min_confidence
    close = Hit("b", "Raising capital for a medtech start-up", {}, dense=0.15, coverage=0.5)
    assert ranking.confidence([close]) > ranking.min_confidence


def _section(i: int, heading: str, score: float, source: str = "label.md", kind: str = "document") -> Hit:
    return Hit(str(i), "", {"source_id": source, "heading": heading, "kind": kind}, score=score)


@pytest.mark.parametrize("question, first", [("Who can apply for the label?", "who"),
                                             ("Wer kann sich für das Label bewerben?", "who"),
                                             ("How do I apply?", "how"),
                                             ("Combien coûte le label ?", "costs")])
def test_the_section_of_a_page_that_answers_what_is_asked_gets_its_best_score(question, first):
    sections = {"how": _section(0, "Label > How to apply", 0.3), "who": _section(1, "Label > Eligibility", 0.2),
                "costs": _section(2, "Label > Tarifs", 0.1)}
    other = _section(3, "Guide > Who can apply", 0.25, source="guide.md")
    answering_section_first([*sections.values(), other], question)
    ranked = [h.id for h in best_first([*sections.values(), other])]
    assert ranked[0] == sections[first].id
    assert other.score == 0.25 and sorted(h.score for h in sections.values()) == [0.1, 0.2, 0.3]  # scores moved


def test_a_question_asking_nothing_particular_keeps_the_order():
    a, b = _section(0, "Label > How to apply", 0.3), _section(1, "Label > Who can apply", 0.2)
    answering_section_first([a, b], "Tell me about the label")
    assert (a.score, b.score) == (0.3, 0.2)


def test_a_title_carrying_the_question_across_languages_is_answered_from_if_of_the_kind_asked():
    english = Hit("en", "", {"language": "en", "kind": "event"}, dense=0.22, title_match=1.0, standout=1.7)
    french = Hit("fr", "", {"language": "fr", "kind": "event"}, dense=0.20, coverage=0.3, standout=1.3)
    assert not Ranking().unsure([english, french], "fr")  # a French passage beside it no longer decides
    assert not Ranking().unsure([english, french], "fr", kind="event")
    assert Ranking().unsure([english, french], "fr", kind="funding_call")  # "the cybersecurity call": a workshop
    english.title_match = 0.0
    assert Ranking().unsure([english, french], "fr")
