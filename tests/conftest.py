"""Shared fixtures: settings in tmp_path, a real embedded Chroma, the fake embedder, file builders."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from knowledge.loaders import LoadContext
from knowledge.pipeline import Ingestor
from knowledge.settings import KnowledgeSettings
from knowledge.store import KnowledgeStore, open_store, release_embedded_store
from tests.fakes.embedding import HashingEmbedder

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("CONCIERGE_SHARED_DATA", ROOT.parent / "shared" / "data"))
PARIS = ZoneInfo("Europe/Paris")
TODAY = datetime(2026, 11, 22, 9, 0, tzinfo=PARIS)
# The EIC Accelerator's deadline (2027-03-04) as answers write it, in the member's language.
EIC_DEADLINE = ("4 March 2027", "4 mars 2027", "4. März 2027")


def says_eic_deadline(text: str) -> bool:
    return any(written in text for written in EIC_DEADLINE)


@pytest.fixture
def shared_data() -> Path:
    """../shared/data; its absence is a failure, never a skip."""
    assert SHARED_DATA.is_dir(), f"shared data not found at {SHARED_DATA} (set CONCIERGE_SHARED_DATA)"
    return SHARED_DATA


@pytest.fixture
def ctx() -> LoadContext:
    return LoadContext(tz=PARIS, now=TODAY)


@pytest.fixture
def settings(tmp_path: Path) -> KnowledgeSettings:
    return KnowledgeSettings(store_path=tmp_path / "chroma", _env_file=None)


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def store(settings: KnowledgeSettings, embedder: HashingEmbedder) -> Iterator[KnowledgeStore]:
    yield open_store(settings.store_path, None, settings.collection, embedder.name, embedder.dimension)
    release_embedded_store(settings.store_path)


@pytest.fixture
def ingestor(settings: KnowledgeSettings, store: KnowledgeStore, embedder: HashingEmbedder) -> Ingestor:
    return Ingestor(settings, store, embedder, now=lambda: TODAY)


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """write("docs/a.md", "text") -> the file, under tmp_path/"kb" (bytes written as is)."""

    def _write(relpath: str, content: str | bytes) -> Path:
        path = tmp_path / "kb" / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return _write


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
