"""Fakes of the services a desk stands on: a concierge that answers from a script, an ingestion that blocks
until released, and `Services` without Chroma. Each subclasses the real interface."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from bot.conversation import Concierge, Incoming, Reply
from bot.wiring import Services
from knowledge.answering import SourceRef
from knowledge.language import detect_language
from knowledge.models import IngestReport
from knowledge.settings import KnowledgeSettings


class ScriptedConcierge(Concierge):
    """Answers every question with one source named after the asker's role, and remembers what it was asked.
    `fail_with` makes the next answers raise it."""

    def __init__(self) -> None:  # no retriever, no answerer: nothing to search
        self.asked: list[Incoming] = []
        self.fail_with: Exception | None = None

    def answer(self, incoming: Incoming) -> Reply:
        self.asked.append(incoming)
        if self.fail_with is not None:
            raise self.fail_with
        source = SourceRef(n=1, title=f"For {incoming.role}", url=f"https://kb.test/{incoming.role}",
                           path=f"{incoming.role}.md", kind="document", snippet="", score=1.0)
        return Reply(question=incoming.text, language=detect_language(incoming.text),
                     answer=f"An answer [1] to {incoming.text}", abstained=False, sources=[source])


class BlockingIngestor:
    """An ingestion that runs until the test releases it, and counts its runs."""

    def __init__(self, report: IngestReport | None = None, error: Exception | None = None) -> None:
        self.started, self.release, self.runs = threading.Event(), threading.Event(), 0
        self.report = report or IngestReport(unchanged=["kb/calls.csv"])
        self.error = error

    def run(self, sources: Sequence[Path]) -> IngestReport:
        self.runs += 1
        self.started.set()
        assert self.release.wait(30), "never released"
        if self.error is not None:
            raise self.error
        return self.report


class FakeServices(Services):
    """`Services` with the scripted concierge and a chosen ingestion; no store, no model."""

    def __init__(self, now: datetime, *, ingestor: BlockingIngestor | None = None,
                 status: str = "3 sources, 12 chunks; last ingestion never, 0 failed.") -> None:
        self.settings = KnowledgeSettings(sources=["kb"], _env_file=None)
        self.clock = lambda: now
        self.concierge = ScriptedConcierge()
        self.blocking_ingestor = ingestor or BlockingIngestor()
        self._status = status

    def ingestor(self) -> BlockingIngestor:  # type: ignore[override]
        return self.blocking_ingestor

    def status_line(self) -> str:
        return self._status
