"""An index of any size: more chunks and sources than SQLite binds in one statement (32,766) still answers,
and a keyword index that fails to build is not rebuilt on every question."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from bot.conversation import Concierge, Incoming
from bot.wiring import Services
from knowledge.answering import ExtractiveAnswerer
from knowledge.chunking import chunk_records
from knowledge.filters import ChunkFilter
from knowledge.models import Record
from knowledge.retrieval import Retriever
from knowledge.settings import KnowledgeSettings
from knowledge.store import (
    PAGE_SIZE,
    KnowledgeStore,
    SourceState,
    StoredChunks,
    StoreError,
    make_client,
    open_store,
    release_embedded_store,
)
from tests.conftest import TODAY
from tests.fakes.embedding import HashingEmbedder

pytestmark = pytest.mark.integration

SQLITE_MAX_VARIABLES = 32_766
VOUCHER = ("Quantum biotech voucher",
           "The quantum biotech voucher pays up to 40,000 euros for a first feasibility study with a partner laboratory.")


def one_chunk_sources(count: int, special_at: int | None = None) -> list[tuple[SourceState, list, list]]:
    """`count` sources of one tiny chunk each (the special one about the voucher), vectors not yet computed."""
    items = []
    for n in range(count):
        title, text = VOUCHER if n == special_at else (f"Meeting note {n}", f"Routine meeting note number {n}.")
        source_id = f"notes/note{n:05d}.md"
        record = Record(title=title, text=text, url=f"https://kb.test/notes/{n}")
        chunks = chunk_records([record], source_id=source_id, path=f"note{n:05d}.md")
        state = SourceState(source_id=source_id, root="/kb/notes", path=f"note{n:05d}.md", fingerprint=str(n),
                            chunks=len(chunks), title=title)
        items.append((state, chunks, []))
    return items


def write(store: KnowledgeStore, embedder: HashingEmbedder, items: list, group: int = 5000) -> None:
    """What ingestion does, minus reading files: embed and write group after group of sources."""
    for start in range(0, len(items), group):
        part = items[start : start + group]
        vectors = iter(embedder.encode_passages([c.embed_text for _, chunks, _ in part for c in chunks]).tolist())
        store.write_sources([(state, chunks, [next(vectors) for _ in chunks]) for state, chunks, _ in part])


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[tuple[KnowledgeSettings, KnowledgeStore, HashingEmbedder]]:
    settings = KnowledgeSettings(store_path=tmp_path / "chroma", _env_file=None)
    embedder = HashingEmbedder()
    store = open_store(settings.store_path, None, "large_index", embedder.name, embedder.dimension)
    yield settings, store, embedder
    release_embedded_store(settings.store_path)


def test_an_index_larger_than_one_sqlite_statement_answers_and_lists_its_sources(embedded):
    settings, store, embedder = embedded
    count = SQLITE_MAX_VARIABLES + 234  # 33,000 sources of one chunk each
    write(store, embedder, one_chunk_sources(count, special_at=20_000))
    assert store.count() == count

    sources = store.sources()
    assert len(sources) == count and sources["notes/note20000.md"].title == VOUCHER[0]

    services = Services(settings, embedder=embedder, store=store, clock=lambda: TODAY)
    reply = services.concierge.answer(Incoming("How much does the quantum biotech voucher pay?"))
    assert not reply.abstained and reply.note is None
    assert reply.sources[0].url == "https://kb.test/notes/20000" and "40,000 euros" in reply.answer


def test_sources_are_read_page_by_page(embedded):
    _, store, embedder = embedded
    write(store, embedder, one_chunk_sources(23), group=7)
    store.record_run({"finished_at": "2026-11-22T08:00:00+00:00"})  # a manifest entry that is not a source
    for page_size in (1, 5, 23, 24, 1000):
        assert sorted(store.sources(page_size=page_size)) == [f"notes/note{n:05d}.md" for n in range(23)]
    pages = list(store.iter_chunks(include=[], page_size=10))
    assert [len(p.ids) for p in pages] == [10, 10, 3] and len({i for p in pages for i in p.ids}) == 23


class FailingKeywordReads(KnowledgeStore):
    """A store whose full reads fail (as `get` did past 32,766 chunks) while searching still works."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.full_reads = 0
        self.failing = True

    def iter_chunks(self, *, where: ChunkFilter | None = None, include: Sequence[str] = ("documents", "metadatas"),
                    page_size: int = PAGE_SIZE) -> Iterator[StoredChunks]:
        if where is None:
            self.full_reads += 1
            if self.failing:
                raise StoreError("Error executing plan: too many SQL variables")
        return super().iter_chunks(where=where, include=include, page_size=page_size)


def test_a_failed_keyword_index_is_retried_after_a_back_off_or_a_change_not_on_every_question(tmp_path, caplog):
    embedder = HashingEmbedder()
    store = FailingKeywordReads(make_client(tmp_path / "chroma", None), "flaky_index", embedder.name,
                                embedder.dimension)
    write(store, embedder, one_chunk_sources(30, special_at=7))
    elapsed = [0.0]
    retriever = Retriever(store, embedder, rebuild_backoff=300, monotonic=lambda: elapsed[0])
    concierge = Concierge(retriever, ExtractiveAnswerer(embedder), contact="the team", clock=lambda: TODAY)
    question = Incoming("How much does the quantum biotech voucher pay?")

    for _ in range(3):  # answered from dense search; the build was tried once and logged once
        reply = concierge.answer(question)
        assert reply.sources[0].url == "https://kb.test/notes/7" and not reply.abstained
    assert store.full_reads == 1
    assert [r.levelname for r in caplog.records if "keyword index" in r.getMessage()] == ["ERROR"]

    elapsed[0] = 299.0
    concierge.answer(question)
    assert store.full_reads == 1
    elapsed[0] = 301.0  # the back-off is over: tried again (and failing again, logged without a traceback)
    concierge.answer(question)
    assert store.full_reads == 2
    assert [r.levelname for r in caplog.records if "keyword index" in r.getMessage()] == ["ERROR", "WARNING"]

    store.failing = False
    write(store, embedder, one_chunk_sources(31)[30:])  # the index changed: tried again at once, and it works
    concierge.answer(question)
    assert store.full_reads == 3
    concierge.answer(question)
    assert store.full_reads == 3
    release_embedded_store(tmp_path / "chroma")
