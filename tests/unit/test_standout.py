"""Abstention that reads the question: an answer needs a passage that stands out from the whole index in meaning
or, in the question's language, one that holds every keyword of the question; across languages (and on a small
index) retrieval confidence decides as before."""

from __future__ import annotations

import numpy as np

from knowledge.keyword_index import KeywordIndex
from knowledge.ranking import Hit, Ranking
from knowledge.store import StoredChunks


def passage(language: str, dense: float, coverage: float, standout: float | None) -> Hit:
    return Hit("kb/a.md:0", "text", {"language": language}, dense=dense, coverage=coverage, standout=standout)


def test_a_same_language_passage_that_neither_stands_out_nor_holds_every_keyword_is_not_answered_from():
    near_domain = passage("fr", dense=0.5, coverage=0.6, standout=2.1)
    assert Ranking().confidence([near_domain]) > Ranking().min_confidence, "confidence alone would answer"
    assert Ranking().unsure([near_domain], "fr")


def test_a_passage_standing_out_or_holding_every_keyword_is_answered_from_even_at_low_confidence():
    assert not Ranking().unsure([passage("fr", dense=0.2, coverage=0.3, standout=3.6)], "fr")
    assert not Ranking().unsure([passage("fr", dense=0.2, coverage=1.0, standout=1.5)], "fr")


def test_across_languages_and_on_a_small_index_confidence_decides():
    foreign = passage("en", dense=0.5, coverage=0.0, standout=2.0)  # keywords mean nothing across languages
    assert not Ranking().unsure([foreign], "fr")
    assert Ranking().unsure([passage("en", dense=0.15, coverage=0.0, standout=2.0)], "fr")
    small = passage("fr", dense=0.5, coverage=0.6, standout=None)  # spread not measured
    assert not Ranking().unsure([small], "fr")
    assert Ranking().unsure([passage("fr", dense=0.1, coverage=1.0, standout=5.0)], "fr"), "min_similarity holds"


def test_across_languages_a_passage_standing_far_out_is_answered_from_at_low_confidence():
    """"Notre hébergeur a subi une intrusion : sous quel délai doit-il nous prévenir ?" over the English GDPR:
    Article 33 stands out 3.3 deviations from the index, with a cosine of 0.24 (confidence 0.17)."""
    far_out = passage("en", dense=0.24, coverage=0.0, standout=3.3)
    assert Ranking().confidence([far_out]) < Ranking().min_confidence
    assert not Ranking().unsure([far_out], "fr")
    assert Ranking().unsure([passage("en", dense=0.24, coverage=0.0, standout=3.0)], "fr"), "not far enough"


def chunks(vectors: np.ndarray, source: str = "kb/a.md") -> StoredChunks:
    ids = [f"{source}:{i}" for i in range(len(vectors))]
    return StoredChunks(ids=ids, documents=[f"passage {i}" for i in range(len(vectors))],
                        metadatas=[{"source_id": source} for _ in ids], embeddings=vectors.tolist())


def test_the_index_spread_is_the_mean_and_second_moments_of_its_vectors_and_follows_changes():
    rng = np.random.default_rng(7)
    first = rng.normal(size=(30, 8)).astype(np.float32)
    index = KeywordIndex()
    index.replace({"kb/a.md": "v1"}, chunks(first))
    mean, moments = index.spread()
    assert np.allclose(mean, first.mean(axis=0), atol=1e-6)
    assert np.allclose(moments, first.T.astype(np.float64) @ first / len(first), atol=1e-5)

    second = rng.normal(loc=2.0, size=(10, 8)).astype(np.float32)
    index.replace({"kb/b.md": "v1"}, chunks(second, "kb/b.md"))
    both = np.vstack([first, second])
    assert np.allclose(index.spread()[0], both.mean(axis=0), atol=1e-6), "a new source is counted"

    q = both[3] / np.linalg.norm(both[3])
    mean, moments = index.spread()
    cosines = both @ q
    assert np.isclose(float(q @ mean), cosines.mean(), atol=1e-5)
    assert np.isclose(float(q @ moments @ q) - float(q @ mean) ** 2, cosines.var(), atol=1e-4)
    index.clear()
    assert index.spread() is None


def test_across_languages_a_first_passage_whose_title_carries_every_topic_word_is_answered_from():
    atelier = passage("fr", dense=0.16, coverage=0.0, standout=None)  # "When is the AI in healthcare workshop?"
    assert Ranking().unsure([atelier], "en"), "short cross-language question: confidence alone declines"
    atelier.title_match = 1.0  # "Atelier IA en santé": AI ~ IA, healthcare ~ santé
    assert not Ranking().unsure([atelier], "en")
    same_language = passage("en", dense=0.16, coverage=0.5, standout=2.0)
    same_language.title_match = 1.0
    assert Ranking().unsure([same_language], "en"), "in its own language keywords and standing out decide"
