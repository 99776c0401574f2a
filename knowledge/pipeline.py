"""Ingestion: find sources, skip unchanged ones, load, chunk, embed (reusing what is stored), write, prune."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from knowledge.clock import Clock
from knowledge.embedding import Embedder
from knowledge.keyword_index import KeywordIndex, source_version
from knowledge.loaders import LoadContext, LoaderError, is_supported
from knowledge.loaders.base import check_file_size
from knowledge.models import Chunk, Failure, IngestReport, Source
from knowledge.settings import KnowledgeSettings
from knowledge.store import KnowledgeStore, SourceState
from knowledge.worker import FileFailed, FileJob, FileWorker, read_file

logger = logging.getLogger(__name__)

PIPELINE_VERSION = "1"  # bump when loaders or chunking change what a file turns into
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
        if source.path.suffix.lower() in {".ics", ".ical", ".jcal"}:
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

        pending, fingerprints = self._read_changed(sources, known, now, report, notify)
        seen = {s.source_id for s in sources}
        report.removed = [
            state.source_id for state in known.values()
            if state.root in prunable and state.source_id not in seen
        ] if prune else []
        if not dry_run:
            self._embed_and_write(pending, fingerprints, now, report, notify)
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

    def _read_changed(
        self,
        sources: Sequence[Source],
        known: dict[str, SourceState],
        now: datetime,
        report: IngestReport,
        notify: ProgressCallback,
    ) -> tuple[list[_Pending], dict[str, str]]:
        """Fingerprint every source; load and chunk the new and changed ones (in the worker), report the rest."""
        ctx = self._load_context(now)
        pending: list[_Pending] = []
        fingerprints: dict[str, str] = {}
        with FileWorker(self._settings.worker_memory_mb) as worker:  # started on the first changed file
            for done, source in enumerate(sources, start=1):
                notify("reading", done, len(sources))
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
                pending.append(_Pending(source, read.chunks, read.problems, is_new=state is None))
                (report.updated if state else report.added).append(source.source_id)
        return pending, fingerprints

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
        pending: list[_Pending],
        fingerprints: dict[str, str],
        now: datetime,
        report: IngestReport,
        notify: ProgressCallback,
    ) -> None:
        """Embed the new passages in full batches across sources; a writer thread stores finished sources.

        Sources are written about `_GROUP_TEXTS` new texts at a time (progress survives a crash) while the
        next ones are embedded, at most one write in flight. Vectors stay in numpy until one `tolist()` per
        batch, and stored vectors are looked up only for sources that were indexed before.
        """
        window = _Window(total=sum(len(p.chunks) for p in pending), notify=notify)
        batch = max(1, min(self._settings.embed_batch, _GROUP_TEXTS))
        stamp = now.isoformat(timespec="seconds")
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-writer") as writer:
            writing: Future | None = None

            def write(finished: list[tuple[_Pending, list[list[float]]]]) -> None:
                nonlocal writing
                if not finished:
                    return
                writes = [self._write_of(item, vectors, fingerprints, stamp) for item, vectors in finished]
                if writing is not None:
                    writing.result()  # surface a write error, and keep at most one write in flight
                writing = writer.submit(self._write, writes)

            for item in pending:
                if not item.is_new:  # a source never indexed has nothing stored to reuse: no read
                    item.vectors = self._store.embeddings_by_hash(item.source.source_id)
                window.add(item, report)
                while window.queued >= batch:
                    self._embed_batch(window, batch, report)
                    if window.fresh >= _GROUP_TEXTS:
                        write(window.take_finished())
            while window.queued:
                self._embed_batch(window, batch, report)
            write(window.take_finished())
            if writing is not None:
                writing.result()
        if window.total:
            notify("embedding", window.total, window.total)  # repeated passages and reuse finish the count

    def _embed_batch(self, window: _Window, batch: int, report: IngestReport) -> None:
        """Embed the next `batch` queued texts (one model call)."""
        keys, texts = window.next_batch(batch)
        vectors = self._embedder.encode_passages(texts).tolist()  # one conversion; the store wants lists
        report.chunks_embedded += len(keys)
        window.computed(keys, vectors)

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


class _Window:
    """The sources being embedded and not yet written: texts waiting for a batch, vectors computed for them.

    A passage whose content hash is stored for its source is reused; one repeated within the window is
    embedded once.
    """

    def __init__(self, total: int, notify: ProgressCallback) -> None:
        self.total = total
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
