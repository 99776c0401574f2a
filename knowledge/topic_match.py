"""Whether a call or an event is about a topic someone follows ("medical AI"), by meaning and by words, in French,
English or German alike. No I/O but the embedder's.

Two signals, measured on `bench/follow_bench.py`'s labelled set:

- meaning: the cosine between the topic and the item's title and description (the multilingual model puts
  "medical AI" near "intelligence artificielle pour le diagnostic");
- words: each word of the topic is found in the item, by its stem ("imaging" in "Medical imaging day") or by a
  word of the item of the same meaning in any language ("AI" ~ "IA", `topic_word_similarity`, as listing answers
  match topic words in `knowledge.answering`).

An item matches when every topic word is found and the meaning is close enough (`with_words`), or when the
meaning alone is very close (`alone`): a shared word in an unrelated item ("AI" in an AI-for-logistics call) is
not enough, and neither is a vague likeness of meaning.

>>> topic_terms("medical AI"), topic_terms("l'imagerie médicale"), topic_terms("AI in healthcare")
(['medical', 'AI'], ['imagerie', 'médicale'], ['AI', 'healthcare'])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from knowledge.embedding import Embedder
from knowledge.text import keywords

_WORD = re.compile(r"\w[\w'’-]*")
_ELISION = re.compile(r"^(?:[ldjmnstc]|qu)['’]", re.IGNORECASE)  # "l'imagerie" -> "imagerie"
_CACHE_SIZE = 20000
_DESCRIPTION_TERMS = 40  # words of an item compared by meaning: the title's, then the description's first ones


@dataclass(frozen=True)
class MatchThresholds:
    """The numbers of the decision; the defaults are measured (`bench/follow_bench.py`, README)."""

    # A short topic and a paragraph are never very close with the default model (0.1 to 0.3 for relevant
    # pairs): the words decide, the meaning vetoes the unrelated and admits the nearly named.
    with_words: float = 0.10  # every topic word found, and the cosine at least this
    some_words: float = 0.40  # half the topic's words found, and the cosine at least this
    alone: float = 0.50  # the cosine alone
    topic_word_similarity: float = 0.65  # a word of another language counts as the topic's word from this cosine


@dataclass(frozen=True)
class TopicMatch:
    """One item against one topic: the cosine, the share of the topic's words found, the decision."""

    dense: float
    words: float
    matched: bool


def topic_terms(text: str) -> list[str]:
    """The words of a topic (or a title) that say what it is about, in lower case: not stop words; acronyms kept
    as they are even when they are a stop word of another language ("AI" is French "ai"); French elisions
    dropped."""
    out = []
    for raw in _WORD.findall(text):
        word = _ELISION.sub("", raw).strip("'’-")
        if word.isupper() and len(word) > 1:
            out.append(word)
        elif len(word) > 2 and keywords(word) and not word.isdigit():
            out.append(word.lower())  # the model puts "Imagerie" further from "imaging" than "imagerie"
    return list(dict.fromkeys(out))


class TopicMatcher:
    """Matches topics against items with `embedder` (thread-safe enough: the cache only grows and is cleared).

    `match("medical AI", [("Appel IA santé", "Diagnostic par intelligence artificielle")])` -> [TopicMatch(...)]
    """

    def __init__(self, embedder: Embedder, thresholds: MatchThresholds | None = None) -> None:
        self.embedder = embedder
        self.thresholds = thresholds or MatchThresholds()
        self._words: dict[str, np.ndarray] = {}
        self._items: dict[str, np.ndarray] = {}

    def match(self, topic: str, items: Sequence[tuple[str, str]]) -> list[TopicMatch]:
        """Each (title, description) item against `topic`, in order."""
        return [self.decide(dense, words) for dense, words in self.scores(topic, items)]

    def decide(self, dense: float, words: float, thresholds: MatchThresholds | None = None) -> TopicMatch:
        t = thresholds or self.thresholds
        return TopicMatch(dense, words, (words >= 1.0 and dense >= t.with_words)
                          or (words >= 0.5 and dense >= t.some_words) or dense >= t.alone)

    def scores(self, topic: str, items: Sequence[tuple[str, str]],
               word_similarity: float | None = None) -> list[tuple[float, float]]:
        """(cosine, share of the topic's words found) of each item."""
        if not items:
            return []
        topic_vector = self.embedder.encode_queries([topic])[0]
        dense = self._passages([f"{title}\n{text}".strip() for title, text in items]) @ topic_vector
        return [(float(cosine), found) for cosine, found in
                zip(dense, self.words_found(topic_terms(topic), items, word_similarity))]

    def words_found(self, terms: Sequence[str], items: Sequence[tuple[str, str]],
                    word_similarity: float | None = None) -> list[float]:
        """The share of `terms` each (title, description) item carries: by stem, or by a word of the same
        meaning in another language (single-word vectors at least `word_similarity` apart in cosine)."""
        similar = self.thresholds.topic_word_similarity if word_similarity is None else word_similarity
        stems = {term: set(keywords(term)) for term in terms}
        out = []
        for title, text in items:
            words = set(keywords(f"{title} {text}"))
            item_terms = (topic_terms(title) + topic_terms(text))[:_DESCRIPTION_TERMS]
            found = 0
            for term in terms:
                if stems[term] and stems[term] <= words:
                    found += 1
                elif item_terms and self._closest(term, item_terms) >= similar:
                    found += 1
            out.append(found / len(terms) if terms else 0.0)
        return out

    def _passages(self, texts: list[str]) -> np.ndarray:
        """The items' vectors, kept: a run compares the same new items with every follower's topic."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._items]
        if missing:
            if len(self._items) > _CACHE_SIZE:
                self._items.clear()
            self._items.update(zip(missing, self.embedder.encode_passages(missing)))
        return np.stack([self._items[t] for t in texts])

    def _closest(self, term: str, others: list[str]) -> float:
        vectors = self._vectors([term, *others])
        return max(float(np.dot(vectors[term], vectors[other])) for other in others)

    def _vectors(self, words: list[str]) -> dict[str, np.ndarray]:
        missing = [w for w in dict.fromkeys(words) if w not in self._words]
        if missing:
            if len(self._words) > _CACHE_SIZE:
                self._words.clear()
            self._words.update(zip(missing, self.embedder.encode_queries(missing)))
        return {w: self._words[w] for w in words}


__all__ = ["MatchThresholds", "TopicMatch", "TopicMatcher", "topic_terms"]
