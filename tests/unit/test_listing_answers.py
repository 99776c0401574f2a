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


def _event(index: int, title: str, day: int, **extra: object) -> Hit:
    start = datetime(2027, 3, day, 18, 30, tzinfo=PARIS)
    return Hit(f"kb/meetups.ics:{index}", f"{title}\nAn evening in Lyon.", {
        "kind": "event", "title": title, "source_id": "kb/meetups.ics", "record_index": index,
        "start": start.strftime("%Y-%m-%d %H:%M"), "start_ts": int(start.timestamp()), "end_ts": int(start.timestamp()),
        "url": f"https://kb.test/{index}", **extra}, dense=0.6, coverage=0.5)


def _listed(answer) -> list[str]:  # noqa: ANN001
    return [line.split(" — ")[0].removeprefix("• ") for line in answer.text.splitlines() if line.startswith("• ")]


def test_the_next_event_on_a_topic_is_not_a_cancelled_one():
    cancelled = _event(1, "Meetup: wearables and remote monitoring", 11, status="cancelled")
    later = _event(2, "Wearables evening: sensors at home", 25)
    question = Question(text="next wearables event?", language="en", now=datetime(2027, 3, 1, tzinfo=PARIS),
                        scope=UPCOMING_EVENTS, listing=True)
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(question, [cancelled, later])
    assert _listed(answer) == ["Wearables evening: sensors at home"]

    asked = Question(text="Is the wearables meetup still on?", language="en", now=datetime(2027, 3, 1, tzinfo=PARIS),
                     scope=TimeScope(kind="event"), listing=False)
    direct = ExtractiveAnswerer(HashingEmbedder()).answer(asked, [cancelled])
    assert "cancelled (it was planned on 11 March 2027, 18:30)" in direct.text


def test_a_listing_weighs_the_word_few_items_carry():
    items = [_event(1, "Health tech job fair", 10), _event(2, "Digital health tech breakfast", 12),
             _event(3, "Mentoring launch for women founders", 20), _event(4, "Health tech drinks", 4)]
    question = Question(text="next women in health tech event?", language="en",
                        now=datetime(2027, 3, 1, tzinfo=PARIS), scope=UPCOMING_EVENTS, listing=True)
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(question, items)
    assert _listed(answer) == ["Mentoring launch for women founders"]  # not every "health tech" event
