"""Hostile files at the loader level: each fails fast with one line naming the limit, or is read within it.

The files are built here, small on disk; where it costs little they are at the scale found in the field
(a JSON nested 200,000 levels, a 400 MB zip bomb, a 30 MB text file, 100,000 nested <div>).
"""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from knowledge.chunking import chunk_records
from knowledge.loaders import LoadContext, LoaderError, load
from knowledge.loaders.documents import html_to_text
from knowledge.models import Record
from knowledge.settings import KnowledgeSettings
from knowledge.worker import FileFailed, FileJob, FileWorker, read_file
from tests.hostile_files import (
    MB,
    NEVER,
    calendar,
    deep_json,
    docx_bytes,
    malformed_docx,
    nested_divs,
    sparse_file,
    zip_of_zeros,
)


@contextmanager
def no_hang(seconds: int = 60) -> Iterator[None]:
    """Stop a block that hangs (what these tests guard against) rather than hang the suite. Not a speed
    check: speed is measured in bench/, never asserted in tests."""

    def stop(signum, frame) -> None:  # noqa: ANN001
        raise TimeoutError(f"still running after {seconds} s: it hangs")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_load_context_limits_default_to_the_settings():
    settings = KnowledgeSettings(_env_file=None)
    ctx = LoadContext(tz=None, now=None)  # type: ignore[arg-type]
    for name in ("max_file_mb", "max_text_mb", "max_unpacked_mb", "max_depth", "max_occurrences",
                 "recurrence_past_days", "recurrence_future_days"):
        assert getattr(ctx, name) == getattr(settings, name), name


@pytest.mark.parametrize("field", ["recurrence_past_days", "recurrence_future_days"])
def test_the_recurrence_window_is_bounded(field):
    with pytest.raises(ValueError, match=field):
        KnowledgeSettings(**{field: 100 * 365}, _env_file=None)


# --- DOCX -----------------------------------------------------------------------------------------------------


def test_docx_with_malformed_xml_fails_with_one_line(write, ctx):
    path = write("broken.docx", malformed_docx())
    with pytest.raises(LoaderError, match=r"^corrupt DOCX: a part is not valid XML \(.+\)$"):
        load(path, ctx)


def test_docx_zip_bomb_of_400_mb_is_refused_by_its_declared_size(write, ctx):
    path = write("bomb.docx", zip_of_zeros(400))
    assert path.stat().st_size < MB
    refused = r"unpacks to 400\.0 MB, over the 200 MB limit \(KB_MAX_UNPACKED_MB\)"
    with no_hang(), pytest.raises(LoaderError, match=refused):
        load(path, ctx)


def test_docx_whose_declared_sizes_lie_is_never_unpacked_past_them(write, ctx):
    path = write("liar.docx", zip_of_zeros(20, declared=1000))  # claims 1 KB, inflates to 20 MB
    with no_hang(), pytest.raises(LoaderError, match="DOCX"):
        load(path, dataclasses.replace(ctx, max_unpacked_mb=1))


def test_docx_within_the_limits_is_read(write, ctx):
    path = write("guide.docx", docx_bytes("Accreditation", "The label is granted for two years."))
    [record] = load(path, dataclasses.replace(ctx, max_unpacked_mb=1)).records
    assert record.title == "Accreditation" and "two years" in record.text


# --- Deep nesting -------------------------------------------------------------------------------------------


def test_json_nested_200000_levels_is_refused_without_recursion(write, ctx):
    path = write("calls.json", deep_json(200_000))  # 400 KB
    with no_hang(), pytest.raises(LoaderError, match=r"JSON nested more than 100 levels deep \(KB_MAX_DEPTH\)"):
        load(path, ctx)


@pytest.mark.parametrize("name, content", [
    ("calls.yaml", "- " * 5_000 + "x\n"),
    ("calls.yaml", "[" * 100_000 + "]" * 100_000),
    ("page.md", "---\ntitle: " + "[" * 100_000 + "]" * 100_000 + "\n---\nBody.\n"),
])
def test_yaml_nested_too_deep_is_refused_without_recursion(write, ctx, name, content):
    with no_hang(), pytest.raises(LoaderError, match=r"nested more than 100 levels deep \(KB_MAX_DEPTH\)"):
        load(write(name, content), ctx)


def test_yaml_alias_bomb_is_refused(write, ctx):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]  # 10^9 values
    with no_hang(), pytest.raises(LoaderError, match="aliases"):
        load(write("calls.yaml", "\n".join(lines) + "\n"), ctx)


def test_json_and_yaml_within_the_depth_are_read(write, ctx):
    rows = '[{"title": "EIC Accelerator", "deadline": "2027-03-04", "notes": "[not a bracket"}]'
    assert [r.title for r in load(write("calls.json", rows), ctx).records] == ["EIC Accelerator"]
    yaml_rows = "calls:\n  - title: EIC Accelerator\n    deadline: 2027-03-04\n"
    assert [r.title for r in load(write("calls.yaml", yaml_rows), ctx).records] == ["EIC Accelerator"]


def test_html_with_100000_nested_divs_is_refused_quickly(write, ctx):
    path = write("deep.html", nested_divs(100_000))  # 1.1 MB
    with no_hang(), pytest.raises(LoaderError, match=r"HTML nested more than 100 levels deep \(KB_MAX_DEPTH\)"):
        load(path, ctx)


