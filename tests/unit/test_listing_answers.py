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


@pytest.mark.parametrize("language, text, heading", [
    ("en", "next wearables event?", "Upcoming events: none; these were cancelled:"),
    ("fr", "prochain événement wearables ?", "Prochains événements : aucun ; ceux-ci ont été annulés :"),
])
def test_when_only_cancelled_items_match_the_heading_says_none_takes_place(language, text, heading):
    cancelled = _event(1, "Meetup: wearables and remote monitoring", 11, status="cancelled")
    question = Question(text=text, language=language, now=datetime(2027, 3, 1, tzinfo=PARIS),
                        scope=UPCOMING_EVENTS, listing=True)
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(question, [cancelled])
    assert answer.text.splitlines()[0] == heading and _listed(answer) == ["Meetup: wearables and remote monitoring"]


def test_a_cancelled_call_is_said_cancelled_not_open():
    deadline = datetime(2027, 3, 4, 17, 0, tzinfo=PARIS)
    call = Hit("kb/calls.csv:1", "EIC Accelerator\nUp to 2.5 million euros for deep-tech SMEs.", {
        "kind": "funding_call", "title": "EIC Accelerator", "source_id": "kb/calls.csv", "record_index": 1,
        "deadline": "2027-03-04 17:00", "deadline_ts": int(deadline.timestamp()), "status": "cancelled",
        "url": "https://kb.test/eic"}, dense=0.7, coverage=1.0)
    asked = Question(text="Quelle est la date limite de l'EIC Accelerator ?", language="fr",
                     now=datetime(2027, 3, 1, tzinfo=PARIS), scope=TimeScope(kind="funding_call"), listing=False)
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(asked, [call])
    assert "annulé (la date limite était le 4 mars 2027" in answer.text and "ouvert" not in answer.text
    assert answer.sources[0].status == "cancelled"
    undated = Hit(call.id, call.text, {k: v for k, v in call.metadata.items() if not k.startswith("deadline")},
                  dense=0.7, coverage=1.0)
    assert "EIC Accelerator: annulé [1]" in ExtractiveAnswerer(HashingEmbedder()).answer(asked, [undated]).text


def _call(index: int, title: str, day: int, **extra: object) -> Hit:
    deadline = datetime(2027, 3, day, 17, 0, tzinfo=PARIS)
    return Hit(f"kb/calls.csv:{index}", f"{title}\nGrants for SMEs.", {
        "kind": "funding_call", "title": title, "source_id": "kb/calls.csv", "record_index": index,
        "deadline": deadline.strftime("%Y-%m-%d %H:%M"), "deadline_ts": int(deadline.timestamp()),
        "url": f"https://kb.test/call-{index}", **extra}, dense=0.6, coverage=0.5)


@pytest.mark.parametrize("language, text, first", [
    ("en", "Is the AI diagnostics grant still open?",
     "AI diagnostics grant: cancelled (its deadline was 15 March 2027, 17:00) [1]"),
    ("fr", "L'appel AI diagnostics grant est-il encore ouvert ?",
     "AI diagnostics grant: annulé (la date limite était le 15 mars 2027 à 17:00) [1]"),
])
def test_a_cancelled_call_the_question_names_is_said_cancelled_not_left_out_of_the_others(language, text, first):
    calls = [_call(1, "AI diagnostics grant", 15, status="cancelled"), _call(2, "AI for hospitals call", 20)]
    question = Question(text=text, language=language, now=datetime(2027, 1, 10, tzinfo=PARIS),
                        scope=TimeScope(kind="funding_call", upcoming_only=True), listing=True)
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(question, calls)
    assert answer.text.splitlines()[0] == first
    assert _listed(answer) == ["AI for hospitals call"] and [s.n for s in answer.sources] == [1, 2]
    # A question naming no one call lists the open ones, the cancelled one left out as before
    which = Question(text="Which AI calls are open?", language="en", now=datetime(2027, 1, 10, tzinfo=PARIS),
                     scope=TimeScope(kind="funding_call", upcoming_only=True), listing=True)
    assert ExtractiveAnswerer(HashingEmbedder()).answer(which, calls).text.splitlines() == [
        "Funding calls still open:", "• AI for hospitals call — open until 20 March 2027, 17:00 [1]"]


