"""An index of any size: more chunks and sources than SQLite binds in one statement (32,766) still answers,
a keyword index that fails to sync is not retried on every question, and a keyword index synced from the whole
store (a new machine) holds one page of it at a time."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest

import knowledge.keyword_index as keyword_index_module
import knowledge.store as store_module
from bot.conversation import Concierge, Incoming
from bot.wiring import Services
from knowledge.answering import ExtractiveAnswerer
from knowledge.chunking import chunk_records
from knowledge.keyword_index import KeywordIndex, source_version
from knowledge.models import Record
from knowledge.retrieval import Retriever
from knowledge.settings import KnowledgeSettings
from knowledge.store import (
    KnowledgeStore,
    SourceState,
    StoredChunks,
    StoreError,
    StoreUnavailable,
    make_client,
    open_store,
    release_embedded_store,
)
from tests.chroma_server import ChromaServer
from tests.conftest import TODAY
from tests.fakes.embedding import HashingEmbedder

pytestmark = pytest.mark.integration

SQLITE_MAX_VARIABLES = 32_766
VOUCHER = ("Quantum biotech voucher",
           "The quantum biotech voucher pays up to 40,000 euros for a first feasibility study with a partner laboratory.")


def one_chunk_sources(count: int, special_at: int | None = None, per_source: int = 1
                      ) -> list[tuple[SourceState, list, list]]:
    """`count` sources of `per_source` tiny chunks each (note `special_at` is about the voucher), vectors not
    yet computed."""
    items = []
    for n in range(count):
        source_id = f"notes/note{n:05d}.md"
        records = []
        for m in range(n * per_source, (n + 1) * per_source):
            title, text = VOUCHER if m == special_at else (f"Meeting note {m}", f"Routine meeting note number {m}.")
            records.append(Record(title=title, text=text, url=f"https://kb.test/notes/{m}"))
        title = records[0].title
        chunks = chunk_records(records, source_id=source_id, path=f"note{n:05d}.md")
        state = SourceState(source_id=source_id, root="/kb/notes", path=f"note{n:05d}.md", fingerprint=str(n),
                            chunks=len(chunks), title=title)
        items.append((state, chunks, []))
    return items


def write(store: KnowledgeStore, embedder: HashingEmbedder, items: list, group: int = 5000,
          keyword_index: KeywordIndex | None = None) -> None:
    """What ingestion does, minus reading files: embed and write group after group of sources (and their keyword
    rows, from what was stored, as ingestion does), record the run."""
    for start in range(0, len(items), group):
        part = items[start : start + group]
        vectors = iter(embedder.encode_passages([c.embed_text for _, chunks, _ in part for c in chunks]).tolist())
        written = store.write_sources([(state, chunks, [next(vectors) for _ in chunks]) for state, chunks, _ in part])
        if keyword_index is not None:
            keyword_index.replace({state.source_id: source_version(state) for state, _, _ in part}, written)
    store.record_run({"run_id": f"run-{store.count()}"})


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[tuple[KnowledgeSettings, KnowledgeStore, HashingEmbedder]]:
    settings = KnowledgeSettings(store_path=tmp_path / "chroma", _env_file=None)
    embedder = HashingEmbedder()
    store = open_store(settings.store_path, None, "large_index", embedder.name, embedder.dimension)
    yield settings, store, embedder
    release_embedded_store(settings.store_path)


def test_an_index_larger_than_one_sqlite_statement_answers(embedded):
    settings, store, embedder = embedded
    count = SQLITE_MAX_VARIABLES + 234  # 33,000 chunks in 66 sources (more sources than that: read page by page)
    write(store, embedder, one_chunk_sources(count // 500, special_at=20_000, per_source=500))
    assert store.count() == count

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
    """A store whose reads for the keyword index fail (as `get` did past 32,766 chunks) while searching works."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.keyword_reads = 0
        self.failing = True

    def chunks_of(self, source_ids: Sequence[str], include: Sequence[str] = ("documents", "metadatas")
                  ) -> Iterator[StoredChunks]:
        self.keyword_reads += 1
        if self.failing:
            raise StoreError("Error executing plan: too many SQL variables")
        return super().chunks_of(source_ids, include=include)


