"""Ingestion: find sources, skip unchanged ones, load, chunk, embed (reusing what is stored), write, prune."""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import numpy as np

from knowledge.clock import Clock
from knowledge.embedding import Embedder
from knowledge.keyword_index import KeywordIndex, source_version
from knowledge.loaders import LOADERS, LoadContext, LoaderError, is_supported
from knowledge.loaders.base import check_file_size
from knowledge.loaders.calendar import load_calendar
from knowledge.loaders.tables import load_table
from knowledge.models import Chunk, Failure, IngestReport, Source
from knowledge.settings import KnowledgeSettings
from knowledge.store import KnowledgeStore, SourceState
from knowledge.worker import FileFailed, FileJob, FileWorker, read_file

logger = logging.getLogger(__name__)

PIPELINE_VERSION = "1"  # bump when loaders or chunking change what a file turns into
# ... or this, when only the records of calendars and tables (events, calls) change: those files are re-read, no
# other (2: an event's status, "cancelled", and its topics, from CATEGORIES or a status/topics column).
RECORDS_VERSION = "2"
_CALENDARS = frozenset(suffix for suffix, loader in LOADERS.items() if loader is load_calendar)
_RECORD_FILES = _CALENDARS | {suffix for suffix, loader in LOADERS.items() if loader is load_table}
# Write finished sources after this many new texts: progress survives a crash. Each write also looks up the
# sources' old chunk ids and updates the manifest: 1,024 cost 20-40% less per chunk than 256 (bench notes).
_GROUP_TEXTS = 1024


class UsageError(ValueError):
    """The command was given something it cannot work with (e.g. a path that does not exist)."""


@dataclass
class _Pending:
    source: Source
    chunks: list[Chunk]
    problems: list[str]
    is_new: bool
    vectors: dict[str, list[float]] = field(default_factory=dict)  # content hash -> embedding


ProgressCallback = Callable[[str, int, int], None]  # (stage, done, total)


def find_sources(roots: Sequence[Path]) -> tuple[list[Source], list[Source], set[str]]:
    """Supported and unsupported files under the roots, and the folder roots whose sources can be pruned."""
    found: dict[str, Source] = {}
    unsupported: list[Source] = []
    prunable: set[str] = set()
    for given in roots:
        if not given.exists():
            raise UsageError(f"no such file or folder: {given}")
        root = given.resolve()
        if root.is_file():
            candidates: Iterable[Path] = [root]
            base = root.parent
        else:
            prunable.add(str(root))
            base = root
            candidates = sorted(
                p for p in root.rglob("*")
                if p.is_file() and not any(part.startswith((".", "~$")) for part in p.relative_to(root).parts)
            )
        for path in candidates:
            source = Source(path=path, root=base, relpath=path.relative_to(base).as_posix())
            if is_supported(path):
                found.setdefault(source.source_id, source)
            else:
                unsupported.append(source)
    return list(found.values()), unsupported, prunable


