"""The keyword index lives with the store: persisted, updated by each run with what it changed only, seen by a
bot in another process at its next question, and equal after any runs to one rebuilt from scratch."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np
import pytest

from knowledge.filters import Filters
from knowledge.keyword_index import KeywordIndex
from knowledge.pipeline import Ingestor
from knowledge.ranking import Ranking
from knowledge.retrieval import Retriever
from knowledge.store import KnowledgeStore, StoredChunks, make_client, release_embedded_store
from knowledge.time_scope import parse_time_scope
from tests.conftest import ROOT, TODAY

pytestmark = pytest.mark.integration

DOC = "---\ntitle: {title}\naudience: {audience}\n---\n# {title}\n\n{text}\n"


class CountingReads(KnowledgeStore):
    """A store that records which sources the keyword index reads back."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.read_back: list[str] = []
        self.filtered_queries = 0
        self.queries = 0

    def chunks_of(self, source_ids: Sequence[str], include: Sequence[str] = ("documents", "metadatas")
                  ) -> Iterator[StoredChunks]:
        self.read_back += source_ids
        return super().chunks_of(source_ids, include=include)

    def query(self, vector, n_results, where=None, include=("documents", "metadatas")):  # noqa: ANN001, ANN201
        self.filtered_queries += bool(where and where.conditions)
        self.queries += 1
        return super().query(vector, n_results, where, include=include)


@pytest.fixture
def counting_store(settings, embedder) -> Iterator[CountingReads]:
    store = CountingReads(make_client(settings.store_path, None), settings.collection, embedder.name,
                          embedder.dimension)
    yield store
    store.close()
    release_embedded_store(settings.store_path)


def write_kb(write) -> None:  # noqa: ANN001
    write("docs/voucher.md", DOC.format(title="Innovation voucher", audience="public",
                                        text="The innovation voucher pays 15,000 euros for a feasibility study."))
    write("docs/label.md", DOC.format(title="Accreditation label", audience="member",
                                      text="The accreditation label is granted for three years after an audit."))
    write("docs/mission.md", DOC.format(title="Mission to Boston", audience="public",
                                        text="The Boston mission visits hospitals and incubators in April."))


def test_after_add_change_and_prune_the_index_equals_one_rebuilt_from_the_store(
        tmp_path, settings, counting_store, embedder, kb, write):
    write_kb(write)
    index = KeywordIndex(tmp_path / "keywords.sqlite3")
    ingestor = Ingestor(settings, counting_store, embedder, now=lambda: TODAY, keyword_index=index)
    ingestor.run([kb])
    assert sorted(index.sources()) == ["kb/docs/label.md", "kb/docs/mission.md", "kb/docs/voucher.md"]

    counting_store.read_back.clear()
    write("docs/voucher.md", DOC.format(title="Innovation voucher", audience="public",
                                        text="The innovation voucher now pays 20,000 euros, with a partner lab."))
    write("docs/cleanroom.md", DOC.format(title="Clean room", audience="member",
                                          text="The clean room can be booked by members for 90 euros an hour."))
    (kb / "docs" / "mission.md").unlink()
    report = ingestor.run([kb])
    assert report.added == ["kb/docs/cleanroom.md"] and report.updated == ["kb/docs/voucher.md"]
    assert counting_store.read_back == [], "the run writes the keyword rows itself: nothing is read back"

    rebuilt = KeywordIndex(tmp_path / "rebuilt.sqlite3")
    rebuilt.sync(counting_store)
    mine, theirs = list(index.rows()), list(rebuilt.rows())
    assert [row[:4] for row in mine] == [row[:4] for row in theirs]  # ids, sources, keywords, metadata
    for (*_, vector), (*_, stored) in zip(mine, theirs):  # vectors as Chroma keeps them (to rounding)
        assert np.allclose(np.frombuffer(vector, np.float32), np.frombuffer(stored, np.float32), atol=1e-6)
    assert index.sources() == rebuilt.sources()
    assert not any(row[1] == "kb/docs/mission.md" for row in index.rows())
    assert [h.id for h in index.search(["20,000", "voucher"], None, 5)] == \
        [h.id for h in rebuilt.search(["20,000", "voucher"], None, 5)]


