"""The index: chunks and their embeddings in Chroma, plus a manifest of ingested sources.

The only module that imports `chromadb`: callers pass our own types (a `ChunkFilter`, vectors) and get our
own back (`StoredChunks`, `StoreError`). It always passes our own embeddings: Chroma's default embedding
function downloads a model at run time and fails offline.
"""

from __future__ import annotations

import fcntl
import gc
import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
import httpx
import numpy as np
from chromadb.config import Settings as ChromaSettings

from knowledge.filters import AtLeast, Below, ChunkFilter, Condition, NoneOf, OneOf
from knowledge.models import Chunk, MetadataValue

logger = logging.getLogger(__name__)

_WRITE_BATCH = 1000  # Chroma rejects very large single writes; stay well under its max batch size
# SQLite binds one variable per record a read returns (and per id asked for), 32,766 at most in one statement:
# nothing reads more than a page at a time, nor asks for more ids at once.
PAGE_SIZE = 5000
# Reads that include embeddings go this many chunks a page: a Chroma server sends them as JSON, which its client
# decodes into one Python float per dimension (~32 bytes each, 16 KB a chunk at 512 dimensions) before numpy;
# 5,000 of them took ~150 MB at once. Their rows are kept as float32 (2 KB a chunk at 512 dimensions).
EMBEDDINGS_PAGE_SIZE = 1000
# ...and after every this many chunks read with embeddings, the cycle collector runs. The server's HTTP client
# (httpx) leaves each reply in a reference cycle (the response and its stream), holding its body twice (bytes and
# decoded text: ~11 MB per 1,000 chunks); only a full collection frees them, and in a process of 100k objects
# Python runs one rarely: a sync of the whole store kept ~300 MB of replies at 100k chunks. A collection costs
# ~25 ms, against ~1 s to read 5,000 chunks.
COLLECT_EVERY = 5000


class _Collector:
    """Runs `gc.collect()` once every `COLLECT_EVERY` chunks read with embeddings (by any store, any thread)."""

    def __init__(self) -> None:
        self._read = 0
        self._lock = threading.Lock()

    def read(self, chunks: int) -> None:
        with self._lock:
            self._read += chunks
            due = self._read >= COLLECT_EVERY
            if due:
                self._read = 0
        if due:
            gc.collect()


_collector = _Collector()


class StoreError(RuntimeError):
    """The index cannot be opened or used as configured; the message says what to do."""


class StoreBusy(StoreError):
    """Another process holds the embedded store."""


class StoreUnavailable(StoreError):
    """The store could not be reached (a stopped server, a network error): trying again later may work."""


@dataclass
class StoredChunks:
    """Chunks as read from the index; the lists hold what was asked for, in the same order as `ids`."""

    ids: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    metadatas: list[dict[str, MetadataValue]] = field(default_factory=list)
    embeddings: list[Sequence[float]] = field(default_factory=list)
    distances: list[float] = field(default_factory=list)  # query results only
    tokens: list[Sequence[str] | None] = field(default_factory=list)  # keyword-index words, when already known


def _listed(got: dict, key: str) -> list:
    """A column of a Chroma result as a list (embeddings come back as a numpy array, absent ones as None)."""
    value = got.get(key)
    return [] if value is None else list(value)


def _vectors(got: dict) -> list:
    """The embeddings of a Chroma result as float32 rows of one array (Chroma keeps float32; a server's client
    hands back float64, or lists of Python floats), [] when absent."""
    value = got.get("embeddings")
    if value is None or len(value) == 0:
        return []
    return list(np.asarray(value, dtype=np.float32))


def _page_size(include: Sequence[str], page_size: int | None) -> int:
    size = page_size or PAGE_SIZE
    return min(size, EMBEDDINGS_PAGE_SIZE) if "embeddings" in include else size


def _clause(condition: Condition) -> dict:
    if isinstance(condition, OneOf):
        return {condition.field: {"$in": list(condition.values)}}
    if isinstance(condition, NoneOf):  # Chroma 1.5's `$nin` keeps chunks without the field, as `accepts` does
        return {condition.field: {"$nin": list(condition.values)}}
    if isinstance(condition, AtLeast):
        return {condition.field: {"$gte": condition.bound}}
    if isinstance(condition, Below):
        return {condition.field: {"$lt": condition.bound}}
    raise TypeError(f"not a filter condition: {condition!r}")