class Ingestor:
    """Brings the index in line with the sources on disk.

    Usage: `Ingestor(settings, store, embedder, now=clock).run([Path("knowledge/sample")])` -> an IngestReport
    (`report.ok` when nothing failed).
    """

    def __init__(
        self,
        settings: KnowledgeSettings,
        store: KnowledgeStore,
        embedder: Embedder,
        now: Clock,
        keyword_index: KeywordIndex | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._embedder = embedder
        self._keywords = keyword_index  # synced at the end of each run, so the next question finds it current
        self._tz = ZoneInfo(settings.timezone)
        self._now = now  # injected where objects are wired: tests pin it

    def _signature(self, source: Source, now: datetime) -> str:
        parts = [PIPELINE_VERSION, self._embedder.name, str(self._settings.chunk_chars), self._settings.timezone,
                 self._settings.base_url or ""]
        if source.path.suffix.lower() in _RECORD_FILES:
            parts.append(f"rec{RECORDS_VERSION}")
        if source.path.suffix.lower() in _CALENDARS:
            # Recurring events are expanded around today: re-expand weekly even when the file is unchanged.
            year, week = now.isocalendar()[:2]
            parts.append(f"{year}-W{week:02d}")
        return "|".join(parts)

    def _fingerprint(self, source: Source, now: datetime) -> str:
        digest = hashlib.sha256(self._signature(source, now).encode())
        with source.path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def _load_context(self, now: datetime) -> LoadContext:
        settings = self._settings
        return LoadContext(
            tz=self._tz, now=now, recurrence_past_days=settings.recurrence_past_days,
            recurrence_future_days=settings.recurrence_future_days, max_file_mb=settings.max_file_mb,
            max_text_mb=settings.max_text_mb, max_unpacked_mb=settings.max_unpacked_mb,
            max_depth=settings.max_depth, max_occurrences=settings.max_occurrences,
        )

    def _link(self, source: Source) -> str:
        if self._settings.base_url:
            return f"{self._settings.base_url.rstrip('/')}/{quote(source.relpath)}"
        return source.relpath

    def run(
        self,
        roots: Sequence[Path],
        *,
        dry_run: bool = False,
        prune: bool = True,
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Ingest the roots; never raises for a bad source (it is listed in `report.failed`).

        Each changed file is read and chunked in a worker process under the limits of the settings
        (KB_MAX_*, KB_FILE_SECONDS, KB_WORKER_MEMORY_MB); a file that fails keeps its indexed version.
        """
        started = time.perf_counter()
        report = IngestReport(dry_run=dry_run)
        now = self._now()
        sources, unsupported, prunable = find_sources(roots)
        report.skipped = [s.source_id for s in unsupported]
        known = self._store.sources()
        notify = progress or (lambda stage, done, total: None)

        changed, fingerprints = self._fingerprint_all(sources, known, now, report)
        seen = {s.source_id for s in sources}
        report.removed = [
            state.source_id for state in known.values()
            if state.root in prunable and state.source_id not in seen
        ] if prune else []
        reading = self._read_changed(changed, now, report, notify, done=len(sources) - len(changed),
                                     total=len(sources))
        if dry_run:
            for _ in reading:  # read anyway: a file that would fail is reported
                pass
        else:
            # The files are read (in the worker) while the first ones are embedded.
            estimate = sum(_size(source) for source, _ in changed) // max(1, self._settings.chunk_chars)
            with _Ahead(reading) as pending:
                self._embed_and_write(pending, fingerprints, now, report, notify, estimate)
            for source_id in report.removed:
                self._store.remove_source(source_id)
                logger.info("removed source=%s", source_id)
        report.seconds = time.perf_counter() - started
        if not dry_run:
            self._record_run(report)
            self._sync_keywords()
        return report

    def _sync_keywords(self) -> None:
        """Bring the keyword index in step: rows of written sources are already there (`_write`); this drops
        the removed sources and records the run. On failure the bot's next question retries it."""
        if self._keywords is None:
            return
        try:
            self._keywords.sync(self._store)
        except Exception:
            logger.exception("keyword index sync failed after ingestion; the bot retries it at its next question")

    def _fingerprint_all(
        self,
        sources: Sequence[Source],
        known: dict[str, SourceState],
        now: datetime,
        report: IngestReport,
    ) -> tuple[list[tuple[Source, SourceState | None]], dict[str, str]]:
        """Fingerprint every source; report the unchanged ones; the new and changed ones with their state."""
        ctx = self._load_context(now)
        changed: list[tuple[Source, SourceState | None]] = []
        fingerprints: dict[str, str] = {}
        for source in sources:
            try:
                check_file_size(source.path, ctx)  # before hashing a huge file
                fingerprint = self._fingerprint(source, now)
            except LoaderError as exc:
                report.failed.append(Failure(source.source_id, str(exc)))
                continue
            except OSError as exc:
                report.failed.append(Failure(source.source_id, f"cannot read file: {exc.strerror or exc}"))
                continue
            fingerprints[source.source_id] = fingerprint
            state = known.get(source.source_id)
            if state and state.fingerprint == fingerprint:
                report.unchanged.append(source.source_id)
                report.failed.extend(
                    Failure(source.source_id, f"{p} (unchanged since last run)") for p in state.problems)
                continue
            changed.append((source, state))
        return changed, fingerprints

    def _read_changed(
        self,
        changed: Sequence[tuple[Source, SourceState | None]],
        now: datetime,
        report: IngestReport,
        notify: ProgressCallback,
        *,
        done: int,
        total: int,
    ) -> Iterator[_Pending]:
        """Load and chunk the new and changed sources in the worker, one by one; a failure is reported."""
        ctx = self._load_context(now)
        with FileWorker(self._settings.worker_memory_mb) as worker:  # started on the first changed file
            for number, (source, state) in enumerate(changed, start=done + 1):
                notify("reading", number, total)
                job = FileJob(source.path, source.source_id, source.relpath, self._link(source), ctx,
                              self._settings.chunk_chars)
                try:
                    read = worker.call(read_file, job, seconds=self._settings.file_seconds)
                except FileFailed as exc:
                    # Nothing is written for it: its last good version stays, and the next run retries it.
                    logger.info("failed source=%s reason=%s", source.source_id, exc)
                    report.failed.append(Failure(source.source_id, str(exc)))
                    continue
                report.failed.extend(Failure(source.source_id, p) for p in read.problems)
                (report.updated if state else report.added).append(source.source_id)
                yield _Pending(source, read.chunks, read.problems, is_new=state is None)
        if not changed:
            notify("reading", total, total)

    def _record_run(self, report: IngestReport) -> None:
        """What staff see as the index status; the run id tells readers (the bot's keyword index) to refresh."""
        self._store.record_run({
            "finished_at": self._now().astimezone(UTC).isoformat(timespec="seconds"),
            "run_id": uuid.uuid4().hex,  # readers notice every run, even two in the same second
            "added": len(report.added), "updated": len(report.updated), "unchanged": len(report.unchanged),
            "removed": len(report.removed), "failed": len(report.failed),
            "failures": "\n".join(f"{f.path}: {f.error}" for f in report.failed)[:4000],
            "chunks_embedded": report.chunks_embedded, "seconds": round(report.seconds, 3),
        })

    def _embed_and_write(
        self,
        pending: Iterable[_Pending],
        fingerprints: dict[str, str],
        now: datetime,
        report: IngestReport,
        notify: ProgressCallback,
        estimate: int,
    ) -> None:
        """Embed the new passages in full batches across sources; a writer thread stores finished sources.

        Sources are written about `_GROUP_TEXTS` new texts at a time (progress survives a crash) while the
        next ones are embedded, at most one write in flight. Vectors stay in numpy until one `tolist()` per
        batch, and stored vectors are looked up only for sources that were indexed before. When the embedder
        offers several encoders for a long job (`Embedder.bulk`), that many batches are embedded side by side.
        """
        window = _Window(notify=notify)
        batch = max(1, min(self._settings.embed_batch, _GROUP_TEXTS))
        stamp = now.isoformat(timespec="seconds")
        with self._embedder.bulk(estimate) as encoders, \
                _Encoders(encoders) as embedding, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-writer") as writer:
            writing: Future | None = None
            in_flight: deque[tuple[list[str], Future]] = deque()

            def write(finished: list[tuple[_Pending, list[list[float]]]]) -> None:
                nonlocal writing
                if not finished:
                    return
                writes = [self._write_of(item, vectors, fingerprints, stamp) for item, vectors in finished]
                if writing is not None:
                    writing.result()  # surface a write error, and keep at most one write in flight
                writing = writer.submit(self._write, writes)

            def collect() -> None:  # the oldest batch in flight: its vectors, then a write when enough are done
                keys, vectors = in_flight.popleft()
                computed = vectors.result().tolist()  # one conversion; the store wants lists
                report.chunks_embedded += len(keys)
                window.computed(keys, computed)
                if window.fresh >= _GROUP_TEXTS:
                    write(window.take_finished())

            def embed_next() -> None:
                if len(in_flight) >= embedding.size:
                    collect()
                keys, texts = window.next_batch(batch)
                in_flight.append((keys, embedding.submit(texts)))

            for item in pending:
                if not item.is_new:  # a source never indexed has nothing stored to reuse: no read
                    item.vectors = self._store.embeddings_by_hash(item.source.source_id)
                window.add(item, report)
                while window.queued >= batch:
                    embed_next()
            while window.queued:
                embed_next()
            while in_flight:
                collect()
            write(window.take_finished())
            if writing is not None:
                writing.result()
        if window.total:
            notify("embedding", window.total, window.total)  # repeated passages and reuse finish the count

    def _write(self, writes: list[tuple[SourceState, list[Chunk], list[list[float]]]]) -> None:
        """Store sources' chunks, then (beside the next embedding) their rows in the keyword index."""
        stored = self._store.write_sources(writes)
        if self._keywords is None:
            return
        try:
            self._keywords.replace({state.source_id: source_version(state) for state, _, _ in writes}, stored)
        except Exception:  # the end-of-run sync, or the bot's next question, catches up
            logger.exception("keyword index update failed during ingestion")

    def _write_of(
        self, item: _Pending, vectors: list[list[float]], fingerprints: dict[str, str], stamp: str
    ) -> tuple[SourceState, list[Chunk], list[list[float]]]:
        """What `KnowledgeStore.write_sources` needs for one source."""
        state = SourceState(
            source_id=item.source.source_id,
            root=str(item.source.root),
            path=item.source.relpath,
            fingerprint=fingerprints[item.source.source_id],
            chunks=len(item.chunks),
            title=str(item.chunks[0].metadata["title"]) if item.chunks else "",
            ingested_at=stamp,
            problems=tuple(item.problems),
        )
        return state, item.chunks, vectors


def _size(source: Source) -> int:
    try:
        return source.path.stat().st_size
    except OSError:
        return 0


class _Ahead:
    """Iterates `items` in a thread of its own, ahead of the consumer (the files are read while the first ones
    are embedded). An error of the producer is raised to the consumer; a consumer that stops early stops it."""

    _DONE = object()

    def __init__(self, items: Iterator[_Pending]) -> None:
        self._items = items
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="kb-reader", daemon=True)

    def _produce(self) -> None:
        try:
            for item in self._items:
                self._queue.put(item)
                if self._stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            self._queue.put(exc)
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()  # the generator's `with FileWorker` ends: the worker process goes
            self._queue.put(self._DONE)

    def __enter__(self) -> Iterator[_Pending]:
        self._thread.start()
        return self._consume()

    def _consume(self) -> Iterator[_Pending]:
        while (item := self._queue.get()) is not self._DONE:
            if isinstance(item, BaseException):
                raise item
            yield item

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self._stop.set()
        # After an error (Ctrl-C included) the file being read is not waited for (it may take KB_FILE_SECONDS):
        # the thread stops after it, and its worker process with it.
        self._thread.join(timeout=None if kind is None else 5)


class _Encoders:
    """Runs encoders on batches: in the caller's thread when there is one (no thread to hand over to), else one
    thread per encoder, each calling only its own (they need not be re-entrant)."""

    def __init__(self, encoders: Sequence[Callable[[Sequence[str]], np.ndarray]]) -> None:
        self.size = len(encoders)
        self._encoders = list(encoders)
        self._pool: ThreadPoolExecutor | None = None
        self._mine = threading.local()

    def __enter__(self) -> _Encoders:
        if self.size > 1:
            free = list(self._encoders)
            lock = threading.Lock()

            def take() -> None:
                with lock:
                    self._mine.encode = free.pop()

            self._pool = ThreadPoolExecutor(self.size, thread_name_prefix="kb-embed", initializer=take)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, texts: list[str]) -> Future:
        if self._pool is None:
            done: Future = Future()
            try:
                done.set_result(self._encoders[0](texts))
            except Exception as exc:
                done.set_exception(exc)
            return done
        return self._pool.submit(lambda: self._mine.encode(texts))


