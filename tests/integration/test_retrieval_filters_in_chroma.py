"""The one filter definition keeps the same chunks in Chroma (the store's `where`) as in plain Python."""

from __future__ import annotations

import pytest

from knowledge.filters import ChunkFilter, Filters, NoneOf, OneOf
from knowledge.time_scope import parse_time_scope
from tests.unit.test_retrieval_filters import METADATAS, NOW

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("role", ["public", "member", "staff"])
@pytest.mark.parametrize("question", ["Which calls are still open?", "upcoming events", "What were the past events?",
                                      "Calls closing before February", "events in January", "tell me everything"])
def test_chroma_keeps_what_accepts_keeps(store, embedder, role, question):
    ids = [f"c{i}" for i in range(len(METADATAS))]
    titles = [m["title"] for m in METADATAS]
    store.collection.upsert(ids=ids, documents=titles, metadatas=METADATAS,
                            embeddings=embedder.encode_passages(titles).tolist())
    selection = Filters(role=role, scope=parse_time_scope(question, NOW), now=NOW).chunk_filter()
    in_chroma = sorted(i for page in store.iter_chunks(where=selection, include=[]) for i in page.ids)
    assert in_chroma == [cid for cid, meta in zip(ids, METADATAS) if selection.accepts(meta)]
    nearest = store.query(embedder.encode_queries([question])[0].tolist(), len(ids), selection)
    assert sorted(nearest.ids) == in_chroma


@pytest.mark.parametrize("selection", [
    ChunkFilter((NoneOf("title", ("Guide", "Internal")),)),
    ChunkFilter((NoneOf("deadline_ts", ()),)),  # leaving out nothing
    ChunkFilter((OneOf("audience", ("public",)), NoneOf("url", ("https://kb.test/next",)),
                 NoneOf("path", ("past.md",)))),  # most chunks have no url or path: kept
    Filters(role="member", exclude=("https://kb.test/next", "past.md")).chunk_filter(),
])
def test_chroma_leaves_out_what_accepts_leaves_out(store, embedder, selection):
    metadatas = [{**m, **extra} for m, extra in zip(METADATAS, [
        {}, {"url": "https://kb.test/open", "path": "open.md"}, {}, {},
        {"path": "past.md"}, {"url": "https://kb.test/next"}])]
    ids = [f"c{i}" for i in range(len(metadatas))]
    titles = [m["title"] for m in metadatas]
    store.collection.upsert(ids=ids, documents=titles, metadatas=metadatas,
                            embeddings=embedder.encode_passages(titles).tolist())
    in_chroma = sorted(i for page in store.iter_chunks(where=selection, include=[]) for i in page.ids)
    assert in_chroma == [cid for cid, meta in zip(ids, metadatas) if selection.accepts(meta)]
    nearest = store.query(embedder.encode_queries(["events"])[0].tolist(), len(ids), selection)
    assert sorted(nearest.ids) == in_chroma
