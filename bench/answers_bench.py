"""Answer quality on the dev sets and query latency at ~10,000 chunks, beside the naive baseline.

    python bench/answers_bench.py [--sets gdpr,cnil-hard,crpa] [--latency-chunks 10000] [--model use-multilingual]

Quality: `python -m bot eval` metrics (our pipeline: hybrid retrieval, filters, extractive answers) per
dev set, next to the naive baseline (RecursiveCharacterTextSplitter(1000, 200) + Chroma.from_documents +
similarity_search top-4, same embeddings; it returns 4 chunks, so its hit@5 is a hit@4 and it never abstains).
Latency: retrieval alone and the whole extractive answer, p50/p95 over the dev questions, on a generated
corpus of ~10,000 chunks, next to the baseline's similarity_search.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEV_QA, read_jsonl, table  # noqa: E402

CORPUS = {"gdpr": "gdpr", "cnil-hard": "cnil", "cnil": "cnil", "crpa": "crpa"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


def baseline_index(corpus: Path, embedder, where: Path):  # noqa: ANN001
    import yaml
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    docs = []
    for path in sorted(corpus.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        meta = {"path": path.name, "url": ""}
        if text.startswith("---"):
            _, front, text = text.split("---", 2)
            meta["url"] = str((yaml.safe_load(front) or {}).get("url") or "")
        docs.append(Document(page_content=text, metadata=meta))
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    return Chroma.from_documents(chunks, embedder, collection_name="baseline", persist_directory=str(where))


def baseline_quality(db, questions: list[dict]) -> dict:
    ranks, latencies = [], []
    for q in questions:
        if not q.get("answerable", True):
            continue
        started = time.perf_counter()
        found = db.similarity_search(q["question"], k=4)
        latencies.append((time.perf_counter() - started) * 1000)
        expected = set(q["expected"])
        ranks.append(next((i for i, d in enumerate(found)
                           if d.metadata["url"] in expected or d.metadata["path"] in expected), None))
    n = len(ranks)
    return {"hit@1": sum(r == 0 for r in ranks) / n, "hit@5": sum(r is not None for r in ranks) / n,
            "p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95)}


def quality(sets: list[str], model: str) -> list[list[object]]:
    from bot.evaluation import evaluate
    from bot.wiring import Services
    from knowledge.embedding import load_embedder
    from knowledge.settings import KnowledgeSettings
    from knowledge.store import release_embedded_store

    embedder = load_embedder(model)
    rows = []
    for name in sets:
        corpus = DEV_QA / CORPUS[name] / "corpus"
        with tempfile.TemporaryDirectory() as tmp:
            settings = KnowledgeSettings(store_path=Path(tmp) / "ours", _env_file=None)
            services = Services(settings, embedder=embedder)
            services.ingestor().run([corpus])
            metrics = evaluate(services, DEV_QA / name / "qa.jsonl")
            release_embedded_store(settings.store_path)
            base = baseline_quality(baseline_index(corpus, embedder, Path(tmp) / "base"),
                                    read_jsonl(DEV_QA / name / "qa.jsonl"))
        rows.append([name, metrics["hit@1"], f"{base['hit@1']:.2f}", metrics["hit@5"], f"{base['hit@5']:.2f}",
                     metrics["mrr@10"], metrics["abstention_precision"], metrics["abstention_recall"],
                     metrics["false_abstentions"], metrics["span_in_citations"],
                     metrics["answer_in_question_language"], metrics["latency_p50_ms"], metrics["latency_p95_ms"]])
    return rows


def latency(chunks: int, model: str) -> list[list[object]]:
    from ingest_bench import make_corpus

    from bot.conversation import Incoming
    from bot.wiring import Services
    from knowledge.embedding import load_embedder
    from knowledge.retrieval import Filters
    from knowledge.settings import KnowledgeSettings

    embedder = load_embedder(model)
    questions = [q["question"] for name in ("gdpr", "cnil-hard") for q in read_jsonl(DEV_QA / name / "qa.jsonl")]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        make_corpus(corpus, chunks)
        services = Services(KnowledgeSettings(store_path=Path(tmp) / "ours", _env_file=None), embedder=embedder)
        report = services.ingestor().run([corpus])
        services.retriever.refresh()
        retrieval, answer = [], []
        for question in questions:
            started = time.perf_counter()
            services.retriever.search(question, Filters(role="member"), k=10)
            retrieval.append((time.perf_counter() - started) * 1000)
            answer.append(services.concierge.answer(Incoming(question)).latency_ms)
        db = baseline_index(corpus, embedder, Path(tmp) / "base")
        base = []
        for question in questions:
            started = time.perf_counter()
            db.similarity_search(question, k=4)
            base.append((time.perf_counter() - started) * 1000)
    return [[report.chunks_embedded, len(questions),
             f"{percentile(retrieval, .5):.0f}", f"{percentile(retrieval, .95):.0f}",
             f"{percentile(answer, .5):.0f}", f"{percentile(answer, .95):.0f}",
             f"{percentile(base, .5):.0f}", f"{percentile(base, .95):.0f}"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="gdpr,cnil-hard,crpa")
    parser.add_argument("--latency-chunks", type=int, default=10000)
    parser.add_argument("--model", default="use-multilingual")
    args = parser.parse_args()
    print(f"model: {args.model}")
    print(table(["set", "hit@1", "base hit@1", "hit@5", "base hit@4", "MRR@10", "abst. prec.", "abst. recall",
                 "false abst.", "span cited", "answer lang", "p50 ms", "p95 ms"],
                quality(args.sets.split(","), args.model)))
    print()
    print(table(["chunks", "questions", "retrieval p50 ms", "retrieval p95 ms", "answer p50 ms", "answer p95 ms",
                 "baseline p50 ms", "baseline p95 ms"], latency(args.latency_chunks, args.model)))


if __name__ == "__main__":
    main()
