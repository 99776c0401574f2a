"""Ingestion into a real embedded Chroma: incremental, pruning, failures, crash recovery."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import pytest

import knowledge.pipeline
from knowledge.pipeline import Ingestor, UsageError
from knowledge.settings import KnowledgeSettings
from knowledge.store import StoreError, open_store, release_embedded_store
from tests.conftest import TODAY
from tests.fakes.embedding import HashingEmbedder

pytestmark = pytest.mark.integration

CALLS = "title,deadline,funder\nEIC Accelerator,2027-03-04,EIC\nRegional feasibility,2026-10-31,Region\n"
EVENTS = """BEGIN:VCALENDAR
VERSION:2.0
BEGIN:VEVENT
UID:a@test
DTSTART:20261210T130000Z
SUMMARY:Atelier IA en santé
END:VEVENT
END:VCALENDAR
"""


@pytest.fixture
def kb(write) -> Path:
    write("docs/guide.md", "# Funding guide\n\nThe region funds SME innovation projects.\n")
    write("docs/membership.md", "---\ntitle: Adhésion\naudience: member\n---\nLa cotisation dépend de la taille.\n")
    write("calls.csv", CALLS)
    write("events.ics", EVENTS)
    return write("docs/guide.md", "# Funding guide\n\nThe region funds SME innovation projects.\n").parents[1]


def stored_ids(store) -> list[str]:
    return sorted(store.collection.get(include=[])["ids"])


def test_first_ingestion_adds_every_source_with_its_metadata(ingestor, store, kb):
    report = ingestor.run([kb])
    assert sorted(report.added) == ["kb/calls.csv", "kb/docs/guide.md", "kb/docs/membership.md", "kb/events.ics"]
    assert report.ok and report.chunks_embedded == store.count() == 5
    calls = store.collection.get(where={"kind": "funding_call"}, include=["metadatas"])["metadatas"]
    assert {m["title"] for m in calls} == {"EIC Accelerator", "Regional feasibility"}
    open_calls = store.collection.get(where={"$and": [{"kind": "funding_call"},
                                                      {"deadline_ts": {"$gte": int(TODAY.timestamp())}}]})
    assert open_calls["metadatas"][0]["title"] == "EIC Accelerator", "deadlines are sortable numbers"
    member_only = store.collection.get(where={"audience": "member"}, include=["metadatas"])["metadatas"]
    assert [(m["title"], m["language"]) for m in member_only] == [("Adhésion", "fr")]


def test_reingest_of_unchanged_folder_embeds_nothing(ingestor, store, embedder, kb):
    ingestor.run([kb])
    calls_before, ids_before = len(embedder.calls), stored_ids(store)
    report = ingestor.run([kb])
    assert len(embedder.calls) == calls_before, "no embedding work for unchanged sources"
    assert (report.added, report.updated, report.removed, report.chunks_embedded) == ([], [], [], 0)
    assert len(report.unchanged) == 4
    assert stored_ids(store) == ids_before


def test_a_new_records_version_re_reads_calendars_and_tables_only(ingestor, kb, monkeypatch):
    """What an upgrade does on a Monday morning: the new release reads events and calls differently (their status,
    their topics), so those files are read again once; the documents are not re-embedded."""
    ingestor.run([kb])
    monkeypatch.setattr(knowledge.pipeline, "RECORDS_VERSION", knowledge.pipeline.RECORDS_VERSION + "-next")
    report = ingestor.run([kb])
    assert sorted(report.updated) == ["kb/calls.csv", "kb/events.ics"]
    assert sorted(report.unchanged) == ["kb/docs/guide.md", "kb/docs/membership.md"]
    assert ingestor.run([kb]).updated == [], "once"


def test_a_value_removed_from_a_source_is_gone_from_the_index(ingestor, store, kb, write):
    """Staff marked a call cancelled by mistake and emptied the cell again: the call is no longer cancelled (and a
    cleared deadline is no longer there)."""
    write("calls.csv", "title,deadline,funder,status\nEIC Accelerator,2027-03-04,EIC,annulé\n"
                       "Regional feasibility,2026-10-31,Region,\n")
    ingestor.run([kb])
    write("calls.csv", "title,deadline,funder,status\nEIC Accelerator,2027-03-04,EIC,\n"
                       "Regional feasibility,,Region,\n")
    assert ingestor.run([kb]).updated == ["kb/calls.csv"]
    calls = {m["title"]: m for m in store.collection.get(where={"kind": "funding_call"}, include=["metadatas"])[
        "metadatas"]}
    assert "status" not in calls["EIC Accelerator"]
    assert "deadline" not in calls["Regional feasibility"] and "deadline_ts" not in calls["Regional feasibility"]


def test_changed_file_is_updated_and_deleted_file_is_pruned(ingestor, store, embedder, kb, write):
    ingestor.run([kb])
    write("docs/guide.md", "# Funding guide\n\nThe region funds SME innovation projects.\n\n"
                           "## New section\n\nBpifrance runs the i-Nov contest.\n")
    (kb / "events.ics").unlink()
    embedded_before = embedder.texts_embedded
    report = ingestor.run([kb])
    assert report.updated == ["kb/docs/guide.md"]
    assert report.removed == ["kb/events.ics"]
    assert sorted(report.unchanged) == ["kb/calls.csv", "kb/docs/membership.md"]
    assert embedder.texts_embedded - embedded_before == report.chunks_embedded >= 1
    assert not any(i.startswith("kb/events.ics") for i in stored_ids(store))
    texts = " ".join(store.collection.get(where={"source_id": "kb/docs/guide.md"})["documents"])
    assert "i-Nov" in texts
    assert set(store.sources()) == {"kb/calls.csv", "kb/docs/guide.md", "kb/docs/membership.md"}


def test_shrinking_a_source_leaves_no_stale_chunks(ingestor, store, kb, write):
    write("docs/long.md", "\n\n".join(f"## Part {i}\n\n" + "Text of this part. " * 80 for i in range(6)))
    ingestor.run([kb])
    assert len(store.collection.get(where={"source_id": "kb/docs/long.md"})["ids"]) > 3
    write("docs/long.md", "## Part 0\n\nOnly one short part remains.\n")
    ingestor.run([kb])
    assert store.collection.get(where={"source_id": "kb/docs/long.md"})["ids"] == ["kb/docs/long.md:0"]


def test_no_prune_keeps_sources_that_disappeared(ingestor, store, kb):
    ingestor.run([kb])
    (kb / "calls.csv").unlink()
    report = ingestor.run([kb], prune=False)
    assert report.removed == []
    assert "kb/calls.csv" in store.sources()


def test_dry_run_reports_changes_and_writes_nothing(ingestor, store, embedder, kb, write):
    ingestor.run([kb])
    write("docs/new.md", "# New page\n\nNew text.\n")
    (kb / "calls.csv").unlink()
    ids_before, calls_before = stored_ids(store), len(embedder.calls)
    report = ingestor.run([kb], dry_run=True)
    assert (report.added, report.removed, report.dry_run) == (["kb/docs/new.md"], ["kb/calls.csv"], True)
    assert stored_ids(store) == ids_before and len(embedder.calls) == calls_before
    assert "kb/docs/new.md" not in store.sources()


def test_bad_sources_are_reported_by_path_and_the_rest_is_ingested(ingestor, store, kb, write):
    write("docs/corrupt.pdf", b"%PDF-1.4 broken")
    write("docs/latin1.txt", "Réunion à Lyon".encode("latin-1"))
    write("docs/photo.jpg", b"\xff\xd8\xff")
    report = ingestor.run([kb])
    failed = {f.path: f.error for f in report.failed}
    assert set(failed) == {"kb/docs/corrupt.pdf", "kb/docs/latin1.txt"}
    assert "PDF" in failed["kb/docs/corrupt.pdf"] and "UTF-8" in failed["kb/docs/latin1.txt"]
    assert report.skipped == ["kb/docs/photo.jpg"], "unsupported files are listed, not failed"
    assert len(report.added) == 4 and not report.ok


def test_a_source_that_breaks_keeps_its_last_good_version(ingestor, store, kb, write):
    ingestor.run([kb])
    write("calls.csv", "title,deadline\n")  # header only: nothing readable
    report = ingestor.run([kb])
    assert [f.path for f in report.failed] == ["kb/calls.csv"]
    assert report.removed == []
    assert len(store.collection.get(where={"source_id": "kb/calls.csv"})["ids"]) == 2


def test_bad_rows_are_reported_again_on_the_next_run_until_fixed(ingestor, kb, write):
    write("calls.csv", CALLS + "Vague call,someday,X\n")
    first = ingestor.run([kb])
    second = ingestor.run([kb])
    assert [f.error for f in first.failed] == ["row 4: deadline: not a date: 'someday'"]
    assert "kb/calls.csv" in second.unchanged
    assert [f.path for f in second.failed] == ["kb/calls.csv"], "the exit code keeps saying something failed"


def test_interrupted_ingestion_is_completed_by_the_next_run_without_duplicates(
    settings, store, kb, write, monkeypatch
):
    for i in range(6):
        write(f"docs/page{i}.md", f"# Page {i}\n\nContent of page {i}.\n")
    monkeypatch.setattr(knowledge.pipeline, "_GROUP_TEXTS", 2)
    crashing = HashingEmbedder(dimension=store.collection.metadata["dimension"], fail_after=2)
    crashing.name = "test-hashing"
    with pytest.raises(KeyboardInterrupt):
        Ingestor(settings, store, crashing, now=lambda: TODAY).run([kb])
    written = set(store.sources())
    assert 0 < len(written) < 10, "the crash happened midway"

    report = Ingestor(settings, store, HashingEmbedder(), now=lambda: TODAY).run([kb])
    assert sorted(report.unchanged) == sorted(written)
    assert len(store.sources()) == 10
    ids = stored_ids(store)
    assert len(ids) == len(set(ids)) == store.count() == 11


def test_a_file_argument_is_ingested_without_pruning_its_folder(ingestor, store, kb):
    ingestor.run([kb])
    report = ingestor.run([kb / "calls.csv"])
    assert report.unchanged == ["kb/calls.csv"] and report.removed == []
    assert len(store.sources()) == 4


def test_missing_path_is_a_usage_error(ingestor, tmp_path):
    with pytest.raises(UsageError, match="no such file or folder"):
        ingestor.run([tmp_path / "nope"])


def test_links_fall_back_to_the_base_url_then_the_relative_path(tmp_path, embedder, kb):
    settings = KnowledgeSettings(store_path=tmp_path / "linked", base_url="https://drive.example.org/kb/",
                                 _env_file=None)
    store = open_store(settings.store_path, None, "links", embedder.name, embedder.dimension)
    Ingestor(settings, store, embedder, now=lambda: TODAY).run([kb])
    meta = store.collection.get(where={"source_id": "kb/docs/guide.md"}, include=["metadatas"])["metadatas"][0]
    assert meta["url"] == "https://drive.example.org/kb/docs/guide.md"
    assert meta["path"] == "docs/guide.md"


def test_index_built_with_another_model_is_refused_with_advice(settings, store, ingestor, kb):
    ingestor.run([kb])
    with pytest.raises(StoreError, match="--rebuild"):
        open_store(settings.store_path, None, settings.collection, "another-model", 64)
    rebuilt = open_store(settings.store_path, None, settings.collection, "another-model", 64, rebuild=True)
    assert rebuilt.count() == 0 and rebuilt.sources() == {}


def test_progress_is_reported_while_reading_and_embedding(ingestor, kb):
    seen: list[tuple[str, int, int]] = []
    ingestor.run([kb], progress=lambda stage, done, total: seen.append((stage, done, total)))
    reading = [s for s in seen if s[0] == "reading"]
    embedding = [s for s in seen if s[0] == "embedding"]
    assert reading[-1] == ("reading", 4, 4)
    assert embedding and embedding[-1][1] == embedding[-1][2] == 5, "ends at all chunks done"


def test_a_document_raised_to_staff_never_reaches_members_even_through_an_older_keyword_index(
    settings, store, embedder, kb, write, monkeypatch
):
    from knowledge.retrieval import Filters, Retriever

    doc = "---\ntitle: Clean room booking\naudience: {}\n---\n# Clean room\n\nThe clean room costs 90 euros an hour.\n"
    write("docs/clean-room.md", doc.format("member"))
    ingestor = Ingestor(settings, store, embedder, now=lambda: TODAY)
    ingestor.run([kb])
    retriever = Retriever(store, embedder)
    question = "How much does the clean room cost per hour?"
    assert retriever.search(question, Filters(role="member", now=TODAY))[0].metadata["source_id"] == \
        "kb/docs/clean-room.md"

    write("docs/clean-room.md", doc.format("staff"))
    monkeypatch.setattr(retriever, "refresh", lambda: None)  # as if the keyword index could not be rebuilt yet
    assert ingestor.run([kb]).updated == ["kb/docs/clean-room.md"]
    seen = retriever.search(question, Filters(role="member", now=TODAY))
    assert "kb/docs/clean-room.md" not in {h.metadata["source_id"] for h in seen}
    assert retriever.search(question, Filters(role="staff", now=TODAY))[0].metadata["source_id"] == \
        "kb/docs/clean-room.md"


class SideBySideEmbedder(HashingEmbedder):
    """Offers two encoders for long jobs, as the packaged model does; records which thread called which."""

    def __init__(self) -> None:
        super().__init__()
        self.used: dict[int, set[str]] = {0: set(), 1: set()}
        self.overlapping = False
        self._busy = [False, False]

    @contextlib.contextmanager
    def bulk(self, texts: int):
        def encoder(number: int):
            def encode(batch):
                if self._busy[number]:
                    self.overlapping = True  # one encoder called from two threads at once
                self._busy[number] = True
                self.used[number].add(threading.current_thread().name)
                time.sleep(0.005)  # long enough for the other thread to start its batch
                try:
                    return self.encode_passages(batch)
                finally:
                    self._busy[number] = False
            return encode

        yield [encoder(0), encoder(1)]


def test_batches_embedded_side_by_side_store_the_same_index_as_one_model(tmp_path, settings, write):
    for i in range(30):
        write(f"docs/guide-{i:02d}.md", f"# Guide {i}\n\n" + "\n\n".join(
            f"## Part {j}\n\nFunding rule {i}-{j}: SMEs apply before the deadline of call {i * 100 + j}. " * 5
            for j in range(12)))
    one = HashingEmbedder()
    plain_settings = KnowledgeSettings(store_path=tmp_path / "one", embed_batch=8, _env_file=None)
    plain = open_store(plain_settings.store_path, None, "kbase", one.name, one.dimension)
    Ingestor(plain_settings, plain, one, now=lambda: TODAY).run([tmp_path / "kb"])
    two = SideBySideEmbedder()
    side_settings = KnowledgeSettings(store_path=tmp_path / "two", embed_batch=8, _env_file=None)
    side = open_store(side_settings.store_path, None, "kbase", two.name, two.dimension)
    report = Ingestor(side_settings, side, two, now=lambda: TODAY).run([tmp_path / "kb"])

    assert report.ok and report.chunks_embedded == side.count() == plain.count() >= 300
    assert all(two.used.values()) and not two.overlapping, "both encoders worked, each in one thread at a time"
    assert len(two.used[0] | two.used[1]) == 2 and not two.used[0] & two.used[1]

    def index(store):
        got = store.collection.get(include=["embeddings", "documents", "metadatas"])
        return {i: (d, round(float(sum(e)), 5), m["content_hash"])
                for i, d, e, m in zip(got["ids"], got["documents"], got["embeddings"], got["metadatas"])}

    assert index(side) == index(plain)
    release_embedded_store(plain_settings.store_path)
    release_embedded_store(side_settings.store_path)


def test_an_error_in_a_side_by_side_encoder_fails_the_run_and_keeps_the_index_consistent(tmp_path, settings, write):
    for i in range(10):
        write(f"docs/g{i}.md", f"# Guide {i}\n\n" + "\n\n".join(f"## P{j}\n\nRule {i}.{j} applies to every SME of the cluster. " * 8 for j in range(10)))
    broken = SideBySideEmbedder()
    broken.fail_after = 5  # the sixth batch raises (as Ctrl-C would)
    kb_settings = KnowledgeSettings(store_path=tmp_path / "s", embed_batch=8, _env_file=None)
    store = open_store(kb_settings.store_path, None, "kbase", broken.name, broken.dimension)
    with pytest.raises(KeyboardInterrupt):
        Ingestor(kb_settings, store, broken, now=lambda: TODAY).run([tmp_path / "kb"])
    again = Ingestor(kb_settings, store, HashingEmbedder(), now=lambda: TODAY).run([tmp_path / "kb"])
    assert again.ok and not again.failed
    assert store.count() == 100 and len(set(store.collection.get(include=[])["ids"])) == 100
    release_embedded_store(kb_settings.store_path)
