"""Fault scenarios shared by the test suite (small) and `bench/faults.py` (larger): each returns what the
member or staff saw, how many chunks were lost and how many answers were duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from knowledge.pipeline import Ingestor
from knowledge.settings import KnowledgeSettings
from knowledge.store import KnowledgeStore, release_embedded_store
from tests.fakes.embedding import HashingEmbedder
from tests.fakes.killable_ingest import NOW, PausingEmbedder, open_faults_store

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Outcome:
    """One row of the faults table."""

    scenario: str
    seen: str
    chunks_lost: int = 0
    duplicated: int = 0
    ok: bool = True
    detail: str = ""


def write_corpus(folder: Path, files: int, sections: int = 6, version: int = 1) -> Path:
    """Markdown files of `sections` short sections each; `version` changes the text of every third file."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        changed = version > 1 and i % 3 == 0
        body = "\n\n".join(
            f"## Section {s}\n\nDocument {i} section {s} explains topic {i * sections + s} "
            f"for cluster members{' (revised in version %d)' % version if changed else ''}."
            for s in range(sections + (2 if changed else 0)))
        (folder / f"doc{i:03d}.md").write_text(f"# Document {i}\n\n{body}\n", encoding="utf-8")
    return folder


def snapshot(store: KnowledgeStore) -> tuple[dict[str, tuple], dict[str, tuple]]:
    """Chunks (id -> text, metadata, rounded vector) and manifest (source -> fingerprint, chunks), page by page."""
    chunks: dict[str, tuple] = {}
    collection = store._chunks  # the test reads Chroma directly to compare two stores exactly
    offset = 0
    while True:
        got = collection.get(include=["documents", "metadatas", "embeddings"], limit=2000, offset=offset)
        if not got["ids"]:
            break
        for cid, doc, meta, vector in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"]):
            chunks[cid] = (doc, tuple(sorted(meta.items())), tuple(round(float(v), 5) for v in vector))
        offset += len(got["ids"])
    manifest = {sid: (state.fingerprint, state.chunks) for sid, state in store.sources().items()}
    return chunks, manifest


def close(store: KnowledgeStore, store_path: Path) -> None:
    """Close the store and give its lock back: another process may open it now."""
    store.close()
    release_embedded_store(store_path)


def ingest_in_process(store: KnowledgeStore, store_path: Path, corpus: Path):  # noqa: ANN201 - IngestReport
    settings = KnowledgeSettings(store_path=store_path, _env_file=None, embed_batch=8)
    return Ingestor(settings, store, HashingEmbedder(), now=lambda: NOW).run([corpus])


def kill_ingestion(tmp: Path, moment: str, *, files: int = 40) -> Outcome:
    """Ingest version 1 of a corpus, change it (edits, removals, additions), run the ingestion of version 2
    in another process and `kill -9` it at `moment`; then re-run and compare with a clean ingestion."""
    corpus, store_path, clean_path = tmp / "kb", tmp / "store", tmp / "clean"
    write_corpus(corpus, files)
    store = open_faults_store(store_path)
    ingest_in_process(store, store_path, corpus)
    close(store, store_path)
    write_corpus(corpus, files + 5, version=2)  # every third file edited, five added
    for gone in sorted(corpus.glob("*.md"))[1:6]:
        gone.unlink()

    victim = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.killable_ingest", str(store_path), str(corpus), "--pause-at", moment],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = victim.stdout.readline().strip()  # PAUSED ... (or DONE when the moment never came)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    if not line.startswith("PAUSED"):
        return Outcome(f"kill -9 ingest.py at {moment}", "moment never reached", ok=False,
                       detail=line + victim.stderr.read()[-2000:])

    try:
        store = open_faults_store(store_path)  # the lock died with the process
    except Exception as exc:  # noqa: BLE001 - reported in the row
        return Outcome(f"kill -9 ingest.py at {moment}", f"store still locked: {exc}", ok=False)
    report = ingest_in_process(store, store_path, corpus)
    recovered = snapshot(store)
    close(store, store_path)
    clean = open_faults_store(clean_path)
    ingest_in_process(clean, clean_path, corpus)
    expected = snapshot(clean)
    close(clean, clean_path)

    lost = sum(1 for cid, value in expected[0].items() if recovered[0].get(cid) != value)
    extra = len(set(recovered[0]) - set(expected[0]))
    same_manifest = recovered[1] == expected[1]
    ok = lost == 0 and extra == 0 and same_manifest and report.ok
    seen = (f"re-run: {len(report.added)} added, {len(report.updated)} updated, {len(report.removed)} removed, "
            f"{len(report.unchanged)} unchanged; index {'equals' if ok else 'DIFFERS from'} a clean ingestion")
    return Outcome(f"kill -9 ingest at {moment}", seen, chunks_lost=lost, duplicated=extra, ok=ok,
                   detail="" if same_manifest else "manifest differs")


