"""Questions' time words resolve against today's date, in French, English and German."""

from __future__ import annotations

from datetime import datetime

import pytest

from knowledge.text import keywords
from knowledge.time_scope import intents, parse_time_scope, topical_words
from tests.conftest import PARIS

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=PARIS)  # a Sunday


def day(scope_value: datetime | None) -> str | None:
    return scope_value.date().isoformat() if scope_value else None


@pytest.mark.parametrize(
    "question, kind, start, end, upcoming",
    [
        ("Which funding calls for medtech SMEs close before March?", "funding_call", None, "2027-03-01", True),
        ("Quels appels à projets clôturent avant fin mars 2027 ?", "funding_call", None, "2027-04-01", True),
        ("Quels appels à projets sont ouverts ?", "funding_call", None, None, True),
        ("Quand a lieu le prochain atelier IA en santé ?", "event", None, None, True),
        ("upcoming events", "event", None, None, True),
        ("Quels événements ce mois-ci ?", "event", "2026-11-01", "2026-12-01", True),
        ("Des ateliers la semaine prochaine ?", "event", "2026-11-23", "2026-11-30", True),
        ("Any workshops next month?", "event", "2026-12-01", "2027-01-01", True),
        ("events in January", "event", "2027-01-01", "2027-02-01", False),
        ("Y a-t-il des webinaires en novembre ?", "event", "2026-11-01", "2026-12-01", True),
        ("How do I apply for the accreditation programme?", None, None, None, False),
        ("What is the last day to apply for i-Nov?", None, None, None, False),
    ],
)
def test_time_scope(question, kind, start, end, upcoming):
    scope = parse_time_scope(question, NOW)
    assert (scope.kind, day(scope.start), day(scope.end), scope.upcoming_only) == (kind, start, end, upcoming)


def test_past_events_are_asked_for_explicitly():
    scope = parse_time_scope("What were the previous events?", NOW)
    assert (scope.kind, scope.past_only, scope.upcoming_only) == ("event", True, False)


def test_a_month_already_gone_this_year_means_next_year():
    assert day(parse_time_scope("Calls closing before February", NOW).end) == "2027-02-01"
    assert day(parse_time_scope("Calls closing before December", NOW).end) == "2026-12-01"


def test_topic_words_leave_out_kind_and_time_words():
    assert topical_words(keywords("Quand a lieu le prochain atelier IA en santé ?")) == {"ia", "sant"}
    assert topical_words(keywords("upcoming events this month")) == set()


@pytest.mark.parametrize(
    "question, kind, start, end, upcoming",
    [
        ("Welche Förderaufrufe sind offen?", "funding_call", None, None, True),
        ("offene Ausschreibungen", "funding_call", None, None, True),
        ("Welche Förderaufrufe schließen vor März?", "funding_call", None, "2027-03-01", True),
        ("Welche Ausschreibungen laufen bis Ende März 2027?", "funding_call", None, "2027-04-01", True),
        ("Wann ist der nächste KI-Workshop?", "event", None, None, True),
        ("kommende Veranstaltungen", "event", None, None, True),
        ("Welche Veranstaltungen gibt es diesen Monat?", "event", "2026-11-01", "2026-12-01", True),
        ("Gibt es nächste Woche Workshops?", "event", "2026-11-23", "2026-11-30", True),
        ("Veranstaltungen im nächsten Monat", "event", "2026-12-01", "2027-01-01", True),
        ("Veranstaltungen im Januar", "event", "2027-01-01", "2027-02-01", False),
        ("Wie bewerbe ich mich für das Akkreditierungsprogramm?", None, None, None, False),
    ],
)
def test_german_time_words_resolve_like_french_and_english(question, kind, start, end, upcoming):
    scope = parse_time_scope(question, NOW)
    assert (scope.kind, day(scope.start), day(scope.end), scope.upcoming_only) == (kind, start, end, upcoming)


@pytest.mark.parametrize(
    "german, english",
    [
        ("Veranstaltungen nächste Woche", "events next week"),
        ("Förderaufrufe vor März", "funding calls before March"),
        ("Ausschreibungen bis Ende März", "calls before the end of March"),
        ("vergangene Veranstaltungen", "past events"),
        ("Veranstaltungen diesen Monat", "events this month"),
    ],
)
def test_a_german_question_asks_for_the_same_period_as_its_english_twin(german, english):
    assert parse_time_scope(german, NOW) == parse_time_scope(english, NOW)


def test_german_kind_and_time_words_are_not_topics():
    assert topical_words(keywords("Wann ist der nächste KI-Workshop?")) == {"ki", "ki-workshop"}
    assert topical_words(keywords("Welche Förderaufrufe sind noch offen?")) == set()


