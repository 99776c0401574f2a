"""Role and time filters: who may see what, and the numpy mask agrees with the Chroma `where` it mirrors."""

from __future__ import annotations

from datetime import datetime

import pytest

from knowledge.retrieval import Filters, _KeywordIndex, allowed_audiences, keywords, matches, names
from knowledge.when import parse_time_scope
from tests.conftest import PARIS

NOW = datetime(2026, 11, 22, 12, tzinfo=PARIS)
TS = int(NOW.timestamp())
METADATAS = [
    {"audience": "public", "kind": "document", "title": "Guide"},
    {"audience": "member", "kind": "funding_call", "title": "Open call", "deadline_ts": TS + 86400 * 30},
    {"audience": "public", "kind": "funding_call", "title": "Closed call", "deadline_ts": TS - 86400},
    {"audience": "staff", "kind": "document", "title": "Internal"},
    {"audience": "public", "kind": "event", "title": "Past event", "start_ts": TS - 7200, "end_ts": TS - 3600},
    {"audience": "public", "kind": "event", "title": "Next event", "start_ts": TS + 86400, "end_ts": TS + 90000},
]


@pytest.fixture(scope="module")
def index() -> _KeywordIndex:
    built = _KeywordIndex()
    built.build([f"c{i}" for i in range(len(METADATAS))], [m["title"] for m in METADATAS], METADATAS)
    return built


def test_roles_see_their_audience_and_below():
    assert allowed_audiences("public") == ["public"]
    assert allowed_audiences("member") == ["public", "member"]
    assert allowed_audiences("staff") == ["public", "member", "staff"]
    with pytest.raises(ValueError):
        allowed_audiences("admin")


@pytest.mark.parametrize(
    "role, question, titles",
    [
        ("member", "Which calls are still open?", ["Open call"]),
        ("public", "Which calls are still open?", []),
        ("member", "upcoming events", ["Next event"]),
        ("member", "What were the past events?", ["Past event"]),
        ("staff", "tell me everything", ["Guide", "Open call", "Closed call", "Internal", "Past event", "Next event"]),
        ("member", "tell me everything", ["Guide", "Open call", "Closed call", "Past event", "Next event"]),
    ],
)
def test_filters_keep_what_the_role_and_time_allow(index, role, question, titles):
    where = Filters(role=role, scope=parse_time_scope(question, NOW), now=NOW).where()
    kept = [m["title"] for m in METADATAS if matches(m, where)]
    assert kept == titles
    assert list(index.mask(where)) == [matches(m, where) for m in METADATAS], "numpy mask == Chroma semantics"


def test_names_are_capitalised_words_acronyms_and_identifiers():
    assert names("Is HORIZON-HLTH-2027-DISEASE-03 open for SMEs?") >= {"horizon-hlth-2027-disease-03", "sme"}
    assert names("Quand a lieu le prochain atelier ?") == set()


def test_keywords_fold_accents_and_plurals():
    assert keywords("Éligibilité des appels") == ["eligibilite", "appel"]
