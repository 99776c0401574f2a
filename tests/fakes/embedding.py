"""A fast, deterministic embedder for unit and integration tests: hashed bags of words."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from knowledge.embedding import Embedder


class HashingEmbedder(Embedder):
    """Words hashed into a fixed-size vector: similar texts get similar vectors, no model needed.

    Records every call so tests can assert what was (not) embedded; `fail_after` makes the
    N+1-th call raise, to simulate a crash in the middle of an ingestion.
    """

    name = "test-hashing"

    def __init__(self, dimension: int = 64, fail_after: int | None = None) -> None:
        self.dimension = dimension
        self.calls: list[list[str]] = []
        self.fail_after = fail_after

    @property
    def texts_embedded(self) -> int:
        return sum(len(c) for c in self.calls)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt("simulated Ctrl-C during embedding")
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                bucket = int.from_bytes(hashlib.md5(word.encode()).digest()[:4], "little") % self.dimension
                out[row, bucket] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)