def test_a_failed_keyword_sync_is_retried_after_a_back_off_or_a_change_not_on_every_question(tmp_path, caplog):
    embedder = HashingEmbedder()
    store = FailingKeywordReads(make_client(tmp_path / "chroma", None), "flaky_index", embedder.name,
                                embedder.dimension)
    write(store, embedder, one_chunk_sources(30, special_at=7))
    elapsed = [0.0]
    retriever = Retriever(store, embedder, rebuild_backoff=300, monotonic=lambda: elapsed[0])
    concierge = Concierge(retriever, ExtractiveAnswerer(embedder), contact="the team", clock=lambda: TODAY)
    question = Incoming("How much does the quantum biotech voucher pay?")

    for _ in range(3):  # answered from dense search; the sync was tried once and logged once
        reply = concierge.answer(question)
        assert reply.sources[0].url == "https://kb.test/notes/7" and not reply.abstained
    assert store.keyword_reads == 1
    assert [r.levelname for r in caplog.records if "keyword index" in r.getMessage()] == ["ERROR"]

    elapsed[0] = 299.0
    concierge.answer(question)
    assert store.keyword_reads == 1
    elapsed[0] = 301.0  # the back-off is over: tried again (and failing again, logged without a traceback)
    concierge.answer(question)
    assert store.keyword_reads == 2
    assert [r.levelname for r in caplog.records if "keyword index" in r.getMessage()] == ["ERROR", "WARNING"]

    store.failing = False
    write(store, embedder, one_chunk_sources(31)[30:])  # a run changed the index: tried again at once, and it works
    concierge.answer(question)
    assert store.keyword_reads == 3
    concierge.answer(question)
    assert store.keyword_reads == 3
    assert retriever.keyword_index.count() == 31
    release_embedded_store(tmp_path / "chroma")


class PageCheckingCollection:
    """A Chroma collection that records how many records each `get` asks for (`None`: all of them)."""

    def __init__(self, collection: object) -> None:
        self._collection = collection
        self.asked: list[int | None] = []

    def get(self, ids=None, where=None, limit=None, offset=None, include=None):  # noqa: ANN001, ANN201
        self.asked.append(len(ids) if ids is not None else limit)
        return self._collection.get(ids=ids, where=where, limit=limit, offset=offset, include=include)

    def __getattr__(self, name: str) -> object:
        return getattr(self._collection, name)


def test_no_read_of_ingestion_search_or_status_asks_chroma_for_more_than_a_page(monkeypatch, settings, embedder):
    """What broke past 32,766 chunks (one `get` of everything), caught on a small store with a page of 7."""
    import knowledge.store as store_module

    monkeypatch.setattr(store_module, "PAGE_SIZE", 7)
    store = open_store(settings.store_path, None, settings.collection, embedder.name, embedder.dimension)
    chunks, manifest = PageCheckingCollection(store._chunks), PageCheckingCollection(store._sources)
    store._chunks, store._sources = chunks, manifest
    services = Services(settings, embedder=embedder, store=store, clock=lambda: TODAY)
    sample = Path(__file__).resolve().parents[2] / "knowledge" / "sample"
    services.ingestor().run([sample])
    assert store.count() > 3 * 7 and len(store.sources()) >= 3

    reply = services.concierge.answer(Incoming("How do I apply for the accreditation programme?"))
    assert reply.sources and not reply.abstained
    listing = services.concierge.answer(Incoming("What are the upcoming events?"))
    assert listing.sources
    assert services.index_status()["chunks"] == store.count()
    services.retriever.upcoming("event", "member", TODAY)
    services.ingestor().run([sample])  # an unchanged re-run reads the manifest and nothing else

    asked = chunks.asked + manifest.asked
    assert asked and None not in asked and max(n for n in asked if n is not None) <= 7, asked
    store.close()
    release_embedded_store(settings.store_path)


def same_rows(index: KeywordIndex, other: KeywordIndex) -> bool:
    """Same chunks, sources, keywords, metadata and source versions; vectors equal to float32 rounding."""
    mine, theirs = list(index.rows()), list(other.rows())
    return [row[:4] for row in mine] == [row[:4] for row in theirs] and index.sources() == other.sources() \
        and all(np.allclose(np.frombuffer(a[4], np.float32), np.frombuffer(b[4], np.float32), atol=1e-6)
                for a, b in zip(mine, theirs))