@pytest.mark.parametrize(
    "question, start, end",
    [  # NOW is Sunday 22 November 2026
        ("Qu'est-ce qu'il y a le jeudi 26 novembre ?", "2026-11-26", "2026-11-27"),
        ("What's on 4 March?", "2027-03-04", "2027-03-05"),
        ("anything on March 20th?", "2027-03-20", "2027-03-21"),
        ("Was gibt es am 4. März 2027?", "2027-03-04", "2027-03-05"),
        ("qu'est-ce qu'il y a la semaine du 7 décembre ?", "2026-12-07", "2026-12-14"),
        ("anything happening the weekend of December 2?", "2026-12-05", "2026-12-07"),
        ("is there an office hour next Tuesday?", "2026-11-24", "2026-11-25"),
        ("Y a-t-il une permanence mardi prochain ?", "2026-11-24", "2026-11-25"),
        ("Any event on 1 November?", "2027-11-01", "2027-11-02"),  # gone this year: next year's
    ],
)
def test_a_day_or_the_week_or_weekend_of_a_day(question, start, end):
    scope = parse_time_scope(question, NOW)
    assert (day(scope.start), day(scope.end)) == (start, end)


def test_a_bare_weekday_or_an_impossible_date_names_no_day():
    assert parse_time_scope("When is the Tuesday office hour?", NOW).start is None
    assert parse_time_scope("What happens on 31 June?", NOW).start is None


def test_before_a_day_ends_the_window_that_day():
    assert day(parse_time_scope("Which calls close before 20 March?", NOW).end) == "2027-03-20"
    assert day(parse_time_scope("Quels appels clôturent avant le 15 avril ?", NOW).end) == "2027-04-15"
    assert day(parse_time_scope("calls closing before March 20th", NOW).end) == "2027-03-20"


@pytest.mark.parametrize("question, end", [
    ("Which events until March?", "2027-04-01"), ("Quels événements jusqu'à mars ?", "2027-04-01"),
    ("Veranstaltungen bis März?", "2027-04-01"), ("Quels événements jusqu'en mars ?", "2027-04-01"),
    ("Which calls close before March?", "2027-03-01"),
    ("calls closing by March?", "2027-03-01"), ("événements avant mars", "2027-03-01"),
])
def test_until_a_month_takes_that_month_in_before_it_does_not(question, end):
    assert day(parse_time_scope(question, NOW).end) == end


@pytest.mark.parametrize("question, end", [
    ("Which calls close through March?", "2027-04-01"), ("events till March", "2027-04-01"),
    ("calls open up to March?", "2027-04-01"), ("appels jusqu'au mois de mars", "2027-04-01"),
    ("calls closing no later than 20 March", "2027-03-21"), ("Förderaufrufe bis zum 20. März", "2027-03-21"),
    ("appels avant mi-mars", "2027-03-15"), ("appels d'ici mi-mars", "2027-03-16"),
    ("calls closing by mid-March", "2027-03-16"), ("Förderaufrufe bis Mitte März", "2027-03-16"),
    ("calls prior to March", "2027-03-01"),
])
def test_every_way_of_saying_until_sets_the_window(question, end):
    scope = parse_time_scope(question, NOW)
    assert (day(scope.end), scope.upcoming_only) == (end, True)


@pytest.mark.parametrize("question", ["calls closing by March?", "Which calls close before March?",
                                      "appels d'ici mars"])
def test_by_this_month_asked_in_it_means_its_end_not_a_window_already_over(question):
    asked_in_march = datetime(2027, 3, 10, 9, 0, tzinfo=PARIS)
    assert day(parse_time_scope(question, asked_in_march).end) == "2027-04-01"
    assert day(parse_time_scope("calls closing before March 2027?", datetime(2027, 5, 2, tzinfo=PARIS)).end) \
        == "2027-03-01"  # a year said is the member's: not moved


def test_after_mid_month_starts_on_the_15th():
    assert day(parse_time_scope("events after mid-March", NOW).start) == "2027-03-15"


def test_where_it_happens_is_not_the_past():
    scope = parse_time_scope("Où se passe la soirée télémédecine ?", NOW)
    assert (scope.kind, scope.past_only) == ("event", False)


@pytest.mark.parametrize("question", ["next hackathon?", "Quand a lieu le prochain petit-déjeuner ?",
                                      "when is the job fair", "Wann ist der nächste Stammtisch?"])
def test_kinds_of_events_that_name_a_topic_are_events_and_topics(question):
    scope = parse_time_scope(question, NOW)
    assert scope.kind == "event"
    assert topical_words(keywords(question))  # "hackathon", "fair"... still say what it is about


