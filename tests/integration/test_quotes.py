"""End to end with the real packaged model: the sentences an extractive answer quotes are the ones that answer."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from bot.conversation import Incoming
from bot.wiring import Services, default_ranking
from knowledge.settings import KnowledgeSettings
from knowledge.store import release_embedded_store
from tests.conftest import PARIS

pytestmark = pytest.mark.e2e

NOW = datetime(2026, 11, 25, 9, tzinfo=PARIS)


@pytest.mark.parametrize("lead, quoted", [(None, True), (0.0, False)])
def test_a_fiche_s_opening_answer_is_quoted(shared_data: Path, real_embedder, tmp_path: Path, lead, quoted):
    # The CNIL fiches that speak of a "procès" (police reports, trials): a later sentence of the asked fiche
    # shares more with the question than its opening "Non. Il n'est pas possible de modifier ...", which answers
    # it. A page's opening sentences score a little more (`Ranking.quote_lead_bonus`); without that, the
    # answer misses it (the 0.0 case shows the test can fail).
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for fiche in (shared_data / "dev-qa" / "cnil" / "corpus").glob("*.md"):
        if "procès" in fiche.read_text(encoding="utf-8").lower():
            shutil.copy(fiche, corpus)
    settings = KnowledgeSettings(store_path=tmp_path / "chroma", _env_file=None)
    ranking = default_ranking(settings) if lead is None else replace(default_ranking(settings), quote_lead_bonus=lead)
    services = Services(settings, embedder=real_embedder, chat_model=None, ranking=ranking, clock=lambda: NOW)
    try:
        assert services.ingestor().run([corpus]).ok
        reply = services.concierge.answer(Incoming("Procès-verbal de police : puis-je les faire rectifier ?",
                                                   role="member", now=NOW))
    finally:
        release_embedded_store(settings.store_path)
    assert not reply.abstained and "proces-verbal-de-police-puis-je" in reply.sources[0].path
    assert ("Il n'est pas possible de modifier après signature" in reply.answer) is quoted, reply.answer