def test_a_sync_of_the_whole_store_a_page_at_a_time_equals_the_index_ingestion_wrote(monkeypatch, embedded, tmp_path):
    """A bot with no keyword-index file (a new machine, a deleted file) reads the whole store back; pages smaller
    than a source, and than a sync's group of sources, give the index ingestion wrote from what it stored."""
    _, store, embedder = embedded
    written = KeywordIndex(tmp_path / "ingestion.sqlite3")
    write(store, embedder, one_chunk_sources(12, special_at=31, per_source=7), group=5, keyword_index=written)
    monkeypatch.setattr(store_module, "EMBEDDINGS_PAGE_SIZE", 3)  # each source spans 3 pages
    monkeypatch.setattr(keyword_index_module, "_SYNC_CHUNKS", 20)  # 3 sources a transaction
    chunks = PageCheckingCollection(store._chunks)
    store._chunks = chunks

    synced = KeywordIndex(tmp_path / "new-machine.sqlite3")
    report = synced.sync(store)
    assert report.chunks_written == 84 and report.sources_indexed == 12
    assert same_rows(synced, written)
    assert [h.id for h in synced.search(["quantum", "voucher"], None, 3)] == \
        [h.id for h in written.search(["quantum", "voucher"], None, 3)]
    assert max(n for n in chunks.asked if n is not None) == 3, chunks.asked  # every read with embeddings: a page
    assert synced.sync(store).chunks_written == 0  # and then current: nothing read again


class FailingMidSource(KnowledgeStore):
    """A store that goes away after the first page the keyword index reads back (a server stopped mid-sync)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.failing = True

    def chunks_of(self, source_ids: Sequence[str], include: Sequence[str] = ("documents", "metadatas")
                  ) -> Iterator[StoredChunks]:
        pages = super().chunks_of(source_ids, include=include)
        if not self.failing:
            return pages
        return self._first_then_fail(pages)

    @staticmethod
    def _first_then_fail(pages: Iterator[StoredChunks]) -> Iterator[StoredChunks]:
        yield next(pages)
        raise StoreUnavailable("cannot reach the knowledge base (simulated)")


def test_a_sync_cut_off_mid_source_leaves_the_index_as_it_was(monkeypatch, tmp_path):
    """The pages of a sync's sources are written as they come, in one transaction: a store lost between two
    pages of a source leaves the index as before (no source half replaced), and the next sync completes it."""
    embedder = HashingEmbedder()
    store = FailingMidSource(make_client(tmp_path / "chroma", None), "cut_off", embedder.name, embedder.dimension)
    write(store, embedder, one_chunk_sources(4, per_source=5))
    index = KeywordIndex(tmp_path / "keywords.sqlite3")
    store.failing = False
    index.sync(store)
    before = list(index.rows()), index.sources(), index.synced_run

    changed = [(replace(state, fingerprint=f"{state.fingerprint}-changed"), chunks, vectors)
               for state, chunks, vectors in one_chunk_sources(6, per_source=5)]
    write(store, embedder, changed)  # a run that changed every source and added two
    monkeypatch.setattr(store_module, "EMBEDDINGS_PAGE_SIZE", 2)
    store.failing = True
    with pytest.raises(StoreUnavailable):
        index.sync(store)
    assert (list(index.rows()), index.sources(), index.synced_run) == before

    store.failing = False
    index.sync(store)
    rebuilt = KeywordIndex(tmp_path / "rebuilt.sqlite3")
    rebuilt.sync(store)
    assert index.count() == 30 and same_rows(index, rebuilt)
    release_embedded_store(tmp_path / "chroma")


def test_a_sync_from_a_chroma_server_lets_go_of_the_replies_as_it_reads(monkeypatch, tmp_path):
    """The server's HTTP client leaves each reply (its body, twice) in a reference cycle: the store has them
    collected as it reads, so that a sync of the whole store does not keep them until Python's next full
    collection (~300 MB at 100k chunks). Automatic collection is off here, so only the store's own counts."""
    monkeypatch.setattr(store_module, "COLLECT_EVERY", 10)
    monkeypatch.setattr(keyword_index_module, "_SYNC_CHUNKS", 10)  # a read (a reply or two) per source
    embedder = HashingEmbedder()
    with ChromaServer(tmp_path / "server") as url:
        store = open_store(tmp_path / "unused", url, "replies", embedder.name, embedder.dimension)
        write(store, embedder, one_chunk_sources(20, per_source=10))  # 200 chunks in 20 sources
        gc.collect()
        gc.disable()
        try:
            report = KeywordIndex(tmp_path / "keywords.sqlite3").sync(store)
            replies = sum(isinstance(o, httpx.Response) for o in gc.get_objects())
        finally:
            gc.enable()
        store.close()
    assert report.chunks_written == 200
    assert replies <= 5, f"{replies} replies kept (one a read, 22, without collection)"