def test_a_listing_keeps_the_kind_of_event_asked_for_when_some_items_are_of_it():
    march = [_event(1, "Digital Health Drinks, monthly afterwork", 3), _event(2, "Atelier RGPD : analyse d'impact", 10),
            _event(3, "Workshop: FHIR profiles", 17)]
    answerer = ExtractiveAnswerer(HashingEmbedder())

    def listed(text: str, items: list[Hit]) -> list[str]:
        question = Question(text=text, language="en", now=datetime(2027, 3, 1, tzinfo=PARIS), scope=UPCOMING_EVENTS,
                            listing=True)
        return _listed(answerer.answer(question, items))

    assert listed("Any workshops in March?", march) == ["Atelier RGPD : analyse d'impact", "Workshop: FHIR profiles"]
    assert listed("Any events in March?", march) == [item.metadata["title"] for item in march]
    assert listed("Any webinar in March?", march) == [item.metadata["title"] for item in march], "none is: all"
    called_off = [_event(6, "Workshop: MDR files", 12, status="cancelled"), march[0]]
    answer = answerer.answer(Question(text="Any workshops in March?", language="en", now=datetime(2027, 3, 1, tzinfo=PARIS),
                                      scope=UPCOMING_EVENTS, listing=True), called_off)
    assert answer.text.startswith("Upcoming events: none; these were cancelled:")
    assert _listed(answer) == ["Workshop: MDR files"], "the cancelled workshop, not the drinks"
    both = [_event(4, "Webinar: IVDR deadlines", 4), _event(5, "Webinaire : remboursement", 9), *march]
    assert listed("Y a-t-il un webinaire en mars ?", both) == ["Webinar: IVDR deadlines", "Webinaire : remboursement"]


def test_a_listing_weighs_the_word_few_items_carry():
    items = [_event(1, "Health tech job fair", 10), _event(2, "Digital health tech breakfast", 12),
             _event(3, "Mentoring launch for women founders", 20), _event(4, "Health tech drinks", 4)]
    question = Question(text="next women in health tech event?", language="en",
                        now=datetime(2027, 3, 1, tzinfo=PARIS), scope=UPCOMING_EVENTS, listing=True)
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(question, items)
    assert _listed(answer) == ["Mentoring launch for women founders"]  # not every "health tech" event


@pytest.mark.parametrize("language, scope, heading", [
    ("fr", TimeScope(kind="event", end=datetime(2026, 12, 1, tzinfo=PARIS), upcoming_only=True),
     "Prochains événements (avant le 1er décembre 2026) :"),
    ("en", TimeScope(kind="event", start=datetime(2027, 3, 1, tzinfo=PARIS)), "Events (from 1 March 2027):"),
    ("de", TimeScope(kind="event", start=datetime(2027, 3, 1, tzinfo=PARIS), end=datetime(2027, 6, 1, tzinfo=PARIS)),
     "Veranstaltungen (vom 1. März 2027 bis 31. Mai 2027):"),
    ("en", TimeScope(kind="funding_call", end=datetime(2027, 3, 1, tzinfo=PARIS), upcoming_only=True),
     "Funding calls still open (closing before 1 March 2027):"),
    ("en", TimeScope(kind="funding_call", start=datetime(2027, 3, 1, tzinfo=PARIS),
                     end=datetime(2027, 6, 1, tzinfo=PARIS)),
     "Funding calls (closing between 1 March 2027 and 31 May 2027):"),
    ("fr", TimeScope(kind="funding_call", start=datetime(2027, 4, 1, tzinfo=PARIS)),
     "Appels à projets (clôture à partir du 1er avril 2027) :"),
    ("en", TimeScope(kind="funding_call", start=datetime(2027, 3, 4, tzinfo=PARIS),
                     end=datetime(2027, 3, 5, tzinfo=PARIS)), "Funding calls (closing on 4 March 2027):"),
])
def test_a_listings_heading_says_its_window(language, scope, heading):
    items = [_event(1, "Atelier FHIR", 20)] if scope.kind == "event" else [_call(1, "EIC Accelerator", 20)]
    question = Question(text="?", language=language, now=NOW, scope=scope, listing=True)
    assert ExtractiveAnswerer(HashingEmbedder()).answer(question, items).text.splitlines()[0] == heading