class _Window:
    """The sources being embedded and not yet written: texts waiting for a batch, vectors computed for them.

    A passage whose content hash is stored for its source is reused; one repeated within the window is
    embedded once.
    """

    def __init__(self, notify: ProgressCallback) -> None:
        self.total = 0  # chunks of the sources added so far (they arrive as they are read)
        self._notify = notify
        self._items: list[_Pending] = []
        self._queue: dict[str, str] = {}  # content hash -> text to embed, in order
        self._vectors: dict[str, list[float]] = {}  # content hash -> vector computed in this window
        self._missing: dict[int, int] = {}  # id(item) -> how many of its hashes are not computed yet
        self._waiting: dict[str, list[_Pending]] = {}  # content hash -> items that wait for it
        self.fresh = 0  # texts embedded since the last write
        self._done = 0  # chunks whose vector is known (progress)

    @property
    def queued(self) -> int:
        return len(self._queue)

    def add(self, item: _Pending, report: IngestReport) -> None:
        self.total += len(item.chunks)
        missing = set()
        for chunk in item.chunks:
            key = str(chunk.metadata["content_hash"])
            if key in item.vectors:
                report.chunks_reused += 1
                self._done += 1
            elif key not in self._vectors:
                missing.add(key)
                self._queue.setdefault(key, chunk.embed_text)
        for key in missing:
            self._waiting.setdefault(key, []).append(item)
        self._missing[id(item)] = len(missing)
        self._items.append(item)

    def next_batch(self, size: int) -> tuple[list[str], list[str]]:
        keys = []
        for key in self._queue:
            keys.append(key)
            if len(keys) == size:
                break
        return keys, [self._queue.pop(key) for key in keys]

    def computed(self, keys: list[str], vectors: list[list[float]]) -> None:
        for key, vector in zip(keys, vectors):
            self._vectors[key] = vector
            for item in self._waiting.pop(key, ()):
                self._missing[id(item)] -= 1
        self.fresh += len(keys)
        self._done += len(keys)
        self._notify("embedding", min(self._done, self.total), self.total)

    def take_finished(self) -> list[tuple[_Pending, list[list[float]]]]:
        """The sources whose every vector is known, in order, with their vectors chunk by chunk.

        They leave the window, and so do the vectors no source left in it needs.
        """
        finished = [item for item in self._items if not self._missing[id(item)]]
        if not finished:
            return []
        out = []
        for item in finished:
            del self._missing[id(item)]
            keys = (str(c.metadata["content_hash"]) for c in item.chunks)
            out.append((item, [item.vectors[k] if k in item.vectors else self._vectors[k] for k in keys]))
        self._items = [item for item in self._items if id(item) in self._missing]
        needed = {str(c.metadata["content_hash"]) for item in self._items for c in item.chunks}
        self._vectors = {key: vector for key, vector in self._vectors.items() if key in needed}
        self.fresh = 0
        return out
