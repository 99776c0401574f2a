"""Answer quality on the dev sets and query latency at ~10,000 chunks, beside the naive baseline.

    python bench/answers_bench.py [--sets gdpr,cnil-hard,crpa] [--latency-chunks 10000] [--model use-multilingual]
                                  [--set foreign_keyword_weight=0.3 ...] [--no-baseline]
                                  [--modes extractive,local,naive] [--llm-questions 40]

Modes: `extractive` (the offline default), `local` (the local model through `KB_LLM`: the server at
`KB_LLM_BASE_URL` when set, else one started for the run; `--llm-questions` evenly spaced questions per set,
40 by default, to stay under half an hour), `naive` (the baseline below: retrieval figures and latency only).
`--set NAME=VALUE` (repeatable) changes one number of the ranking configuration (`knowledge.ranking.Ranking`)
for the whole run, to compare variants; `--latency-chunks 0` and `--no-baseline` leave out the slow parts.

Quality: `python -m bot eval` metrics (our pipeline: hybrid retrieval, filters, extractive answers) per
dev set; "abst. recall" is on the set's own unanswerable questions, "abst. recall (gold removed)" on every
answerable question asked with its expected sources left out (`eval --remove-gold`), "false abst. rate" the
share of answerable questions (gold present) the bot declined, "source cited" the share of answerable
questions whose answer cites an expected source (what the member sees; compare with hit@5), "sources per
answer" how many it cites, "span cited" / "span in answer" the share of answers with an expected answer
span whose cited passages / own text (what the member reads, "[n]" markers left out) hold it, "answer
lang" the share of answers whose text (quotes included, as the member reads it) is in the question's
language; all next to the naive baseline
(RecursiveCharacterTextSplitter(1000, 200) + Chroma.from_documents + similarity_search top-4, same
embeddings; it returns 4 chunks, so its hit@5 is a hit@4 and it never abstains).
Latency: retrieval alone and the whole extractive answer, p50/p95 over the dev questions, on a generated
corpus of ~10,000 chunks, next to the baseline's similarity_search.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import fields, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEV_QA, percentile, read_jsonl, table  # noqa: E402

CORPUS = {"gdpr": "gdpr", "cnil-hard": "cnil", "cnil": "cnil", "crpa": "crpa"}
OWN_SETS = Path(__file__).resolve().parent / "data"  # dev sets we wrote ourselves: <name>/corpus, <name>/qa.jsonl
INGESTED = datetime(2027, 1, 4, 9, tzinfo=ZoneInfo("Europe/Paris"))  # the day our calendar set is ingested


def set_paths(name: str) -> tuple[Path, Path]:
    """A dev set's corpus folder and question file: ours under bench/data (the calendar set), else ../shared.
    One of ours without a corpus of its own asks another set's questions in another language over its corpus
    ("calendar-de": the calendar's, in German)."""
    own = OWN_SETS / name
    if (own / "qa.jsonl").exists():
        corpus = own / "corpus" if (own / "corpus").is_dir() else OWN_SETS / name.split("-")[0] / "corpus"
        return corpus, own / "qa.jsonl"
    if name not in CORPUS:
        raise SystemExit(f"--sets: unknown set {name!r} (known: {', '.join([*CORPUS, 'calendar', 'calendar-de'])})")
    return DEV_QA / CORPUS[name] / "corpus", DEV_QA / name / "qa.jsonl"


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
    for path in sorted(corpus.glob("*.ics")):  # what a user would write: one document per event, its fields
        import icalendar

        for event in icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT"):
            text = "\n".join(str(event.get(f, "")) for f in ("SUMMARY", "LOCATION", "DESCRIPTION"))
            start = event.get("DTSTART")
            docs.append(Document(page_content=f"{text}\n{start.dt if start else ''}",
                                 metadata={"path": path.name, "url": str(event.get("URL", ""))}))
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


def hit5_by_language(questions: list[dict], results: list[dict]) -> str:
    """hit@5 over distinct sources, per question language (as `eval` counts it), e.g. 'en 0.60 / fr 0.50'."""
    found: dict[str, list[bool]] = {}
    by_id = {q.get("id"): q for q in questions}
    for r in results:  # a subset of the questions (a local model's), matched by id
        q = by_id[r.get("id")]
        expected = set(q.get("expected") or [])
        if not (expected and q.get("answerable", True)):
            continue
        distinct = list(dict.fromkeys((i["url"], i["path"]) for i in r["retrieved"]))
        hit = any(url in expected or path in expected for url, path in distinct[:5])
        found.setdefault(q.get("lang") or "?", []).append(hit)
    return " / ".join(f"{lang} {sum(hits) / len(hits):.2f}" for lang, hits in sorted(found.items()))


def ranking_overrides(assignments: list[str]) -> dict[str, object]:
    """`["foreign_keyword_weight=0.3"]` -> {"foreign_keyword_weight": 0.3}, typed as the Ranking field."""
    from knowledge.ranking import Ranking

    types = {f.name: type(getattr(Ranking(), f.name)) for f in fields(Ranking)}
    out: dict[str, object] = {}
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        if name not in types or not value:
            raise SystemExit(f"--set {assignment!r}: expected NAME=VALUE with NAME one of {', '.join(types)}")
        try:
            out[name] = types[name](value)
        except ValueError:
            raise SystemExit(f"--set {assignment!r}: {name} takes a {types[name].__name__}") from None
    return out


MODES = ("extractive", "local", "naive")


def local_model_settings(tmp: Path) -> tuple[dict[str, object], object]:
    """`KB_LLM` settings for the local model: the server at `KB_LLM_BASE_URL` if set, else one started here
    (bot.local_llm, `make llm-install` first); returns the settings and the process to stop (or None)."""
    import os

    if os.environ.get("KB_LLM_BASE_URL"):
        return {"llm": os.environ.get("KB_LLM", "openai:local"), "llm_base_url": os.environ["KB_LLM_BASE_URL"],
                "llm_api_key": os.environ.get("KB_LLM_API_KEY", "local")}, None
    from bot import local_llm

    port = 8799
    process = local_llm.start(local_llm.assemble(), port=port)
    local_llm.wait_ready(local_llm.base_url(local_llm.DEFAULT_HOST, port), process)
    return {"llm": "openai:local", "llm_base_url": local_llm.base_url(local_llm.DEFAULT_HOST, port),
            "llm_api_key": "local", "llm_timeout": 60.0}, process


def quality(sets: list[str], model: str, overrides: dict[str, object], modes: list[str],
            llm_questions: int) -> list[list[object]]:
    from bot.evaluation import evaluate
    from bot.wiring import Services, default_ranking
    from knowledge.embedding import load_embedder
    from knowledge.settings import KnowledgeSettings
    from knowledge.store import release_embedded_store

    embedder = load_embedder(model)
    rows: list[list[object]] = []
    server = None
    with tempfile.TemporaryDirectory() as tmp:
        llm: dict[str, object] = {}
        if "local" in modes:
            llm, server = local_model_settings(Path(tmp))
        try:
            for name in sets:
                corpus, qa = set_paths(name)
                questions = read_jsonl(qa)
                settings = KnowledgeSettings(store_path=Path(tmp) / name, _env_file=None)
                ranking = replace(default_ranking(settings), **overrides)
                # Our calendar's recurring events are expanded around the day it is ingested: a fixed day, so
                # its figures do not drift with the machine's date (its questions carry their own "today").
                clock = {"clock": lambda: INGESTED} if corpus.parent.parent == OWN_SETS else {}
                Services(settings, embedder=embedder, ranking=ranking, **clock).ingestor().run([corpus])
                for mode in modes:
                    if mode == "naive":
                        base = baseline_quality(baseline_index(corpus, embedder, Path(tmp) / f"base-{name}"),
                                                questions)
                        rows.append([name, "naive (top 4)", sum(1 for q in questions if q.get("answerable", True)),
                                     f"{base['hit@1']:.2f}", f"{base['hit@5']:.2f}", "", "", f"{base['hit@5']:.2f}",
                                     4.0, "", "", "", "", "", "", f"{base['p50']:.0f}", f"{base['p95']:.0f}"])
                        continue
                    limit = llm_questions if mode == "local" else None
                    extra = llm if mode == "local" else {}
                    mode_settings = KnowledgeSettings(store_path=Path(tmp) / name, _env_file=None, **extra)
                    services = Services(mode_settings, embedder=embedder, ranking=ranking, **clock)
                    output = Path(tmp) / f"{name}-{mode}.jsonl"
                    metrics = evaluate(services, qa, output=output, limit=limit)
                    by_language = hit5_by_language(questions, read_jsonl(output))
                    # The same questions with their gold sources left out: near-domain unanswerable questions.
                    removed = evaluate(services, qa, remove_gold=True, limit=limit)
                    rows.append([name, mode if limit is None else f"{mode} ({metrics['questions']} q.)",
                                 metrics["questions"], metrics["hit@1"], metrics["hit@5"], by_language,
                                 metrics["mrr@10"], metrics["source_in_citations"], metrics["sources_cited_avg"],
                                 metrics["abstention_recall"], removed["abstention_recall"],
                                 metrics["false_abstention_rate"], metrics["span_in_citations"],
                                 metrics["span_in_answer"], metrics["answer_in_question_language"],
                                 metrics["latency_p50_ms"], metrics["latency_p95_ms"]])
                release_embedded_store(settings.store_path)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
    return rows


def latency(chunks: int, model: str) -> list[list[object]]:
    from ingest_bench import make_corpus

    from bot.conversation import Incoming
    from bot.wiring import Services
    from knowledge.embedding import load_embedder
    from knowledge.filters import Filters
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
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="change one number of the ranking configuration (repeatable)")
    parser.add_argument("--modes", default="extractive,naive",
                        help=f"comma-separated, of {', '.join(MODES)} (local: the local model, `make llm-install`)")
    parser.add_argument("--llm-questions", type=int, default=40,
                        help="questions per set for the local model (evenly spaced through the file)")
    parser.add_argument("--no-baseline", action="store_true", help="leave out the naive baseline")
    args = parser.parse_args()
    overrides = ranking_overrides(args.overrides)
    modes = [m for m in args.modes.split(",") if m and not (args.no_baseline and m == "naive")]
    if unknown := set(modes) - set(MODES):
        raise SystemExit(f"--modes: unknown {', '.join(sorted(unknown))} (known: {', '.join(MODES)})")
    print(f"model: {args.model}" + "".join(f"; {k}={v}" for k, v in overrides.items()))
    print(table(["set", "mode", "questions", "hit@1", "hit@5", "hit@5 by lang", "MRR@10", "source cited",
                 "sources per answer", "abst. recall", "abst. recall (gold removed)", "false abst. rate",
                 "span cited", "span in answer", "answer lang", "p50 ms", "p95 ms"],
                quality(args.sets.split(","), args.model, overrides, modes, args.llm_questions)))
    if args.latency_chunks <= 0:
        return
    print()
    print(table(["chunks", "questions", "retrieval p50 ms", "retrieval p95 ms", "answer p50 ms", "answer p95 ms",
                 "baseline p50 ms", "baseline p95 ms"], latency(args.latency_chunks, args.model)))


if __name__ == "__main__":
    main()
