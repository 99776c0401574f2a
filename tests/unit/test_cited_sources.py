"""An extractive answer names every source that comes close to the one it quotes, best first, without flooding."""

from __future__ import annotations

from datetime import datetime

from knowledge.answering import ExtractiveAnswerer, Question
from knowledge.ranking import Hit, Ranking
from tests.conftest import PARIS
from tests.fakes.embedding import HashingEmbedder

NOW = datetime(2026, 11, 22, 12, tzinfo=PARIS)


def page(slug: str, title: str, text: str, dense: float) -> Hit:
    return Hit(f"kb/{slug}.md:0", text, {"title": title, "url": f"https://kb.test/{slug}", "path": f"{slug}.md",
                                         "source_id": f"kb/{slug}.md", "language": "en"}, dense=dense)


BREACH = page("breach", "Reporting a data breach", "A breach is reported to the regulator within 72 hours.", 0.62)
RECORDS = page("records", "Keeping breach records", "The controller documents every breach and its effects.", 0.58)
NOTICE = page("notice", "Telling the people concerned", "People at high risk are told without undue delay.", 0.55)
FEES = page("fees", "Membership fees", "The yearly fee is 900 EUR for an SME.", 0.20)
QUESTION = Question(text="How fast must we report a data breach?", language="en", now=NOW)


def test_close_sources_are_named_after_the_quote_and_far_ones_are_not():
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(QUESTION, [BREACH, RECORDS, NOTICE, FEES])

    urls = [s.url for s in answer.sources]
    assert urls[0] == "https://kb.test/breach", "the best passage is quoted and cited first"
    assert set(urls) == {"https://kb.test/breach", "https://kb.test/records", "https://kb.test/notice"}
    assert "https://kb.test/fees" not in urls, "a source far from the best one is left out"
    assert [s.n for s in answer.sources] == [1, 2, 3]
    for ref in answer.sources:
        assert f"[{ref.n}]" in answer.text, f"{ref.title} is cited where the member reads"
    assert answer.text.splitlines()[-1].startswith("Also on this:")


def test_a_source_retrieval_ranks_far_below_is_not_named_though_close_in_meaning():
    # Keywords and the title put the breach page far ahead of the records page in retrieval's fused score,
    # though both are close in meaning: the member gets the one source, not a list to sort.
    breach = page("breach2", "Reporting a data breach",
                  "A breach is reported to the regulator within 72 hours. Late reports give the reasons.", 0.62)
    records = page("records2", "Keeping breach records", "The controller documents every breach.", 0.60)
    breach.score, records.score = 0.049, 0.016
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(QUESTION, [breach, records])
    assert [s.url for s in answer.sources] == ["https://kb.test/breach2"]
    records.score = 0.040  # retrieval can hardly tell them apart: both are shown
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(QUESTION, [breach, records])
    assert [s.url for s in answer.sources] == ["https://kb.test/breach2", "https://kb.test/records2"]


def test_the_number_of_sources_is_capped():
    hits = [page(f"p{i}", f"Page {i}", f"Breach reporting rule number {i}.", 0.6 - i * 0.01) for i in range(8)]
    answer = ExtractiveAnswerer(HashingEmbedder(), ranking=Ranking(cite_sources=3)).answer(QUESTION, hits)
    assert len(answer.sources) == 3
    assert len({s.url for s in answer.sources}) == 3, "each source once"


def test_a_french_answer_names_them_in_french():
    question = Question(text="Quel délai pour signaler une violation de données ?", language="fr", now=NOW)
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(question, [BREACH, RECORDS, FEES])
    assert "À voir aussi :" in answer.text and "Keeping breach records [" in answer.text


def test_the_source_retrieval_ranks_first_is_cited_even_when_the_quote_comes_from_another():
    # Retrieval ranks the automated-decision page first, but its cosine is far below the best one's and the
    # sentence that reads best comes from another page: the member still sees the first-ranked source.
    decisions = page("decisions", "Automated individual decisions",
                     "A person may contest a decision based solely on automated processing.", 0.22)
    requests = page("requests", "Answering requests", "Patient requests are answered within one month.", 0.26)
    unrelated = page("consent", "Conditions for consent", "Consent is given by a clear affirmative act.", 0.31)
    question = Question(text="Within what time are patient requests answered?", language="en", now=NOW)
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(question, [decisions, requests, unrelated])
    assert answer.sources[0].url == "https://kb.test/requests", "the quote comes from another page"
    assert "https://kb.test/decisions" in [s.url for s in answer.sources]


