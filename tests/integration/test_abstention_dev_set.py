"""End to end with the real packaged model on a shared dev set: questions whose gold documents were never
ingested get "I don't know", the same questions with their gold present get answered."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.evaluation import evaluate
from bot.wiring import Services
from knowledge.settings import KnowledgeSettings
from knowledge.store import release_embedded_store

pytestmark = pytest.mark.e2e


def test_near_domain_questions_without_their_gold_get_i_dont_know_and_with_it_an_answer(
        shared_data: Path, real_embedder, tmp_path: Path):
    dev = shared_data / "dev-qa" / "crpa"
    settings = KnowledgeSettings(store_path=tmp_path / "chroma", _env_file=None)
    services = Services(settings, embedder=real_embedder, chat_model=None)
    try:
        assert services.ingestor().run([dev / "corpus"]).ok
        present = evaluate(services, dev / "qa.jsonl")
        removed = evaluate(services, dev / "qa.jsonl", remove_gold=True)
    finally:
        release_embedded_store(settings.store_path)
    assert present["false_abstention_rate"] <= 0.05, "answerable questions are answered"
    assert present["source_in_citations"] >= 0.9
    assert removed["abstention_recall"] >= 0.5, "questions whose documents were never ingested are declined"
