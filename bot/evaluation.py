"""`python -m bot eval`: answers a JSON Lines question set and scores retrieval, abstention, citations,
language and latency."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from knowledge.language import detect_language
from knowledge.models import AUDIENCES


class QuestionFileError(ValueError):
    """The question set cannot be used; the message names the file, the line and what is wrong."""


class EvaluationAborted(RuntimeError):
    """The evaluation stopped before the end (the knowledge base became unavailable)."""


def load_questions(path: Path) -> list[dict]:
    """The rows of a JSON Lines question set, checked: one JSON object per line, each with a `question`.

    A line looks like `{"id": "q1", "question": "Quelle est la date limite de l'EIC Accelerator ?",
    "expected": ["https://..."]}`; a malformed one raises `QuestionFileError` naming it.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise QuestionFileError(f"{path} is not UTF-8 text: expected JSON Lines, one JSON object per line") from None
    except OSError as exc:
        raise QuestionFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    rows: list[dict] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QuestionFileError(f"{where}: not JSON ({exc.msg}): expected one JSON object per line") from None
        if not isinstance(row, dict):
            raise QuestionFileError(f"{where}: expected a JSON object like {{\"question\": \"...\"}}")
        if not isinstance(row.get("question"), str) or not row["question"].strip():
            raise QuestionFileError(f"{where}: no \"question\" (a non-empty string)")
        if row.get("role") is not None and row["role"] not in AUDIENCES:
            raise QuestionFileError(f"{where}: \"role\" must be one of {', '.join(AUDIENCES)}, not {row['role']!r}")
        if row.get("today"):
            try:
                date.fromisoformat(str(row["today"]))
            except ValueError:
                raise QuestionFileError(f"{where}: \"today\" is not a date (YYYY-MM-DD): {row['today']!r}") from None
        expected = row.get("expected")
        if expected is not None and not (isinstance(expected, list) and all(isinstance(e, str) for e in expected)):
            raise QuestionFileError(f"{where}: \"expected\" must be a list of URLs or paths")
        rows.append(row)
    if not rows:
        raise QuestionFileError(f"{path} holds no questions: expected one JSON object per line, "
                                "each with a \"question\"")
    return rows


_CITATION_MARK = re.compile(r"\s*\[\d+\]\s*")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _expected_rank(retrieved: list[dict[str, str]], expected: set[str]) -> int | None:
    """Where the first expected source comes among the first 10 distinct retrieved sources (0-based)."""
    distinct: list[tuple[str, str]] = []
    for item in retrieved:
        key = (item["url"], item["path"])
        if key not in distinct:
            distinct.append(key)
    return next((i for i, (url, path) in enumerate(distinct[:10]) if url in expected or path in expected), None)


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 3) if flags else None


