"""Chunks keep headings with their text, sentences whole, small records whole, and stable ids."""

from __future__ import annotations

import pytest

from knowledge.chunking import chunk_records, split_sentences, split_text
from knowledge.models import Record

LONG_SECTION = " ".join(f"Sentence number {i} explains one eligibility rule for SMEs." for i in range(60))
GUIDE = f"""# Guide

Short introduction.

## Eligibility

{LONG_SECTION}

## Contact

Write to the programme team.
"""


def test_every_chunk_carries_its_heading_path():
    pieces = split_text(GUIDE, 400)
    headings = [heading for heading, _ in pieces]
    assert headings[-1] == "Guide > Contact"
    assert all(h.startswith("Guide") for h in headings)
    eligibility = [text for heading, text in pieces if heading == "Guide > Eligibility"]
    assert len(eligibility) > 2, "a long section is cut into several chunks"


def test_no_chunk_ends_inside_a_sentence():
    for _, text in split_text(GUIDE, 400):
        assert text.rstrip().endswith("."), text[-40:]


def test_chunks_stay_near_the_target_size():
    assert all(len(text) <= 400 for _, text in split_text(GUIDE, 400))


def test_a_sentence_longer_than_a_chunk_is_still_cut():
    pieces = split_text("word " * 1000, 300)
    assert len(pieces) > 1 and all(len(text) <= 300 for _, text in pieces)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Le dossier est complet. La date limite est le 3 mars.", 2),
        ("See art. 5 of the regulation. It applies to SMEs.", 2),
        ("M. Dupont présente le programme. Inscription gratuite.", 2),
        ("Budget: EUR 2.5 million. Deadline: 4 March 2027.", 2),
        ("Is it open? Yes! Apply now.", 3),
    ],
)
def test_sentence_splitting_respects_abbreviations_and_numbers(text, expected):
    assert len(split_sentences(text)) == expected


def test_a_small_call_stays_in_one_chunk_even_with_paragraphs():
    call = Record(title="EIC Accelerator", text="Deadline: 2027-03-04\n\n" + "Details. " * 120,
                  kind="funding_call", whole=True)
    chunks = chunk_records([call], source_id="s/calls.csv", path="calls.csv", target_chars=400)
    assert len(chunks) == 1
    assert chunks[0].text.startswith("Deadline: 2027-03-04")


def test_ids_are_stable_and_numbered_across_records_of_a_source():
    records = [Record(title=f"Event {i}", text=f"Event {i} text.", kind="event", whole=True) for i in range(3)]
    first = chunk_records(records, source_id="s/events.ics", path="events.ics")
    again = chunk_records(records, source_id="s/events.ics", path="events.ics")
    assert [c.id for c in first] == ["s/events.ics:0", "s/events.ics:1", "s/events.ics:2"]
    assert [c.metadata["content_hash"] for c in first] == [c.metadata["content_hash"] for c in again]


def test_only_the_changed_passage_gets_a_new_hash():
    before = chunk_records([Record(title="Guide", text=GUIDE)], source_id="s/g.md", path="g.md", target_chars=400)
    edited = GUIDE.replace("Write to the programme team.", "Call the programme team.")
    after = chunk_records([Record(title="Guide", text=edited)], source_id="s/g.md", path="g.md", target_chars=400)
    changed = [a.id for a, b in zip(after, before) if a.metadata["content_hash"] != b.metadata["content_hash"]]
    assert changed == [after[-1].id]


def test_embedded_text_starts_with_title_and_heading_but_the_shown_passage_does_not():
    [chunk, *_] = chunk_records([Record(title="Guide", text="## Costs\n\nFree for members.")],
                                source_id="s/g.md", path="g.md")
    assert chunk.embed_text.startswith("Guide — Costs\n")
    assert chunk.text == "Free for members."
