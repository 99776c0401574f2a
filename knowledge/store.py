"""The index: chunks and their embeddings in Chroma, plus a manifest of ingested sources.

The only module that imports `chromadb`. It always passes our own embeddings: Chroma's default
embedding function downloads a model at run time and fails offline.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings

from knowledge.models import Chunk, MetadataValue

logger = logging.getLogger(__name__)

_WRITE_BATCH = 1000  # Chroma rejects very large single writes; stay well under its max batch size


class StoreError(RuntimeError):
    """The index cannot be opened or used as configured; the message says what to do."""


class StoreBusy(StoreError):
    """Another process holds the embedded store."""


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

    >>> store = KnowledgeStore(make_client(Path("var/chroma"), None), "cluster_knowledge", "use-multilingual", 512)  # doctest: +SKIP
    """

    def __init__(self, client: chromadb.api.ClientAPI, collection: str, model_name: str, dimension: int) -> None:
        self._client = client
        self.model_name = model_name
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

    # --- manifest -----------------------------------------------------------------------------------------

    def sources(self) -> dict[str, SourceState]:
        """Every ingested source by id."""
        got = self._sources.get(include=["metadatas"])
        states = {}
        for source_id, meta in zip(got["ids"], got["metadatas"] or []):
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
        self._sources.upsert(ids=[entry_id], embeddings=[[1.0]], metadatas=[meta], documents=[entry_id])

    # --- chunks -------------------------------------------------------------------------------------------

    def embeddings_by_hash(self, source_id: str) -> dict[str, list[float]]:
        """Stored embeddings of a source's chunks, by content hash, to reuse for unchanged passages."""
        got = self._chunks.get(where={"source_id": source_id}, include=["metadatas", "embeddings"])
        vectors = got.get("embeddings")
        if vectors is None:
            return {}
        return {
            str(meta.get("content_hash")): list(map(float, vector))
            for meta, vector in zip(got["metadatas"] or [], vectors)
        }

    def write_sources(
        self, items: Sequence[tuple[SourceState, Sequence[Chunk], Sequence[Sequence[float]]]]
    ) -> None:
        """Replace the chunks of several sources in a few batched calls.

        Manifest entries are written last: a run interrupted before them leaves the old fingerprints,
        so the next run redoes these sources (chunk ids are stable: no duplicates).
        """
        if not items:
            return
        ids: list[str] = []
        vectors: list[list[float]] = []
        documents: list[str] = []
        metadatas: list[dict[str, MetadataValue]] = []
        for state, chunks, embeddings in items:
            for chunk, vector in zip(chunks, embeddings):
                ids.append(chunk.id)
                vectors.append(list(vector))
                documents.append(chunk.text)
                metadatas.append({**chunk.metadata, "root": state.root})
        for start in range(0, len(ids), _WRITE_BATCH):
            end = start + _WRITE_BATCH
            self._chunks.upsert(ids=ids[start:end], embeddings=vectors[start:end],
                                documents=documents[start:end], metadatas=metadatas[start:end])
        keep = set(ids)
        source_ids = [state.source_id for state, _, _ in items]
        existing = self._chunks.get(where={"source_id": {"$in": source_ids}}, include=[])["ids"]
        stale = [i for i in existing if i not in keep]
        if stale:
            self._chunks.delete(ids=stale)
        self._sources.upsert(
            ids=source_ids,
            embeddings=[[1.0]] * len(items),  # the manifest is never searched; Chroma wants a vector
            documents=source_ids,
            metadatas=[
                {"root": state.root, "path": state.path, "fingerprint": state.fingerprint, "chunks": len(chunks),
                 "title": state.title, "ingested_at": state.ingested_at,
                 "problems": json.dumps(list(state.problems), ensure_ascii=False)}
                for state, chunks, _ in items
            ],
        )

    def remove_source(self, source_id: str) -> None:
        """Delete a source's chunks, then its manifest entry."""
        self._chunks.delete(where={"source_id": source_id})
        self._sources.delete(ids=[source_id])

    def count(self) -> int:
        return self._chunks.count()

    def record_run(self, summary: dict[str, MetadataValue]) -> None:
        """Remember the last ingestion (shown to staff as the index status)."""
        self._put_manifest("__last_run__", summary)

    def last_run(self) -> dict[str, MetadataValue]:
        got = self._sources.get(ids=["__last_run__"], include=["metadatas"])
        return dict(got["metadatas"][0]) if got["ids"] else {}

    @property
    def collection(self):  # noqa: ANN201 - chromadb's Collection, for retrieval
        return self._chunks


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
    return KnowledgeStore(client, collection, model_name, dimension)
