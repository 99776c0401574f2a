"""Scale: how the bot answers over 10k to 250k chunks (issue 12), with the figures before beside it.

    python bench/scale.py [--sizes 10000,50000,100000,250000] [--server-size 100000] [--questions 60]

For each size it writes a synthetic FR/EN corpus (Markdown documents with audiences, a CSV of funding calls,
and a few dozen "needle" facts with made-up names), ingests it with the project's Ingestor into a fresh
embedded store (and, for `--server-size`, into a `chroma run` server), then in a fresh process: the first
answer after start, retrieval and whole-answer latency (p50/p95), the plain Chroma query beside it, the next
answer after a run elsewhere that added 10 documents (and whether it cites one), peak RSS, and the needles found at
top-1 and top-10. The embedder is a fast hashing one (words hashed into 512 dimensions), so that only the
store and retrieval are measured, as in the issue.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import percentile, table  # noqa: E402

from knowledge.embedding import Embedder  # noqa: E402
from knowledge.text import keywords  # noqa: E402

CHUNKS_PER_FILE = 20
NEEDLES = 30
WORDS_EN = ("innovation funding programme hospital clinical trial medtech startup partner laboratory regional "
            "grant application deadline consortium digital health device patient data interoperability "
            "training workshop mission export accreditation audit cluster member service").split()
WORDS_FR = ("innovation financement programme hôpital essai clinique medtech jeune pousse partenaire laboratoire "
            "régional subvention candidature date limite consortium santé numérique dispositif patient données "
            "interopérabilité formation atelier mission export accréditation audit pôle adhérent service").split()
SYLLABLES = "zor vex tal qui mer dun bra kel pho nix lum tar vig sol pen dra".split()


class FastHashingEmbedder(Embedder):
    """Keywords (stemmed, stop words out) hashed (crc32) into 512 dimensions, L2-normalised: stable across
    processes, no model; a question and the passage that answers it share their rare words, as with a model."""

    name = "bench-hashing-512"
    dimension = 512

    def encode_passages(self, texts):  # noqa: ANN001, ANN201
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in keywords(text):
                out[row, zlib.crc32(word.encode()) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)

    def encode_queries(self, texts):  # noqa: ANN001, ANN201
        return self.encode_passages(texts)


def needle_name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize() + "ia"  # never a filler word


def vocabulary(rng: random.Random, words: list[str], size: int = 3000) -> tuple[list[str], list[float]]:
    """The domain words and `size` made-up ones, with Zipf weights (1/rank), as words are in real text."""
    made_up = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(size)]
    ordered = [*words, *made_up]
    rng.shuffle(ordered)
    return ordered, [1.0 / (rank + 1) for rank in range(len(ordered))]


def write_corpus(folder: Path, chunks: int, seed: int = 7) -> list[dict]:
    """Markdown files of CHUNKS_PER_FILE sections (~450 characters each) and a calls CSV; returns the needles."""
    rng = random.Random(seed)
    english_words, french_words = vocabulary(rng, WORDS_EN), vocabulary(rng, WORDS_FR)
    files = max(1, chunks // CHUNKS_PER_FILE)
    needles = {rng.randrange(files * CHUNKS_PER_FILE): None for _ in range(NEEDLES)}
    found: list[dict] = []
    docs = folder / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        french = f % 2 == 1
        words, weights = french_words if french else english_words
        audience = rng.choices(["public", "member", "staff"], weights=[90, 8, 2])[0]
        parts = [f"---\ntitle: {'Note' if french else 'Note'} {f}\naudience: {audience}\n---\n"]
        for s in range(CHUNKS_PER_FILE):
            at = f * CHUNKS_PER_FILE + s
            body = " ".join(rng.choices(words, weights=weights, k=45))
            if at in needles and audience == "public":
                name, amount = needle_name(rng), rng.randrange(10, 99) * 1000
                fact = (f"Le programme {name} verse {amount} euros aux PME." if french
                        else f"The {name} programme pays {amount} euros to SMEs.")
                more = (f"Les candidatures au programme {name} sont ouvertes aux adhérents." if french
                        else f"Applications to the {name} programme are open to members.")
                body = f"{fact} {more} {' '.join(body.split()[:15])}"  # a section about the programme
                # Asked in the document's language: the hashing embedder knows no translation (a model does).
                question = (f"Combien verse le programme {name} ?" if french else
                            f"How much does the {name} programme pay?")
                found.append({"question": question, "source": f"docs/note{f:06d}.md", "amount": str(amount)})
            parts.append(f"## {'Section' if not french else 'Partie'} {s}\n\n{body}.\n")
        (docs / f"note{f:06d}.md").write_text("\n".join(parts), encoding="utf-8")
    calls = ["id,title,deadline,url,summary"]
    for c in range(max(10, chunks // 500)):
        month = 1 + c % 12
        calls.append(f"CALL-{c},Call {c} for medtech SMEs,2027-{month:02d}-15,https://calls.test/{c},"
                     f"Funding for digital health projects number {c}")
    (folder / "calls.csv").write_text("\n".join(calls) + "\n", encoding="utf-8")
    return found


def peak_rss_mb() -> float:
    """This process's own peak RSS, in MB (VmHWM). Not `ru_maxrss` on Linux: a process started by `subprocess`
    (vfork, then exec) inherits its parent's peak there, here the ingestion of the whole corpus, which a bot
    started on its own (systemd, a container) does not carry."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def probe(args: argparse.Namespace) -> None:
    """In a fresh process: open the services, answer, measure; prints one JSON line."""
    from bot.conversation import Incoming
    from bot.wiring import Services
    from knowledge.filters import Filters
    from knowledge.keyword_index import KeywordIndex
    from knowledge.pipeline import Ingestor
    from knowledge.settings import KnowledgeSettings

    needles = json.loads(Path(args.needles).read_text())
    started = time.perf_counter()
    settings = KnowledgeSettings(store_path=Path(args.store), chroma_url=args.chroma_url or None,
                                 sources=[Path(args.corpus)], _env_file=None)
    services = Services(settings, embedder=FastHashingEmbedder())
    first = services.concierge.answer(Incoming(needles[0]["question"]))
    first_s = time.perf_counter() - started
    retrieval, answers, top1, top10 = [], [], 0, 0
    now = services.clock()
    questions = [n["question"] for n in needles] + [
        "Which funding calls close before March?", "Quels appels ferment avant mars ?",
        "What does the programme fund for hospitals?", "Quelles formations pour les adhérents ?"]
    for i in range(args.questions):
        question = questions[i % len(questions)]
        t = time.perf_counter()
        hits = services.retriever.search(question, Filters(role="member", now=now), k=10)
        retrieval.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        services.concierge.answer(Incoming(question))
        answers.append((time.perf_counter() - t) * 1000)
        if i < len(needles):
            sources = [str(h.metadata.get("source_id", "")) for h in hits]
            top1 += bool(sources) and sources[0].endswith(needles[i]["source"])
            top10 += any(s.endswith(needles[i]["source"]) for s in sources)
    vector = FastHashingEmbedder().encode_queries([needles[0]["question"]])[0].tolist()
    plain = []
    for _ in range(30):
        t = time.perf_counter()
        services.store.collection.query(query_embeddings=[vector], n_results=5)
        plain.append((time.perf_counter() - t) * 1000)
    rss = peak_rss_mb()
    # A run that adds 10 documents (as staff's reingest does), then the next answer.
    extra = Path(args.corpus) / "docs" / "added"
    extra.mkdir(exist_ok=True)
    for n in range(10):
        (extra / f"new{n}.md").write_text(f"# Added {n}\n\nThe Quorbantix{n} scheme opens to SMEs in May.\n")
    # The run happens elsewhere (another process or machine, with its own copy of the keyword index): the bot
    # notices it at its next question and syncs what changed.
    elsewhere = Ingestor(settings, services.store, services.embedder, now=services.clock,
                         keyword_index=KeywordIndex(Path(args.store).parent / "elsewhere.keywords.sqlite3"))
    elsewhere.run([Path(args.corpus)])
    t = time.perf_counter()
    after = services.concierge.answer(Incoming("What is the Quorbantix3 scheme?"))
    next_s = time.perf_counter() - t
    cited_new = any("added/new3" in (s.url or "") for s in after.sources)
    print(json.dumps({
        "first_s": first_s, "first_ok": bool(first.sources), "retrieval": retrieval, "answers": answers,
        "plain": plain, "rss_mb": rss, "next_s": next_s, "cited_new": cited_new,
        "top1": top1 / min(len(needles), args.questions), "top10": top10 / min(len(needles), args.questions),
    }))