def test_a_bot_with_its_own_index_file_sees_a_run_at_its_next_question_reading_only_what_changed(
        tmp_path, settings, counting_store, embedder, kb, write):
    write_kb(write)
    # Ingestion on one machine, with its own copy of the keyword index; the bot on another, with its own.
    ingestor = Ingestor(settings, counting_store, embedder, now=lambda: TODAY,
                        keyword_index=KeywordIndex(tmp_path / "ingest-machine.sqlite3"))
    ingestor.run([kb])
    bot = Retriever(counting_store, embedder, keyword_index=KeywordIndex(tmp_path / "bot-machine.sqlite3"))
    assert bot.search("accreditation label audit", Filters(role="member", now=TODAY))

    counting_store.read_back.clear()
    write("docs/cleanroom.md", DOC.format(title="Clean room", audience="member",
                                          text="The clean room can be booked by members for 90 euros an hour."))
    ingestor.run([kb])
    counting_store.read_back.clear()
    hits = bot.search("How much does the clean room cost?", Filters(role="member", now=TODAY))
    assert hits[0].metadata["source_id"] == "kb/docs/cleanroom.md" and hits[0].keyword > 0
    assert counting_store.read_back == ["kb/docs/cleanroom.md"]


def test_a_reopened_index_is_current_without_reading_the_store_again(
        tmp_path, settings, counting_store, embedder, kb, write):
    write_kb(write)
    path = tmp_path / "keywords.sqlite3"
    Ingestor(settings, counting_store, embedder, now=lambda: TODAY, keyword_index=KeywordIndex(path)).run([kb])
    counting_store.read_back.clear()

    restarted = Retriever(counting_store, embedder, keyword_index=KeywordIndex(path))
    hits = restarted.search("innovation voucher euros", Filters(role="public", now=TODAY))
    assert hits[0].metadata["source_id"] == "kb/docs/voucher.md" and hits[0].keyword > 0
    assert counting_store.read_back == []


@pytest.mark.parametrize("overfetch", [1, 100])  # exact search in the keyword index / over-fetch and filter
def test_filters_find_the_same_passages_without_asking_chroma_to_filter(settings, counting_store, embedder,
                                                                         overfetch):
    Ingestor(settings, counting_store, embedder, now=lambda: TODAY).run([ROOT / "knowledge" / "sample"])
    assert counting_store.count() > 30
    few = Ranking(candidates=8)  # fewer candidates than chunks, so that filters leave too few of them
    questions = ["Quand a lieu le prochain atelier IA en santé ?", "Which funding calls close before March?",
                 "What events are coming up next month?", "How do I apply for the accreditation programme?"]
    for role in ("public", "member", "staff"):
        for question in questions:
            filters = Filters(role=role, scope=parse_time_scope(question, TODAY), now=TODAY)
            # The default on a store this small: an exact search over the keyword index's vectors.
            exact = Retriever(counting_store, embedder, ranking=few).search(question, filters, k=5)
            # What a large store does: unfiltered, then the keyword index's metadata and vectors.
            counting_store.filtered_queries = 0
            large = Retriever(counting_store, embedder, ranking=replace(few, small_store=0, overfetch=overfetch))
            fast = large.search(question, filters, k=5)
            assert [(h.id, round(h.dense, 4)) for h in fast] == [(h.id, round(h.dense, 4)) for h in exact], question
            assert counting_store.filtered_queries == 0
            assert all(filters.chunk_filter().accepts(h.metadata) for h in fast)


@pytest.fixture
def kb(tmp_path):  # noqa: ANN001, ANN201 - where the `write` fixture puts files
    return tmp_path / "kb"


