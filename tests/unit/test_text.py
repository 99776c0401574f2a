"""Words as search sees them: accents folded, stop words dropped and words stemmed in both languages, names and
identifiers kept."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from knowledge.text import fold, keywords, names, stem
from tests.conftest import ROOT


def test_folding_drops_case_and_accents():
    assert fold("Éligibilité à l'AAP Innov'Santé") == "eligibilite a l'aap innov'sante"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Éligibilité des appels", ["eligibil", "appel"]),
        ("What are the calls for SMEs?", ["call", "sme"]),
        ("Quels sont les appels ouverts aux PME ?", ["appel", "ouvert", "pme"]),
        ("How must a workshop be booked?", ["workshop", "book"]),
        ("Comment doit-on réserver les ateliers ? On peut ?", ["doit-on", "reserv", "atel"]),
        ("HORIZON-HLTH-2027-DISEASE-03", ["horizon-hlth-2027-disease-03", "horizon", "hlth", "2027", "disease", "03"]),
        ("the of le la de", []),
    ],
)
def test_keywords_fold_accents_stem_and_drop_stop_words(text, expected):
    assert keywords(text) == expected


def test_names_are_capitalised_words_acronyms_and_identifiers():
    assert names("Is HORIZON-HLTH-2027-DISEASE-03 open for SMEs?") >= {"horizon-hlth-2027-disease-03", "sme"}
    assert names("Quelle est la date limite de l'EIC Accelerator ?") == {"eic", "accel"}
    assert names("Quand a lieu le prochain atelier ?") == set(), "the first word of a sentence is no name"


def test_one_stem_for_the_forms_of_a_word_in_either_language():
    assert len({stem(w) for w in ("call", "calls")}) == len({stem(w) for w in ("appel", "appels")}) == 1
    assert stem("ouvertes") == stem("ouvert") and stem("funding") == stem("fund")


def test_stemming_is_safe_from_several_threads():
    words = ["calls", "appels", "ouvertes", "workshops", "financements"] * 200
    expected = [stem(w) for w in words]
    with ThreadPoolExecutor(4) as pool:
        assert all(got == expected for got in pool.map(lambda _: [stem(w) for w in words], range(8)))


@pytest.mark.parametrize("module", ["knowledge.time_scope", "knowledge.text", "knowledge.retrieval",
                                    "knowledge.answering", "knowledge.store"])
def test_each_module_imports_first_without_a_circle(module):
    done = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