def chroma_where(selection: ChunkFilter | None) -> dict | None:
    """The Chroma `where` clause of a filter (None when it keeps every chunk).

    >>> chroma_where(ChunkFilter((OneOf("kind", ("event",)), AtLeast("end_ts", 100))))
    {'$and': [{'kind': {'$in': ['event']}}, {'end_ts': {'$gte': 100}}]}
    """
    # Chroma rejects an empty `$nin` list; leaving out nothing is no condition at all.
    conditions = [c for c in selection.conditions if not (isinstance(c, NoneOf) and not c.values)] if selection else []
    if not conditions:
        return None
    clauses = [_clause(condition) for condition in conditions]
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _of_sources(source_ids: Sequence[str]) -> ChunkFilter:
    return ChunkFilter((OneOf("source_id", tuple(source_ids)),))


def _batches(items: Sequence[str], size: int | None = None) -> Iterator[list[str]]:
    size = size or PAGE_SIZE
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


@dataclass(frozen=True)
class SourceState:
    """What the manifest remembers of one ingested source."""

    source_id: str
    root: str
    path: str
    fingerprint: str
    chunks: int
    title: str = ""
    ingested_at: str = ""
    problems: tuple[str, ...] = ()


# Locks this process already holds, by store folder: a second open in the same process reuses it.
_HELD_LOCKS: dict[str, int] = {}


def _lock_embedded_store(path: Path) -> None:
    """One process per embedded store (Chroma's PersistentClient is not safe across processes)."""
    key = str(path.resolve())
    if key in _HELD_LOCKS:
        return
    path.mkdir(parents=True, exist_ok=True)
    lock_path = path / "concierge.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise StoreBusy(
            f"the embedded store {path} is in use by another process ({holder}). Stop it, ingest from it "
            "(the bot's reingest command), or run a Chroma server and set KB_CHROMA_URL for both."
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
    _HELD_LOCKS[key] = fd


def release_embedded_store(path: Path) -> None:
    """Give the lock back (tests and long-lived processes that close a store)."""
    fd = _HELD_LOCKS.pop(str(path.resolve()), None)
    if fd is not None:
        os.close(fd)


def make_client(store_path: Path, chroma_url: str | None) -> chromadb.api.ClientAPI:
    """A Chroma server client when `chroma_url` is set, else the embedded store at `store_path`."""
    settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        parsed = urlparse(chroma_url)
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise StoreError(f"KB_CHROMA_URL must look like http://host:port, not {chroma_url!r}")
        try:
            return chromadb.HttpClient(
                host=parsed.hostname,
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=settings,
            )
        except Exception as exc:
            raise StoreError(f"cannot reach the Chroma server at {chroma_url}: {exc}") from None
    _lock_embedded_store(store_path)
    return chromadb.PersistentClient(path=str(store_path), settings=settings)


