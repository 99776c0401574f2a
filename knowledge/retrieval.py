"""Finds the passages that answer a question: dense search in Chroma fused with BM25 keywords,
filtered by the asker's role and by the time the question is about, a few chunks per source at most.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from knowledge.embedding import Embedder
from knowledge.models import AUDIENCES, MetadataValue, audience_rank
from knowledge.store import KnowledgeStore, StoreUnavailable
from knowledge.when import TimeScope

logger = logging.getLogger(__name__)

_STOPWORDS = frozenset(
    """a an the of and or to for in on at by with from is are was were be been it its this that these those
    what which who whom how when where why do does did can could should would will shall may might must i we
    you they he she my our your their me us there here any some all about into as if not no so than then
    le la les l un une des du de d et ou a au aux en dans sur par pour avec sans ce cet cette ces qui que
    qu quoi quel quelle quels quelles comment quand ou est sont etre ete a ont avoir fait faire je tu il
    elle on nous vous ils elles mon ma mes ton ta tes son sa ses notre nos votre vos leur leurs ne pas plus
    se s y c j m n t peut peuvent dois doit faut il y""".split()
)
_TOKEN = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")
RRF_K = 60


def fold(text: str) -> str:
    """Lower case without accents: 'Éligibilité' -> 'eligibilite'."""
    return unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()


def _stem(word: str) -> str:
    # Light plural folding, enough for FR/EN keyword matching (appels/appel, calls/call, aides/aide).
    if len(word) > 3 and word.endswith(("s", "x")) and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def keywords(text: str) -> list[str]:
    """Keyword tokens: folded, stop words dropped, identifiers kept whole and in parts.

    >>> keywords("Appels HORIZON-HLTH-2025-01 ouverts ?")
    ['appel', 'horizon-hlth-2025-01', 'horizon', 'hlth', '2025', '01', 'ouvert']
    """
    out: list[str] = []
    for token in _TOKEN.findall(fold(text)):
        parts = re.split(r"[-_.]", token)
        if len(parts) > 1:
            out.append(token)
            out.extend(p for p in parts if p and p not in _STOPWORDS)
        elif token not in _STOPWORDS and (len(token) > 1 or token.isdigit()):
            out.append(_stem(token))
    return out


_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b(?:[A-Z][\w'’-]*|\w*\d[\w-]*)")


def names(question: str) -> set[str]:
    """Keywords of the question's names: capitalised words past the first, acronyms, identifiers.

    >>> sorted(names("Quelle est la date limite de l'EIC Accelerator ?"))
    ['accelerator', 'eic']
    """
    return {k for match in _NAME.findall(question.strip()) for k in keywords(match)}


def allowed_audiences(role: str) -> list[str]:
    """A role sees its own audience and those below it: staff see everything, the public only public."""
    if role not in AUDIENCES:
        raise ValueError(f"unknown role {role!r}: one of {', '.join(AUDIENCES)}")
    return [a for a in AUDIENCES if audience_rank(a) <= audience_rank(role)]


@dataclass(frozen=True)
class Filters:
    """What a search may return."""

    role: str = "member"
    kinds: tuple[str, ...] = ()
    scope: TimeScope = field(default_factory=TimeScope)
    now: datetime | None = None

    def time_clauses(self) -> list[dict]:
        """Chroma `where` clauses for the time window (only when the scope names a kind)."""
        scope, now = self.scope, self.now
        if scope.kind is None or now is None:
            return []
        clauses: list[dict] = []
        now_ts = int(now.timestamp())
        if scope.kind == "event":
            if scope.upcoming_only:
                clauses.append({"end_ts": {"$gte": now_ts}})
            if scope.past_only:
                clauses.append({"end_ts": {"$lt": now_ts}})
            if scope.end is not None:
                clauses.append({"start_ts": {"$lt": int(scope.end.timestamp())}})
            if scope.start is not None:
                clauses.append({"end_ts": {"$gte": int(scope.start.timestamp())}})
        else:
            if scope.upcoming_only:
                clauses.append({"deadline_ts": {"$gte": now_ts}})
            if scope.end is not None:
                clauses.append({"deadline_ts": {"$lt": int(scope.end.timestamp())}})
            if scope.start is not None:
                clauses.append({"deadline_ts": {"$gte": int(scope.start.timestamp())}})
        return clauses

    def where(self, *, with_time: bool = True) -> dict:
        clauses: list[dict] = [{"audience": {"$in": allowed_audiences(self.role)}}]
        kinds = self.kinds or ((self.scope.kind,) if self.scope.kind and self.time_clauses() else ())
        if kinds:
            clauses.append({"kind": {"$in": list(kinds)}})
        if with_time:
            clauses.extend(self.time_clauses())
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def matches(meta: dict[str, MetadataValue], where: dict) -> bool:
    """Evaluate a Chroma `where` filter (the subset we build) on one chunk's metadata."""
    if "$and" in where:
        return all(matches(meta, clause) for clause in where["$and"])
    [(key, condition)] = where.items()
    value = meta.get(key)
    [(op, operand)] = condition.items() if isinstance(condition, dict) else [("$eq", condition)]
    if op == "$in":
        return value in operand
    if op == "$eq":
        return value == operand
    if value is None:
        return False
    return {"$gte": value >= operand, "$lt": value < operand, "$gt": value > operand, "$lte": value <= operand}[op]


