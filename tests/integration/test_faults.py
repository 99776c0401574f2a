"""Faults an operator will meet, small and fast (bench/faults.py runs the same scenarios larger)."""

from __future__ import annotations

import pytest

from tests.chroma_server import ChromaServer
from tests.faults import kill_ingestion, reingest_while_answering

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("moment", ["embed:2", "chunks:1", "manifest:1", "remove:2", "done:1"])
def test_ingestion_killed_at_any_moment_is_completed_by_the_next_run_exactly(tmp_path, moment):
    outcome = kill_ingestion(tmp_path, moment, files=30)
    assert outcome.ok, outcome
    assert outcome.chunks_lost == 0 and outcome.duplicated == 0


def test_questions_during_a_reingest_in_the_bot_get_answers_then_see_the_new_document(tmp_path):
    outcome = reingest_while_answering(tmp_path, files=40)
    assert outcome.ok, outcome


def test_questions_during_ingest_in_another_process_against_a_chroma_server(tmp_path):
    with ChromaServer(tmp_path / "server") as url:
        outcome = reingest_while_answering(tmp_path, files=40, chroma_url=url)
    assert outcome.ok, outcome
