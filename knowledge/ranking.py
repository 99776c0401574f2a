"""How retrieved chunks are scored and ordered: the numbers (`Ranking`) and the pure steps that use them. No I/O.

`Ranking` is built once where objects are wired (`bot.wiring.Services`) and handed to the retriever and the
conversation; `bench/answers_bench.py --set NAME=VALUE` measures a variant on the dev sets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from knowledge.models import MetadataValue
from knowledge.time_scope import intents


@dataclass(frozen=True)
class Ranking:
    """The numbers that rank passages and judge whether they answer; the defaults are measured (README).

    >>> Ranking().fused(rank=0)
    0.016666666666666666
    """

    candidates: int = 40  # chunks each search (dense, keywords) proposes to the fusion
    # Dense search asks the store unfiltered for this many times the candidates and filters them itself;
    # Chroma filters only when too few pass (README, "Scale").
    overfetch: int = 4
    # Below this many chunks dense search is exact, over the keyword index's vectors (Chroma filtering itself
    # while the index is not in step): Chroma's approximate (HNSW) search moved a dev-set answer or two, and
    # differently in each process.
    small_store: int = 5000
    # A filter that leaves too few of those is searched exactly over the kept chunks' vectors up to this many.
    exact_search_limit: int = 20000
    rrf_k: int = 60  # reciprocal rank fusion: the candidate at rank r (from 0) adds 1 / (rrf_k + r)
    # BM25 over passages in another language than the question mostly matches names and noise.
    foreign_keyword_weight: float = 0.25
    # A third ranking fused with dense and keywords: candidates whose title carries every topic word of the
    # question, by stem or by a word of the same meaning in another language ("AI in healthcare workshop" ~
    # "Atelier IA en santé"; `topic_word_similarity`), in the order the other two give them.
    title_weight: float = 2.0  # twice a search's: across languages keywords cannot vouch for the match (README)
    # A fourth, across languages: when less than half of the `translation_passages` nearest chunks in meaning
    # are in the question's language, for each other language holding a quarter of them at least, each topic
    # word of the question is replaced by the words of its chunks nearest to it in meaning (their first
    # `translation_words` topic words; single-word vectors at least `translation_similarity` close, at most
    # `translations_per_word`: "loss" -> "fuite", "perte"), and a keyword search with them is fused for the
    # chunks in that language, at `translated_keyword_weight`.
    translated_keyword_weight: float = 0.5
    translation_passages: int = 20
    translation_words: int = 40
    translation_similarity: float = 0.6
    translations_per_word: int = 3
    # A fifth, when the passages nearest in meaning are mostly in the question's language but some are not (a
    # calendar of French and English events): those in another language cannot earn a keyword rank, so their
    # rank by meaning is fused a second time, at `foreign_dense_weight`, when their cosine is at least
    # `foreign_dense_lead` x the best one's in the question's language ("the hospital
    # procurement day" is the "Journee achats hospitaliers", nearest in meaning, where English events won on
    # "hospital" and "day"). It never lifts one above a passage in the question's language that holds more of
    # the question's keywords. Mostly in another language: `translated_keyword_weight` instead. 0 turns it off.
    foreign_dense_weight: float = 2.0
    foreign_dense_lead: float = 0.7
    rare_name_share: float = 0.05  # a question's name singles passages out when at most this share of chunks has it
    kind_boost: float = 1.25  # "when was the X day?": an event is the likelier answer than a guide naming it
    max_per_source: int = 2  # chunks of one document (one event series or call of a table) in the answer
    # confidence = dense weight × cosine + coverage weight × keyword coverage, the best of the first passages
    confidence_dense_weight: float = 0.7
    confidence_coverage_weight: float = 0.3
    confidence_passages: int = 3
    min_confidence: float = 0.18  # below it the assistant says it does not know (KB_MIN_CONFIDENCE)
    # ... and so it does when even the closest passage is this far in meaning, however many of the question's
    # words it shares ("What is the capital of Peru?" shares "capital" with a page on capital raising): the
    # answerable dev questions' closest passage is never below 0.138 with the default model.
    min_similarity: float = 0.12
    # How far the best passage stands out from the whole index in meaning: (its cosine - the mean cosine of the
    # question with every chunk) / their standard deviation. A passage that answers stands out; when the answer
    # was never ingested the closest passages are merely "about the same thing" and do not. With a passage in
    # the question's language it decides (with keyword coverage) instead of `min_confidence`: the answer
    # needs a passage standing out by `min_standout` or one holding every keyword of the question (README).
    min_standout: float = 2.8
    standout_min_chunks: int = 40  # below this many chunks the spread means little: `min_confidence` decides
    # Across languages (no passage in the question's language among the first) a passage standing out by this
    # much answers even when `confidence` is low: cosines across languages are low, the spread says it stands
    # out all the same. Higher than `min_standout`: keyword coverage cannot back it. gdpr (French questions,
    # English articles): 2.8 answered 2 more gold-removed questions, 3.2 none, and one answerable question more.
    min_standout_across: float = 3.2
    # "Is X still open?": the event or call a question names, found outside the asked time window.
    named_title_share: float = 0.5  # named when at least this share of its title's words are in the question
    named_min_coverage: float = 0.4  # or when it covers this much of the question, better than the window's best
    # Extractive answers: which sentences of the best passages are quoted.
    quote_passages: int = 3  # sentences are taken from this many of the best passages
    quote_overlap_weight: float = 0.5  # a sentence's score: cosine + this × share of the question's keywords
    quote_rank_penalty: float = 0.05  # ... minus this per rank of its passage
    quote_heading_bonus: float = 0.3  # a section whose heading carries the question's words is preferred
    quote_margin: float = 0.15  # a one-line section is completed by sentences scoring within this of it
    # A page's opening sentences usually answer what its title asks (a fiche's "Oui.", "Non, la CNIL n'est pas
    # compétente ..."): the first `quote_lead_sentences` of a document's first chunk score this much more.
    quote_lead_bonus: float = 0.1
    quote_lead_sentences: int = 2
    # When other sources come close to the quoted ones, the answer names them too ("Also on this: ..."), best
    # first, so the member sees the right one even when retrieval cannot tell them apart: a source is close
    # when its fused score is at least `cite_closeness` × the best one's (the fused score, not the cosine:
    # when keywords or a title single one passage out, the others are not close; when meaning, keywords and
    # titles disagree, several are) and its cosine at least `cite_meaning_closeness` × the best cosine (across
    # languages the fused scores are flat: keywords barely count); at most `cite_sources` sources in all.
    cite_sources: int = 5
    # Listing questions ("the next AI workshop"): a title word of another language matches a topic word of the
    # question when their vectors are this close ("AI" ~ "IA" 0.68, "workshop" ~ "atelier" 0.90, while
    # "healthcare" ~ "medtech" 0.56 with the default model).
    topic_word_similarity: float = 0.65
    # ... picked among this many passages of the asked window (the best by meaning and keywords): in a calendar
    # of 60 events the one about "women in health tech" need not be among the 10 nearest to the question.
    listing_passages: int = 40
    cite_closeness: float = 0.6
    cite_meaning_closeness: float = 0.6

    def fused(self, rank: int, weight: float = 1.0) -> float:
        """What the candidate at `rank` of one search adds to the fused score."""
        return weight / (self.rrf_k + rank)

    def confidence(self, hits: Sequence[Hit]) -> float:
        """How sure retrieval is that the best passages answer: cosine and keyword coverage of the top hits;
        0 when none of them comes within `min_similarity` in meaning."""
        top = hits[: self.confidence_passages]
        if not top or max(h.dense for h in top) < self.min_similarity:
            return 0.0
        return max(self.confidence_dense_weight * h.dense + self.confidence_coverage_weight * h.coverage for h in top)

    def unsure(self, hits: Sequence[Hit], language: str | None, kind: str | None = None) -> bool:
        """Whether the best passages are too weak to answer from ("I don't know").

        A first passage in another language whose title carries every topic word of the question (and of the
        `kind` it asks about, if any) is answered from. Keyword coverage says something only in the question's
        own language: with a passage in it among the first, the
        answer needs one of them to hold every keyword of the question or to stand out from the index in
        meaning (`Hit.standout`, when the index is large enough to measure it); otherwise (passages in another
        language, a small index) `confidence` must reach `min_confidence`.

        >>> weak = Hit("a", "", {"language": "fr"}, dense=0.3, coverage=0.5, standout=1.9)
        >>> Ranking().unsure([weak], "fr"), Ranking().unsure([Hit("b", "", {"language": "fr"}, dense=0.3,
        ...                                                    coverage=0.5, standout=3.4)], "fr")
        (True, False)
        """
        top = hits[: self.confidence_passages]
        if not top or max(h.dense for h in top) < self.min_similarity:
            return True
        if (top[0].title_match >= 1.0 and top[0].metadata.get("language") != language
                and kind in (None, top[0].metadata.get("kind"))):
            # across languages its title carries every topic word, where keywords cannot match ("Le webinaire
            # EHDS ...": "Webinar — European Health Data Space"), and it is of the kind asked about, if any
            return False
        same = [h for h in top if language and h.metadata.get("language") == language]
        standouts = [h.standout for h in hits if h.standout is not None]  # the passage nearest in meaning
        if same and standouts:
            return max(h.coverage for h in same) < 1.0 and max(standouts) < self.min_standout
        if standouts and max(standouts) >= self.min_standout_across:
            return False
        return self.confidence(hits) < self.min_confidence


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
    standout: float | None = None  # (cosine - mean cosine over the index) / its deviation; None: not measured
    title_match: float = 0.0  # 1.0 when its title carries every topic word of the question, in any language
    named: bool = False  # it carries a rare name of the question ("Innov'Santé", "EIC")

    @property
    def is_record(self) -> bool:
        """An event or a call (a calendar's or a table's record), not a document's chunk."""
        return self.metadata.get("kind") in {"event", "funding_call"}

    @property
    def source_key(self) -> str:
        """What the per-source cap counts: a document, or one event series / one call of a table."""
        source = str(self.metadata.get("source_id", self.id.rsplit(":", 1)[0]))
        if self.is_record:
            return f"{source}#{self.metadata.get('title', '')}"
        return source

    @property
    def record_key(self) -> str:
        return f"{self.source_key}#{self.metadata.get('record_index', 0)}"