@dataclass
class Hit:
    """One retrieved chunk with its scores."""

    id: str
    text: str
    metadata: dict[str, MetadataValue]
    score: float = 0.0  # fused (reciprocal rank fusion)
    dense: float = 0.0  # cosine similarity, 0..1
    keyword: float = 0.0  # BM25 score
    coverage: float = 0.0  # share of the question's keywords found in the chunk

    @property
    def source_key(self) -> str:
        """What the per-source cap counts: a document, or one event series / one call of a table."""
        source = str(self.metadata.get("source_id", self.id.rsplit(":", 1)[0]))
        if self.metadata.get("kind") in {"event", "funding_call"}:
            return f"{source}#{self.metadata.get('title', '')}"
        return source

    @property
    def record_key(self) -> str:
        return f"{self.source_key}#{self.metadata.get('record_index', 0)}"


class _KeywordIndex:
    """BM25 over every chunk's title, heading and text, plus metadata columns to filter it with numpy;
    rebuilt when the store changes."""

    _COLUMNS = ("audience", "kind", "start_ts", "end_ts", "deadline_ts")

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.metadatas: list[dict] = []
        self.tokens: list[set[str]] = []
        self.document_frequency: dict[str, int] = {}
        self.columns: dict[str, np.ndarray] = {}
        self.bm25 = None

    def build(self, ids: Sequence[str], documents: Sequence[str], metadatas: Sequence[dict]) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets itself to DEBUG when imported
        self.ids, self.texts, self.metadatas = list(ids), list(documents), list(metadatas)
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

    def mask(self, where: dict) -> np.ndarray:
        """The chunks a `where` filter keeps, evaluated on the metadata columns (no Python loop per chunk)."""
        if "$and" in where:
            result = np.ones(len(self.ids), dtype=bool)
            for clause in where["$and"]:
                result &= self.mask(clause)
            return result
        [(key, condition)] = where.items()
        [(op, operand)] = condition.items() if isinstance(condition, dict) else [("$eq", condition)]
        column = self.columns.get(key)
        if column is None:  # a field we keep no column for: evaluate it the slow way
            return np.array([matches(m, where) for m in self.metadatas], dtype=bool)
        if op == "$in":
            return np.isin(column, list(operand))
        if op == "$eq":
            return column == operand
        with np.errstate(invalid="ignore"):  # NaN (missing) compares False, as in Chroma
            return {"$gte": column >= operand, "$lt": column < operand, "$gt": column > operand,
                    "$lte": column <= operand}[op]

    def rare(self, words: set[str], max_share: float = 0.05) -> set[str]:
        """The words found in at most `max_share` of the chunks: names that single passages out."""
        limit = max(1, int(max_share * len(self.tokens)))
        return {w for w in words if 0 < self.document_frequency.get(w, 0) <= limit}

    def search(self, query_tokens: list[str], mask: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self.bm25 is None or not query_tokens or not mask.any():
            return []
        k = min(k, len(self.ids))
        docs, scores = self.bm25.retrieve([query_tokens], k=k, show_progress=False,
                                          weight_mask=mask.astype(np.float32))
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]