def test_a_call_named_after_the_quote_carries_its_deadline_in_the_members_words():
    guide = page("guide", "Financer son innovation",
                 "La date limite de l'EIC Accelerator est publiée par la Commission chaque année.", 0.60)
    guide.metadata["language"] = "fr"
    call = Hit("kb/calls.csv:0", "Grants and equity for single companies.", {
        "title": "EIC Accelerator", "url": "https://kb.test/eic", "path": "calls.csv", "source_id": "kb/calls.csv",
        "kind": "funding_call", "deadline": "2027-03-04", "deadline_ts": int(datetime(2027, 3, 4, tzinfo=PARIS)
                                                                             .timestamp()), "language": "en"},
        dense=0.55)
    question = Question(text="Quelle est la date limite de l'EIC Accelerator ?", language="fr", now=NOW)
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(question, [guide, call])
    assert answer.sources[0].url == "https://kb.test/guide"
    assert "EIC Accelerator (ouvert jusqu'au 4 mars 2027) [2]" in answer.text


def test_a_passage_opening_mid_sentence_is_not_quoted_from_its_fragment():
    # A sentence too long for one chunk is cut: the next chunk opens with its tail ("a large scale.").
    tail = page("large-scale", "Impact assessments",
                "a large scale. An impact assessment is not mandatory for a single physician's patient files.", 0.6)
    question = Question(text="Is an impact assessment mandatory for a single physician?", language="en", now=NOW)
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(question, [tail])
    assert "An impact assessment is not mandatory for a single physician's patient files. [1]" in answer.text
    assert "a large scale." not in answer.text


def test_an_events_facts_are_quoted_in_the_members_words_and_its_start_once():
    # Ingestion writes an event's facts in its own language ("Début: 2026-12-10 14:00 (UTC+01:00)").
    atelier = Hit("kb/events.ics:0", "Début: 2026-12-10 14:00 (UTC+01:00)\nFin: 2026-12-10 17:30 (UTC+01:00)\n"
                  "Lieu: Maison de l'innovation, Lyon\nAtelier pratique sur l'IA en santé.",
                  {"title": "Atelier IA en santé", "url": "https://kb.test/atelier", "path": "events.ics",
                   "source_id": "kb/events.ics", "kind": "event", "language": "fr", "start": "2026-12-10 14:00 (UTC+01:00)",
                   "start_ts": int(datetime(2026, 12, 10, 14, tzinfo=PARIS).timestamp()),
                   "end_ts": int(datetime(2026, 12, 10, 17, 30, tzinfo=PARIS).timestamp())}, dense=0.6)
    question = Question(text="When and where is the AI in healthcare workshop?", language="en", now=NOW)
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(question, [atelier])
    assert "Ends: 10 December 2026, 17:30 [1]" in answer.text
    assert "Location: Maison de l'innovation, Lyon [1]" in answer.text
    assert "Début" not in answer.text and "2026-12-10" not in answer.text
    assert answer.text.count("10 December 2026, 14:00") == 1, "the start is said once, on the status line"


def test_an_events_place_is_said_with_its_date_whatever_sentences_are_quoted():
    webinar = Hit("kb/events.ics:1", "Début: 2027-01-14 11:00 (UTC+01:00)\nLieu: En ligne\n"
                  "Un webinaire sur l'évaluation clinique. Questions à la fin.",
                  {"title": "Webinaire MDR", "url": "https://kb.test/mdr", "path": "events.ics", "location": "En ligne",
                   "source_id": "kb/events.ics", "kind": "event", "language": "fr", "start": "2027-01-14 11:00 (UTC+01:00)",
                   "start_ts": int(datetime(2027, 1, 14, 11, tzinfo=PARIS).timestamp()),
                   "end_ts": int(datetime(2027, 1, 14, 12, tzinfo=PARIS).timestamp())}, dense=0.6)
    question = Question(text="Où a lieu le webinaire MDR ?", language="fr", now=NOW)
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(question, [webinar])
    assert answer.text.splitlines()[1] == "Webinaire MDR: le 14 janvier 2027 à 11:00, En ligne [1]"
    assert answer.text.count("En ligne") == 1, "the place once, beside the date"


def test_a_first_passage_titled_with_every_topic_word_is_quoted_over_a_neighbour_sharing_a_word():
    membership = page("adhesion", "Devenir membre – adhésion et cotisation",
                      "La cotisation annuelle d'une PME est de 900 EUR HT.", 0.27)
    membership.metadata["language"] = "fr"
    membership.title_match = 1.0  # retrieval found "membership" ~ "membre", "fee" ~ "cotisation" in its title
    accreditation = page("accreditation", "Accreditation programme",
                         "Non-members pay a review fee of 1,500 EUR for the membership accreditation.", 0.31)
    question = Question(text="How much is the membership fee?", language="en", now=NOW)
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(question, [membership, accreditation])
    assert answer.sources[0].url == "https://kb.test/adhesion"
    assert "900 EUR HT. [1]" in answer.text and "1,500 EUR" not in answer.text
    assert "Accreditation programme [2]" in answer.text, "the neighbour is still named after the quote"


