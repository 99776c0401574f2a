"""A recurring event asked about ("When is the partner café?") is answered with its next occurrence, in any
language: its occurrences differ only by their dates, so which one retrieval ranked first was chance."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.conversation import Incoming
from bot.wiring import Services
from knowledge.settings import KnowledgeSettings
from knowledge.store import release_embedded_store
from tests.conftest import PARIS

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

CAFE = (
    "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//kb.test//EN\nBEGIN:VEVENT\nUID:cafe@kb.test\n"
    "DTSTART;TZID=Europe/Paris:20260908T083000\nDTEND;TZID=Europe/Paris:20260908T100000\n"
    "RRULE:FREQ=MONTHLY;BYDAY=2TU;COUNT=10\nSUMMARY:Café partenaires\n"
    "DESCRIPTION:Petit-déjeuner mensuel entre membres pour trouver des partenaires.\n"
    "LOCATION:Maison de l'innovation, Lyon\nEND:VEVENT\nEND:VCALENDAR\n"
)
GUIDE = "---\ntitle: Partner sourcing\n---\n# Partner sourcing\n\nThe cluster finds partners for its members.\n"


@pytest.fixture
def services(settings: KnowledgeSettings, write, tmp_path: Path, real_embedder) -> Iterator[Services]:
    write("events.ics", CAFE)
    write("partners.md", GUIDE)
    # Occurrences are expanded around the injected clock's today (90 days back, 365 ahead): pinned.
    built = Services(settings, embedder=real_embedder, chat_model=None,
                     clock=lambda: datetime(2026, 11, 25, 9, tzinfo=PARIS))
    assert built.ingestor().run([tmp_path / "kb"]).ok
    yield built
    release_embedded_store(settings.store_path)


@pytest.mark.parametrize("question, today, said", [
    ("When is the partner café?", datetime(2026, 11, 25, 9, tzinfo=PARIS), "8 December 2026, 08:30"),
    ("Quand a lieu le café partenaires ?", datetime(2026, 11, 25, 9, tzinfo=PARIS), "8 décembre 2026 à 08:30"),
    ("When is the partner café?", datetime(2027, 2, 1, 9, tzinfo=PARIS), "9 February 2027, 08:30"),
    # after the last occurrence: the latest one, said to be past
    ("Quand a lieu le café partenaires ?", datetime(2027, 8, 1, 9, tzinfo=PARIS), "8 juin 2027 à 08:30"),
])
def test_a_recurring_event_is_answered_with_its_next_occurrence(services, question, today, said):
    reply = services.concierge.answer(Incoming(question, now=today))
    assert not reply.abstained and reply.sources[0].title == "Café partenaires"
    status_line = reply.answer.splitlines()[1]
    assert said in status_line, reply.answer