def test_a_rare_name_ranks_its_chunk_first_even_when_every_chunk_holds_the_other_words():
    from knowledge.store import StoredChunks
    from knowledge.text import keywords

    index = KeywordIndex()
    texts = [f"The regional programme funds hospital projects, call {n}." for n in range(300)]
    texts[137] = "The Quorbantix programme funds hospital projects of SMEs."
    index.replace({"s": "1"}, StoredChunks(ids=[f"s:{n}" for n in range(300)], documents=texts,
                                           metadatas=[{"source_id": "s", "audience": "public"}] * 300))
    found = index.search(keywords("Which hospital projects does the Quorbantix programme fund?"), None, 5)
    assert found[0].id == "s:137"
    # Words every chunk holds select nothing on their own on a large index: no ranking of all 300 chunks.
    index.match_limit = 100
    assert index.search(keywords("Which hospital projects does the programme fund?"), None, 5) == []
    index.match_limit = 1000
    assert len(index.search(keywords("Which hospital projects does the programme fund?"), None, 5)) == 5


def test_a_small_index_is_searched_exactly_so_a_question_gets_the_same_passages_in_every_process(
        settings, counting_store, embedder):
    # Chroma's approximate search left out a few of the nearest chunks, different ones after each restart: the
    # same question could be answered from another passage. Below `small_store` chunks the search is exact.
    Ingestor(settings, counting_store, embedder, now=lambda: TODAY).run([ROOT / "knowledge" / "sample"])
    question = "How do I apply for the accreditation programme?"
    vector = embedder.encode_queries([question])[0]
    everything = [page for page in counting_store.iter_chunks(include=["embeddings", "metadatas"])]
    ids = [cid for page in everything for cid in page.ids]
    vectors = np.vstack([np.asarray(page.embeddings, dtype=np.float32) for page in everything])
    expected = [ids[i] for i in np.argsort(-(vectors @ vector))[:8]]

    counting_store.queries = 0
    retriever = Retriever(counting_store, embedder, ranking=Ranking(candidates=8))
    retriever.refresh()
    assert [cid for cid, _ in retriever.keyword_index.nearest(vector, None, 8)] == expected
    dense = retriever._dense_candidates(vector, Filters(role="staff", now=TODAY).chunk_filter())
    assert sorted(dense, key=lambda cid: -dense[cid].dense) == expected, "the 8 nearest chunks, all of them"
    assert counting_store.queries == 0, "not Chroma's approximate index"


def test_a_new_way_of_reading_words_re_reads_every_source_once(monkeypatch, settings, counting_store, embedder,
                                                              kb, write):
    # An index written before `keywords` changed (typographic apostrophes, compound names) holds the old
    # words: its next sync re-reads every source from the store, once, instead of matching stale words.
    write_kb(write)
    index = KeywordIndex()
    Ingestor(settings, counting_store, embedder, now=lambda: TODAY, keyword_index=index).run([kb])
    counting_store.read_back.clear()
    assert index.sync(counting_store).sources_indexed == 0 and counting_store.read_back == []

    monkeypatch.setattr("knowledge.keyword_index.TOKENS_VERSION", "next")
    assert index.synced_run is None, "not in step: the retriever's next refresh syncs it"
    Retriever(counting_store, embedder, keyword_index=index).refresh()
    assert sorted(counting_store.read_back) == sorted(index.sources()) and len(index.sources()) == 3
    assert index.synced_run is not None
    counting_store.read_back.clear()
    assert index.sync(counting_store).sources_indexed == 0 and counting_store.read_back == [], "once"


def test_french_text_with_typographic_apostrophes_and_compound_names_is_found_by_its_words():
    from knowledge.store import StoredChunks
    from knowledge.text import keywords

    index = KeywordIndex()
    texts = ["Le programme soutient l’innovation des PME de santé.",  # typographic apostrophe
             "L'appel régional Innov’Santé finance les projets collaboratifs.",
             "Le label Santé Innovation récompense les entreprises."]
    index.replace({"s": "1"}, StoredChunks(ids=[f"s:{n}" for n in range(3)], documents=texts,
                                           metadatas=[{"source_id": "s", "audience": "public"}] * 3))
    assert "s:0" in [hit.id for hit in index.search(keywords("innovation des PME"), None, 3)]
    found = index.search(keywords("Who can apply to the Innov'Santé call?"), None, 3)
    assert found[0].id == "s:1", "the compound name singles out its call, not a page with both words"
