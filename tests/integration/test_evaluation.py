"""`eval --remove-gold`: a question asked without its gold sources is answered as if they had never been
ingested, so abstention is measured on near-domain unanswerable questions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.conversation import Incoming
from bot.evaluation import evaluate
from bot.wiring import Services
from knowledge.settings import KnowledgeSettings
from tests.fakes.embedding import HashingEmbedder

pytestmark = pytest.mark.integration

CORPUS = {
    "clean-room.md": "---\ntitle: Clean room booking\nurl: https://kb.test/clean-room\n---\n# Clean room\n\n"
                     "The shared ISO 7 clean room can be booked by the half day for EUR 250. "
                     "Send the booking form to the lab manager two weeks ahead.\n",
    # No url: the source is known by its path (as `expected` may name it).
    "lab-equipment.md": "# Lab equipment\n\nThe cluster's lab lends a 3D printer and a spectrometer to members. "
                        "Book the lab equipment with the lab manager one week ahead.\n",
    "membership.md": "---\ntitle: Membership fee\nurl: https://kb.test/membership\n---\n# Membership\n\n"
                     "The annual membership fee of an SME is EUR 900.\n",
}
QUESTIONS = [
    {"id": "q1", "question": "How do I book the clean room?", "lang": "en",
     "expected": ["https://kb.test/clean-room"], "answerable": True},
    {"id": "q2", "question": "How do I book the lab equipment?", "lang": "en",
     "expected": ["lab-equipment.md"], "answerable": True},
    {"id": "q3", "question": "What is the capital of Australia?", "lang": "en", "expected": [], "answerable": False},
]


@pytest.fixture
def services(settings: KnowledgeSettings, write, tmp_path: Path) -> Iterator[Services]:
    for name, text in CORPUS.items():
        write(name, text)
    built = Services(settings, embedder=HashingEmbedder(), chat_model=None)
    built.ingestor().run([tmp_path / "kb"])
    yield built
    from knowledge.store import release_embedded_store

    release_embedded_store(settings.store_path)


def cited(reply) -> set[str]:  # noqa: ANN001 - a bot.conversation.Reply
    return {s.url for s in reply.sources} | {s.path for s in reply.sources}


def retrieved(reply) -> set[str]:  # noqa: ANN001
    return {r["url"] for r in reply.retrieved} | {r["path"] for r in reply.retrieved}


@pytest.mark.parametrize("question, gold, named_as, its_words", [
    ("How do I book the clean room?", "https://kb.test/clean-room", "https://kb.test/clean-room", "EUR 250"),
    ("How do I book the clean room?", "https://kb.test/clean-room", "clean-room.md", "EUR 250"),  # by its path
    ("How do I book the lab equipment?", "lab-equipment.md", "lab-equipment.md", "3D printer"),
])
def test_a_question_asked_without_its_gold_source_is_never_answered_from_it(services, question, gold, named_as,
                                                                            its_words):
    with_gold = services.concierge.answer(Incoming(question))
    assert gold in cited(with_gold) and its_words in with_gold.answer, "the gold source answers when it is there"
    without = services.concierge.answer(Incoming(question, exclude=(named_as,)))
    assert gold not in cited(without) and gold not in retrieved(without)
    assert its_words not in without.answer


def test_eval_with_gold_removed_asks_every_answerable_question_as_an_unanswerable_one(services, tmp_path):
    qa = tmp_path / "qa.jsonl"
    qa.write_text("".join(json.dumps(row) + "\n" for row in QUESTIONS), encoding="utf-8")
    out = tmp_path / "removed.jsonl"
    removed = evaluate(services, qa, output=out, remove_gold=True)
    assert (removed["questions"], removed["unanswerable"], removed["answerable_with_expected"]) == (2, 2, 0)
    assert removed["abstention_recall"] == round(removed["abstained"] / 2, 3)
    assert removed["false_abstention_rate"] is None  # no answerable question in this run
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2"] and all(r["gold_removed"] for r in rows)
    for row, asked in zip(rows, QUESTIONS):
        found = {s["url"] for s in row["sources"]} | {s["path"] for s in row["sources"]}
        found |= {r["url"] for r in row["retrieved"]} | {r["path"] for r in row["retrieved"]}
        assert not found & set(asked["expected"])

    normal = evaluate(services, qa)
    assert (normal["questions"], normal["unanswerable"], normal["hit@1"]) == (3, 1, 1.0)
    assert normal["false_abstention_rate"] == round(normal["false_abstentions"] / 2, 3) == 0.0
