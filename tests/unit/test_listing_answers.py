"""Listing questions ("which upcoming events...") with nothing to list get a plain answer in the member's language."""

from __future__ import annotations

from datetime import datetime

import pytest

from knowledge.answering import ExtractiveAnswerer, Question, abstain
from knowledge.retrieval import Hit
from knowledge.time_scope import TimeScope
from tests.conftest import PARIS
from tests.fakes.embedding import HashingEmbedder

NOW = datetime(2026, 11, 22, 12, tzinfo=PARIS)
UPCOMING_EVENTS = TimeScope(kind="event", upcoming_only=True)
PAST_MEETUP = Hit("kb/meetups.ics:3", "Robotics meetup\nDemos of surgical robots.", {
    "kind": "event", "title": "Robotics meetup", "source_id": "kb/meetups.ics", "record_index": 3,
    "start": "2026-10-15 18:30", "start_ts": int(datetime(2026, 10, 15, 18, 30, tzinfo=PARIS).timestamp()),
    "end_ts": int(datetime(2026, 10, 15, 21, 0, tzinfo=PARIS).timestamp()), "url": "https://kb.test/robotics"},
    dense=0.8, coverage=0.5)


@pytest.mark.parametrize("language, text, line", [
    ("en", "Which upcoming robotics meetups are there?", "Upcoming events: nothing matches your question."),
    ("fr", "Quels sont les prochains meetups robotique ?", "Prochains événements : rien ne correspond à votre question."),
])
def test_a_listing_with_nothing_in_the_window_says_nothing_matches(language, text, line):
    question = Question(text=text, language=language, now=NOW, scope=UPCOMING_EVENTS, listing=True)
    answerer = ExtractiveAnswerer(HashingEmbedder())

    named = answerer.answer(question, [], outside=PAST_MEETUP)  # the meetup the member named is past
    assert named.text.splitlines()[-1] == line and not named.abstained
    assert [s.url for s in named.sources] == ["https://kb.test/robotics"] and "[1]" in named.text

    nothing = answerer.answer(question, [])
    assert nothing.text == line and nothing.abstained and nothing.sources == []


def test_abstaining_on_a_listing_names_what_was_looked_for():
    question = Question(text="Quels appels à projets sont ouverts ?", language="fr", now=NOW,
                        scope=TimeScope(kind="funding_call", upcoming_only=True), listing=True)
    answer = abstain(question, "l'équipe")
    assert answer.abstained and "aucun appel à projets ouvert correspondant" in answer.text and "l'équipe" in answer.text