def reingest_while_answering(tmp: Path, *, files: int = 60, chroma_url: str | None = None,
                             pace: float = 0.01) -> Outcome:
    """Questions keep coming while an ingestion adds a document: no error, and the new document is
    answered once the run ends. Embedded: the ingestion runs inside the bot's process (staff reingest);
    with `chroma_url`: in another process (`ingest.py` against the same server)."""
    from bot.conversation import Incoming
    from bot.wiring import Services
    from knowledge.store import open_store

    corpus, store_path = tmp / "kb", tmp / "store"
    write_corpus(corpus, files)
    settings = KnowledgeSettings(store_path=store_path, chroma_url=chroma_url, collection="faults",
                                 sources=[corpus], _env_file=None, embed_batch=8)
    embedder = PausingEmbedder(pace=pace)  # paced like the real model: the run takes a while
    store = open_store(store_path, chroma_url, "faults", embedder.name, embedder.dimension)
    services = Services(settings, embedder=embedder, store=store, clock=lambda: NOW)
    services.ingestor().run([corpus])
    (corpus / "zz-new.md").write_text(
        "# Quantum biotech voucher\n\nThe quantum biotech voucher pays up to 40,000 euros for a first "
        "feasibility study with a partner laboratory.\n", encoding="utf-8")
    write_corpus(corpus, files, version=2)  # and a third of the corpus edited, so the run takes a while

    errors: list[str] = []
    answered = 0
    if chroma_url:
        runner = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.killable_ingest", str(store_path), str(corpus),
             "--chroma-url", chroma_url, "--pace", str(pace)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        running = lambda: runner.poll() is None  # noqa: E731
    else:
        thread = threading.Thread(target=services.ingestor().run, args=([corpus],), daemon=True)
        thread.start()
        running = thread.is_alive
    questions = ["Which topic does document 7 section 2 explain?", "Quel est le montant du quantum biotech voucher ?"]
    deadline = time.monotonic() + 300
    while running() and time.monotonic() < deadline:
        for question in questions:
            try:
                reply = services.concierge.answer(Incoming(question))
                answered += 1
                if reply.note == "unavailable":
                    errors.append("unavailable")
            except Exception as exc:  # noqa: BLE001 - counted: a member would have seen an apology
                errors.append(f"{type(exc).__name__}: {exc}")
    if chroma_url:
        out, err = runner.communicate(timeout=60)
        if runner.returncode != 0 or "DONE" not in out:
            errors.append(f"ingestion process failed: {err[-500:]}")
    final = services.concierge.answer(Incoming("How much does the quantum biotech voucher pay?"))
    found = any(s.url.endswith("zz-new.md") for s in final.sources)
    if chroma_url is None:
        release_embedded_store(store_path)
    where = "server, ingest.py in another process" if chroma_url else "embedded, staff reingest in the bot"
    seen = (f"{answered} answers during the run, {len(errors)} errors; new document "
            f"{'cited' if found else 'NOT cited'} after the run")
    return Outcome(f"reingest while answering ({where})", seen, ok=not errors and found,
                   detail="; ".join(errors[:3]))
