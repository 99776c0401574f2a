"""Finds the passages that answer a question: dense search in Chroma fused with BM25 keywords,
filtered by the asker's role and by the time the question is about, a few chunks per source at most.

The store does the searching in Chroma (`knowledge.store`); how candidates are scored and ordered, and the
numbers that do it, are in `knowledge.ranking`; what a search may return is a `knowledge.filters.ChunkFilter`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from knowledge.embedding import Embedder
from knowledge.filters import AtLeast, ChunkFilter, Condition, Filters, OneOf
from knowledge.models import MetadataValue
from knowledge.ranking import Hit, Ranking, best_first, boost_kind, cap_per_source, coverage, keyword_weight
from knowledge.store import KnowledgeStore, StoreUnavailable
from knowledge.text import keywords, names
from knowledge.time_scope import TimeScope

__all__ = ["Filters", "Hit", "Retriever"]

logger = logging.getLogger(__name__)


class _KeywordIndex:
    """BM25 over every chunk's title, heading and text, plus metadata columns to filter it with numpy;
    rebuilt when the store changes."""

    _COLUMNS = ("audience", "kind", "start_ts", "end_ts", "deadline_ts")

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.metadatas: list[dict] = []
        self.tokens: list[set[str]] = []
        self.position: dict[str, int] = {}
        self.document_frequency: dict[str, int] = {}
        self.columns: dict[str, np.ndarray] = {}
        self.bm25: Any = None  # a bm25s.BM25 once built (bm25s ships no type hints)

    def build(self, ids: Sequence[str], documents: Sequence[str], metadatas: Sequence[dict]) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets itself to DEBUG when imported
        self.ids, self.texts, self.metadatas = list(ids), list(documents), list(metadatas)
        self.position = {cid: i for i, cid in enumerate(self.ids)}
        corpus = [keywords(f"{m.get('title', '')} {m.get('heading', '')} {m.get('reference', '')} {d}")
                  for d, m in zip(documents, metadatas)]
        self.tokens = [set(c) for c in corpus]
        frequency: dict[str, int] = {}
        for tokens in self.tokens:
            for token in tokens:
                frequency[token] = frequency.get(token, 0) + 1
        self.document_frequency = frequency
        self.columns = {}
        for name in self._COLUMNS:
            values = [m.get(name) for m in self.metadatas]
            if name.endswith("_ts"):
                self.columns[name] = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
            else:
                self.columns[name] = np.array(["" if v is None else str(v) for v in values], dtype=object)
        self.bm25 = None
        if ids:
            self.bm25 = bm25s.BM25()
            self.bm25.index([c or ["__empty__"] for c in corpus], show_progress=False)

    def mask(self, selection: ChunkFilter) -> np.ndarray:
        """The chunks a filter keeps, evaluated on the metadata columns (no Python loop per chunk)."""
        result = np.ones(len(self.ids), dtype=bool)
        for condition in selection.conditions:
            result &= self._condition_mask(condition)
        return result

    def _condition_mask(self, condition: Condition) -> np.ndarray:
        column = self.columns.get(condition.field)
        if column is None:  # a field we keep no column for: evaluate it the slow way
            return np.array([condition.accepts(m) for m in self.metadatas], dtype=bool)
        if isinstance(condition, OneOf):
            return np.isin(column, list(condition.values))
        with np.errstate(invalid="ignore"):  # NaN (missing) compares False, as in Chroma
            return column >= condition.bound if isinstance(condition, AtLeast) else column < condition.bound

    def tokens_of(self, hit: Hit) -> set[str]:
        """The keywords of a chunk as indexed (read from its text when the index does not hold it)."""
        at = self.position.get(hit.id)
        return self.tokens[at] if at is not None else set(keywords(hit.text))

    def rare(self, words: set[str], max_share: float) -> set[str]:
        """The words found in at most `max_share` of the chunks: names that single passages out."""
        limit = max(1, int(max_share * len(self.tokens)))
        return {w for w in words if 0 < self.document_frequency.get(w, 0) <= limit}

    def search(self, query_tokens: list[str], mask: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(chunk position, BM25 score) of the best `k` chunks `mask` keeps, best first; no zero scores."""
        if self.bm25 is None or not query_tokens or not mask.any():
            return []
        k = min(k, len(self.ids))
        docs, scores = self.bm25.retrieve([query_tokens], k=k, show_progress=False,
                                          weight_mask=mask.astype(np.float32))
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]


