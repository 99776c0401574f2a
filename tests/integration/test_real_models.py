"""End to end with the real packaged embedding models: ingest the bundled sample and find across languages."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.embedding import load_embedder
from knowledge.pipeline import Ingestor
from knowledge.settings import DEFAULT_SOURCES, KnowledgeSettings
from knowledge.store import open_store, release_embedded_store
from tests.conftest import TODAY

pytestmark = pytest.mark.e2e


def top_titles(store, embedder, question: str, k: int = 3) -> list[str]:
    vector = embedder.encode_queries([question])[0].tolist()
    got = store.collection.query(query_embeddings=[vector], n_results=k, include=["metadatas"])
    return [m["title"] for m in got["metadatas"][0]]


@pytest.fixture(scope="module", params=["use-multilingual", "all-MiniLM-L6-v2"])
def sample_index(request, tmp_path_factory):
    embedder = load_embedder(request.param)
    settings = KnowledgeSettings(store_path=tmp_path_factory.mktemp("real") / "chroma", _env_file=None)
    store = open_store(settings.store_path, None, settings.collection, embedder.name, embedder.dimension)
    report = Ingestor(settings, store, embedder, now=lambda: TODAY).run(DEFAULT_SOURCES)
    assert report.ok, report.failed
    yield store, embedder, report
    release_embedded_store(settings.store_path)


def test_the_sample_ingests_with_real_vectors_of_the_model_size(sample_index):
    store, embedder, report = sample_index
    assert report.chunks_embedded == store.count() > 20
    vector = store.collection.get(limit=1, include=["embeddings"])["embeddings"][0]
    assert len(vector) == embedder.dimension


def test_an_english_question_finds_the_english_page(sample_index):
    store, embedder, _ = sample_index
    assert "Partner sourcing service" in top_titles(store, embedder, "How do I find a hospital partner for a clinical investigation?")


def test_the_default_model_finds_an_english_page_for_a_french_question():
    embedder = load_embedder(KnowledgeSettings(_env_file=None).embedding_model)
    passages = [
        "Accreditation programme: how to apply. Download the application form, book a preparation call, "
        "submit the form and present to the expert committee.",
        "Partner sourcing service: we find clinical partners, subcontractors and labs among our members.",
        "Membership fee: start-ups 300 EUR, SMEs 900 EUR per year.",
    ]
    question = embedder.encode_queries(["Comment candidater au programme de labellisation ?"])[0]
    scores = embedder.encode_passages(passages) @ question
    assert scores.argmax() == 0


def test_the_default_model_side_by_side_gives_the_vectors_of_one_call():
    embedder = load_embedder("use-multilingual")
    embedder.bulk_from_texts = 0  # a short job, for the test's speed
    texts = [f"Appel à projets {i} pour les PME de la medtech" for i in range(40)] + \
            [f"The EIC Accelerator call number {i} supports start-ups" for i in range(40)]
    with embedder.bulk(len(texts)) as encoders:
        assert len(encoders) == 2
        side_by_side = [encoders[0](texts[:40]), encoders[1](texts[40:])]
    assert np.allclose(np.vstack(side_by_side), embedder.encode_passages(texts), atol=1e-6)