@pytest.mark.parametrize("location, town", [
    ("Salle des Lumières, 18 boulevard des Normes, 75013 Paris", "Paris"),
    ("Campus Santé Est, Amphi B, 21 rue des Chercheurs, 69008 Lyon", "Lyon"),
    ("Online (link sent after registration)", "Online"),
    ("En ligne (visio, lien envoyé la veille)", "En ligne"),
    ("Messe Berlin, Halle 4, D-14055 Berlin", "Berlin"),
    ("Maison du Cluster", "Maison du Cluster"),
    ("Centre de congrès, Lyon, France", "Lyon"),
    ("Boston Convention Center, Boston, MA 02110", "Boston"),
    ("Kongresshaus, Zürich, Schweiz", "Zürich"),
    ("12 rue de la Paix, 75002", "12 rue de la Paix, 75002"),
    ("France", "France"),
    ("Hôtel Le Royal, Luxembourg", "Luxembourg"),
    ("Konferenzzentrum, Berlin 10117, Germany", "Berlin"),
])
def test_a_listing_line_says_the_town_the_full_address_stays_in_the_events_answer(location, town):
    event = _event(1, "Atelier FHIR", 20, location=location)
    listing = Question(text="Which events are coming up?", language="en", now=NOW, scope=UPCOMING_EVENTS, listing=True)
    answerer = ExtractiveAnswerer(HashingEmbedder())
    assert answerer.answer(listing, [event]).text.splitlines()[1] == f"• Atelier FHIR — on 20 March 2027, 18:30, {town} [1]"
    asked = Question(text="Where is the FHIR workshop?", language="en", now=NOW, scope=TimeScope(kind="event"))
    assert location in answerer.answer(asked, [event]).text



@pytest.mark.parametrize("languages, note", [
    (("fr",), "(The source is in French.)"),
    (("fr", "fr"), "(The sources are in French.)"),
    (("fr", "en"), "(Some of these sources are in French.)"),
    (("fr", "de"), "(The sources are in other languages.)"),
    (("fr", "de", "en"), "(Some of these sources are in other languages.)"),
    (("en", "en"), None),
])
def test_a_listing_says_when_its_titles_are_in_another_language(languages, note):
    events = [_event(i, title, 10 + i, language=language) for i, (title, language) in enumerate(zip(
        ("Atelier IA en santé", "Petit-déjeuner des adhérents", "Demo Day"), languages), start=1)]
    question = Question(text="Which events are coming up?", language="en", now=NOW, scope=UPCOMING_EVENTS,
                        listing=True)
    lines = ExtractiveAnswerer(HashingEmbedder()).answer(question, events).text.splitlines()
    assert len([line for line in lines if line.startswith("• ")]) == len(languages)
    if note:
        assert lines[-1] == note
    else:
        assert lines[-1].startswith("• "), "titles in the member's language need no note"


def test_a_listing_says_its_titles_language_in_the_members_language():
    question = Question(text="Quels sont les prochains événements ?", language="fr", now=NOW, scope=UPCOMING_EVENTS,
                        listing=True)
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(question, [_event(1, "AI in healthcare workshop", 12,
                                                                            language="en")])
    assert answer.text.splitlines()[-1] == "(La source est en anglais.)"
