"""The same incremental ingestion against a real `chroma run` server on a free loopback port; and what members
see while that server is down, and once it is back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.conversation import Incoming
from bot.wiring import Services
from knowledge.answering import texts
from knowledge.pipeline import Ingestor
from knowledge.retrieval import Filters
from knowledge.settings import KnowledgeSettings
from knowledge.store import StoreError, open_store
from tests.chroma_server import ChromaServer
from tests.conftest import TODAY
from tests.fakes.embedding import HashingEmbedder

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[ChromaServer]:
    """One server for the module; a test may stop and restart it (same port, same data)."""
    running = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    running.start()
    yield running
    running.stop()


@pytest.fixture
def chroma_url(server: ChromaServer) -> str:
    return server.url


def test_incremental_ingestion_through_a_chroma_server(chroma_url, tmp_path, write):
    write("a.md", "# Alpha\n\nFirst document.\n")
    write("b.md", "# Beta\n\nSecond document.\n")
    kb = write("calls.csv", "title,deadline\nEIC Accelerator,2027-03-04\n").parent
    settings = KnowledgeSettings(store_path=tmp_path / "unused", chroma_url=chroma_url, _env_file=None)
    embedder = HashingEmbedder()
    store = open_store(settings.store_path, settings.chroma_url, "server_test", embedder.name, embedder.dimension)
    ingestor = Ingestor(settings, store, embedder, now=lambda: TODAY)

    first = ingestor.run([kb])
    assert len(first.added) == 3 and store.count() == 3
    assert not (tmp_path / "unused").exists(), "no embedded store is created when a server is configured"

    calls = len(embedder.calls)
    assert ingestor.run([kb]).chunks_embedded == 0 and len(embedder.calls) == calls

    write("a.md", "# Alpha\n\nFirst document, revised.\n")
    (kb / "b.md").unlink()
    third = ingestor.run([kb])
    assert (third.updated, third.removed) == (["kb/a.md"], ["kb/b.md"])

    # A second client (another process in production) sees the same index.
    other = open_store(settings.store_path, chroma_url, "server_test", embedder.name, embedder.dimension)
    assert set(other.sources()) == {"kb/a.md", "kb/calls.csv"}
    assert "revised" in other.collection.get(where={"source_id": "kb/a.md"})["documents"][0]


def test_a_stopped_server_gets_a_polite_unavailable_reply_and_answers_resume_when_it_is_back(server, tmp_path, write):
    kb = write("voucher.md", "# Quantum biotech voucher\n\nThe quantum biotech voucher pays up to 40,000 euros "
                             "for a first feasibility study with a partner laboratory.\n").parent
    write("adhesion.md", "# Adhésion\n\nLa cotisation annuelle d'une PME est de 900 EUR HT.\n")
    settings = KnowledgeSettings(store_path=tmp_path / "unused", chroma_url=server.url, _env_file=None)
    embedder = HashingEmbedder()
    store = open_store(settings.store_path, server.url, "outage_test", embedder.name, embedder.dimension)
    services = Services(settings, embedder=embedder, store=store, clock=lambda: TODAY)
    assert services.ingestor().run([kb]).ok
    question = Incoming("How much does the quantum biotech voucher pay?")
    assert services.concierge.answer(question).sources[0].path == "voucher.md"

    server.stop()
    try:
        for text, language in [("How much does the quantum biotech voucher pay?", "en"),
                               ("Combien coûte l'adhésion au cluster pour une PME ?", "fr")]:
            reply = services.concierge.answer(Incoming(text))
            assert (reply.note, reply.abstained, reply.sources, reply.language) == ("unavailable", True, [], language)
            assert reply.answer == texts(language)["unavailable"]
        with pytest.raises(StoreError, match="cannot reach the knowledge base at http://127.0.0.1"):
            services.retriever.search("voucher", Filters())
        assert services.status_line().startswith("The knowledge base cannot be reached: cannot reach")
    finally:
        server.start()  # same port, same data: the same objects answer again, no restart of the bot

    reply = services.concierge.answer(question)
    assert reply.note is None and not reply.abstained
    assert reply.sources[0].path == "voucher.md" and "40,000 euros" in reply.answer
    assert services.status_line().startswith("2 sources, 2 chunks; last ingestion ")
