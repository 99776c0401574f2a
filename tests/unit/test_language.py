"""French or English: the reply's language follows the question's."""

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
    ],
)
def test_detects_the_question_language(text, expected):
    assert detect_language(text) == expected


def test_text_without_telling_words_gets_the_default():
    assert detect_language("EIC 2027", default="fr") == "fr"
