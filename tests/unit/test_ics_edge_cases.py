"""Every real-world or broken calendar in ../shared/data/ics-edge-cases either ingests or fails cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.loaders import LoaderError, load
from tests.conftest import SHARED_DATA

EDGE_CASES = sorted((SHARED_DATA / "ics-edge-cases").glob("*.*cal")) + sorted(
    (SHARED_DATA / "ics-edge-cases").glob("*.ics"))


def test_the_edge_case_set_is_present():
    assert len({p.name for p in EDGE_CASES}) >= 121, f"expected 116 .ics + 5 .jcal under {SHARED_DATA}"


@pytest.mark.parametrize("path", sorted(set(EDGE_CASES)), ids=lambda p: p.name)
def test_calendar_ingests_or_fails_with_a_one_line_reason(path: Path, ctx):
    try:
        loaded = load(path, ctx)
    except LoaderError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    for record in loaded.records:
        assert record.kind == "event" and record.title
        assert record.dates["start"].tzinfo is not None, "every start is time-zone aware"
        assert record.dates["end"] >= record.dates["start"]
    assert all("\n" not in problem for problem in loaded.problems)


@pytest.mark.parametrize("name", ["broken_ical.ics", "big_bad_calendar.ics", "parsing_error.ics"])
def test_known_broken_calendars_are_refused(name, ctx, shared_data):
    with pytest.raises(LoaderError):
        load(shared_data / "ics-edge-cases" / name, ctx)


def test_new_york_forward_reference_keeps_its_time_zone(ctx, shared_data):
    records = load(shared_data / "ics-edge-cases" / "america_new_york_forward_reference.ics", ctx).records
    assert records and all(r.dates["start"].utcoffset() is not None for r in records)