def keyword_weight(asked_names: set[str], tokens: set[str], passage_language: object, question_language: str | None,
                   foreign_weight: float) -> float:
    """How much a keyword match counts: fully when it carries the question's names (in any language), or when
    the question names nothing and the passage is in its language; `foreign_weight` otherwise.

    >>> keyword_weight(set(), {"cotisation"}, "fr", "en", 0.25)
    0.25
    """
    if asked_names:
        strong = bool(asked_names & tokens)
    else:
        strong = not question_language or passage_language in ("", None, question_language)
    return 1.0 if strong else foreign_weight


def coverage(asked: set[str], tokens: set[str]) -> float:
    """The share of the question's keywords a passage holds (0 for a question without keywords)."""
    return len(asked & tokens) / len(asked) if asked else 0.0


def boost_kind(hits: Iterable[Hit], kind: str | None, factor: float) -> None:
    """Multiply the score of the hits of the kind the question is about ("when was the X day?": events)."""
    if kind:
        for hit in hits:
            if hit.metadata.get("kind") == kind:
                hit.score *= factor


def next_occurrence_first(hits: Iterable[Hit], now_ts: int) -> None:
    """Within each recurring event (occurrences of one series: same source and title), hand the best scores to
    the occurrences in the order a member means by "when is X?": the next one (or the one under way) first,
    then the later ones, then the past ones, latest first. Their texts differ only by their dates, so which
    occurrence scored best was chance: "When is the partner café?" named a March date or a past one, not the
    next one. Other sources keep their scores.

    >>> a, b, c = (Hit(str(i), "", {"kind": "event", "source_id": "cal", "title": "Café", "record_index": i,
    ...                              "start_ts": ts}, score=sc) for i, (ts, sc) in enumerate([(100, .3), (300, .2),
    ...                                                                                      (500, .1)]))
    >>> next_occurrence_first([a, b, c], now_ts=200); [h.id for h in best_first([a, b, c])]
    ['1', '2', '0']
    """
    series: dict[tuple[str, str, str], list[Hit]] = {}
    for hit in hits:  # one series: one source, one title, one place, one link (two "Info day" rows in two cities
        if hit.metadata.get("kind") == "event" and "start_ts" in hit.metadata:  # are two events)
            key = (hit.source_key, str(hit.metadata.get("location", "")), str(hit.metadata.get("url", "")))
            series.setdefault(key, []).append(hit)
    for occurrences in series.values():
        if len({h.metadata.get("record_index") for h in occurrences}) < 2:
            continue

        def wanted(hit: Hit) -> tuple[int, int]:
            start = int(hit.metadata["start_ts"])
            end = int(hit.metadata.get("end_ts", start))
            return (0, start) if end >= now_ts else (1, -start)

        scores = sorted((h.score for h in occurrences), reverse=True)
        for hit, score in zip(sorted(occurrences, key=wanted), scores):
            hit.score = score