class Retriever:
    """Hybrid search over the knowledge store.

    Raises `StoreError` when the store cannot be searched (a stopped Chroma server): callers tell the member.

    >>> hits = retriever.search("Quels appels sont ouverts ?", Filters(role="member", now=now))  # doctest: +SKIP
    """

    def __init__(self, store: KnowledgeStore, embedder: Embedder, *, max_per_source: int = 2,
                 candidates: int = 40, foreign_keyword_weight: float = 0.25, rebuild_backoff: float = 300.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._embedder = embedder
        self._max_per_source = max_per_source
        self._candidates = candidates
        # BM25 over passages in another language than the question mostly matches names and noise.
        self._foreign_keyword_weight = foreign_keyword_weight
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
        return self._fuse(question, vector, filters.where(), k, prefer_kind=filters.scope.kind, language=language)

    def upcoming(self, kind: str, role: str, now: datetime, limit: int = 5) -> list[dict[str, MetadataValue]]:
        """The next events (by start) or the calls closing soonest (by deadline) a role may see, one per record."""
        field_name = "start_ts" if kind == "event" else "deadline_ts"
        if kind == "event":
            time_clause = {"end_ts": {"$gte": int(now.timestamp())}}
        else:
            time_clause = {"deadline_ts": {"$gte": int(now.timestamp())}}
        where = {"$and": [{"kind": kind}, {"audience": {"$in": allowed_audiences(role)}}, time_clause]}
        records: dict[tuple, dict] = {}
        for page in self._store.iter_chunks(where=where, include=["metadatas"]):
            for meta in page.metadatas:
                records.setdefault((meta.get("source_id"), meta.get("record_index")), dict(meta))
        return sorted(records.values(), key=lambda m: int(m.get(field_name, 0)))[:limit]

    def named_outside_window(self, question: str, filters: Filters, in_window: Sequence[Hit]) -> Hit | None:
        """The event or call a question names when it falls outside the asked window ("is X still open?").

        It is the best match once the time window is lifted, and it matches the question better than
        anything inside the window (by its title, or by both keywords and meaning).
        """
        if not filters.time_clauses():
            return None
        vector = self._query_vector(question)
        best = self._fuse(question, vector, filters.where(with_time=False), 1)
        if not best or matches(best[0].metadata, filters.where()):
            return None
        hit = best[0]
        asked = set(keywords(question))
        title_words = set(keywords(str(hit.metadata.get("title", ""))))
        named_by_title = bool(title_words) and len(title_words & asked) / len(title_words) >= 0.5
        best_coverage = max((h.coverage for h in in_window), default=0.0)
        best_dense = max((h.dense for h in in_window), default=0.0)
        if named_by_title or (hit.coverage >= 0.4 and hit.coverage > best_coverage and hit.dense >= best_dense):
            return hit
        return None

    def _fuse(self, question: str, vector: np.ndarray, where: dict, k: int, prefer_kind: str | None = None,
              language: str | None = None) -> list[Hit]:
        total = self._store.count()
        if total == 0:
            return []
        hits: dict[str, Hit] = {}
        index = self._keywords
        mask = index.mask(where) if len(index.ids) == total else None
        if mask is not None and not mask.any():
            return []
        # A filter that keeps every chunk (e.g. an index of public documents) is not worth Chroma's filtering.
        chroma_where = None if mask is not None and mask.all() else where
        # A store error propagates (StoreError): answering from keywords alone would hide an outage.
        got = self._store.query(vector.tolist(), min(self._candidates, total), chroma_where)
        for rank, (cid, doc, meta, dist) in enumerate(zip(got.ids, got.documents, got.metadatas, got.distances)):
            if chroma_where is None and not matches(meta or {}, where):
                continue  # the keyword index that judged the filter needless is older than the store
            hit = hits.setdefault(cid, Hit(cid, doc or "", dict(meta or {})))
            hit.dense = max(0.0, 1.0 - float(dist))
            hit.score += 1.0 / (RRF_K + rank)
        query_tokens = keywords(question)
        asked_names = index.rare(names(question))
        position = {cid: i for i, cid in enumerate(index.ids)}
        keyword_mask = mask if mask is not None else np.array([matches(m, where) for m in index.metadatas], dtype=bool)
        for rank, (doc_index, score) in enumerate(index.search(query_tokens, keyword_mask, self._candidates)):
            cid = index.ids[doc_index]
            hit = hits.setdefault(cid, Hit(cid, index.texts[doc_index], dict(index.metadatas[doc_index])))
            hit.keyword = score
            # Keyword matches count fully when they carry the question's names (in any language), or when
            # the question names nothing and the passage is in its language; otherwise they are weak evidence.
            tokens = index.tokens[doc_index]
            if asked_names:
                strong = bool(asked_names & tokens)
            else:
                strong = not language or hit.metadata.get("language") in ("", None, language)
            hit.score += (1.0 if strong else self._foreign_keyword_weight) / (RRF_K + rank)
        asked = set(query_tokens)
        missing_dense = [h for h in hits.values() if h.dense == 0.0]
        if missing_dense:  # keyword-only hits: their cosine from stored vectors, their text as stored now
            stored = self._store.get_chunks([h.id for h in missing_dense],
                                            include=["embeddings", "documents", "metadatas"])
            current = {cid: (emb, doc, meta) for cid, emb, doc, meta in
                       zip(stored.ids, stored.embeddings, stored.documents, stored.metadatas)}
            for hit in missing_dense:
                # The keyword index may be older than the store (rebuilt after a run, or kept after a failed
                # rebuild): a chunk since removed, or whose audience or dates changed, must not slip through.
                if hit.id not in current or not matches(current[hit.id][2] or {}, where):
                    del hits[hit.id]
                    continue
                emb, doc, meta = current[hit.id]
                hit.text, hit.metadata = doc or "", dict(meta or {})
                hit.dense = max(0.0, float(np.dot(np.asarray(emb, dtype=np.float32), vector)))
        for hit in hits.values():
            tokens = index.tokens[position[hit.id]] if hit.id in position else set(keywords(hit.text))
            hit.coverage = len(asked & tokens) / len(asked) if asked else 0.0
        if prefer_kind:  # "when was the X day?": an event is the likelier answer than a guide naming it
            for hit in hits.values():
                if hit.metadata.get("kind") == prefer_kind:
                    hit.score *= 1.25
        ranked = sorted(hits.values(), key=lambda h: h.score, reverse=True)
        per_source: dict[str, int] = {}
        out: list[Hit] = []
        for hit in ranked:
            if per_source.get(hit.source_key, 0) >= self._max_per_source:
                continue
            per_source[hit.source_key] = per_source.get(hit.source_key, 0) + 1
            out.append(hit)
            if len(out) == k:
                break
        return out