def test_html_with_thousands_of_unclosed_paragraphs_is_read_in_linear_time():
    # html.parser nests every unclosed <p> in the previous one: a 5,000-deep tree, which must not be quadratic.
    page = "<html><body><h1>Old page</h1>" + "".join(f"<p>Paragraph {i}." for i in range(5_000)) + "</body></html>"
    with no_hang():
        text, found = html_to_text(page)
    assert found["title"] == "Old page" and "Paragraph 4999." in text


# --- Size -----------------------------------------------------------------------------------------------------


def test_single_line_text_file_of_30_mb_is_refused_before_reading(write, ctx):
    path = write("dump.txt", b"x" * 30_000_000)
    with no_hang(), pytest.raises(LoaderError, match=r"28\.6 MB, over the 10 MB limit \(KB_MAX_TEXT_MB\)"):
        load(path, ctx)


def test_any_file_over_the_size_limit_is_refused_before_reading(tmp_path, ctx):
    path = sparse_file(tmp_path / "scan.pdf", 60 * MB)
    with no_hang(), pytest.raises(LoaderError, match=r"over the 50 MB limit \(KB_MAX_FILE_MB\)"):
        load(path, ctx)


def test_a_word_longer_than_a_chunk_is_cut_to_chunk_size():
    record = Record(title="Blob", text="x" * 2 * MB)
    chunks = chunk_records([record], source_id="kb/blob.txt", path="blob.txt", target_chars=500)
    assert len(chunks) == 2 * MB // 500 + 1 and max(len(c.text) for c in chunks) <= 500


# --- Calendars ----------------------------------------------------------------------------------------------


def test_event_repeating_every_second_stops_at_the_cap(write, ctx):
    path = write("events.ics", calendar("FREQ=SECONDLY", start="20261120T090000Z"))
    with no_hang():
        loaded = load(path, dataclasses.replace(ctx, max_occurrences=25))
    ticks = [r for r in loaded.records if r.title == "Tick"]
    assert len(ticks) == 25 and loaded.problems == []
    assert ticks[0].dates["start"].isoformat() == "2026-11-20T09:00:00+00:00", "the earliest in the window first"
    assert [r.title for r in loaded.records if r.title != "Tick"] == ["Atelier IA en santé"]


def test_event_repeating_every_second_for_years_is_reported_not_walked(write, ctx):
    path = write("events.ics", calendar("FREQ=SECONDLY", start="20200101T000000Z"))
    with no_hang():
        loaded = load(path, ctx)
    assert [r.title for r in loaded.records] == ["Atelier IA en santé"]
    assert loaded.problems == ["event Tick: repeats every 1 second(s) since 2020-01-01, too often to expand"]


def test_weekly_event_since_long_ago_is_expanded_over_the_window(write, ctx):
    loaded = load(write("events.ics", calendar("FREQ=WEEKLY", start="19900105T090000Z")), ctx)
    starts = [r.dates["start"] for r in loaded.records if r.title == "Tick"]
    assert len(starts) == 60 and starts == sorted(starts)
    assert ctx.now.timestamp() - starts[0].timestamp() <= 90 * 86400, "from the window's start"


# --- The worker: time budget, crashes, memory -------------------------------------------------------------------


def _crash(_: object) -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def _allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * MB))


def test_a_file_past_its_time_budget_is_stopped_and_the_next_gets_a_fresh_worker(write, ctx):
    path = write("events.ics", calendar(NEVER))  # the rule library searches until year 9999: seconds
    job = FileJob(path, "kb/events.ics", "events.ics", "events.ics", ctx, 500)
    with FileWorker() as worker, no_hang():  # the file alone takes about 7 s
        with pytest.raises(FileFailed, match=r"^took longer than 1 s \(KB_FILE_SECONDS\)"):
            worker.call(read_file, job, seconds=1)
        assert worker.call(abs, -3, seconds=5) == 3


def test_a_worker_that_crashes_fails_its_file_only(ctx):
    with FileWorker() as worker:
        with pytest.raises(FileFailed, match="crashed \\(SIGSEGV\\)"):
            worker.call(_crash, None, seconds=5)
        with pytest.raises(FileFailed, match=r"^unreadable \(ValueError: invalid literal"):
            worker.call(int, "not a number", seconds=5)
        assert worker.call(abs, -3, seconds=5) == 3


def test_a_file_needing_more_memory_than_the_worker_may_use_fails_alone():
    with FileWorker(memory_mb=512) as worker:
        with pytest.raises(FileFailed, match=r"more memory than its reader may use \(KB_WORKER_MEMORY_MB\)"):
            worker.call(_allocate, 1024, seconds=5)  # refused by the address-space limit, never allocated
        assert worker.call(_allocate, 16, seconds=5) == 16 * MB


def test_the_worker_reads_and_chunks_a_file(write, ctx):
    path = write("guide.md", "# Guide\n\nThe accreditation label is granted for two years.\n")
    job = FileJob(path, "kb/guide.md", "guide.md", "https://kb.test/guide", ctx, 500)
    with FileWorker() as worker:
        result = worker.call(read_file, job, seconds=10)
    assert [c.id for c in result.chunks] == ["kb/guide.md:0"] and result.problems == []
    assert result.chunks[0].metadata["url"] == "https://kb.test/guide"


def test_worker_is_stopped_when_closed():
    worker = FileWorker()
    worker.call(abs, -1, seconds=5)
    process = worker._process
    assert process is not None and process.poll() is None
    worker.close()
    assert process.poll() is not None