@pytest.mark.parametrize(
    "question, start, end",
    [  # NOW is Sunday 22 November 2026
        ("events after 4 March?", "2027-03-04", None),
        ("Welche Veranstaltungen ab dem 4. März?", "2027-03-04", None),
        ("What's on from 1 to 15 April?", "2027-04-01", "2027-04-16"),
        ("Qu'est-ce qu'il y a du 4 au 8 mars ?", "2027-03-04", "2027-03-09"),
        ("Which calls close by 29 January?", None, "2027-01-30"),  # "by" includes the day, "before" does not
        ("Quels appels clôturent jusqu'au 15 avril ?", None, "2027-04-16"),
        ("Que se passe-t-il le jeudi 12 novembre ?", "2026-11-12", "2026-11-13"),  # a past Thursday, not 2027's
        ("le week-end du 28 novembre", "2026-11-28", "2026-11-30"),
        ("anything le 04 mars ?", "2027-03-04", "2027-03-05"),
        ("events on May 2?", "2027-05-02", "2027-05-03"),
        ("events from March on?", "2027-03-01", None),  # "from", "à partir de", "ab" include the month
        ("Quels événements à partir de mars ?", "2027-03-01", None),
        ("Veranstaltungen ab März?", "2027-03-01", None),
        ("events after March?", "2027-04-01", None),  # "after", "après" do not
        ("Quels événements après mars ?", "2027-04-01", None),
        ("Y a-t-il des ateliers dès mars ?", "2027-03-01", None),
        ("Quels appels ouvrent dès le 15 avril ?", "2027-04-15", None),
        # month ranges: the first month's first day to the end of the last month
        ("Which events from March to May?", "2027-03-01", "2027-06-01"),
        ("Quels événements de mars à mai ?", "2027-03-01", "2027-06-01"),
        ("Quels ateliers d'avril à juin ?", "2027-04-01", "2027-07-01"),
        ("Quels événements entre mars et mai ?", "2027-03-01", "2027-06-01"),
        ("Welche Veranstaltungen von März bis Mai?", "2027-03-01", "2027-06-01"),
        ("events between December and February?", "2026-12-01", "2027-03-01"),
        ("events from November to January?", "2026-11-01", "2027-02-01"),  # the season we are in
        ("events from March 2027 to May 2027?", "2027-03-01", "2027-06-01"),
        ("events from January 2027 to December?", "2027-01-01", "2028-01-01"),  # the first's year places the last
        ("calls open from March to May 15?", "2027-03-01", "2027-05-16"),
        ("from March, to May events?", "2027-03-01", "2027-06-01"),
        ("Quels événements du mois de mars au mois de mai ?", "2027-03-01", "2027-06-01"),
        ("Welche Veranstaltungen von März bis Ende Mai?", "2027-03-01", "2027-06-01"),
        ("Welche Veranstaltungen vom März bis Mai?", "2027-03-01", "2027-06-01"),
        # not ranges: "des" is also the plural article ("sept" a month's short name), "de X et Y" two months
        ("Quelle est la liste des sept appels ouverts ?", None, None),
        ("Quels sont les événements de novembre et janvier ?", None, None),
    ],
)
def test_after_a_day_a_range_and_by_a_day(question, start, end):
    scope = parse_time_scope(question, NOW)
    assert (day(scope.start), day(scope.end)) == (start, end)


@pytest.mark.parametrize("question", ["May 2 people from my company attend the hackathon?",
                                      "What if only 2 may attend?", "calls before 0 March?"])
def test_a_number_beside_a_month_like_word_is_not_a_date(question):
    scope = parse_time_scope(question, NOW)
    assert (scope.start, scope.end) == (None, None)


@pytest.mark.parametrize("question, asks_when", [
    ("next cybersecurity thing?", True), ("Qu'y a-t-il le 4 mars ?", True),
    ("Is the Demo Day open to the public?", False), ("What are the next steps to register for the hackathon?", False),
])
def test_whether_a_question_asks_when(question, asks_when):
    scope = parse_time_scope(question, NOW)
    assert scope.asks_when is asks_when
    assert not scope.upcoming_only or asks_when, "'open to', 'next steps' do not narrow to what is ahead"


def test_from_this_month_means_what_is_still_ahead():
    scope = parse_time_scope("Quels événements à partir de novembre ?", NOW)  # NOW: 22 November 2026
    assert scope.upcoming_only and day(scope.start) == "2026-11-01"


