"""An ingestion process to kill: the real Ingestor and embedded Chroma store, the fast hashing embedder,
and a pause at a chosen moment so a test (or bench/faults.py) can `kill -9` it exactly there.

    python -m tests.fakes.killable_ingest STORE CORPUS --pause-at manifest:1

Moments (`NAME:N`, the N-th time it happens): `embed` (before an embedding call), `chunks` (before a
batch of chunks is written), `manifest` (after a group's chunks are written, before their manifest
entries), `remove` (between deleting a pruned source's chunks and its manifest entry). The process prints
`PAUSED NAME:N` on stdout and sleeps; with no pause (or one never reached) it ingests and prints `DONE`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from knowledge.clock import fixed_clock
from knowledge.pipeline import Ingestor
from knowledge.settings import KnowledgeSettings
from knowledge.store import KnowledgeStore, open_store
from tests.fakes.embedding import HashingEmbedder

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
COLLECTION = "faults"


class Pause:
    """Counts moments; at the chosen one, says so on stdout and waits to be killed."""

    def __init__(self, spec: str | None) -> None:
        name, _, count = (spec or ":").partition(":")
        self.name, self.at = name, int(count or 0)
        self.seen: dict[str, int] = {}

    def moment(self, name: str) -> None:
        self.seen[name] = self.seen.get(name, 0) + 1
        if name == self.name and self.seen[name] == self.at:
            print(f"PAUSED {name}:{self.at}", flush=True)
            while True:
                time.sleep(60)


class PausingEmbedder(HashingEmbedder):
    """The hashing embedder, paced like a real model (`pace` seconds per text) and reporting its calls."""

    def __init__(self, pause: Pause | None = None, pace: float = 0.0) -> None:
        super().__init__()
        self._pause, self._pace = pause, pace

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        if self._pause is not None:
            self._pause.moment("embed")
        time.sleep(self._pace * len(texts))
        return super().encode_passages(texts)


class _Watched:
    """A Chroma collection whose writes announce themselves to the pause (before they happen)."""

    def __init__(self, collection, pause: Pause, upsert: str | None, delete: str | None) -> None:  # noqa: ANN001
        self._collection, self._pause, self._upsert, self._delete = collection, pause, upsert, delete

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._collection, name)

    def upsert(self, **kwargs):  # noqa: ANN003, ANN201
        if self._upsert:
            self._pause.moment(self._upsert)
        return self._collection.upsert(**kwargs)

    def delete(self, **kwargs):  # noqa: ANN003, ANN201
        if self._delete:
            self._pause.moment(self._delete)
        return self._collection.delete(**kwargs)


class PausingStore(KnowledgeStore):
    """The real store; its two collections report their writes to the pause."""

    def __init__(self, store: KnowledgeStore, pause: Pause) -> None:
        self.__dict__.update(store.__dict__)
        self._chunks = _Watched(store._chunks, pause, upsert="chunks", delete=None)
        # A pruned source loses its chunks first, then its manifest entry: `remove` pauses in between.
        self._sources = _Watched(store._sources, pause, upsert="manifest", delete="remove")


def open_faults_store(store_path: Path, chroma_url: str | None = None, dimension: int = 64) -> KnowledgeStore:
    return open_store(store_path, chroma_url, COLLECTION, HashingEmbedder.name, dimension)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("store", type=Path)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--pause-at")
    parser.add_argument("--pace", type=float, default=0.0, help="seconds per embedded text (a real model's pace)")
    parser.add_argument("--chroma-url", help="ingest into a Chroma server instead of the embedded store")
    args = parser.parse_args(argv)
    pause = Pause(args.pause_at)
    settings = KnowledgeSettings(store_path=args.store, _env_file=None, embed_batch=8)
    store = PausingStore(open_faults_store(args.store, args.chroma_url), pause)
    report = Ingestor(settings, store, PausingEmbedder(pause, args.pace), now=fixed_clock(NOW)).run([args.corpus])
    pause.moment("done")  # `done:1`: the run finished, the process lives on (like a bot after a reingest)
    print("DONE" if report.ok else f"FAILED {report.failed}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
