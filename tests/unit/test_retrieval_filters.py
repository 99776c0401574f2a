"""Role and time filters: who may see what; the one filter definition reads the same in Python and in the
keyword index's SQL (Chroma's reading is checked in tests/integration/test_retrieval_filters_in_chroma.py)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from knowledge.filters import AtLeast, Below, ChunkFilter, Filters, NoneOf, OneOf, allowed_audiences
from knowledge.keyword_index import KeywordIndex
from knowledge.store import StoredChunks, chroma_where
from knowledge.time_scope import parse_time_scope
from tests.conftest import PARIS, ROOT

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


def keyword_index(metadatas: list[dict]) -> KeywordIndex:
    built = KeywordIndex()
    ids = [f"c{i}" for i in range(len(metadatas))]
    built.replace({"s": "1"}, StoredChunks(ids=ids, documents=[str(m.get("title", "text")) for m in metadatas],
                                         metadatas=[{"source_id": "s", **m} for m in metadatas]))
    return built


def kept_by_sql(index: KeywordIndex, selection: ChunkFilter, count: int) -> list[bool]:
    passing = index.passing([f"c{i}" for i in range(count)], selection)
    return [passing[f"c{i}"] for i in range(count)]


@pytest.fixture(scope="module")
def index() -> KeywordIndex:
    return keyword_index(METADATAS)


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
    selection = Filters(role=role, scope=parse_time_scope(question, NOW), now=NOW).chunk_filter()
    kept = [m["title"] for m in METADATAS if selection.accepts(m)]
    assert kept == titles
    assert kept_by_sql(index, selection, len(METADATAS)) == [selection.accepts(m) for m in METADATAS], \
        "the keyword index's SQL == plain Python"
    assert index.count(selection) == len(titles)


def test_lifting_the_time_window_keeps_role_and_kind():
    filters = Filters(role="member", scope=parse_time_scope("Which calls are still open?", NOW), now=NOW)
    assert filters.has_time_window
    lifted = filters.chunk_filter(with_time=False)
    assert [m["title"] for m in METADATAS if lifted.accepts(m)] == ["Open call", "Closed call"]
    assert not Filters(role="member", scope=parse_time_scope("How do I apply?", NOW), now=NOW).has_time_window


@pytest.mark.parametrize(
    "condition, metadata, kept",
    [
        (OneOf("kind", ("event", "funding_call")), {"kind": "event"}, True),
        (OneOf("kind", ("event",)), {"kind": "document"}, False),
        (OneOf("kind", ("event",)), {}, False),
        (AtLeast("end_ts", 10), {"end_ts": 10}, True),
        (AtLeast("end_ts", 10), {"end_ts": 9}, False),
        (Below("end_ts", 10), {"end_ts": 9}, True),
        (Below("end_ts", 10), {"end_ts": 10}, False),
        (AtLeast("end_ts", 10), {}, False),  # a chunk without the field is left out, as Chroma does
        (Below("end_ts", 10), {}, False),
        (OneOf("status", ("open",)), {"status": "open"}, True),  # a field without a column of its own
        (OneOf("status", ("open",)), {"status": "closed"}, False),
        (NoneOf("url", ("https://kb.test/a", "b.md")), {"url": "https://kb.test/a"}, False),
        (NoneOf("url", ("https://kb.test/a", "b.md")), {"url": "https://kb.test/c"}, True),
        (NoneOf("path", ("https://kb.test/a", "b.md")), {"path": "b.md"}, False),
        (NoneOf("path", ("b.md",)), {}, True),  # a chunk without the field holds none of the values: kept
        (NoneOf("path", ()), {"path": "b.md"}, True),  # leaving out nothing keeps everything
        (NoneOf("kind", ("event",)), {"kind": "event"}, False),  # a field with a column of its own
        (NoneOf("kind", ("event",)), {"kind": "document"}, True),
    ],
)
def test_each_condition_reads_the_same_in_python_and_sql(condition, metadata, kept):
    built = keyword_index([metadata])
    selection = ChunkFilter((condition,))
    assert selection.accepts(metadata) is kept
    assert kept_by_sql(built, selection, 1) == [kept]


@pytest.mark.parametrize("excluded", [("https://kb.test/guide",), ("guide.md",)])
def test_excluded_sources_are_left_out_by_url_or_by_path(excluded):
    chunks = [{"audience": "public", "url": "https://kb.test/guide", "path": "guide.md"},
              {"audience": "public", "url": "https://kb.test/faq", "path": "faq.md"},
              {"audience": "public"}]  # neither url nor path: nothing says it is the excluded source
    selection = Filters(role="member", exclude=excluded).chunk_filter()
    assert [selection.accepts(m) for m in chunks] == [False, True, True]
    assert kept_by_sql(keyword_index(chunks), selection, len(chunks)) == [False, True, True]
    assert Filters(role="member", exclude=excluded).chunk_filter(with_time=False) == selection


def test_a_filter_without_conditions_keeps_everything(index):
    assert ChunkFilter().accepts({}) and all(kept_by_sql(index, ChunkFilter(), len(METADATAS)))
    assert chroma_where(ChunkFilter()) is None and chroma_where(None) is None


def test_the_store_writes_the_chroma_where():
    assert chroma_where(ChunkFilter((OneOf("audience", ("public",)),))) == {"audience": {"$in": ["public"]}}
    assert chroma_where(ChunkFilter((OneOf("kind", ("event",)), AtLeast("end_ts", 5), Below("start_ts", 9)))) == {
        "$and": [{"kind": {"$in": ["event"]}}, {"end_ts": {"$gte": 5}}, {"start_ts": {"$lt": 9}}]}
    assert chroma_where(ChunkFilter((NoneOf("url", ("a.md",)),))) == {"url": {"$nin": ["a.md"]}}
    assert chroma_where(ChunkFilter((NoneOf("url", ()),))) is None, "Chroma rejects an empty $nin"


def test_only_the_store_speaks_chroma():
    for path in sorted([*ROOT.joinpath("knowledge").rglob("*.py"), *ROOT.joinpath("bot").rglob("*.py")]):
        if path == ROOT / "knowledge" / "store.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|from)\s+chromadb", text, re.M), f"{path} imports chromadb"
        assert not re.search(r"[\"']\$(and|or|in|nin|eq|ne|gte?|lte?)[\"']", text), \
            f"{Path(path).relative_to(ROOT)} writes a Chroma filter itself"