def test_the_member_is_told_which_language_the_quote_is_in():
    question = Question(text="Quel délai pour signaler une violation de données ?", language="fr", now=NOW)
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(question, [BREACH])
    assert answer.text.splitlines()[-1] == "(La source est en anglais.)"


def test_an_events_topics_and_status_lines_are_not_quoted_again():
    meetup = Hit("kb/events.ics:2", "Status: cancelled\nTopics: Meetup, Wearables\n"
                 "Cancelled: the speaker is unavailable. A new date will follow.",
                 {"title": "Meetup: wearables", "url": "https://kb.test/wearables", "path": "events.ics",
                  "source_id": "kb/events.ics", "kind": "event", "language": "en", "status": "cancelled",
                  "start": "2027-03-11 18:30 (UTC+01:00)", "topics": "Meetup, Wearables",
                  "start_ts": int(datetime(2027, 3, 11, 18, 30, tzinfo=PARIS).timestamp()),
                  "end_ts": int(datetime(2027, 3, 11, 20, tzinfo=PARIS).timestamp())}, dense=0.6)
    question = Question(text="Is the wearables meetup still on?", language="en", now=NOW)
    answer = ExtractiveAnswerer(HashingEmbedder()).answer(question, [meetup])
    assert answer.text.splitlines()[1] == "Meetup: wearables: cancelled (it was planned on 11 March 2027, 18:30) [1]"
    assert "Topics:" not in answer.text and "Status:" not in answer.text
    assert "Cancelled: the speaker is unavailable." in answer.text


def test_a_when_question_about_an_event_gets_its_date_and_the_sentences_that_say_when_not_its_blurb():
    demo = Hit("kb/events.ics:3", "Start: 2027-05-27 14:00 (UTC+02:00)\nLocation: Pavillon 3, Lyon\n"
               "The ten startups of this year's programme pitch to investors. Networking cocktail from 18:00. "
               "Free for members, registration required.",
               {"title": "Demo Day", "url": "https://kb.test/demo", "path": "events.ics", "location": "Pavillon 3, Lyon",
                "source_id": "kb/events.ics", "kind": "event", "language": "en", "start": "2027-05-27 14:00 (UTC+02:00)",
                "start_ts": int(datetime(2027, 5, 27, 14, tzinfo=PARIS).timestamp()),
                "end_ts": int(datetime(2027, 5, 27, 19, tzinfo=PARIS).timestamp())}, dense=0.6)
    answerer = ExtractiveAnswerer(HashingEmbedder(), max_sentences=6)
    when = answerer.answer(Question(text="C'est quand le Demo Day ?", language="fr", now=NOW), [demo])
    assert when.text.splitlines()[1] == "Demo Day: le 27 mai 2027 à 14:00, Pavillon 3, Lyon [1]"
    assert "Networking cocktail from 18:00. [1]" in when.text
    assert "pitch to investors" not in when.text and "Free for members" not in when.text
    other = answerer.answer(Question(text="Is the Demo Day free for members?", language="en", now=NOW), [demo])
    assert "Free for members, registration required. [1]" in other.text, "other questions still get the text"


def test_a_price_question_about_an_event_gets_the_sentences_that_give_a_price():
    hackathon = Hit("kb/events.ics:4", "Start: 2027-03-20 09:00 (UTC+01:00)\n"
                    "A 48-hour hackathon on open registries. Teams of 3 to 6; developers and clinicians welcome. "
                    "Free, meals included.",
                    {"title": "Hackathon: rare diseases", "url": "https://kb.test/hack", "path": "events.ics",
                     "source_id": "kb/events.ics", "kind": "event", "language": "en",
                     "start": "2027-03-20 09:00 (UTC+01:00)",
                     "start_ts": int(datetime(2027, 3, 20, 9, tzinfo=PARIS).timestamp()),
                     "end_ts": int(datetime(2027, 3, 21, 18, tzinfo=PARIS).timestamp())}, dense=0.6)
    answerer = ExtractiveAnswerer(HashingEmbedder(), max_sentences=6)
    price = answerer.answer(Question(text="Le hackathon, c'est payant ?", language="fr", now=NOW), [hackathon])
    assert "Free, meals included. [1]" in price.text
    assert "Teams of 3 to 6" not in price.text and "48-hour" not in price.text
    seats = answerer.answer(Question(text="Combien de personnes par équipe au hackathon ?", language="fr", now=NOW),
                            [hackathon])
    assert "Teams of 3 to 6; developers and clinicians welcome. [1]" in seats.text, "how many is not how much"
