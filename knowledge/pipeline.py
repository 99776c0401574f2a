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
from knowledge.loaders import LoadContext, LoaderError, is_supported
from knowledge.loaders.base import check_file_size
from knowledge.models import Chunk, Failure, IngestReport, Source
from knowledge.settings import KnowledgeSettings
from knowledge.store import KnowledgeStore, SourceState
from knowledge.worker import FileFailed, FileJob, FileWorker, read_file

logger = logging.getLogger(__name__)

PIPELINE_VERSION = "1"  # bump when loaders or chunking change what a file turns into
_GROUP_TEXTS = 256  # embed this many new texts, then write their sources: progress survives a crash


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
    ) -> None:
        self._settings = settings
        self._store = store
        self._embedder = embedder
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
        return report

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
        """Embed group after group of sources; a writer thread stores one group while the next is embedded."""
        total = sum(len(p.chunks) for p in pending)
        progress = {"done": 0}
        groups: list[list[_Pending]] = [[]]
        texts_in_group = 0
        for item in pending:
            groups[-1].append(item)
            texts_in_group += len(item.chunks)
            if texts_in_group >= _GROUP_TEXTS:
                groups.append([])
                texts_in_group = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-writer") as writer:
            writing: Future | None = None
            for group in groups:
                if not group:
                    continue
                writes = self._embed_group(group, fingerprints, now, report, notify, progress, total)
                if writing is not None:
                    writing.result()  # surface a write error, and keep at most one group in flight
                writing = writer.submit(self._store.write_sources, writes)
            if writing is not None:
                writing.result()

    def _embed_group(self, group, fingerprints, now, report, notify, progress, total):  # noqa: ANN001, ANN201
        """Embed what a group of sources needs (reusing stored vectors by content hash); return its writes."""
        for item in group:
            if not item.is_new:
                item.vectors = self._store.embeddings_by_hash(item.source.source_id)
        texts: dict[str, str] = {}
        for item in group:
            for chunk in item.chunks:
                key = str(chunk.metadata["content_hash"])
                if key not in item.vectors:
                    texts.setdefault(key, chunk.embed_text)
        keys = list(texts)
        computed: dict[str, list[float]] = {}
        batch = max(1, self._settings.embed_batch)
        for start in range(0, len(keys), batch):
            part = keys[start : start + batch]
            computed.update(zip(part, self._embedder.encode_passages([texts[k] for k in part]).tolist()))
            progress["done"] += len(part)
            notify("embedding", min(progress["done"], total), total)
        report.chunks_embedded += len(keys)
        stamp = now.isoformat(timespec="seconds")
        writes = []
        for item in group:
            vectors = []
            for chunk in item.chunks:
                key = str(chunk.metadata["content_hash"])
                if key in item.vectors:
                    report.chunks_reused += 1
                    vectors.append(item.vectors[key])
                else:
                    vectors.append(computed[key])
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
            writes.append((state, item.chunks, vectors))
        progress["done"] = min(total, progress["done"] + sum(
            1 for item in group for c in item.chunks if str(c.metadata["content_hash"]) in item.vectors))
        notify("embedding", progress["done"], total)
        return writes
