"""Which embedding model retrieves best across French and English? Dense retrieval only, our pipeline.

    python bench/embedders.py [--models use-multilingual,e5-small,all-MiniLM-L6-v2] [--sets gdpr,cnil-hard]

For each model and dev set: ingest the corpus (our loaders and chunking) into a fresh Chroma, ask every
answerable question, and count whether an expected source is among the top k distinct sources.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import DEV_QA, bench_clock, read_jsonl, table  # noqa: E402

from knowledge.embedding import load_embedder  # noqa: E402
from knowledge.pipeline import Ingestor  # noqa: E402
from knowledge.settings import KnowledgeSettings  # noqa: E402
from knowledge.store import open_store, release_embedded_store  # noqa: E402

CORPUS = {"gdpr": "gdpr", "cnil-hard": "cnil", "cnil": "cnil", "crpa": "crpa"}


def ranked_sources(store, embedder, question: str, k: int = 10) -> list[tuple[str, str]]:
    vector = embedder.encode_queries([question])[0].tolist()
    got = store.collection.query(query_embeddings=[vector], n_results=60, include=["metadatas"])
    seen: list[tuple[str, str]] = []
    for meta in got["metadatas"][0]:
        key = (str(meta["url"]), str(meta["path"]))
        if key not in seen:
            seen.append(key)
        if len(seen) == k:
            break
    return seen


def evaluate(model: str, sets: list[str]) -> list[list[object]]:
    rows = []
    embedder = load_embedder(model)
    for name in sets:
        corpus = DEV_QA / CORPUS[name] / "corpus"
        questions = [q for q in read_jsonl(DEV_QA / name / "qa.jsonl") if q.get("answerable", True)]
        with tempfile.TemporaryDirectory() as tmp:
            settings = KnowledgeSettings(store_path=Path(tmp), _env_file=None)
            store = open_store(settings.store_path, None, "bench", embedder.name, embedder.dimension)
            started = time.perf_counter()
            report = Ingestor(settings, store, embedder, now=bench_clock()).run([corpus])
            ingest_s = time.perf_counter() - started
            by_lang: dict[str, list[int]] = {}
            for q in questions:
                ranks = ranked_sources(store, embedder, q["question"])
                expected = set(q["expected"])
                rank = next((i for i, (url, path) in enumerate(ranks) if url in expected or path in expected), None)
                by_lang.setdefault(q.get("lang", "?"), []).append(99 if rank is None else rank)
            release_embedded_store(Path(tmp))
        for lang, ranks in sorted(by_lang.items()):
            n = len(ranks)
            rows.append([model, name, lang, n, f"{sum(r < 1 for r in ranks) / n:.2f}",
                         f"{sum(r < 5 for r in ranks) / n:.2f}",
                         f"{sum(1 / (r + 1) for r in ranks if r < 10) / n:.3f}",
                         report.chunks_embedded, f"{report.chunks_embedded / ingest_s:.0f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default="use-multilingual,e5-small,all-MiniLM-L6-v2")
    parser.add_argument("--sets", default="gdpr,cnil-hard")
    args = parser.parse_args()
    rows = []
    for model in args.models.split(","):
        rows += evaluate(model, args.sets.split(","))
    print(table(["model", "set", "q lang", "n", "hit@1", "hit@5", "MRR@10", "chunks", "chunks/s"], rows))


if __name__ == "__main__":
    main()
