"""The same incremental ingestion against a real `chroma run` server on a free loopback port."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge.pipeline import Ingestor
from knowledge.settings import KnowledgeSettings
from knowledge.store import open_store
from tests.conftest import TODAY, free_port
from tests.fakes.embedding import HashingEmbedder

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory) -> Iterator[str]:
    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    log = (data / "server.log").open("w")
    server = subprocess.Popen([chroma, "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _attempt in range(200):  # up to about a minute
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
                break
            except OSError:
                assert server.poll() is None, (data / "server.log").read_text()
                time.sleep(0.3)
        else:
            pytest.fail(f"chroma server did not answer its heartbeat: {(data / 'server.log').read_text()[-2000:]}")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


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
