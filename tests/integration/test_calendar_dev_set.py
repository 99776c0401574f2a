"""End to end with the real packaged model on our calendar dev set (bench/data/calendar: a meetup calendar of
45 events, English and French, recurring, all-day, one cancelled, one moved; 72 questions asked the way
members ask, many across languages): what the member sees."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.conversation import Incoming
from bot.evaluation import evaluate
from bot.wiring import Services
from knowledge.settings import DEFAULT_SOURCES, KnowledgeSettings
from knowledge.store import release_embedded_store
from tests.conftest import PARIS

pytestmark = pytest.mark.e2e

CALENDAR = Path(__file__).resolve().parents[2] / "bench" / "data" / "calendar"
EVENTS = "https://meetups.example.org/events/"
INGESTED = datetime(2027, 1, 4, 9, tzinfo=PARIS)  # the Monday staff ingest the calendar


@pytest.fixture(scope="module")
def calendar(tmp_path_factory, real_embedder) -> Iterator[Services]:
    settings = KnowledgeSettings(store_path=tmp_path_factory.mktemp("calendar") / "chroma", _env_file=None)
    services = Services(settings, embedder=real_embedder, chat_model=None, clock=lambda: INGESTED)
    assert services.ingestor().run([CALENDAR / "corpus"]).ok
    yield services
    release_embedded_store(settings.store_path)


def ask(services: Services, text: str, day: str):  # noqa: ANN201
    now = datetime.fromisoformat(f"{day}T12:00").replace(tzinfo=PARIS)
    return services.concierge.answer(Incoming(text, role="member", now=now))


def test_the_answers_cite_the_event_asked_about_and_decline_the_events_the_calendar_lacks(calendar):
    metrics = evaluate(calendar, CALENDAR / "qa.jsonl")
    # Measured: hit@5 0.94 (0.92 before the rank by meaning counted again for events in another language than
    # the question), the right event cited 0.89 (0.875 before acronyms spelled by titles; 0.80 before the rank
    # by meaning; 0.69 before that), 7.8% of answerable questions declined (9.4%; 12.5%; 19%), every question
    # about an event the calendar lacks declined.
    assert metrics["hit@5"] >= 0.93, metrics
    assert metrics["source_in_citations"] >= 0.88, metrics
    assert metrics["false_abstention_rate"] <= 0.08, metrics
    assert metrics["abstention_recall"] == 1.0, metrics


def test_german_questions_find_the_english_and_french_events_as_well(calendar):
    # Forty of the calendar's questions asked in German (bench/data/calendar-de): no event is German.
    metrics = evaluate(calendar, CALENDAR.parent / "calendar-de" / "qa.jsonl")
    # Measured: hit@5 0.94, the right event cited 0.92, 5.6% declined; before German's own frame words ("los",
    # "kostenlos", "bald") and names (a capitalised German noun is no name: "Cybersicherheits-Workshop" made
    # "workshop" a rare name, and the English exercise passed the French workshop): 0.89, 0.83, 11%.
    assert metrics["hit@5"] >= 0.91, metrics
    assert metrics["source_in_citations"] >= 0.88, metrics
    assert metrics["false_abstention_rate"] <= 0.09, metrics
    # One of the four events the calendar lacks is answered: "Wann ist das Meetup zu Blockchain im
    # Gesundheitswesen?" gets the mental-health meetup ("Gesundheitswesen" ~ "health", in every event; across
    # languages retrieval's confidence cannot read keyword coverage). Declining when the only words found are
    # in most events cost two French answers on the sample + calendar: left.
    assert metrics["abstention_recall"] >= 0.75, metrics


@pytest.mark.parametrize("question, day, event, said", [
    ("Was kostet das Tabletop?", "2027-03-01", "hospital-ransomware-tabletop", "60 EUR for members"),
    ("Ist der Cybersicherheits-Workshop kostenlos?", "2027-02-01", "atelier-cybersecurite-dispositifs-medicaux",
     None),
])
def test_a_german_question_names_an_event_by_its_english_word_not_by_its_kind(calendar, question, day, event, said):
    # German writes every noun with a capital: "Tabletop" is a name (rare, in the exercise's title), "Workshop" is
    # a kind of event. Dropping every capitalised word answered the tabletop's price from a French round table;
    # keeping "Workshop" as a rare name gave English passages full keyword weight over the French atelier.
    reply = ask(calendar, question, day)
    urls = [s.url for s in reply.sources]
    assert not reply.abstained and EVENTS + event in (urls[:1] if said else urls), reply.answer
    if said:
        assert said in reply.answer


@pytest.mark.parametrize("question, event", [
    ("Quand a lieu le Meetup sur la santé mentale ?", "meetup-34-mental-health-apps"),
    ("Quand a lieu le Webinar sur l'IA ?", "webinar-clinical-evidence-ai-tools"),
])
def test_a_when_question_quotes_the_event_of_the_kind_it_names(calendar, question, event):
    # Both the past round table on digital mental health and the meetup carry "santé mentale" in their titles;
    # the first found of the kind named answers when (a first version quoted the first event found).
    reply = ask(calendar, question, "2027-03-01")
    assert not reply.abstained and reply.sources[0].url == EVENTS + event, reply.answer


def test_a_german_compound_is_not_found_by_fragments_of_it(calendar):
    # "Pitchtraining" cut at any letter: "aining" is 0.65 from "ageing" in the model's words, and the Startup
    # Pitch Night (healthy ageing) was answered as if it were a pitch training
    reply = ask(calendar, "Was kostet das Pitchtraining?", "2027-03-01")
    assert reply.abstained or "startup-pitch-night" not in reply.sources[0].url, reply.answer


def test_next_thing_on_a_topic_lists_the_event_though_no_word_says_event(calendar):
    reply = ask(calendar, "next cybersecurity thing?", "2027-03-01")
    assert [s.url for s in reply.sources] == [EVENTS + "hospital-ransomware-tabletop"]
    assert "18 May 2027" in reply.answer


def test_a_listing_finds_the_event_on_a_rare_topic_beyond_the_ten_nearest_passages(calendar):
    reply = ask(calendar, "next women in health tech event?", "2027-03-15")
    assert EVENTS + "lancement-mentorat-femmes-sante-numerique" in [s.url for s in reply.sources]
    assert EVENTS + "health-tech-job-fair" not in [s.url for s in reply.sources], "'health tech' is in every event"


def test_a_day_asked_lists_that_days_events(calendar):
    reply = ask(calendar, "Qu'est-ce qu'il y a le jeudi 4 mars ?", "2027-03-01")
    assert {s.url for s in reply.sources} == {EVENTS + "permanence-reglementaire-mdr-ivdr",
                                              EVENTS + "digital-health-drinks"}
    assert reply.answer.startswith("Événements (le 4 mars 2027) :")


def test_a_weekday_asked_lists_that_days_events_though_they_do_not_name_it(calendar):
    reply = ask(calendar, "Any event on Tuesday?", "2027-03-01")  # a Monday
    assert [s.url for s in reply.sources] == [EVENTS + "startup-office-hour"]
    assert reply.answer.startswith("Events (on 2 March 2027):")


def test_a_cancelled_event_is_said_cancelled_never_listed_as_taking_place(calendar):
    reply = ask(calendar, "Is the wearables meetup in March still on?", "2027-03-01")
    assert [s.url for s in reply.sources] == [EVENTS + "meetup-32-wearables-remote-monitoring"]
    assert "cancelled (it was planned on 11 March 2027, 18:30)" in reply.answer
    upcoming = ask(calendar, "What's on in March?", "2027-03-01")
    assert EVENTS + "meetup-32-wearables-remote-monitoring" not in {s.url for s in upcoming.sources}


def test_where_an_event_takes_place_is_not_a_question_about_the_past(calendar):
    reply = ask(calendar, "Où se passe la soirée télémédecine franco-suisse ?", "2027-04-01")
    assert reply.sources[0].url == EVENTS + "telemedicine-across-borders-france-switzerland"
    assert "Genève" in reply.answer


def test_the_one_event_a_question_names_in_a_month_is_answered_not_the_months_list(calendar):
    reply = ask(calendar, "Is the summit in June free for members?", "2027-05-15")
    assert reply.sources[0].url == EVENTS + "health-innovation-summit-2027"
    assert "attend free" in reply.answer and not reply.answer.startswith("Events (")
    listing = ask(calendar, "Is there a webinar in April?", "2027-03-15")  # no item named: the month's events
    assert listing.answer.startswith("Events (from 1 April 2027 to 30 April 2027):") and len(listing.sources) > 1
    during = ask(calendar, "Is the summit in June free for members?", "2027-06-02")  # the window holds today
    assert during.sources[0].url == EVENTS + "health-innovation-summit-2027" and "attend free" in during.answer
    # Named, but retrieval is unsure of it: the month's list rather than "I don't know"
    unsure = ask(calendar, "When is the webinar in June?", "2027-03-15")
    assert not unsure.abstained and unsure.answer.startswith("Events (from 1 June 2027 to 30 June 2027):")


@pytest.mark.parametrize("question, day, event, said, first", [
    ("Is the nursing home teleconsultation webinar recorded?", "2027-01-10", "teleconsultation-ehpad-retours",
     "replay envoyé aux inscrits", True),
    # an English event holds more of the question's words ("procurement"): the French one is cited, after it
    ("price of the hospital procurement day for members?", "2027-05-01", "journee-achats-hospitaliers",
     "Journée achats hospitaliers", False),
])
def test_an_english_question_about_a_french_event_cites_it_beside_english_events(calendar, question, day, event,
                                                                                  said, first):
    # English webinars carried the question's words ("webinar", "hospital", "day") and keywords cannot match the
    # French event: in a pool of both languages its rank by meaning now counts again.
    reply = ask(calendar, question, day)
    urls = [s.url for s in reply.sources]
    assert EVENTS + event in (urls[:1] if first else urls), urls
    assert said in reply.answer


@pytest.fixture(scope="module")
def sample_and_calendar(tmp_path_factory, real_embedder) -> Iterator[Services]:
    """The bundled sample (English and French guides, calls, events) and the calendar in one index."""
    settings = KnowledgeSettings(store_path=tmp_path_factory.mktemp("mixed") / "chroma", _env_file=None)
    services = Services(settings, embedder=real_embedder, chat_model=None, clock=lambda: INGESTED)
    assert services.ingestor().run([*DEFAULT_SOURCES, CALENDAR / "corpus"]).ok
    yield services
    release_embedded_store(settings.store_path)


@pytest.mark.parametrize("question", ["Can I get money to enter a new European market?",
                                      "Is there help for exporting to the US?"])
def test_french_events_near_in_meaning_do_not_pass_an_english_page_holding_more_of_the_question(
        sample_and_calendar, question):
    # Counted again without that limit, the French breakfast on market access and the French guides passed the
    # export voucher, or the answer was "I don't know".
    reply = ask(sample_and_calendar, question, "2026-11-25")
    assert not reply.abstained and reply.sources[0].title == "Digital health export voucher", reply.answer


@pytest.mark.parametrize("question", ["Le webinaire EHDS c'est en quelle langue ?",
                                      "Which language is the EHDS webinar in?",
                                      "In welcher Sprache ist das EHDS-Webinar?"])
def test_an_acronym_spelled_by_an_english_title_finds_the_event_in_any_language(calendar, question):
    # "EHDS" is nowhere in the event's text, only the initials of its title's "European Health Data Space";
    # "langue" is what is asked, not what it is about. The French question was declined: a French event in the
    # three best passages made retrieval's confidence read keywords, which cannot match across languages.
    reply = ask(calendar, question, "2027-03-01")
    assert not reply.abstained and reply.sources[0].url == EVENTS + "webinar-european-health-data-space"
    assert "In English" in reply.answer


@pytest.mark.parametrize("question, said", [("Quelle est la date limite de l'EIC Accelerator ?", "4 mars 2027"),
                                            ("What is the deadline of the cybersecurity call?", None)])
def test_a_title_in_another_language_answers_only_for_the_kind_asked(sample_and_calendar, question, said):
    # The French "Atelier : cybersécurité des dispositifs médicaux" carries the topic of "the cybersecurity call"
    # in its title, but it is a workshop, not a call: "I don't know" (the sample has no such call).
    reply = ask(sample_and_calendar, question, "2026-11-25")
    if said is None:
        assert reply.abstained and reply.sources == [], reply.answer
    else:
        assert not reply.abstained and said in reply.answer, reply.answer
