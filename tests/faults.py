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
            f"for cluster members{f' (revised in version {version})' if changed else ''}."
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


def kill_real_ingest(tmp: Path, fraction: float, *, files: int = 60, model: str = "use-multilingual") -> Outcome:
    """`kill -9` the real `ingest.py` (real model, embedded store) at `fraction` of a clean run's duration,
    re-run it, and compare the index with a clean ingestion of the same folder."""
    corpus = write_corpus(tmp / "kb", files)

    def ingest(store_path: Path) -> subprocess.Popen:
        env = {**os.environ, "KB_STORE_PATH": str(store_path), "KB_EMBEDDING_MODEL": model,
               "KB_COLLECTION": COLLECTION_REAL}
        return subprocess.Popen([sys.executable, "ingest.py", str(corpus), "--quiet"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    started = time.monotonic()
    clean = ingest(tmp / "clean")
    clean.communicate(timeout=1200)
    duration = time.monotonic() - started
    victim = ingest(tmp / "store")
    time.sleep(duration * fraction)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    rerun = ingest(tmp / "store")
    out, err = rerun.communicate(timeout=1200)
    snapshots = []
    for name in ("store", "clean"):
        store = open_store_at(tmp / name)
        snapshots.append(snapshot(store))
        close(store, tmp / name)
    (recovered, recovered_manifest), (expected, expected_manifest) = snapshots
    lost = sum(1 for cid, value in expected.items() if cid not in recovered or recovered[cid][:2] != value[:2]
               or not _close(recovered[cid][2], value[2]))
    extra = len(set(recovered) - set(expected))
    ok = rerun.returncode == 0 and lost == 0 and extra == 0 and recovered_manifest.keys() == expected_manifest.keys()
    seen = f"re-run exit {rerun.returncode}: {out.strip().splitlines()[0] if out.strip() else err[-200:]}"
    return Outcome(f"kill -9 ingest.py (real model) at {fraction:.0%} of a run", seen, chunks_lost=lost,
                   duplicated=extra, ok=ok)


COLLECTION_REAL = "faults_real"


def open_store_at(store_path: Path) -> KnowledgeStore:
    from knowledge.embedding import load_embedder
    from knowledge.store import open_store

    embedder = load_embedder("use-multilingual")
    return open_store(store_path, None, COLLECTION_REAL, embedder.name, embedder.dimension)


def _close(a: tuple, b: tuple, tolerance: float = 1e-3) -> bool:
    """Vectors computed in another batch differ in the last bits: equal within `tolerance`."""
    return len(a) == len(b) and max((abs(x - y) for x, y in zip(a, b)), default=0.0) <= tolerance


def _slack_bot(tmp: Path):  # noqa: ANN202 - (services, app, api): the real App over the bundled sample
    from slack_sdk import WebClient

    from bot.settings import BotSettings
    from bot.slack.app import create_app
    from bot.state import BotState
    from bot.wiring import Services
    from tests.conftest import SHARED_DATA
    from tests.fakes.slack_api import SlackAPIServer
    from tests.fakes.slack_events import SECRET

    services = Services(KnowledgeSettings(store_path=tmp / "chroma", _env_file=None), clock=lambda: NOW)
    services.ingestor().run(services.settings.sources)
    api = SlackAPIServer(SHARED_DATA / "slack-fixtures")
    settings = BotSettings(slack_bot_token="xoxb-bench", slack_signing_secret=SECRET, slack_api_url=api.url,
                           slack_staff_users="USTAFF", state_path=tmp / "state.sqlite3", _env_file=None)
    app = create_app(services, settings, BotState(settings.state_path, clock=services.clock),
                     client=WebClient(token="xoxb-bench", base_url=api.url))
    return services, app, api


def slack_post_refused(tmp: Path, status: int, times: int, retry_after: int = 1) -> Outcome:
    """`chat.postMessage` answers `status` (429 with Retry-After, or 500) `times` times: the member still
    gets the answer, once."""
    from tests.fakes.slack_events import mention, send_event

    services, app, api = _slack_bot(tmp)
    try:
        api.fail_next("chat.postMessage", status, times=times, retry_after=retry_after)
        send_event(app, mention("Quand a lieu le prochain atelier IA en santé ?", ts="1700000100.1"))
        posts = api.wait_for("chat.postMessage", timeout=60)
        time.sleep(max(1.0, retry_after * 2))  # a duplicate would arrive by now
        posts = api.of("chat.postMessage")
    finally:
        api.close()
        services.store.close()
        release_embedded_store(tmp / "chroma")
    answered = [p for p in posts if p.get("thread_ts") == "1700000100.1"]
    seen = f"{len(api.refused)} refused, then {len(answered)} answer(s) in the thread"
    return Outcome(f"Slack chat.postMessage answers {status} ×{times}", seen, duplicated=max(0, len(answered) - 1),
                   ok=len(answered) == 1)


def two_reingests_at_once(tmp: Path) -> Outcome:
    """Two staff `/concierge reingest` at the same moment: one runs, the other is told so."""
    from tests.fakes.slack_events import slash

    services, app, api = _slack_bot(tmp)
    ran = []
    real = services.ingestor

    class Slow(Ingestor):
        def run(self, roots, **kwargs):  # noqa: ANN001, ANN003, ANN201
            ran.append(1)
            time.sleep(2)
            return super().run(roots, **kwargs)

    services.ingestor = lambda: Slow(services.settings, services.store, services.embedder, now=services.clock)
    try:
        threads = [threading.Thread(target=app.dispatch, args=(slash("/concierge", "reingest", "USTAFF", api),))
                   for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        replies = [r["text"] for r in api.wait_for("/respond/1", 3, timeout=60)]
    finally:
        services.ingestor = real
        api.close()
        services.store.close()
        release_embedded_store(tmp / "chroma")
    told = sum("already running" in r for r in replies)
    done = sum(r.startswith("Ingestion done") for r in replies)
    seen = f"{len(ran)} ingestion ran; the other staff member was told so ({told}); {done} summary"
    return Outcome("two staff reingests at once (Slack)", seen, ok=len(ran) == 1 and told == 1 and done == 1)


def chroma_server_outage(tmp: Path) -> Outcome:
    """The Chroma server stops while members ask (EN and FR), then comes back: polite replies meanwhile,
    answers again afterwards without restarting the bot."""
    from bot.conversation import Incoming
    from bot.wiring import Services
    from knowledge.store import open_store
    from tests.chroma_server import ChromaServer

    corpus = write_corpus(tmp / "kb", 20)
    (corpus / "voucher.md").write_text("# Quantum biotech voucher\n\nThe quantum biotech voucher pays up to "
                                       "40,000 euros for a feasibility study.\n", encoding="utf-8")
    server = ChromaServer(tmp / "server")
    server.start()
    try:
        settings = KnowledgeSettings(store_path=tmp / "unused", chroma_url=server.url, _env_file=None)
        embedder = HashingEmbedder()
        store = open_store(settings.store_path, server.url, "outage", embedder.name, embedder.dimension)
        services = Services(settings, embedder=embedder, store=store, clock=lambda: NOW)
        services.ingestor().run([corpus])
        question = "How much does the quantum biotech voucher pay?"
        server.stop()
        during = [services.concierge.answer(Incoming(text)) for text in
                  (question, "Combien paie le quantum biotech voucher ?")]
        server.start()
        after = services.concierge.answer(Incoming(question))
    finally:
        server.stop()
    polite = [r for r in during if r.note == "unavailable"]
    back = after.note is None and bool(after.sources) and after.sources[0].path == "voucher.md"
    seen = (f"during: {len(polite)}/{len(during)} 'temporarily unavailable' ({', '.join(r.language for r in polite)}); "
            f"after restart: {'answered with its source' if back else 'NOT answered'}")
    return Outcome("Chroma server stopped while answering", seen, ok=len(polite) == len(during) and back)
