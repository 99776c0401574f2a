"""Finds the passages that answer a question: dense search in Chroma fused with BM25 keywords,
filtered by the asker's role and by the time the question is about, a few chunks per source at most.

The store does the dense searching in Chroma (`knowledge.store`); the keyword side, with a copy of each
chunk's metadata and vector to filter and score candidates without asking Chroma, is `knowledge.keyword_index`;
how candidates are scored and ordered, and the numbers that do it, are in `knowledge.ranking`; what a search
may return is a `knowledge.filters.ChunkFilter`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

import numpy as np

from knowledge.embedding import Embedder
from knowledge.filters import ChunkFilter, Filters
from knowledge.keyword_index import KeywordIndex, run_id_of
from knowledge.models import MetadataValue, is_cancelled
from knowledge.ranking import (
    Hit,
    Ranking,
    answering_section_first,
    best_first,
    boost_kind,
    cap_per_source,
    coverage,
    keyword_weight,
    next_occurrence_first,
)
from knowledge.store import KnowledgeStore, StoredChunks, StoreError, StoreUnavailable
from knowledge.text import keywords, name_phrases, names
from knowledge.time_scope import TimeScope, topical_words
from knowledge.topic_match import TopicMatcher, question_terms, topic_terms

__all__ = ["Filters", "Hit", "Retriever"]

logger = logging.getLogger(__name__)


# Languages that write a compound as one word ("Akkreditierungsprogramm": "accreditation programme"; a title
# carrying both its parts carries it: `TopicMatcher.terms_found(compound_parts=True)`) and every noun with a
# capital (which then names nothing)
_COMPOUNDING_LANGUAGES = frozenset({"de"})


class Retriever:
    """Hybrid search over the knowledge store.

    Raises `StoreError` when the store cannot be searched (a stopped Chroma server): callers tell the member.

    Usage: `retriever.search("Quels appels sont ouverts ?", Filters(role="member", now=now))` -> hits, best first.
    """

    def __init__(self, store: KnowledgeStore, embedder: Embedder, *, ranking: Ranking | None = None,
                 keyword_index: KeywordIndex | None = None, rebuild_backoff: float = 300.0,
                 monotonic: Callable[[], float] = time.monotonic, topics: TopicMatcher | None = None) -> None:
        self._store = store
        self._embedder = embedder
        # Finds the question's topic words in candidates' titles, in any language (word vectors, cached).
        self._topics = topics or TopicMatcher(embedder)
        self._ranking = ranking or Ranking()
        # Persisted beside the store in production (wiring); a temporary one otherwise, filled at first use.
        self.keyword_index = keyword_index or KeywordIndex()
        self._synced_run: str | None = None  # the ingestion run the keyword index is known to be in step with
        # A keyword sync that failed: (run id, when, by `monotonic`). Until another run or `rebuild_backoff`
        # seconds pass, questions are answered with the keyword index as it is.
        self._failed: tuple[str, float] | None = None
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
        """Bring the keyword index in step with the store if an ingestion ran since (cheap when none did).

        Only the sources a run changed are read back (`KeywordIndex.sync`). While one thread syncs, the others
        answer with the index as it is instead of waiting. A sync that fails is logged and not retried on
        every question: only once the store changes or after `rebuild_backoff` seconds; meanwhile answers
        come from dense search and the index as it was. An unreachable store raises `StoreError`.
        """
        run_id = run_id_of(self._store.last_run())
        if run_id == self._synced_run:
            return
        if not self._lock.acquire(blocking=False):
            return  # another question is syncing: answer with the index as it is
        try:
            if self._failed is not None and self._failed[0] == run_id \
                    and self._monotonic() - self._failed[1] < self._rebuild_backoff:
                return
            index = self.keyword_index
            if index.synced_run == run_id:
                self._synced_run = run_id  # synced already (by ingestion, or the file kept from before)
                return
            try:
                index.sync(self._store)
            except StoreUnavailable:
                raise  # the question cannot be answered at all: the caller says so
            except Exception:  # any other failure: answer from dense search, retry later
                if self._failed is None or self._failed[0] != run_id:
                    logger.exception("keyword index sync failed run=%s; answering from dense search, "
                                     "retrying in %.0fs or when the index changes", run_id, self._rebuild_backoff)
                else:
                    logger.warning("keyword index sync failed again run=%s", run_id)
                self._failed = (run_id, self._monotonic())
                return
            self._synced_run, self._failed = run_id, None
        finally:
            self._lock.release()

    def search(self, question: str, filters: Filters, k: int = 5, language: str | None = None) -> list[Hit]:
        """Best chunks for the question, at most `max_per_source` per source, best first."""
        self.refresh()
        vector = self._query_vector(question)
        return self._fuse(question, vector, filters.chunk_filter(), k, prefer_kind=filters.scope.kind,
                          language=language, now=filters.now)

    def upcoming(self, kind: str, role: str, now: datetime, limit: int = 5) -> list[dict[str, MetadataValue]]:
        """The next events (by start) or the calls closing soonest (by deadline) a role may see, one per record."""
        field_name = "start_ts" if kind == "event" else "deadline_ts"
        still_ahead = Filters(role=role, kinds=(kind,), scope=TimeScope(kind=kind, upcoming_only=True), now=now)
        records: dict[tuple, dict] = {}
        for page in self._store.iter_chunks(where=still_ahead.chunk_filter(), include=["metadatas"]):
            for meta in page.metadatas:
                if not is_cancelled(meta):  # what is ahead: a cancelled event is not
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
              prefer_kind: str | None = None, language: str | None = None, now: datetime | None = None) -> list[Hit]:
        """Dense and keyword candidates fused by reciprocal rank, capped per source, checked against the store.

        Candidates are scored on what the keyword index holds (metadata, keywords, vectors); only the few
        that make the answer are read from the store, and re-checked there.
        """
        hits = self._dense_candidates(vector, selection)
        self._add_keyword_candidates(hits, question, selection, language)
        self._add_translated_keywords(hits, question, selection, language)
        if not hits:
            return []
        tokens = self._describe(hits, vector)
        asked = set(keywords(question))
        for hit in hits.values():
            hit.coverage = coverage(asked, tokens[hit.id])
        self._add_title_ranking(hits.values(), question, language)
        boost_kind(hits.values(), prefer_kind, self._ranking.kind_boost)
        self._add_foreign_meaning(hits.values(), language)
        answering_section_first(hits.values(), question)
        if now is not None:
            next_occurrence_first(hits.values(), int(now.timestamp()))
        found = self._checked(best_first(hits.values()), selection, k)
        self._measure_standout(found, vector)
        return found

    def _add_title_ranking(self, hits: Iterable[Hit], question: str, language: str | None = None) -> None:
        """Fuse a third ranking: the candidates whose title carries every topic word of the question, in any
        language (an English question about a French-titled event finds it by its title, where keywords cannot
        match and meaning alone ranks an English event on another subject first)."""
        terms = question_terms(question)
        if not terms or self._ranking.title_weight <= 0:
            return
        by_title: dict[str, list[Hit]] = {}
        for hit in hits:
            title = str(hit.metadata.get("title") or "")
            if title:
                by_title.setdefault(title, []).append(hit)
        titles = list(by_title)
        shares = self._topics.words_found(terms, [(title, "") for title in titles],
                                          self._ranking.topic_word_similarity,
                                          compound_parts=language in _COMPOUNDING_LANGUAGES)
        matching = [title for share, title in zip(shares, titles) if share >= 1.0]
        matching.sort(key=lambda title: -max(hit.score for hit in by_title[title]))  # the fusion so far orders them
        for rank, title in enumerate(matching):
            for hit in by_title[title]:
                hit.title_match = 1.0
                hit.score += self._ranking.fused(rank, self._ranking.title_weight)

    def _add_foreign_meaning(self, hits: Iterable[Hit], language: str | None) -> None:
        """When the passages nearest in meaning are mostly in the question's language but some are not (a
        calendar of English and French events), fuse the rank by meaning once more for those in another
        language that come close to the best in the question's language (`Ranking.foreign_dense_weight`):
        keywords cannot vouch for them. None passes a passage in the question's language that holds more of
        the question's keywords. When most are in another language, the keywords across languages do
        (`_add_translated_keywords`)."""
        ranking = self._ranking
        if ranking.foreign_dense_weight <= 0 or not language:
            return
        ranked = sorted((h for h in hits if h.dense > 0), key=lambda h: -h.dense)
        foreign = [h.metadata.get("language") not in ("", None, language) for h in ranked]
        nearest = foreign[: ranking.translation_passages]
        if not any(nearest) or sum(nearest) * 2 > len(nearest):
            return
        own = [h for h, other in zip(ranked, foreign) if not other]  # their scores are not changed below
        floor = ranking.foreign_dense_lead * max((h.dense for h in own), default=0.0)
        for rank, (hit, other) in enumerate(zip(ranked, foreign)):
            if other and hit.dense >= floor:
                better = [h.score for h in own if h.coverage > hit.coverage and h.score > hit.score]
                hit.score = min([hit.score + ranking.fused(rank, ranking.foreign_dense_weight),
                                 *(b * (1 - 1e-6) for b in better)])

    def _measure_standout(self, hits: list[Hit], vector: np.ndarray) -> None:
        """Set each hit's `standout`: how many standard deviations its cosine lies above the question's mean
        cosine with every chunk of the index (`KeywordIndex.spread`); left None on a small index."""
        index = self.keyword_index
        if not hits or index.size() < self._ranking.standout_min_chunks:
            return
        spread = index.spread()
        if spread is None or len(spread[0]) != len(vector):
            return
        mean, moments = spread
        q = np.asarray(vector, dtype=np.float64)
        centre = float(q @ mean)
        deviation = float(q @ moments @ q) - centre * centre
        if deviation <= 1e-12:
            return
        for hit in hits:
            hit.standout = (hit.dense - centre) / deviation ** 0.5

    def _dense_candidates(self, vector: np.ndarray, selection: ChunkFilter) -> dict[str, Hit]:
        """The chunks nearest in meaning that `selection` keeps, by id, with their cosine and fused score.

        Chroma's own filtering reads every chunk's metadata: on a large store it turns a 5 ms query into hundreds
        of milliseconds (on a small one it is cheap, and exact: used below `small_store` chunks). So the store
        is asked unfiltered (ids and distances only, then `overfetch` times
        more when the filter left too few) and the filter is applied on the keyword index's copy of the
        metadata. A narrow filter
        (next month's events) that leaves too few is answered by an exact search over the vectors of the
        chunks it keeps, from the keyword index; Chroma filters only when that set is large or the keyword
        index is not known to be current. Texts and metadata are read from the store afterwards, and
        re-checked there (`_backfill`). A store error propagates (`StoreError`).
        """
        wanted, overfetch = self._ranking.candidates, self._ranking.overfetch
        if self.keyword_index.size() < self._ranking.small_store:
            # Small: an exact search over the keyword index's vectors (16 ms at 5,000 chunks). Chroma's HNSW
            # search left out ~1.6% of the 40 nearest there, different ones in each process, so the same question
            # could get another answer after a restart.
            if self._failed is None and self._synced_run is not None:
                return self._dense_hits([(cid, 1.0 - cosine) for cid, cosine in
                                         self.keyword_index.nearest(vector, selection, wanted)])
            got = self._store.query(vector.tolist(), wanted, selection, include=())  # filters itself, cheaply
            return self._dense_hits(list(zip(got.ids, got.distances)))
        got = self._store.query(vector.tolist(), wanted, None, include=())
        ranked = self._passing(got.ids, got.distances, selection)
        if len(ranked) < wanted and len(got.ids) == wanted:  # some filtered out: ask for more, then narrow
            got = self._store.query(vector.tolist(), wanted * overfetch, None, include=())
            ranked = self._passing(got.ids, got.distances, selection)
            if len(ranked) < wanted and len(got.ids) == wanted * overfetch:
                ranked = self._narrow_dense(vector, selection, wanted)
        return self._dense_hits(ranked[:wanted])

    def _dense_hits(self, ranked: list[tuple[str, float]]) -> dict[str, Hit]:
        hits: dict[str, Hit] = {}
        for rank, (cid, distance) in enumerate(ranked):
            hit = hits.setdefault(cid, Hit(cid, "", {}))
            hit.dense = max(0.0, 1.0 - distance)
            hit.score += self._ranking.fused(rank)
        return hits

    def _passing(self, ids: list[str], distances: list[float], selection: ChunkFilter) -> list[tuple[str, float]]:
        """(id, distance) of the chunks the filter keeps, by the keyword index's copy of their metadata.

        Chunks the index does not know yet (a run it has not synced) pass here; `_backfill` checks them.
        """
        if not selection.conditions:
            return list(zip(ids, distances))
        passing = self.keyword_index.passing(ids, selection)
        return [(cid, d) for cid, d in zip(ids, distances) if passing.get(cid, True)]

    def _narrow_dense(self, vector: np.ndarray, selection: ChunkFilter, wanted: int) -> list[tuple[str, float]]:
        """Nearest chunks under a filter that keeps few: exact search in the keyword index, else Chroma's filter."""
        index = self.keyword_index
        if self._failed is None and self._synced_run is not None \
                and index.count(selection) <= self._ranking.exact_search_limit:
            return [(cid, 1.0 - cosine) for cid, cosine in index.nearest(vector, selection, wanted)]
        got = self._store.query(vector.tolist(), wanted, selection, include=())
        return list(zip(got.ids, got.distances))

    def _add_keyword_candidates(self, hits: dict[str, Hit], question: str, selection: ChunkFilter,
                                language: str | None) -> None:
        """Add the BM25 ranking to `hits`, a match weighed by `keyword_weight` (names, the question's language)."""
        index = self.keyword_index
        asked = names(question)
        if language in _COMPOUNDING_LANGUAGES:
            # German capitalises every noun: a kind of event or a time word is no name ("der
            # Cybersicherheits-Workshop": "workshop" is rare in a calendar of English meetups and French ateliers),
            # unless part of a name of several words ("Health Innovation Summit"). In English and French a
            # capital says a name: "le Meetup sur la santé mentale" is the meetup.
            asked &= topical_words(sorted(asked)) | set(keywords(" ".join(name_phrases(question))))
        asked_names = index.rare(asked, self._ranking.rare_name_share)
        for rank, found in enumerate(index.search(keywords(question), selection, self._ranking.candidates)):
            hit = hits.get(found.id)
            if hit is None:  # text, metadata and cosine come from the store (`_backfill`)
                hit = hits[found.id] = Hit(found.id, "", {})
            hit.keyword = found.score
            hit.named = bool(asked_names & found.tokens)
            weight = keyword_weight(asked_names, found.tokens, found.metadata.get("language"), language,
                                    self._ranking.foreign_keyword_weight)
            hit.score += self._ranking.fused(rank, weight)

    def _add_translated_keywords(self, hits: dict[str, Hit], question: str, selection: ChunkFilter,
                                 language: str | None) -> None:
        """Fuse a keyword search in the language of the passages nearest in meaning, when less than half of them
        are in the question's language (one search per other language holding a quarter of them at least: a
        German question over English and French pages reads both): its topic words said as those passages say them
        ("data leak" -> "fuite", "perte"), by single-word vectors (`TopicMatcher.nearest_words`). Keywords
        cannot match across languages, so without it an English question over French pages ranks by meaning
        alone. A store error here only leaves this ranking out."""
        ranking = self._ranking
        terms = question_terms(question)
        if not language or not terms or ranking.translated_keyword_weight <= 0:
            return
        nearest = sorted((h for h in hits.values() if h.dense > 0),
                         key=lambda h: -h.dense)[:ranking.translation_passages]
        language_of = {cid: str(meta.get("language") or "")
                       for cid, (meta, _, _) in self.keyword_index.describe([h.id for h in nearest]).items()}
        counts = Counter(code for code in language_of.values() if code)
        if counts.get(language, 0) * 2 >= len(nearest):
            return  # mostly in the question's language: its own keyword search ranks them
        for pages_language, count in counts.most_common():
            # each other language holding a fair share of them: the one most are in (an English question over
            # French fiches), both for a German question over English and French pages
            if pages_language != language and count * 4 >= len(nearest):
                self._search_translated(hits, terms, selection, pages_language,
                                        [h.id for h in nearest if language_of.get(h.id) == pages_language])

    def _search_translated(self, hits: dict[str, Hit], terms: list[str], selection: ChunkFilter,
                           pages_language: str, ids: list[str]) -> None:
        """Fuse the keyword search of `terms` said as the chunks `ids` (in `pages_language`) say them."""
        ranking = self._ranking
        try:
            texts = self._store.get_chunks(ids, include=["documents"]).documents
        except StoreUnavailable:
            raise
        except StoreError as exc:
            logger.warning("keywords across languages left out: %s", exc)
            return
        vocabulary = [word for text in texts for word in topic_terms(text or "")[:ranking.translation_words]]
        said = self._topics.nearest_words([t if t.isupper() else t.lower() for t in terms], vocabulary,
                                          similarity=ranking.translation_similarity,
                                          per_term=ranking.translations_per_word)
        query = list(dict.fromkeys(k for word in said for k in keywords(word)))
        if not query:
            return
        rank = 0
        for found in self.keyword_index.search(query, selection, ranking.candidates):
            if found.metadata.get("language") != pages_language:
                continue  # the question's own language has its own keyword search
            hit = hits.get(found.id)
            if hit is None:
                hit = hits[found.id] = Hit(found.id, "", {})
            hit.score += ranking.fused(rank, ranking.translated_keyword_weight)
            rank += 1

    def _describe(self, hits: dict[str, Hit], vector: np.ndarray) -> dict[str, set[str]]:
        """Give every hit its metadata, and keyword-only hits their cosine, from the keyword index; the keywords
        of each hit are returned. Chunks the index does not hold yet (a run it has not synced) are read
        from the store."""
        described = self.keyword_index.describe(list(hits))
        tokens: dict[str, set[str]] = {}
        missing = [cid for cid in hits if cid not in described]
        stored = self._store.get_chunks(missing, include=["embeddings", "documents", "metadatas"]) if missing \
            else StoredChunks()
        for cid, emb, doc, meta in zip(stored.ids, stored.embeddings, stored.documents, stored.metadatas):
            described[cid] = (dict(meta or {}), set(keywords(doc or "")), np.asarray(emb, dtype=np.float32))
            hits[cid].text = doc or ""
        for cid, hit in list(hits.items()):
            if cid not in described:  # gone from the store
                del hits[cid]
                continue
            meta, tokens[cid], stored_vector = described[cid]
            hit.metadata = dict(meta)
            if hit.dense == 0.0 and stored_vector is not None and len(stored_vector) == len(vector):
                hit.dense = max(0.0, float(np.dot(stored_vector, vector)))
        return tokens

    def _checked(self, ranked: list[Hit], selection: ChunkFilter, k: int) -> list[Hit]:
        """The first `k` hits, at most `max_per_source` per source, with their text and metadata as stored now.

        The keyword index may be older than the store (a run in another process not synced yet, or a failed
        sync): a chunk since removed, or whose audience or dates no longer pass the filter, is dropped and the
        next one taken. The store is read `k` + 2 hits at a time: usually once.
        """
        capped = cap_per_source(ranked, self._ranking.max_per_source, len(ranked))
        out: list[Hit] = []
        for start in range(0, len(capped), k + 2):
            window = capped[start:start + k + 2]
            stored = self._store.get_chunks([h.id for h in window], include=["documents", "metadatas"])
            current = {cid: (doc, meta) for cid, doc, meta in zip(stored.ids, stored.documents, stored.metadatas)}
            for hit in window:
                if hit.id in current and selection.accepts(current[hit.id][1] or {}):
                    hit.text, hit.metadata = current[hit.id][0] or "", dict(current[hit.id][1] or {})
                    out.append(hit)
                    if len(out) == k:
                        return out
        return out
