"""Ingestion speed and memory at ~100, 1,000 and 10,000 chunks, beside the naive LangChain baseline.

    python bench/ingest_bench.py [--sizes 100,1000,10000] [--model use-multilingual]
    python bench/ingest_bench.py --first-run [--chunks 10000] [--model use-multilingual] [--profile out.prof]

Corpora are generated from the dev sets (../shared/data/dev-qa): Markdown files of ten sections, each
section one passage; variants beyond the dev data get a numbered title so their text (and hash) differs.
Each measurement runs in its own process so peak RSS is its own.

Columns:
- ours: first ingestion chunks/s; the same model's raw throughput on the same texts in the same process;
  their ratio (pipeline overhead; aim >= 0.9); re-ingestion of the unchanged corpus in seconds and as a
  fraction of the first (aim <= 0.02); peak RSS.
- baseline: RecursiveCharacterTextSplitter(1000, 200) + Chroma.from_documents with the same embedder;
  it has no incremental mode, so a re-run is a full rebuild.

--first-run (issue 12, "first ingestion >= 0.9x the model's raw throughput"): one process, a FR/EN corpus of
Markdown files grown until it chunks into --chunks chunks (default settings: 500-char chunks, batch 64). The
model's raw passages/s is measured on exactly the texts ingestion embeds, in the same batches, once before
and once after the first ingestion into a fresh embedded store (the machine is shared: the two bracket it);
the ratio uses their mean. Stage times come from the progress callback.
The raw speed is the model called as any caller would, one batch at a time (for the default model: one
two-threaded call). Ingestion hands batches to the model's side-by-side encoders when it offers them
(`Embedder.bulk`: two single-threaded models, which keep both cores busy); the last two columns compare
ingestion with those encoders fed with no pipeline at all, the ceiling it can reach.
"""

from __future__ import annotations

import argparse
import json
import os
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


def make_chunked_corpus(folder: Path, target_chunks: int, chunk_chars: int) -> list[str]:
    """Write Markdown files (20 FR/EN sections each) until they chunk into `target_chunks`; the texts to embed.

    The texts are what ingestion embeds, in its order, once per content hash (it embeds each hash once).
    """
    from knowledge.chunking import chunk_records
    from knowledge.loaders import load

    ctx = _load_context()
    pool = passages()
    texts: dict[str, str] = {}
    index = 0
    file_number = 0
    while len(texts) < target_chunks:
        sections = []
        for _ in range(20):
            title, text = pool[index % len(pool)]
            variant = index // len(pool)
            sections.append(f"## {title} (variant {variant})\n\n{text}" if variant else f"## {title}\n\n{text}")
            index += 1
        path = folder / f"doc-{file_number:05d}.md"
        path.write_text(f"# Generated document {file_number}\n\n" + "\n\n".join(sections) + "\n", encoding="utf-8")
        file_number += 1
        loaded = load(path, ctx)
        for chunk in chunk_records(loaded.records, source_id=path.name, path=path.name, target_chars=chunk_chars):
            texts.setdefault(str(chunk.metadata["content_hash"]), chunk.embed_text)
    return list(texts.values())


def _load_context():  # noqa: ANN202 - the LoadContext ingestion uses, from default settings
    from zoneinfo import ZoneInfo

    from knowledge.loaders import LoadContext
    from knowledge.settings import KnowledgeSettings

    s = KnowledgeSettings(_env_file=None)
    return LoadContext(
        tz=ZoneInfo(s.timezone), now=bench_clock()(), recurrence_past_days=s.recurrence_past_days,
        recurrence_future_days=s.recurrence_future_days, max_file_mb=s.max_file_mb, max_text_mb=s.max_text_mb,
        max_unpacked_mb=s.max_unpacked_mb, max_depth=s.max_depth, max_occurrences=s.max_occurrences,
    )


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the file reader), all threads."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def raw_rate(embedder, texts: list[str], batch: int, cpu: list[float] | None = None) -> float:  # noqa: ANN001
    """Passages/s of the bare model on `texts`, `batch` at a time; appends the CPU seconds used to `cpu`."""
    started, cpu_started = time.perf_counter(), cpu_seconds()
    for start in range(0, len(texts), batch):
        embedder.encode_passages(texts[start : start + batch])
    if cpu is not None:
        cpu.append(cpu_seconds() - cpu_started)
    return len(texts) / (time.perf_counter() - started)