class Retriever:
    """Hybrid search over the knowledge store.

    Raises `StoreError` when the store cannot be searched (a stopped Chroma server): callers tell the member.

    Usage: `retriever.search("Quels appels sont ouverts ?", Filters(role="member", now=now))` -> hits, best first.
    """

    def __init__(self, store: KnowledgeStore, embedder: Embedder, *, ranking: Ranking | None = None,
                 rebuild_backoff: float = 300.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._embedder = embedder
        self._ranking = ranking or Ranking()
        self._keywords = _KeywordIndex()
        self._generation: object = None
        # A keyword index that failed to build: (store generation, when, by `monotonic`). Until the store
        # changes or `rebuild_backoff` seconds pass, questions are answered without rebuilding it.
        self._failed: tuple[object, float] | None = None
        self._rebuild_backoff = rebuild_backoff
        self._monotonic = monotonic  # elapsed seconds only (never the date): tests pass their own
        self._lock = threading.Lock()
        self._vectors: dict[str, np.ndarray] = {}  # the last questions' embeddings: search + named lookup
        self._vectors_lock = threading.Lock()

    def _query_vector(self, question: str) -> np.ndarray:
        with self._vectors_lock:  # adapters answer from several threads
            vector = self._vectors.get(question)
        if vector is None:
            vector = self._embedder.encode_queries([question])[0]
            with self._vectors_lock:
                if len(self._vectors) >= 32:
                    self._vectors.pop(next(iter(self._vectors)))
                self._vectors[question] = vector
        return vector

    def refresh(self) -> None:
        """Rebuild the keyword index if the store changed since the last build (cheap when it has not).

        The chunks are read a page at a time. A build that fails is logged and not retried on every question:
        only once the store changes or after `rebuild_backoff` seconds; meanwhile answers come from dense
        search (and the previous keyword index, if there was one). An unreachable store raises `StoreError`.
        """
        last_run = self._store.last_run()
        generation = (self._store.count(), last_run.get("run_id") or last_run.get("finished_at"))
        with self._lock:
            if generation == self._generation:
                return
            if self._failed is not None and self._failed[0] == generation \
                    and self._monotonic() - self._failed[1] < self._rebuild_backoff:
                return
            try:
                index = self._build_keyword_index()
            except StoreUnavailable:
                raise  # the question cannot be answered at all: the caller says so
            except Exception:  # any other failure: answer from dense search, retry later
                if self._failed is None or self._failed[0] != generation:
                    logger.exception("keyword index build failed chunks=%s; answering from dense search, "
                                     "retrying in %.0fs or when the index changes", generation[0],
                                     self._rebuild_backoff)
                else:
                    logger.warning("keyword index build failed again chunks=%s", generation[0])
                self._failed = (generation, self._monotonic())
                return
            self._keywords, self._generation, self._failed = index, generation, None
            logger.info("keyword index rebuilt chunks=%d", len(index.ids))

    def _build_keyword_index(self) -> _KeywordIndex:
        ids: list[str] = []
        documents: list[str] = []
        metadatas: list[dict] = []
        seen: set[str] = set()
        for page in self._store.iter_chunks(include=["documents", "metadatas"]):
            for cid, document, meta in zip(page.ids, page.documents, page.metadatas):
                # Pages are read by offset, and an ingestion may write meanwhile: a chunk read twice is kept
                # once, and one missed is read at the next build (the store's generation has changed).
                if cid not in seen:
                    seen.add(cid)
                    ids.append(cid)
                    documents.append(document or "")
                    metadatas.append(meta or {})
        index = _KeywordIndex()
        index.build(ids, documents, metadatas)
        return index

    def search(self, question: str, filters: Filters, k: int = 5, language: str | None = None) -> list[Hit]:
        """Best chunks for the question, at most `max_per_source` per source, best first."""
        self.refresh()
        vector = self._query_vector(question)
        return self._fuse(question, vector, filters.chunk_filter(), k, prefer_kind=filters.scope.kind,
                          language=language)

    def upcoming(self, kind: str, role: str, now: datetime, limit: int = 5) -> list[dict[str, MetadataValue]]:
        """The next events (by start) or the calls closing soonest (by deadline) a role may see, one per record."""
        field_name = "start_ts" if kind == "event" else "deadline_ts"
        still_ahead = Filters(role=role, kinds=(kind,), scope=TimeScope(kind=kind, upcoming_only=True), now=now)
        records: dict[tuple, dict] = {}
        for page in self._store.iter_chunks(where=still_ahead.chunk_filter(), include=["metadatas"]):
            for meta in page.metadatas:
                records.setdefault((meta.get("source_id"), meta.get("record_index")), dict(meta))
        return sorted(records.values(), key=lambda m: int(m.get(field_name, 0)))[:limit]

    def named_outside_window(self, question: str, filters: Filters, in_window: Sequence[Hit]) -> Hit | None:
        """The event or call a question names when it falls outside the asked window ("is X still open?").

        It is the best match once the time window is lifted, and it matches the question better than
        anything inside the window (by its title, or by both keywords and meaning).
        """
        if not filters.has_time_window:
            return None
        vector = self._query_vector(question)
        best = self._fuse(question, vector, filters.chunk_filter(with_time=False), 1)
        if not best or filters.chunk_filter().accepts(best[0].metadata):
            return None
        hit = best[0]
        asked = set(keywords(question))
        title_words = set(keywords(str(hit.metadata.get("title", ""))))
        ranking = self._ranking
        named_by_title = bool(title_words) and len(title_words & asked) / len(title_words) >= ranking.named_title_share
        best_coverage = max((h.coverage for h in in_window), default=0.0)
        best_dense = max((h.dense for h in in_window), default=0.0)
        covers = hit.coverage >= ranking.named_min_coverage and hit.coverage > best_coverage
        if named_by_title or (covers and hit.dense >= best_dense):
            return hit
        return None

    def _fuse(self, question: str, vector: np.ndarray, selection: ChunkFilter, k: int,
              prefer_kind: str | None = None, language: str | None = None) -> list[Hit]:
        """Dense and keyword candidates fused by reciprocal rank, checked against the store, capped per source."""
        total = self._store.count()
        if total == 0:
            return []
        index = self._keywords  # one index for the whole search: another thread may swap in a newer one
        keyword_mask = index.mask(selection)
        index_is_current = len(index.ids) == total
        if index_is_current and not keyword_mask.any():
            return []
        # A filter that keeps every chunk (e.g. an index of public documents) is not worth Chroma's filtering;
        # only an index as large as the store can tell.
        filter_in_chroma = not (index_is_current and keyword_mask.all())
        hits = self._dense_candidates(vector, selection, total, filter_in_chroma=filter_in_chroma)
        self._add_keyword_candidates(hits, index, question, keyword_mask, language)
        self._backfill_dense(hits, vector, selection)
        asked = set(keywords(question))
        for hit in hits.values():
            hit.coverage = coverage(asked, index.tokens_of(hit))
        boost_kind(hits.values(), prefer_kind, self._ranking.kind_boost)
        return cap_per_source(best_first(hits.values()), self._ranking.max_per_source, k)

    def _dense_candidates(self, vector: np.ndarray, selection: ChunkFilter, total: int, *,
                          filter_in_chroma: bool) -> dict[str, Hit]:
        """The chunks nearest in meaning, by id, with their cosine and fused score.

        A store error propagates (`StoreError`): answering from keywords alone would hide an outage.
        """
        got = self._store.query(vector.tolist(), min(self._ranking.candidates, total),
                                selection if filter_in_chroma else None)
        hits: dict[str, Hit] = {}
        for rank, (cid, doc, meta, dist) in enumerate(zip(got.ids, got.documents, got.metadatas, got.distances)):
            if not filter_in_chroma and not selection.accepts(meta or {}):
                continue  # the keyword index that judged the filter needless is older than the store
            hit = hits.setdefault(cid, Hit(cid, doc or "", dict(meta or {})))
            hit.dense = max(0.0, 1.0 - float(dist))
            hit.score += self._ranking.fused(rank)
        return hits

    def _add_keyword_candidates(self, hits: dict[str, Hit], index: _KeywordIndex, question: str, mask: np.ndarray,
                                language: str | None) -> None:
        """Add the BM25 ranking to `hits`, a match weighed by `keyword_weight` (names, the question's language)."""
        asked_names = index.rare(names(question), self._ranking.rare_name_share)
        for rank, (at, score) in enumerate(index.search(keywords(question), mask, self._ranking.candidates)):
            cid = index.ids[at]
            hit = hits.setdefault(cid, Hit(cid, index.texts[at], dict(index.metadatas[at])))
            hit.keyword = score
            weight = keyword_weight(asked_names, index.tokens[at], hit.metadata.get("language"), language,
                                    self._ranking.foreign_keyword_weight)
            hit.score += self._ranking.fused(rank, weight)

    def _backfill_dense(self, hits: dict[str, Hit], vector: np.ndarray, selection: ChunkFilter) -> None:
        """Give keyword-only hits their cosine from the stored vectors and their text as stored now.

        The keyword index may be older than the store (rebuilt after a run, or kept after a failed rebuild):
        a chunk since removed, or whose audience or dates no longer pass the filter, is dropped.
        """
        missing = [h for h in hits.values() if h.dense == 0.0]
        if not missing:
            return
        stored = self._store.get_chunks([h.id for h in missing], include=["embeddings", "documents", "metadatas"])
        current = {cid: (emb, doc, meta) for cid, emb, doc, meta in
                   zip(stored.ids, stored.embeddings, stored.documents, stored.metadatas)}
        for hit in missing:
            if hit.id not in current or not selection.accepts(current[hit.id][2] or {}):
                del hits[hit.id]
                continue
            emb, doc, meta = current[hit.id]
            hit.text, hit.metadata = doc or "", dict(meta or {})
            hit.dense = max(0.0, float(np.dot(np.asarray(emb, dtype=np.float32), vector)))
