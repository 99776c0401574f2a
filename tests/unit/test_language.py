"""French, English or German: the reply's language follows the question's."""

from __future__ import annotations

import pytest

from knowledge.language import detect_language


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Quand a lieu le prochain atelier IA en santé ?", "fr"),
        ("Quels appels à projets sont ouverts ?", "fr"),
        ("Which funding calls for medtech SMEs close before March?", "en"),
        ("How do I apply for the accreditation programme?", "en"),
        ("When was the Journée du financement de l'innovation?", "en"),
        ("Comment candidater à l'EIC Accelerator ?", "fr"),
        ("C'est quoi le label ?", "fr"),
        ("Welche Förderaufrufe sind offen?", "de"),
        ("Wann ist der nächste KI-Workshop?", "de"),
        ("Wie bewerbe ich mich für das Akkreditierungsprogramm?", "de"),
        ("Gibt es kommende Veranstaltungen?", "de"),
        ("Was kostet die Mitgliedschaft im Cluster?", "de"),
        ("Wann findet der Medtech Summit statt?", "de"),
    ],
)
def test_detects_the_question_language(text, expected):
    assert detect_language(text) == expected


def test_text_without_telling_words_gets_the_default():
    assert detect_language("EIC 2027", default="fr") == "fr"


@pytest.mark.parametrize(
    "text",
    ["Is the EIC Accelerator still open?", "What happens if a patient may die?", "Quels appels sont ouverts ?"],
)
def test_english_and_french_are_not_taken_for_german(text):
    assert detect_language(text) != "de"


def test_the_german_replies_themselves_read_as_german():
    from knowledge.locales import message

    assert detect_language(message("nothing", "de", contact="das Team")) == "de"
    assert detect_language(message("unavailable", "de")) == "de"


def test_a_lower_case_i_in_a_name_is_not_english():
    assert detect_language("Quand ferme i-Nov ?") == "fr"
    assert detect_language("Can I apply?") == "en"
    assert detect_language("am i eligible", default="fr") == "en", "chat writes a lower-case i too"