def side_by_side_rate(embedder, texts: list[str], batch: int) -> float | None:  # noqa: ANN001
    """Passages/s of the model's own side-by-side encoders (`Embedder.bulk`), fed as fast as they go, or None
    when it offers one: what ingestion could reach with no pipeline cost at all."""
    from concurrent.futures import ThreadPoolExecutor

    with embedder.bulk(len(texts)) as encoders:
        if len(encoders) < 2:
            return None
        chunks = [texts[start : start + batch] for start in range(0, len(texts), batch)]
        started = time.perf_counter()
        with ThreadPoolExecutor(len(encoders)) as pool:
            list(pool.map(lambda n: [encoders[n](c) for c in chunks[n :: len(encoders)]], range(len(encoders))))
        return len(texts) / (time.perf_counter() - started)


def first_run(target_chunks: int, model: str, profile: str | None) -> None:
    from knowledge.embedding import load_embedder
    from knowledge.keyword_index import KeywordIndex
    from knowledge.pipeline import Ingestor
    from knowledge.settings import KnowledgeSettings
    from knowledge.store import open_store, release_embedded_store

    embedder = load_embedder(model)
    embedder.encode_passages(["warm up"])
    with tempfile.TemporaryDirectory() as tmp:
        corpus, store = Path(tmp) / "corpus", Path(tmp) / "store"
        corpus.mkdir()
        settings = KnowledgeSettings(store_path=store, _env_file=None)
        texts = make_chunked_corpus(corpus, target_chunks, settings.chunk_chars)
        files = len(list(corpus.glob("*.md")))
        raw_cpu: list[float] = []
        raw_before = raw_rate(embedder, texts, settings.embed_batch, raw_cpu)

        kb = open_store(store, None, "bench", embedder.name, embedder.dimension)
        # As ingest.py wires it: the keyword index is written beside the store in the same run.
        ingestor = Ingestor(settings, kb, embedder, now=bench_clock(),
                            keyword_index=KeywordIndex(settings.keyword_index_file()))
        marks: dict[str, float] = {}

        def progress(stage: str, done: int, total: int) -> None:
            marks.setdefault(stage, time.perf_counter())

        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        started, cpu_started = time.perf_counter(), cpu_seconds()
        report = ingestor.run([corpus], progress=progress)
        ingest_s = time.perf_counter() - started
        ingest_cpu = cpu_seconds() - cpu_started  # the file reader has exited: its CPU time is counted
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        assert report.ok and report.chunks_embedded == len(texts), (report.failed[:3], report.chunks_embedded)
        stored = kb.count()
        kb.close()
        release_embedded_store(store)
        raw_after = raw_rate(embedder, texts, settings.embed_batch, raw_cpu)

    raw = (raw_before + raw_after) / 2
    side_by_side = side_by_side_rate(embedder, texts, settings.embed_batch)
    ours = len(texts) / ingest_s
    reading_s = marks.get("embedding", started) - started
    print(f"model: {model}; {files} files, {stored} chunks ({len(texts)} distinct texts), "
          f"batch {settings.embed_batch}; raw before/after ingestion: {raw_before:.0f} / {raw_after:.0f} passages/s")
    print(f"stages: reading+chunking {reading_s:.1f} s, embedding+writing {ingest_s - reading_s:.1f} s, "
          f"total {ingest_s:.1f} s (embedding alone at the raw rate: {len(texts) / raw:.1f} s)")
    # On a shared machine wall-clock rates swing with the neighbours' load; CPU seconds per chunk swing less.
    cpu_ratio = (sum(raw_cpu) / 2) / ingest_cpu
    print(f"CPU seconds: model alone {sum(raw_cpu) / 2:.1f}, first ingestion {ingest_cpu:.1f} "
          f"(ratio {cpu_ratio:.2f}); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(table(["chunks", "raw model passages/s", "first ingestion chunks/s", "ratio", "baseline ratio",
                 "target", "CPU-time ratio", "model side by side /s", "ratio to it"],
                [[len(texts), f"{raw:.0f}", f"{ours:.0f}", f"{ours / raw:.2f}", "0.70-0.83", ">= 0.90",
                  f"{cpu_ratio:.2f}", f"{side_by_side:.0f}" if side_by_side else "-",
                  f"{ours / side_by_side:.2f}" if side_by_side else "-"]]))


def in_subprocess(kind: str, size: int, model: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--one", kind, "--sizes", str(size), "--model", model],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--model", default="use-multilingual")
    parser.add_argument("--one", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--first-run", action="store_true", help="first ingestion vs the model's raw speed only")
    parser.add_argument("--chunks", type=int, default=10_000, help="chunks in the --first-run corpus")
    parser.add_argument("--profile", help="--first-run: write a cProfile of the ingestion to this file")
    args = parser.parse_args()
    if args.first_run:
        first_run(args.chunks, args.model, args.profile)
        return
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
