"""A small cluster knowledge base indexed once with the real default model, for answer tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.wiring import Services
from knowledge.embedding import load_embedder
from knowledge.pipeline import Ingestor
from knowledge.settings import KnowledgeSettings
from knowledge.store import open_store, release_embedded_store
from tests.conftest import PARIS

CORPUS = {
    "calls.csv": (
        "reference;title;funder;deadline;budget;eligibility;language;url;description\n"
        "EIC-ACC-2027;EIC Accelerator;European Innovation Council;2027-03-04;Grant up to EUR 2.5 million;"
        "Single start-ups and SMEs;en;https://kb.test/eic;Support for high-risk innovations of start-ups and SMEs.\n"
        "FEAS-2026;Feasibility aid for medtech projects;Region;2026-10-31;Up to EUR 30,000;Regional SMEs;en;"
        "https://kb.test/feasibility;Funds feasibility studies for medical device projects.\n"
        "INNOV-2027;Appel à projets Innov'Santé 2027;Région;2027-01-29;Jusqu'à 200 000 €;PME de la région;fr;"
        "https://kb.test/innov-sante;Projets de développement de produits de santé innovants.\n"
    ),
    "events.ics": (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n"
        "BEGIN:VEVENT\nUID:past@test\nDTSTART;TZID=Europe/Paris:20261015T090000\n"
        "DTEND;TZID=Europe/Paris:20261015T170000\nSUMMARY:Journée du financement de l'innovation\n"
        "DESCRIPTION:Rencontres avec Bpifrance et la Région.\nURL:https://kb.test/journee\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:ai@test\nDTSTART;TZID=Europe/Paris:20261210T140000\n"
        "DTEND;TZID=Europe/Paris:20261210T173000\nSUMMARY:Atelier IA en santé\n"
        "DESCRIPTION:Atelier sur le marquage CE des logiciels d'intelligence artificielle.\n"
        "LOCATION:Lyon\nURL:https://kb.test/atelier-ia\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:mdr@test\nDTSTART;TZID=Europe/Paris:20270114T110000\n"
        "DTEND;TZID=Europe/Paris:20270114T123000\nSUMMARY:Webinar on MDR clinical evaluation\n"
        "DESCRIPTION:Clinical evaluation plans under the Medical Device Regulation.\n"
        "LOCATION:Online\nURL:https://kb.test/mdr-webinar\nEND:VEVENT\n"
        "END:VCALENDAR\n"
    ),
    "accreditation.md": (
        "---\ntitle: Accreditation programme – how to apply\nurl: https://kb.test/accreditation\n---\n"
        "# Accreditation programme\n\nThe label is granted for two years by an expert committee.\n\n"
        "## How to apply\n\n1. Fill in the application form.\n2. Book a preparation call.\n"
        "3. Present the project to the expert committee.\n"
    ),
    "adhesion.md": (
        "---\ntitle: Adhésion au cluster – cotisation\nurl: https://kb.test/adhesion\n---\n"
        "# Adhésion\n\nLa cotisation annuelle d'une PME de moins de 50 salariés est de 900 EUR HT. "
        "Une start-up de moins de 3 ans paie 300 EUR HT.\n"
    ),
    "escalation.md": (
        "---\ntitle: Internal escalation procedure\naudience: staff\nurl: https://kb.test/internal\n---\n"
        "# Escalation\n\nQuestions about a member's invoices are forwarded to the account manager "
        "within one working day.\n"
    ),
    # One document per audience on topics of their own (public, member; staff above), and one whose text,
    # title and URL try to ping people and make links in Slack and Teams.
    "export-voucher.md": (
        "---\ntitle: Export voucher\naudience: public\nurl: https://kb.test/export-voucher\n---\n"
        "# Export voucher\n\nThe export voucher covers half of the travel expenses of a first trade mission "
        "abroad, up to EUR 5,000.\n"
    ),
    "clean-room.md": (
        "---\ntitle: Clean room booking\naudience: member\nurl: https://kb.test/clean-room\n---\n"
        "# Clean room\n\nThe shared ISO 7 clean room can be booked by the half day for EUR 250. "
        "Send the booking form to the lab manager two weeks ahead.\n"
    ),
    "press-kit.md": (
        "---\ntitle: \"Press kit <!here> | <@U123> [x](https://evil.test/t)\"\naudience: public\n"
        "url: \"https://kb.test/press kit?a=1&b=2|<!channel>\"\n---\n"
        "# Press kit\n\nJournalists download the press kit <!channel> <!here> <@U123> <#C1> <!subteam^S1> "
        "<at>Everyone</at> from [the press page](https://evil.test/phish) or <https://evil.test|the site>.\n"
    ),
}
# One question per audience: (question, the source's URL, words only that source says).
BY_AUDIENCE = {
    "public": ("What does the export voucher cover?", "https://kb.test/export-voucher", "travel expenses"),
    "member": ("How can I book the shared clean room?", "https://kb.test/clean-room", "EUR 250"),
    "staff": ("What is the internal escalation procedure for invoices?", "https://kb.test/internal",
              "account manager"),
}

TODAY = datetime(2026, 11, 22, 12, 0, tzinfo=PARIS)


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def real_embedder():
    return load_embedder("use-multilingual")


@pytest.fixture(scope="module")
def services(tmp_path_factory, real_embedder) -> Iterator[Services]:
    """Services over a real Chroma holding CORPUS, extractive answers, today = TODAY."""
    root = tmp_path_factory.mktemp("answers")
    settings = KnowledgeSettings(store_path=root / "chroma", staff_contact="the cluster team (team@kb.test)",
                                 staff_contact_fr="l'équipe du cluster (team@kb.test)",
                                 staff_contacts="de=das Cluster-Team (team@kb.test)", _env_file=None)
    store = open_store(settings.store_path, None, settings.collection, real_embedder.name, real_embedder.dimension)
    report = Ingestor(settings, store, real_embedder, now=lambda: TODAY).run([write_corpus(root / "kb")])
    assert report.ok, report.failed
    built = Services(settings, embedder=real_embedder, store=store, clock=lambda: TODAY)
    yield built
    release_embedded_store(settings.store_path)