def answering_section_first(hits: Iterable[Hit], question: str) -> None:
    """Within each document, hand its best scores to the chunks whose section heading answers what the question
    asks (`knowledge.time_scope.intents`: "Who can apply?" the "Eligibility" section, "How do I apply?" the "How
    to apply" one, "Combien coûte … ?" the "Tarifs" one), in any language; the other chunks follow in their own
    order. Sections of one page share its title and words, so which of them ranked first was mostly chance,
    and the per-source cap could leave the one that answers out. Other sources keep their scores.

    >>> a, b = (Hit(str(i), "", {"source_id": "doc", "heading": h}, score=s)
    ...         for i, (h, s) in enumerate([("Label > How to apply", .3), ("Label > Who can apply", .2)]))
    >>> answering_section_first([a, b], "Who can apply for the label?"); [h.id for h in best_first([a, b])]
    ['1', '0']
    """
    asks = intents(question)
    if not asks:
        return
    documents: dict[str, list[Hit]] = {}
    for hit in hits:
        if not hit.is_record:
            documents.setdefault(hit.source_key, []).append(hit)
    for chunks in documents.values():
        # the section a chunk starts in (the index holds no text yet: a section further down is not seen)
        answering = [bool(asks & intents(str(h.metadata.get("heading", "")).split(" > ")[-1])) for h in chunks]
        if len(chunks) < 2 or not any(answering) or all(answering):
            continue
        scores = sorted((h.score for h in chunks), reverse=True)
        order = sorted(range(len(chunks)), key=lambda i: (not answering[i], -chunks[i].score))
        for i, score in zip(order, scores):
            chunks[i].score = score


def best_first(hits: Iterable[Hit]) -> list[Hit]:
    """By fused score, best first; ties keep their order."""
    return sorted(hits, key=lambda h: h.score, reverse=True)


def cap_per_source(ranked: Iterable[Hit], max_per_source: int, k: int) -> list[Hit]:
    """The first `k` hits, skipping those past `max_per_source` of one source (see `Hit.source_key`)."""
    per_source: dict[str, int] = {}
    out: list[Hit] = []
    for hit in ranked:
        if len(out) == k:
            break
        if per_source.get(hit.source_key, 0) >= max_per_source:
            continue
        per_source[hit.source_key] = per_source.get(hit.source_key, 0) + 1
        out.append(hit)
    return out