@pytest.mark.parametrize("question, ahead", [
    ("Which events are open?", True), ("Which events are open for registration?", True),
    ("Quels événements sont ouverts aux inscriptions ?", True), ("Welche Veranstaltungen sind noch offen?", True),
    ("Is the Demo Day open to the public?", False), ("L'atelier est-il ouvert aux non-adhérents ?", False),
    ("Ist der Workshop offen für Studierende?", False), ("Le hackathon est ouvert à tous ?", False),
    ("Les inscriptions au hackathon sont-elles ouvertes ?", False), ("Is the summit open for non-members?", False),
    ("Ist die Anmeldung für den Hackathon schon offen?", False), ("Quels ateliers sont ouverts à l'inscription ?", True),
])
def test_open_events_are_the_ones_ahead_open_to_someone_is_who_may_come(question, ahead):
    scope = parse_time_scope(question, NOW)
    assert (scope.kind, scope.upcoming_only) == ("event", ahead)


def test_weekdays_weekends_and_ordinals_are_not_topics():
    assert topical_words(keywords("Any event on Tuesday?")) == set()
    assert topical_words(keywords("Events on March 20th this weekend?")) == set()
    assert topical_words(keywords("Que se passe-t-il le week-end du 20 mars ?")) <= {"passe-t-il", "passe"}


@pytest.mark.parametrize("question, kind", [
    ("Quels événements à Genève ?", "event"), ("which events are about cybersecurity?", "event"),
    ("Welche Veranstaltungen gibt es in Genf?", "event"), ("Any workshops on AI?", "event"),
    ("Welche Seminare gibt es zur MDR?", "event"),
    ("Which calls fund AI projects?", "funding_call"),
])
def test_which_items_of_a_kind_lists_the_ones_ahead(question, kind):
    scope = parse_time_scope(question, NOW)
    assert (scope.kind, scope.upcoming_only, scope.past_only) == (kind, True, False)


@pytest.mark.parametrize("question", ["Le webinaire EHDS c'est en quelle langue ?", "Which event is the Demo Day?",
                                      "Quelle conférence parle d'IA en radiologie ?",
                                      "any event on hearing aids?", "Which events are open to non-members?"])
def test_one_item_or_who_may_come_is_no_listing(question):
    assert parse_time_scope(question, NOW).upcoming_only is False


def test_which_items_took_place_are_the_past_ones():
    scope = parse_time_scope("What events took place in Lyon last year?", NOW)
    assert (scope.upcoming_only, scope.past_only) == (False, True)


@pytest.mark.parametrize("question, kind, ahead", [
    ("Is the EIC call open to startups?", "funding_call", False), ("Is the call open for applications?", "funding_call", True),
    ("Which calls are open to startups?", "funding_call", True), ("Which calls are open?", "funding_call", True),
    ("Is the EIC Accelerator still open?", None, True), ("Cet appel est-il ouvert aux laboratoires ?", "funding_call", False),
    ("What funding is there for medtech startups?", "funding_call", True),
    ("Quels financements pour les start-up ?", "funding_call", True),
    ("Welche Förderaufrufe laufen noch?", "funding_call", True), ("What is the deadline of the EIC call?", "funding_call", False),
])
def test_a_call_open_to_someone_is_who_may_apply_not_a_list_of_open_calls(question, kind, ahead):
    scope = parse_time_scope(question, NOW)
    assert (scope.kind, scope.upcoming_only) == (kind, ahead)


@pytest.mark.parametrize("text, asked", [
    ("How do I apply?", {"how"}), ("Comment adhérer au cluster ?", {"how"}), ("Wie werde ich Mitglied?", {"how"}),
    ("Who can apply for the label?", {"who"}), ("Qui peut candidater ?", {"who"}), ("Eligibility conditions", {"who"}),
    ("Wer kann sich bewerben?", {"who"}),
    ("How much does membership cost?", {"price"}), ("Wie hoch ist der Mitgliedsbeitrag?", {"price"}),
    ("Montant de la cotisation", {"price"}), ("Prise en charge des frais", {"price"}),
    ("When is the summit?", {"when"}), ("Contact", {"contact"}),
    ("Les entreprises qui innovent en santé", set()), ("Financements régionaux", set()),
    # what only looks like it (a review's examples)
    ("Dans quel délai une entreprise qui doit notifier ?", set()), ("Quels documents faut-il joindre ?", set()),
    ("Can I comment on the draft?", set()), ("Public comment period", set()), ("Dépenses éligibles", set()),
    ("Gibt es Förderungen für Start-ups wie uns?", set()), ("Who sits on the committee?", set()),
    ("Wie teuer ist die Mitgliedschaft?", {"price"}), ("How it works", {"how"}),
])
def test_what_a_question_asks_and_a_heading_answers_is_read_in_any_language(text, asked):
    assert intents(text) == asked
