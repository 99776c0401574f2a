"""Ingestion speed and memory at ~100, 1,000 and 10,000 chunks, beside the naive LangChain baseline.

    python bench/ingest_bench.py [--sizes 100,1000,10000] [--model use-multilingual]

Corpora are generated from the dev sets (../shared/data/dev-qa): Markdown files of ten sections, each
section one passage; variants beyond the dev data get a numbered title so their text (and hash) differs.
Each measurement runs in its own process so peak RSS is its own.

Columns:
- ours: first ingestion chunks/s; the same model's raw throughput on the same texts in the same process;
  their ratio (pipeline overhead; aim >= 0.9); re-ingestion of the unchanged corpus in seconds and as a
  fraction of the first (aim <= 0.02); peak RSS.
- baseline: RecursiveCharacterTextSplitter(1000, 200) + Chroma.from_documents with the same embedder;
  it has no incremental mode, so a re-run is a full rebuild.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEV_QA, bench_clock, peak_rss_mb, table  # noqa: E402


def passages() -> list[tuple[str, str]]:
    """(title, passage) pairs from the dev corpora, each short enough to be one chunk."""
    out = []
    for corpus in ("cnil", "gdpr", "crpa"):
        for path in sorted((DEV_QA / corpus / "corpus").glob("*.md")):
            text = path.read_text(encoding="utf-8")
            title = re.search(r"^title: (.+)$", text, re.MULTILINE)
            body = re.sub(r"\A---.*?---\s*", "", text, flags=re.DOTALL)
            for paragraph in re.split(r"\n\s*\n", body):
                paragraph = paragraph.strip()
                if 200 <= len(paragraph) <= 900 and not paragraph.startswith("#"):
                    out.append(((title.group(1) if title else path.stem).strip("'\""), paragraph))
    return out


def make_corpus(folder: Path, chunks: int) -> None:
    pool = passages()
    per_file = 10
    for file_index in range(0, chunks, per_file):
        sections = []
        for i in range(file_index, min(file_index + per_file, chunks)):
            title, text = pool[i % len(pool)]
            variant = i // len(pool)
            name = f"{title} (variant {variant})" if variant else title
            sections.append(f"## {name}\n\n{text}")
        (folder / f"doc-{file_index // per_file:05d}.md").write_text(
            f"# Generated document {file_index // per_file}\n\n" + "\n\n".join(sections) + "\n", encoding="utf-8")


def run_ours(corpus: Path, store: Path, model: str) -> dict:
    from knowledge.embedding import load_embedder
    from knowledge.pipeline import Ingestor
    from knowledge.settings import KnowledgeSettings
    from knowledge.store import open_store

    embedder = load_embedder(model)
    embedder.encode_passages(["warm up"])
    settings = KnowledgeSettings(store_path=store, _env_file=None)
    kb = open_store(store, None, "bench", embedder.name, embedder.dimension)
    ingestor = Ingestor(settings, kb, embedder, now=bench_clock())
    started = time.perf_counter()
    first = ingestor.run([corpus])
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    again = ingestor.run([corpus])
    again_s = time.perf_counter() - started
    assert again.chunks_embedded == 0
    texts = [d for d in kb.collection.get(include=["documents"])["documents"]]
    metas = kb.collection.get(include=["metadatas"])["metadatas"]
    embed_texts = [f"{m['title']} — {m['heading']}\n{t}" for m, t in zip(metas, texts)]
    started = time.perf_counter()
    for start in range(0, len(embed_texts), settings.embed_batch):
        embedder.encode_passages(embed_texts[start : start + settings.embed_batch])
    raw_s = time.perf_counter() - started
    return {"chunks": first.chunks_embedded, "first_s": first_s, "again_s": again_s,
            "raw_per_s": len(embed_texts) / raw_s, "rss_mb": peak_rss_mb()}


def run_baseline(corpus: Path, store: Path, model: str) -> dict:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from knowledge.embedding import load_embedder

    embedder = load_embedder(model)
    embedder.encode_passages(["warm up"])

    def build(name: str) -> tuple[int, float]:
        started = time.perf_counter()
        docs = [Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": p.name})
                for p in sorted(corpus.glob("*.md"))]
        chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
        db = Chroma.from_documents(chunks, embedder, collection_name=name, persist_directory=str(store))
        db.delete_collection()  # a naive re-run starts from scratch
        return len(chunks), time.perf_counter() - started

    count, first_s = build("baseline")
    _, again_s = build("baseline")
    return {"chunks": count, "first_s": first_s, "again_s": again_s, "rss_mb": peak_rss_mb()}


def in_subprocess(kind: str, size: int, model: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--one", kind, "--sizes", str(size), "--model", model],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--model", default="use-multilingual")
    parser.add_argument("--one", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            corpus = Path(tmp) / "corpus"
            corpus.mkdir()
            make_corpus(corpus, sizes[0])
            run = run_ours if args.one == "ours" else run_baseline
            print(json.dumps(run(corpus, Path(tmp) / "store", args.model)))
        return
    rows = []
    for size in sizes:
        ours = in_subprocess("ours", size, args.model)
        base = in_subprocess("baseline", size, args.model)
        ours_rate = ours["chunks"] / ours["first_s"]
        rows.append([
            size, ours["chunks"], f"{ours_rate:.0f}", f"{ours['raw_per_s']:.0f}",
            f"{ours_rate / ours['raw_per_s']:.2f}", f"{ours['again_s']:.2f}",
            f"{ours['again_s'] / ours['first_s']:.3f}", f"{ours['rss_mb']:.0f}",
            base["chunks"], f"{base['chunks'] / base['first_s']:.0f}", f"{base['again_s']:.1f}",
            f"{base['rss_mb']:.0f}",
        ])
    print(f"model: {args.model}")
    print(table(["target", "chunks", "ours chunks/s", "raw model/s", "ratio", "re-run s", "re-run/first",
                 "ours RSS MB", "base chunks", "base chunks/s", "base re-run s", "base RSS MB"], rows))


if __name__ == "__main__":
    main()
