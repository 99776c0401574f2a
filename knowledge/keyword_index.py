"""The keyword side of search: BM25 over every chunk's keywords in SQLite FTS5, kept in a file beside the store.

Why FTS5: it updates in place (a run that changed ten documents rewrites their rows, not the index), it ranks
with BM25 (`bm25()`, computed in C over the matching rows only), it filters by audience, kind and dates in
the same SQL statement, and it is in Python's standard library. It opens in milliseconds whatever its size,
and several processes may read it while one writes (WAL). bm25s, the other candidate, keeps the whole index
in memory and can only be rebuilt, which is what took 12-36 s after each run at 50k-100k chunks.

The index follows the store by source: it remembers the version (fingerprint, ingestion time, chunk count)
of each source it holds, and `sync` reads back from the store only the sources whose version changed, then
drops the ones the store no longer has. Ingestion syncs it at the end of each run; a bot in another process
(a Chroma server) notices the run's id and syncs the same way, from its own copy of the file if need be.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import sqlite3
import tempfile
import threading
import weakref
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from knowledge.filters import AtLeast, Below, ChunkFilter, Condition, NoneOf, OneOf
from knowledge.models import MetadataValue
from knowledge.store import KnowledgeStore, SourceState, StoredChunks
from knowledge.text import TOKENS_VERSION, chunk_tokens

logger = logging.getLogger(__name__)

_SCHEMA_VERSION = "1"
# Metadata kept in columns of their own, so that filters on them are plain SQL comparisons.
COLUMNS = ("source_id", "audience", "kind", "language", "start_ts", "end_ts", "deadline_ts")
_MARKS = ", ".join("?" * len(COLUMNS))
# What one sync transaction covers: this many sources, or about this many chunks (read back from the store a
# page at a time and written as each page comes, so they bound how long it lasts, not the memory it takes).
_SYNC_SOURCES = 500
_SYNC_CHUNKS = 5000


@dataclass
class KeywordHit:
    """A chunk the keyword search found: its id, BM25 score (higher is better), metadata and keywords."""

    id: str
    score: float
    metadata: dict[str, MetadataValue]
    tokens: set[str]


@dataclass
class SyncReport:
    """What one `sync` changed."""

    sources_indexed: int = 0
    sources_removed: int = 0
    chunks_written: int = 0
    run_id: str = ""
    changed_ids: list[str] = field(default_factory=list)


def source_version(state: SourceState) -> str:
    """What changes whenever ingestion rewrites a source's chunks, or the way its words are read changes
    (`TOKENS_VERSION`: an index written before is re-read from the store at its next sync)."""
    return f"{state.fingerprint}|{state.ingested_at}|{state.chunks}|k{TOKENS_VERSION}"


def run_id_of(last_run: dict[str, MetadataValue]) -> str:
    """The id of the last ingestion run ('' before the first)."""
    return str(last_run.get("run_id") or last_run.get("finished_at") or "")


def _groups(source_ids: Sequence[str], manifest: dict[str, SourceState]) -> Iterator[list[str]]:
    """The sources in groups of at most `_SYNC_SOURCES` sources or about `_SYNC_CHUNKS` chunks."""
    group: list[str] = []
    chunks = 0
    for source_id in source_ids:
        group.append(source_id)
        chunks += manifest[source_id].chunks
        if len(group) >= _SYNC_SOURCES or chunks >= _SYNC_CHUNKS:
            yield group
            group, chunks = [], 0
    if group:
        yield group


def _match_expression(tokens: Iterable[str]) -> str:
    """An FTS5 query matching any of the tokens (each quoted: tokens hold only [a-z0-9-_.])."""
    return " OR ".join(f'"{t}"' for t in dict.fromkeys(tokens))


def _sql_condition(condition: Condition) -> tuple[str, list]:
    if condition.field in COLUMNS:
        column = f"c.{condition.field}"
    else:  # a field without a column of its own: read it from the metadata
        column = f"json_extract(c.metadata, '$.\"{condition.field.replace(chr(34), '')}\"')"
    if isinstance(condition, OneOf):
        if not condition.values:
            return "0", []
        return f"{column} IN ({', '.join('?' * len(condition.values))})", list(condition.values)
    if isinstance(condition, NoneOf):  # a missing value holds none of them: kept, unlike every other condition
        if not condition.values:
            return "1", []
        return (f"({column} IS NULL OR {column} NOT IN ({', '.join('?' * len(condition.values))}))",
                list(condition.values))
    if isinstance(condition, AtLeast):
        return f"{column} >= ?", [condition.bound]
    if isinstance(condition, Below):
        return f"{column} < ?", [condition.bound]
    raise TypeError(f"not a filter condition: {condition!r}")


def sql_where(selection: ChunkFilter | None) -> tuple[str, list]:
    """The SQL condition on the `chunks` table (aliased `c`) of a filter, and its parameters.

    A missing value (NULL) fails every comparison but `NoneOf`'s, as in Chroma and `ChunkFilter.accepts`.

    >>> sql_where(ChunkFilter((OneOf("kind", ("event",)), AtLeast("end_ts", 100))))
    ('c.kind IN (?) AND c.end_ts >= ?', ['event', 100])
    """
    if selection is None or not selection.conditions:
        return "1", []
    parts, params = [], []
    for condition in selection.conditions:
        sql, values = _sql_condition(condition)
        parts.append(sql)
        params += values
    return " AND ".join(parts), params


class KeywordIndex:
    """BM25 keyword search over the store's chunks, persisted in SQLite FTS5 at `path`.

    `path=None` keeps it in a temporary file removed with the object (tests, one-off runs).
    Thread-safe: each thread reads through its own connection; one writer at a time.
    """

    k1 = 1.5  # BM25 (Lucene's form, as bm25s computes it)
    b = 0.75
    rescore_pool = 5  # FTS5's best k × this are scored again with Lucene's BM25
    match_share = 0.1  # words in more than this share of the chunks do not select chunks, when others do
    match_limit = 20000  # chunks one keyword search may rank at most (bounds its cost on a large index)

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            folder = tempfile.mkdtemp(prefix="concierge-keywords-")
            weakref.finalize(self, shutil.rmtree, folder, True)
            path = Path(folder) / "keywords.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._stats: tuple[str | None, int, float] | None = None
        self._spread: tuple[str | None, tuple[np.ndarray, np.ndarray] | None] | None = None  # (run, spread)
        self._create()

    # --- connections and schema ---------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def _create(self) -> None:
        conn = self._connection()
        with self._write_lock:
            conn.executescript(
                """
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS sources (source_id TEXT PRIMARY KEY, version TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS chunks (
                    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, source_id TEXT, audience TEXT, kind TEXT,
                    language TEXT, start_ts REAL, end_ts REAL, deadline_ts REAL, metadata TEXT NOT NULL,
                    length INTEGER NOT NULL DEFAULT 0, vector BLOB);
                CREATE INDEX IF NOT EXISTS chunks_by_source ON chunks(source_id);
                CREATE INDEX IF NOT EXISTS chunks_by_kind ON chunks(kind, audience);
                CREATE VIRTUAL TABLE IF NOT EXISTS words
                    USING fts5(tokens, tokenize = "unicode61 tokenchars '-_.'");
                CREATE VIRTUAL TABLE IF NOT EXISTS word_counts USING fts5vocab(words, 'row');
                """
            )
            schema = self._meta("schema")
            if schema is None:
                self._set_meta(conn, "schema", _SCHEMA_VERSION)
            elif schema != _SCHEMA_VERSION:
                raise RuntimeError(f"keyword index {self.path} has schema {schema}, expected {_SCHEMA_VERSION}: "
                                   "delete the file, the next start rebuilds it")

    def _meta(self, key: str) -> str | None:
        row = self._connection().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                     (key, value))

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- reading ------------------------------------------------------------------------------------------

    @property
    def synced_run(self) -> str | None:
        """The ingestion run the index was last synced with (None before the first sync)."""
        recorded = self._meta("synced_run")
        run, marker, version = (recorded or "").rpartition("|k")
        # Written by a version that read words differently (`TOKENS_VERSION`): not in step, whatever the run.
        return run if marker and version == TOKENS_VERSION else None

    def count(self, selection: ChunkFilter | None = None) -> int:
        """How many chunks the index holds (those `selection` keeps)."""
        where, params = sql_where(selection)
        return int(self._connection().execute(f"SELECT count(*) FROM chunks c WHERE {where}", params).fetchone()[0])

    def sources(self) -> dict[str, str]:
        """The version of every source the index holds, by id."""
        return dict(self._connection().execute("SELECT source_id, version FROM sources").fetchall())

    def search(self, query_tokens: Sequence[str], selection: ChunkFilter | None, k: int) -> list[KeywordHit]:
        """The best `k` chunks `selection` keeps for the query's keywords by BM25, best first (no zero scores).

        FTS5 finds and pre-ranks the matching chunks with its `bm25()`; the best `k × rescore_pool` are then
        scored with Lucene's BM25 (k1 1.5, b 0.75, as bm25s computed it before), whose idf keeps weight on
        words found in half the chunks where FTS5's drops to zero (measured on the dev sets: README, "Scale").
        """
        if not query_tokens or k <= 0:
            return []
        chunks, average_length = self._statistics()
        frequency = self.document_frequency(query_tokens)
        if not frequency:
            return []
        # Matching on a word that half the chunks hold means ranking half the index; a chunk that has only such
        # words ranks low anyway. So chunks are matched by the question's selective words; every word still
        # counts in the score. A question made only of words that most of a large index holds gets no
        # keyword ranking (dense search answers it).
        selective = self._selective(frequency, chunks)
        if not selective:
            return []
        where, params = sql_where(selection)
        rows = self._connection().execute(
            f"SELECT c.id, c.metadata, words.tokens FROM words "
            f"JOIN chunks c ON c.rowid = words.rowid WHERE words MATCH ? AND {where} "
            f"ORDER BY bm25(words) LIMIT ?",
            [_match_expression(selective), *params, k * self.rescore_pool],
        ).fetchall()
        idf = {t: math.log(1 + (chunks - n + 0.5) / (n + 0.5)) for t, n in frequency.items()}
        scored = []
        for cid, meta, tokens in rows:
            words = tokens.split()
            counts = Counter(words)
            norm = self.k1 * (1 - self.b + self.b * len(words) / average_length)
            score = sum(idf.get(t, 0.0) * counts[t] / (norm + counts[t]) for t in query_tokens if t in counts)
            if score > 0:
                scored.append(KeywordHit(cid, score, json.loads(meta), set(words)))
        scored.sort(key=lambda hit: -hit.score)
        return scored[:k]

    def size(self) -> int:
        """How many chunks the index holds (read once per sync)."""
        return self._statistics()[0]

    def _selective(self, frequency: dict[str, int], chunks: int) -> list[str]:
        """The words that select the chunks to rank: those in at most `match_share` of the chunks (else the
        rarest one), rarest first, while together they match at most `match_limit` chunks."""
        ordered = sorted(frequency, key=frequency.__getitem__)
        chosen = [t for t in ordered if frequency[t] <= self.match_share * chunks] or ordered[:1]
        out, total = [], 0
        for token in chosen:
            total += frequency[token]
            if total > self.match_limit:
                break
            out.append(token)
        return out

    def _statistics(self) -> tuple[int, float]:
        """(chunks, average keywords per chunk), read once per sync of the index (by any process)."""
        synced = self.synced_run
        cached = self._stats
        if cached is not None and cached[0] == synced:
            return cached[1], cached[2]
        count, total = self._connection().execute("SELECT count(*), total(length) FROM chunks").fetchone()
        stats = (synced, int(count), max(1.0, float(total) / max(1, int(count))))
        self._stats = stats
        return stats[1], stats[2]

    def spread(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The mean of the chunks' vectors and their second moments (mean of v vᵀ), as the index holds them now;
        None when it holds none. For any question q, the mean cosine over the index is q·mean and its variance
        qᵀ·moments·q − (q·mean)²: how far a passage stands out is known without comparing q to every chunk.

        Worked out once per synced run (a read of every vector, a page at a time), then kept.
        """
        synced = self.synced_run
        if self._spread is not None and self._spread[0] == synced:
            return self._spread[1]
        total = moments = None
        count, width = 0, 0
        cursor = self._connection().execute("SELECT vector FROM chunks WHERE vector IS NOT NULL")
        while rows := cursor.fetchmany(2000):
            width = width or len(rows[0][0])  # vectors of another width (a model change not yet re-ingested): left out
            page = np.frombuffer(b"".join(blob for (blob,) in rows if len(blob) == width),
                                 dtype=np.float32).reshape(-1, width // 4).astype(np.float64)
            if total is None or moments is None:
                total, moments = np.zeros(page.shape[1]), np.zeros((page.shape[1], page.shape[1]))
            total += page.sum(axis=0)
            moments += page.T @ page
            count += len(page)
        spread = (total / count, moments / count) if total is not None and moments is not None and count else None
        self._spread = (synced, spread)
        return spread

    def describe(self, ids: Sequence[str]) -> dict[str, tuple[dict[str, MetadataValue], set[str], np.ndarray | None]]:
        """(metadata, keywords, vector) of these chunks by id, as the index holds them (unknown ids left out)."""
        out: dict[str, tuple[dict[str, MetadataValue], set[str], np.ndarray | None]] = {}
        conn = self._connection()
        for start in range(0, len(ids), 500):
            batch = list(ids[start:start + 500])
            rows = conn.execute(
                f"SELECT c.id, c.metadata, words.tokens, c.vector FROM chunks c JOIN words ON words.rowid = c.rowid "
                f"WHERE c.id IN ({', '.join('?' * len(batch))})", batch).fetchall()
            for cid, meta, tokens, vector in rows:
                out[cid] = (json.loads(meta), set(tokens.split()),
                            None if vector is None else np.frombuffer(vector, dtype=np.float32))
        return out

    def passing(self, ids: Sequence[str], selection: ChunkFilter | None) -> dict[str, bool]:
        """Whether each of these chunks passes the filter, by id (ids the index lacks are left out)."""
        if not ids:
            return {}
        where, params = sql_where(selection)
        rows = self._connection().execute(
            f"SELECT c.id, ({where}) FROM chunks c WHERE c.id IN ({', '.join('?' * len(ids))})",
            [*params, *ids]).fetchall()
        return {cid: bool(ok) for cid, ok in rows}

    def nearest(self, vector: np.ndarray, selection: ChunkFilter | None, k: int) -> list[tuple[str, float]]:
        """(chunk id, cosine) of the `k` chunks nearest to `vector` among those `selection` keeps, nearest first.

        An exact search over the kept chunks' stored vectors: for narrow filters (next month's events), where
        asking Chroma to filter costs hundreds of milliseconds on a large store.
        """
        where, params = sql_where(selection)
        rows = self._connection().execute(  # vectors of another width (a model change not yet re-ingested): left out
            f"SELECT c.id, c.vector FROM chunks c WHERE {where} AND length(c.vector) = ?",
            [*params, len(vector) * 4]).fetchall()
        if not rows:
            return []
        matrix = np.frombuffer(b"".join(blob for _, blob in rows), dtype=np.float32).reshape(len(rows), -1)
        scores = matrix @ np.asarray(vector, dtype=np.float32)
        best = np.argsort(-scores)[:k]
        return [(rows[i][0], float(scores[i])) for i in best]

    def document_frequency(self, words: Iterable[str]) -> dict[str, int]:
        """In how many chunks each word appears (words found nowhere are left out)."""
        wanted = list(dict.fromkeys(words))
        if not wanted:
            return {}
        rows = self._connection().execute(
            f"SELECT term, doc FROM word_counts WHERE term IN ({', '.join('?' * len(wanted))})", wanted).fetchall()
        return {term: int(doc) for term, doc in rows}

    def rare(self, words: set[str], max_share: float) -> set[str]:
        """The words found in at most `max_share` of the chunks, or in two (a small knowledge base: a call's
        record and the guide naming it): names that single passages out."""
        limit = max(2, int(max_share * self.size()))
        return {w for w, n in self.document_frequency(words).items() if 0 < n <= limit}

    # --- writing ------------------------------------------------------------------------------------------

    @staticmethod
    def _delete(conn: sqlite3.Connection, column: str, values: Sequence[str], *, sources: bool = False) -> None:
        """Delete the chunks whose `column` (id or source_id) is one of `values`, and with `sources` their
        source entries, 500 values per statement."""
        for start in range(0, len(values), 500):
            batch = list(values[start:start + 500])
            marks = ", ".join("?" * len(batch))
            conn.execute(f"DELETE FROM words WHERE rowid IN (SELECT rowid FROM chunks WHERE {column} IN ({marks}))",
                         batch)
            conn.execute(f"DELETE FROM chunks WHERE {column} IN ({marks})", batch)
            if sources:
                conn.execute(f"DELETE FROM sources WHERE source_id IN ({marks})", batch)

    def _insert_chunks(self, conn: sqlite3.Connection, ids: Sequence[str], documents: Sequence[str],
                       metadatas: Sequence[dict[str, MetadataValue]], vectors: Sequence[Sequence[float]],
                       known_tokens: Sequence[Sequence[str] | None] = ()) -> None:
        self._delete(conn, "id", ids)  # a chunk id once filed under another source
        known = list(known_tokens) or [None] * len(ids)
        for cid, document, meta, vector, worked_out in zip(ids, documents, metadatas, vectors, known):
            tokens = list(worked_out) if worked_out is not None else chunk_tokens(document or "", meta)
            cursor = conn.execute(
                f"INSERT INTO chunks(id, {', '.join(COLUMNS)}, metadata, length, vector) "
                f"VALUES (?, {_MARKS}, ?, ?, ?)",
                [cid, *(meta.get(name) for name in COLUMNS), json.dumps(meta, ensure_ascii=False), len(tokens),
                 np.asarray(vector, dtype=np.float32).tobytes() if len(vector) else None])
            conn.execute("INSERT INTO words(rowid, tokens) VALUES (?, ?)", (cursor.lastrowid, " ".join(tokens)))

    def replace(self, versions: dict[str, str], chunks: StoredChunks) -> None:
        """Replace what the index holds of these sources (id -> version) with `chunks` (ids, documents,
        metadatas, embeddings), in one transaction: readers see the old rows or the new, never half."""
        with self._write_lock:
            self._replace(versions, [chunks])

    def _replace(self, versions: dict[str, str], pages: Iterable[StoredChunks]) -> int:
        """`replace` with the chunks given a page at a time, each written as it comes (so that only one page is
        in memory, however many chunks the sources have), all in one transaction; returns the chunks written.
        A page that fails to come (the store went away) rolls everything back."""
        self._stats = self._spread = None
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        written = 0
        try:
            self._delete(conn, "source_id", list(versions), sources=True)
            for page in pages:
                vectors = page.embeddings or [[] for _ in page.ids]
                self._insert_chunks(conn, page.ids, page.documents, page.metadatas, vectors, page.tokens)
                written += len(page.ids)
            conn.executemany("INSERT INTO sources(source_id, version) VALUES (?, ?)", list(versions.items()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return written

    def sync(self, store: KnowledgeStore) -> SyncReport:
        """Bring the index in step with the store: re-read the sources whose version changed, drop the removed.

        Costs a read of the store's list of sources plus the chunks of changed sources only. The run id is
        read first, so a run that ends during the sync is noticed by the next one. Raises `StoreError`.
        """
        report = SyncReport(run_id=run_id_of(store.last_run()))
        with self._write_lock:
            manifest = store.sources()
            local = self.sources()
            changed = [sid for sid, state in manifest.items() if local.get(sid) != source_version(state)]
            removed = [sid for sid in local if sid not in manifest]
            for batch in _groups(changed, manifest):
                # Each page read back goes into the index before the next is read: a sync of the whole store
                # (a new machine, a deleted file) holds one page of chunks at a time, whatever the store's size.
                report.chunks_written += self._replace(
                    {sid: source_version(manifest[sid]) for sid in batch},
                    store.chunks_of(batch, include=("documents", "metadatas", "embeddings")))
            conn = self._connection()
            self._stats = self._spread = None
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._delete(conn, "source_id", removed, sources=True)
                self._set_meta(conn, "synced_run", f"{report.run_id}|k{TOKENS_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        report.sources_indexed, report.sources_removed = len(changed), len(removed)
        if changed or removed:
            logger.info("keyword index synced sources_indexed=%d sources_removed=%d chunks=%d",
                        len(changed), len(removed), report.chunks_written)
        return report

    def clear(self) -> None:
        """Forget everything (the next `sync` reads the whole store)."""
        with self._write_lock:
            self._stats = self._spread = None
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM words")
            conn.execute("DELETE FROM chunks")
            conn.execute("DELETE FROM sources")
            conn.execute("DELETE FROM meta WHERE key = 'synced_run'")
            conn.execute("COMMIT")

    def rows(self) -> Iterator[tuple[str, str, str, dict[str, MetadataValue], bytes | None]]:
        """(chunk id, source id, keywords, metadata, vector bytes) of every chunk, by id: to compare indexes."""
        for cid, source, tokens, meta, vector in self._connection().execute(
                "SELECT c.id, c.source_id, words.tokens, c.metadata, c.vector FROM chunks c "
                "JOIN words ON words.rowid = c.rowid ORDER BY c.id"):
            yield cid, source, tokens, json.loads(meta), vector