def measure(size: int, server: bool, questions: int) -> list[object]:
    from bot.wiring import Services
    from knowledge.settings import KnowledgeSettings
    from knowledge.store import release_embedded_store
    from tests.chroma_server import ChromaServer

    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        corpus = Path(tmp) / "corpus"
        needles = write_corpus(corpus, size)
        (Path(tmp) / "needles.json").write_text(json.dumps(needles))
        chroma = ChromaServer(Path(tmp) / "server-data") if server else None
        url = chroma.start() if chroma else ""
        try:
            settings = KnowledgeSettings(store_path=Path(tmp) / "store", chroma_url=url or None,
                                         sources=[corpus], _env_file=None)
            services = Services(settings, embedder=FastHashingEmbedder())
            t = time.perf_counter()
            report = services.ingestor().run([corpus])
            ingest_s = time.perf_counter() - t
            chunks = services.store.count()
            assert report.ok, report.failed[:3]
            services.store.close()
            release_embedded_store(settings.store_path)
            del services
            got = subprocess.run(
                [sys.executable, __file__, "--probe", "--store", str(Path(tmp) / "store"), "--corpus", str(corpus),
                 "--needles", str(Path(tmp) / "needles.json"), "--questions", str(questions),
                 "--chroma-url", url], capture_output=True, text=True, check=False)
            if got.returncode:
                raise RuntimeError(got.stderr[-2000:])
            m = json.loads(got.stdout.strip().splitlines()[-1])
        finally:
            if chroma:
                chroma.stop()
    return [f"{chunks:,}", "server" if server else "embedded", f"{ingest_s:.0f}",
            f"{m['first_s']:.1f}", f"{percentile(m['retrieval'], .5):.0f} / {percentile(m['retrieval'], .95):.0f}",
            f"{percentile(m['answers'], .5):.0f} / {percentile(m['answers'], .95):.0f}",
            f"{percentile(m['plain'], .5):.1f}", f"{m['next_s']:.2f} ({'cited' if m['cited_new'] else 'NOT cited'})",
            f"{m['rss_mb'] / 1024:.2f}", f"{m['top1']:.2f} / {m['top10']:.2f}"]


