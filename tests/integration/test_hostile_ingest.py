"""One file never spoils a run: hostile files beside good ones, through the Ingestor and `ingest.py`.

Each bad file is one failure line naming it; the good files of the same folder are indexed and answerable;
a bad file keeps whatever was indexed for it before, and is retried on the next run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import ingest
import knowledge.embedding
from knowledge.pipeline import Ingestor
from knowledge.retrieval import Filters, Retriever
from knowledge.settings import KnowledgeSettings
from knowledge.store import open_store, release_embedded_store
from tests.conftest import TODAY
from tests.fakes.embedding import HashingEmbedder
from tests.hostile_files import NEVER, calendar, deep_json, docx_bytes, malformed_docx, nested_divs, zip_of_zeros

pytestmark = pytest.mark.integration

GOOD = {
    "guide.md": "# Accreditation guide\n\nThe accreditation label is granted for two years by the committee.\n",
    "calls.csv": "title,deadline,funder\nEIC Accelerator,2027-03-04,European Innovation Council\n",
}
# name -> (content, what its failure line says)
HOSTILE = {
    "malformed.docx": (malformed_docx(), "corrupt DOCX: a part is not valid XML"),
    "deep.json": (deep_json(200_000), "JSON nested more than 100 levels deep (KB_MAX_DEPTH)"),
    "bomb.docx": (zip_of_zeros(400), "unpacks to 400.0 MB, over the 200 MB limit (KB_MAX_UNPACKED_MB)"),
    "dump.txt": (b"x" * 3_000_000, "2.9 MB, over the 2 MB limit (KB_MAX_TEXT_MB)"),
    "ticking.ics": (calendar("FREQ=SECONDLY", start="20200101T000000Z"),
                    "event Tick: repeats every 1 second(s) since 2020-01-01, too often to expand"),
    "deep.html": (nested_divs(100_000), "HTML nested more than 100 levels deep (KB_MAX_DEPTH)"),
}


def write_all(write, files: dict[str, object]) -> Path:  # noqa: ANN001
    for name, content in files.items():
        path = write(name, content)
    return path.parent


def test_each_hostile_file_fails_alone_and_the_good_ones_are_indexed(tmp_path, embedder, write):
    settings = KnowledgeSettings(store_path=tmp_path / "chroma", max_text_mb=2, _env_file=None)
    store = open_store(settings.store_path, None, settings.collection, embedder.name, embedder.dimension)
    try:
        kb = write_all(write, {**GOOD, **{name: content for name, (content, _) in HOSTILE.items()}})
        report = Ingestor(settings, store, embedder, now=lambda: TODAY).run([kb])

        failed = {f.path: f.error for f in report.failed}
        assert set(failed) == {f"kb/{name}" for name in HOSTILE}, "one line per bad file"
        for name, (_, reason) in HOSTILE.items():
            assert reason in failed[f"kb/{name}"], name
            assert "Traceback" not in failed[f"kb/{name}"] and "\n" not in failed[f"kb/{name}"]
        # The calendar loses only its runaway series: its other event is indexed.
        assert sorted(report.added) == ["kb/calls.csv", "kb/guide.md", "kb/ticking.ics"]
        assert set(store.sources()) == {"kb/calls.csv", "kb/guide.md", "kb/ticking.ics"}, "nothing for bad files"
        assert store.sources()["kb/ticking.ics"].chunks == 1
        [best, *_] = Retriever(store, embedder).search("How long is the accreditation label granted?",
                                                       Filters(role="public", now=TODAY))
        assert best.metadata["source_id"] == "kb/guide.md"
    finally:
        release_embedded_store(settings.store_path)


def test_an_event_repeating_every_second_is_indexed_up_to_the_cap(tmp_path, embedder, write):
    settings = KnowledgeSettings(store_path=tmp_path / "chroma", max_occurrences=10, _env_file=None)
    store = open_store(settings.store_path, None, settings.collection, embedder.name, embedder.dimension)
    try:
        kb = write_all(write, {"events.ics": calendar("FREQ=SECONDLY", start="20261120T090000Z")})
        report = Ingestor(settings, store, embedder, now=lambda: TODAY).run([kb])
        assert report.ok and report.added == ["kb/events.ics"]
        assert store.sources()["kb/events.ics"].chunks == 10 + 1, "ten ticks and the ordinary event"
    finally:
        release_embedded_store(settings.store_path)


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_file_past_its_time_budget_is_stopped_and_the_run_goes_on(tmp_path, embedder, write, dry_run):
    settings = KnowledgeSettings(store_path=tmp_path / "chroma", file_seconds=1, _env_file=None)
    store = open_store(settings.store_path, None, settings.collection, embedder.name, embedder.dimension)
    try:
        kb = write_all(write, {**GOOD, "never.ics": calendar(NEVER)})
        report = Ingestor(settings, store, embedder, now=lambda: TODAY).run([kb], dry_run=dry_run)
        assert [(f.path, f.error) for f in report.failed] == [
            ("kb/never.ics", "took longer than 1 s (KB_FILE_SECONDS); its reader was stopped")]
        assert sorted(report.added) == ["kb/calls.csv", "kb/guide.md"]
        assert set(store.sources()) == (set() if dry_run else {"kb/calls.csv", "kb/guide.md"})
    finally:
        release_embedded_store(settings.store_path)


@pytest.mark.parametrize("name, good, bad", [
    ("guide.docx", docx_bytes("Accreditation", "The label is granted for two years."), malformed_docx()),
    ("calls.json", '[{"title": "EIC Accelerator", "deadline": "2027-03-04"}]', deep_json(200_000)),
])
def test_an_indexed_file_that_becomes_hostile_keeps_its_previous_chunks(ingestor, store, write, name, good, bad):
    kb = write_all(write, {name: good})
    ingestor.run([kb])
    before = store.collection.get(where={"source_id": f"kb/{name}"})
    state = store.sources()[f"kb/{name}"]

    write(name, bad)
    report = ingestor.run([kb])
    assert [f.path for f in report.failed] == [f"kb/{name}"] and report.removed == []
    assert store.collection.get(where={"source_id": f"kb/{name}"}) == before, "its last good version stays"
    assert store.sources()[f"kb/{name}"].fingerprint == state.fingerprint, "so the next run tries it again"
    again = ingestor.run([kb])
    assert [f.path for f in again.failed] == [f"kb/{name}"] and again.unchanged == []


def test_ingest_cli_exits_1_with_one_line_per_bad_file_and_the_good_ones_answer(tmp_path, write, monkeypatch,
                                                                                 capsys):
    from bot.conversation import Incoming
    from bot.wiring import Services

    kb = write_all(write, {**GOOD, **{name: content for name, (content, _) in HOSTILE.items()},
                           "never.ics": calendar(NEVER)})
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name, value in {"KB_STORE_PATH": str(tmp_path / "chroma"), "KB_FILE_SECONDS": "1",
                        "KB_MAX_TEXT_MB": "2"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(knowledge.embedding, "load_embedder", lambda name: HashingEmbedder())
    try:
        code = ingest.main([str(kb), "-q"], clock=lambda: TODAY)
    finally:
        release_embedded_store(tmp_path / "chroma")
    out = capsys.readouterr()
    assert code == ingest.EXIT_FAILED
    failed = sorted(line for line in out.out.splitlines() if line.startswith("  FAILED "))
    assert [line.split(":")[0] for line in failed] == sorted(
        f"  FAILED kb/{name}" for name in [*HOSTILE, "never.ics"]), "one line per bad file, each named"
    assert "3 added" in out.out and "Traceback" not in out.out + out.err

    settings = KnowledgeSettings(store_path=tmp_path / "chroma", _env_file=None)
    services = Services(settings, embedder=HashingEmbedder(), clock=lambda: TODAY)
    try:
        reply = services.concierge.answer(Incoming("How long is the accreditation label granted?"))
    finally:
        release_embedded_store(tmp_path / "chroma")
    assert not reply.abstained and reply.sources[0].path == "guide.md" and "two years" in reply.answer