@dataclass
class _Tally:
    """What the answers to a question set add up to."""

    ranks: list[int | None] = field(default_factory=list)
    abstain_pairs: list[tuple[bool, bool]] = field(default_factory=list)  # (abstained, answerable)
    span_hits: list[bool] = field(default_factory=list)
    quoted_hits: list[bool] = field(default_factory=list)  # the expected span in the answer's own text
    cited_hits: list[bool] = field(default_factory=list)  # an expected source among those the answer cites
    cited_counts: list[int] = field(default_factory=list)  # sources cited per (non-abstained) answer
    language_ok: list[bool] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def add(self, row: dict, reply) -> None:  # noqa: ANN001 - a bot.conversation.Reply
        expected = set(row.get("expected") or [])
        answerable = bool(row.get("answerable", bool(expected)))
        self.latencies.append(reply.latency_ms)
        self.abstain_pairs.append((reply.abstained, answerable))
        if answerable and expected:
            self.ranks.append(_expected_rank(reply.retrieved, expected))
            self.cited_hits.append(not reply.abstained and any(
                s.url in expected or s.path in expected for s in reply.sources))
        if not reply.abstained:
            self.cited_counts.append(len(reply.sources))
        if answerable and row.get("answer") and not reply.abstained:
            cited = " ".join(s.snippet for s in reply.sources) + " " + reply.answer
            self.span_hits.append(_norm(row["answer"]) in _norm(cited))
            # ... and in what the member reads (quotes joined again: "[1]" markers and line breaks left out)
            self.quoted_hits.append(_norm(row["answer"]) in _norm(_CITATION_MARK.sub(" ", reply.answer)))
        if not reply.abstained and row.get("lang"):  # the reply's language as the member reads it, quotes included
            self.language_ok.append(detect_language(reply.answer, default="?") == row["lang"])

    def metrics(self, questions: int) -> dict[str, object]:
        ranks, n = self.ranks, len(self.ranks)
        abstained = [a for a, _ in self.abstain_pairs if a]
        unanswerable = [a for a, ok in self.abstain_pairs if not ok]
        answerable = [a for a, ok in self.abstain_pairs if ok]
        correct_abstentions = sum(1 for a, ok in self.abstain_pairs if a and not ok)
        return {
            "questions": questions,
            "answerable_with_expected": n,
            "hit@1": _share([r is not None and r < 1 for r in ranks]),
            "hit@5": _share([r is not None and r < 5 for r in ranks]),
            "mrr@10": round(sum(1 / (r + 1) for r in ranks if r is not None) / n, 3) if n else None,
            "abstention_precision": round(correct_abstentions / len(abstained), 3) if abstained else None,
            "abstention_recall": round(correct_abstentions / len(unanswerable), 3) if unanswerable else None,
            "abstained": len(abstained),
            "unanswerable": len(unanswerable),
            "false_abstentions": sum(answerable),
            "false_abstention_rate": _share(answerable),  # abstained on an answerable question
            "source_in_citations": _share(self.cited_hits),  # what the member sees; compare with hit@5
            "sources_cited_avg": (round(sum(self.cited_counts) / len(self.cited_counts), 2)
                                  if self.cited_counts else None),
            "span_in_citations": _share(self.span_hits),
            "span_in_answer": _share(self.quoted_hits),
            "answer_in_question_language": _share(self.language_ok),
            "latency_p50_ms": round(_percentile(self.latencies, 0.5), 1),
            "latency_p95_ms": round(_percentile(self.latencies, 0.95), 1),
        }


def evaluate(services, qa_path: Path, *, role: str = "member", output: Path | None = None,  # noqa: ANN001
             default_today: datetime | None = None, remove_gold: bool = False,
             limit: int | None = None) -> dict[str, object]:
    """Answer every question of `qa_path`; write per-question results to `output`; return the metrics.

    `remove_gold=True` measures abstention on near-domain unanswerable questions: each answerable question
    with `expected` sources is asked with those sources left out (as if they had never been ingested) and
    counted as unanswerable; the other questions are skipped. Its `abstention_recall` is the share the bot
    abstained on; `false_abstention_rate` comes from the normal run (answerable questions, gold present).

    `limit` keeps that many questions, evenly spaced through the file (a fixed subset, the same at every run,
    for slow answerers such as a local model).

    Raises `QuestionFileError` for a file `load_questions` rejects, and `EvaluationAborted` when the knowledge
    base becomes unavailable (the metrics would be meaningless).
    """
    from bot.conversation import Incoming

    rows = load_questions(qa_path)
    if limit is not None and len(rows) > limit:  # evenly spaced: both languages and every part of the file
        rows = [rows[i * len(rows) // limit] for i in range(limit)]
    if remove_gold:
        rows = [{**row, "answerable": False, "gold_removed": True} for row in rows
                if row.get("expected") and row.get("answerable", True)]
    tally = _Tally()
    sink = output.open("w", encoding="utf-8") if output else None
    try:
        for number, row in enumerate(rows, start=1):
            now = default_today
            if row.get("today"):
                now = datetime.combine(date.fromisoformat(str(row["today"])), time(12, 0), services.tz)
            exclude = tuple(row["expected"]) if remove_gold else ()
            reply = services.concierge.answer(Incoming(row["question"], role=row.get("role") or role, now=now,
                                                       exclude=exclude))
            if reply.note == "unavailable":
                raise EvaluationAborted(f"the knowledge base became unavailable at question {number} "
                                        f"of {len(rows)}: {reply.answer}")
            tally.add(row, reply)
            if sink:
                extra = {"gold_removed": True} if remove_gold else {}
                sink.write(json.dumps({"id": row.get("id"), **extra, **reply.as_dict()}, ensure_ascii=False) + "\n")
    finally:
        if sink:
            sink.close()
    return tally.metrics(len(rows))


def format_metrics(metrics: dict[str, object]) -> str:
    width = max(len(k) for k in metrics)
    return "\n".join(f"{key.ljust(width)}  {'—' if value is None else value}" for key, value in metrics.items())
