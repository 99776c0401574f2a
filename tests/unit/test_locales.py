"""Every member-facing sentence comes from one catalog per language; a language is one catalog away."""

from __future__ import annotations

import string

import pytest

from bot import messages
from bot.slack.render import feedback_block, source_line
from bot.teams.render import card_message, sources_markdown
from knowledge.answering import SourceRef
from knowledge.locales import LANGUAGES, catalog, catalogs, en, message
from knowledge.settings import KnowledgeSettings


def placeholders(sentence: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(sentence) if name}


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_every_catalog_says_every_sentence_with_the_same_placeholders(language):
    sentences = catalog(language).MESSAGES
    assert set(sentences) == set(en.MESSAGES)
    for key, sentence in sentences.items():
        assert placeholders(sentence) == placeholders(en.MESSAGES[key]), key


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalog_names_its_time_words_and_months(language):
    module = catalog(language)
    assert set(module.TIME_WORDS) <= set(en.TIME_WORDS) and module.TELLING_WORDS.split()
    assert all(1 <= month <= 12 for month in module.MONTHS.values())
    assert set(catalogs()) == set(LANGUAGES)


def test_a_language_without_a_catalog_reads_english():
    assert message("none_match", "it") == en.MESSAGES["none_match"]
    assert messages.apology("it") == messages.apology("en")


def test_the_bot_speaks_german():
    assert messages.apology("de").startswith("Entschuldigung")
    assert messages.thanks("de", helpful=True) == "Danke für Ihre Rückmeldung!"
    assert messages.refusal("de", "/ask").endswith("mit /ask!")


def test_french_and_english_sentences_are_unchanged():
    assert message("nothing_listed", "fr", what="événement correspondant", contact="x").startswith(
        "Je n'ai trouvé aucun événement correspondant")
    assert message("closed", "en", date="2026-10-31") == "closed on 2026-10-31"
    assert message("heading_colon", "fr") == " :" and message("heading_colon", "en") == ":"


def ref(**kw) -> SourceRef:
    base = {"n": 1, "title": "EIC Accelerator", "url": "https://kb.test/eic", "path": "calls.csv",
            "kind": "funding_call", "snippet": "", "score": 0.1, "dates": {"deadline": "2027-03-04"},
            "status": "closed"}
    return SourceRef(**{**base, **kw})


def test_renderers_label_dates_and_buttons_in_german():
    assert source_line(ref(), "de") == "*[1]* <https://kb.test/eic|EIC Accelerator> · Frist 4. März 2027 · (geschlossen)"
    labels = [button["text"]["text"] for button in feedback_block(7, "de")["elements"]]
    assert labels == ["👍 Hilfreich", "👎 Nicht hilfreich"]
    assert sources_markdown([ref()], "de").endswith("Frist 4. März 2027 (geschlossen)")
    card = card_message("Antwort [1]", [ref()], "de", answer_id=7).attachments[0].content
    assert card["body"][1]["text"] == "Quellen"
    assert sources_markdown([ref()], "fr").endswith("Date limite 4 mars 2027 (clôturé)")


def test_staff_contacts_are_a_setting_per_language(monkeypatch):
    monkeypatch.setenv("KB_STAFF_CONTACT", "the team (team@kb.test)")
    monkeypatch.setenv("KB_STAFF_CONTACTS", "de=das Team (team@kb.test, Tel. 1234),it=il team")
    monkeypatch.setenv("KB_STAFF_CONTACT_FR", "l'équipe")
    assert KnowledgeSettings(_env_file=None).contacts() == {
        "en": "the team (team@kb.test)", "fr": "l'équipe", "de": "das Team (team@kb.test, Tel. 1234)",
        "it": "il team"}


def test_the_french_contact_variable_still_works_alone(monkeypatch):
    monkeypatch.delenv("KB_STAFF_CONTACTS", raising=False)
    monkeypatch.setenv("KB_STAFF_CONTACT_FR", "l'équipe")
    assert KnowledgeSettings(_env_file=None).contacts()["fr"] == "l'équipe"