BASELINE = [
    ["10k", "embedded", "", "2.3–3.1", "51 / 62", "", "3", "12–36 s rebuild", "0.43–0.62", ""],
    ["50k", "embedded", "", "fails (11–15 paged)", "182 / 240", "", "2–4", "rebuild", "1.0–2.3", ""],
    ["100k", "embedded", "", "fails (23–28 paged)", "343 / 429", "", "3", "rebuild", "1.65–2.5", ""],
    ["target 100k", "", "", "≤ 3", "p95 ≤ 50", "p95 ≤ 100", "", "≤ 1 s, cited", "≤ 1.5", ""],
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,50000,100000,250000")
    parser.add_argument("--server-size", type=int, default=100000, help="0: no Chroma server run")
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--needles", help=argparse.SUPPRESS)
    parser.add_argument("--chroma-url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe(args)
        return
    headers = ["chunks", "store", "ingest s", "first answer after start s", "retrieval p50 / p95 ms",
               "answer p50 / p95 ms", "plain Chroma k=5 p50 ms", "next answer after +10 docs s", "RSS GB",
               "needles top-1 / top-10"]
    runs = [(int(s), False) for s in args.sizes.split(",") if s]
    if args.server_size:
        runs.append((args.server_size, True))
    rows = []
    for size, server in runs:
        rows.append(measure(size, server, args.questions))
        print(table(headers, [rows[-1]]), flush=True)
    print("\nNow (fast hashing embedder, 2 cores):")
    print(table(headers, rows))
    print("\nBefore (issue 12, same machine) and targets:")
    print(table(headers, BASELINE))


if __name__ == "__main__":
    main()