class KnowledgeStore:
    """Chunks with embeddings and metadata, and the per-source manifest that makes re-runs incremental.

    Built by `open_store(store_path, chroma_url, collection, model_name, dimension)`.
    """

    def __init__(self, client: chromadb.api.ClientAPI, collection: str, model_name: str, dimension: int,
                 *, location: str = "") -> None:
        self._client = client
        self.model_name = model_name
        self.location = location or "the Chroma store"  # for messages: the server URL or the store folder
        # chromadb's type hints are narrower than what it accepts (plain lists of floats, our metadata dicts):
        # the two collections are typed loosely here, at the one boundary with Chroma.
        self._chunks: Any
        self._sources: Any
        try:
            self._chunks = client.get_or_create_collection(
                collection,
                metadata={"embedding_model": model_name, "dimension": dimension},
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
            self._sources = client.get_or_create_collection(
                f"{collection}__sources", embedding_function=None
            )
        except Exception as exc:
            raise StoreError(f"cannot open Chroma collection {collection!r}: {exc}") from None
        built_with = (self._chunks.metadata or {}).get("embedding_model")
        if built_with and built_with != model_name:
            raise StoreError(
                f"collection {collection!r} was built with embedding model {built_with!r}, "
                f"but KB_EMBEDDING_MODEL is {model_name!r}: re-run ingestion with --rebuild, "
                "or choose another KB_COLLECTION"
            )

    # --- errors ---------------------------------------------------------------------------------------------

    @contextmanager
    def _calling_chroma(self, doing: str) -> Iterator[None]:
        """Turn whatever Chroma or its HTTP client raises into a StoreError that says what happened."""
        try:
            yield
        except StoreError:
            raise
        except (httpx.TransportError, ConnectionError) as exc:
            raise StoreUnavailable(
                f"cannot reach the knowledge base at {self.location} while {doing} ({exc or type(exc).__name__}): "
                "check that the Chroma server is running, then try again"
            ) from exc
        except Exception as exc:  # chromadb raises a bare Exception for some server replies
            raise StoreError(f"the knowledge base at {self.location} failed while {doing}: {exc}") from exc

    def _pages(self, collection: Any, where: dict | None, include: Sequence[str], page_size: int,
               doing: str) -> Iterator[StoredChunks]:
        page_size = _page_size(include, page_size)
        offset = 0
        while True:
            with self._calling_chroma(doing):
                got = collection.get(where=where, include=list(include), limit=page_size, offset=offset)
            page = StoredChunks(ids=list(got["ids"]), documents=_listed(got, "documents"),
                                metadatas=_listed(got, "metadatas"), embeddings=_vectors(got))
            del got  # Chroma's copy goes now, and this page before the next is read: one page in memory at a time
            read = len(page.ids)
            if page.embeddings:
                _collector.read(read)
            if read:
                yield page
            del page
            if read < page_size:
                return
            offset += read

    # --- manifest -----------------------------------------------------------------------------------------

    def sources(self, *, page_size: int | None = None) -> dict[str, SourceState]:
        """Every ingested source by id (read a page at a time)."""
        states = {}
        for page in self._pages(self._sources, None, ["metadatas"], page_size or PAGE_SIZE,
                                "reading the list of sources"):
            for source_id, meta in zip(page.ids, page.metadatas):
                if source_id.startswith("__"):
                    continue
                states[source_id] = SourceState(
                    source_id=source_id,
                    root=str(meta.get("root", "")),
                    path=str(meta.get("path", "")),
                    fingerprint=str(meta.get("fingerprint", "")),
                    chunks=int(meta.get("chunks", 0)),
                    title=str(meta.get("title", "")),
                    ingested_at=str(meta.get("ingested_at", "")),
                    problems=tuple(json.loads(str(meta.get("problems", "[]")))),
                )
        return states

    def _put_manifest(self, entry_id: str, meta: dict[str, MetadataValue]) -> None:
        # The manifest collection is never searched; a constant vector satisfies Chroma.
        with self._calling_chroma("writing the ingestion summary"):
            self._sources.upsert(ids=[entry_id], embeddings=[[1.0]], metadatas=[meta], documents=[entry_id])

    # --- chunks -------------------------------------------------------------------------------------------

    def iter_chunks(self, *, where: ChunkFilter | None = None, include: Sequence[str] = ("documents", "metadatas"),
                    page_size: int | None = None) -> Iterator[StoredChunks]:
        """The chunks `where` keeps (all by default), a page at a time.

        Together the pages hold `store.count()` chunks.
        """
        return self._pages(self._chunks, chroma_where(where), include, page_size or PAGE_SIZE, "reading chunks")

    def get_chunks(self, ids: Sequence[str], include: Sequence[str] = ("embeddings",)) -> StoredChunks:
        """The chunks with these ids (unknown ids are left out), asked for a batch at a time."""
        out = StoredChunks()
        for batch in _batches(ids, _page_size(include, None)):
            with self._calling_chroma("reading chunks"):
                got = self._chunks.get(ids=batch, include=list(include))
            out.ids += got["ids"]
            out.documents += _listed(got, "documents")
            out.metadatas += _listed(got, "metadatas")
            out.embeddings += _vectors(got)
            if "embeddings" in include:
                _collector.read(len(got["ids"]))
        return out

    def query(self, vector: Sequence[float], n_results: int, where: ChunkFilter | None = None,
              include: Sequence[str] = ("documents", "metadatas")) -> StoredChunks:
        """The `n_results` chunks nearest to `vector` among those `where` keeps, nearest first, with distances.

        `include=()` returns ids and distances only: several times faster on a large store.
        """
        with self._calling_chroma("searching"):
            got = self._chunks.query(query_embeddings=[list(vector)], n_results=n_results, where=chroma_where(where),
                                     include=[*include, "distances"])
        return StoredChunks(ids=list(got["ids"][0]), documents=list((got.get("documents") or [[]])[0]),
                            metadatas=list((got.get("metadatas") or [[]])[0]),
                            distances=[float(d) for d in (got.get("distances") or [[]])[0]])

    def embeddings_by_hash(self, source_id: str) -> dict[str, list[float]]:
        """Stored embeddings of a source's chunks, by content hash, to reuse for unchanged passages."""
        out: dict[str, list[float]] = {}
        for page in self.iter_chunks(where=_of_sources([source_id]), include=["metadatas", "embeddings"]):
            for meta, vector in zip(page.metadatas, page.embeddings):
                out[str(meta.get("content_hash"))] = list(map(float, vector))
        return out

    def chunks_of(self, source_ids: Sequence[str], include: Sequence[str] = ("documents", "metadatas")
                  ) -> Iterator[StoredChunks]:
        """The chunks of these sources, a page at a time (the keyword index reads back what a run changed)."""
        for batch in _batches(source_ids):
            yield from self.iter_chunks(where=_of_sources(batch), include=include)

    def _chunk_ids(self, source_ids: Sequence[str]) -> list[str]:
        ids: list[str] = []
        for batch in _batches(source_ids):
            for page in self.iter_chunks(where=_of_sources(batch), include=[]):
                ids += page.ids
        return ids

    def _delete_chunks(self, ids: Sequence[str]) -> None:
        for batch in _batches(ids):
            with self._calling_chroma("deleting chunks"):
                self._chunks.delete(ids=batch)

    def write_sources(
        self, items: Sequence[tuple[SourceState, Sequence[Chunk], Sequence[Sequence[float]]]]
    ) -> StoredChunks:
        """Replace the chunks of several sources in a few batched calls; returns the chunks as stored.

        Manifest entries are written last: a run interrupted before them leaves the old fingerprints,
        so the next run redoes these sources (chunk ids are stable: no duplicates).
        """
        written = StoredChunks()
        if not items:
            return written
        ids, vectors, documents, metadatas = written.ids, written.embeddings, written.documents, written.metadatas
        for state, chunks, embeddings in items:
            for chunk, vector in zip(chunks, embeddings):
                ids.append(chunk.id)
                vectors.append(list(vector))
                documents.append(chunk.text)
                metadatas.append({**chunk.metadata, "root": state.root})
                written.tokens.append(chunk.tokens)
        keep = set(ids)
        source_ids = [state.source_id for state, _, _ in items]
        old = self._chunk_ids(source_ids)
        # Chroma's upsert merges metadata: a key the new version no longer has (a status column emptied: the call
        # is no longer cancelled; a deadline cleared) would keep its old value. The chunks rewritten go first.
        self._delete_chunks([i for i in old if i in keep])
        for start in range(0, len(ids), _WRITE_BATCH):
            end = start + _WRITE_BATCH
            with self._calling_chroma("writing chunks"):
                self._chunks.upsert(ids=ids[start:end], embeddings=vectors[start:end],
                                    documents=documents[start:end], metadatas=metadatas[start:end])
        self._delete_chunks([i for i in old if i not in keep])
        entries = [
            {"root": state.root, "path": state.path, "fingerprint": state.fingerprint, "chunks": len(chunks),
             "title": state.title, "ingested_at": state.ingested_at,
             "problems": json.dumps(list(state.problems), ensure_ascii=False)}
            for state, chunks, _ in items
        ]
        for start in range(0, len(source_ids), _WRITE_BATCH):
            end = start + _WRITE_BATCH
            with self._calling_chroma("writing the list of sources"):
                self._sources.upsert(
                    ids=source_ids[start:end],
                    embeddings=[[1.0]] * len(source_ids[start:end]),  # never searched; Chroma wants a vector
                    documents=source_ids[start:end],
                    metadatas=entries[start:end],
                )
        return written

    def remove_source(self, source_id: str) -> None:
        """Delete a source's chunks, then its manifest entry."""
        self._delete_chunks(self._chunk_ids([source_id]))
        with self._calling_chroma("removing a source"):
            self._sources.delete(ids=[source_id])

    def count(self) -> int:
        """How many chunks the index holds."""
        with self._calling_chroma("counting chunks"):
            return self._chunks.count()

    def record_run(self, summary: dict[str, MetadataValue]) -> None:
        """Remember the last ingestion (shown to staff as the index status)."""
        self._put_manifest("__last_run__", summary)

    def last_run(self) -> dict[str, MetadataValue]:
        """The summary `record_run` stored, or {} before the first ingestion."""
        with self._calling_chroma("reading the ingestion summary"):
            got = self._sources.get(ids=["__last_run__"], include=["metadatas"])
        return dict(got["metadatas"][0]) if got["ids"] and got["metadatas"] else {}

    @property
    def collection(self):  # noqa: ANN201 - chromadb's Collection
        """The chunks' collection itself, for tests and benchmarks; the application uses the methods above."""
        return self._chunks

    def close(self) -> None:
        """Let go of Chroma (an embedded store flushes and frees its files); the object is unusable after."""
        close = getattr(self._client, "close", None)
        if close is not None:
            close()


def reset_collections(client: chromadb.api.ClientAPI, collection: str) -> None:
    """Delete the index's collections, so the next ingestion rebuilds it (ingest --rebuild)."""
    existing = {c.name if hasattr(c, "name") else str(c) for c in client.list_collections()}
    for name in (collection, f"{collection}__sources"):
        if name in existing:
            client.delete_collection(name)


def open_store(
    store_path: Path, chroma_url: str | None, collection: str, model_name: str, dimension: int,
    *, rebuild: bool = False,
) -> KnowledgeStore:
    """Open (or, with `rebuild`, empty and recreate) the index the settings describe."""
    client = make_client(store_path, chroma_url)
    if rebuild:
        reset_collections(client, collection)
    return KnowledgeStore(client, collection, model_name, dimension, location=chroma_url or str(store_path))
