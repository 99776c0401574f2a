"""`python ingest.py` as staff run it: summary, --json contract, --dry-run, exit codes, one writer at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge.store import make_client, release_embedded_store

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]


def ingest(*args: str, store: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update({"KB_STORE_PATH": str(store), **(extra_env or {})})
    return subprocess.run([sys.executable, str(ROOT / "ingest.py"), *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)


@pytest.fixture
def folder(write) -> Path:
    write("guide.md", "# Guide\n\nThe accreditation label is granted for two years.\n")
    return write("calls.csv", "title,deadline\nEIC Accelerator,2027-03-04\n").parent


def test_json_summary_has_the_contract_keys_and_exit_0(folder, tmp_path):
    done = ingest(str(folder), "--json", store=tmp_path / "store")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    for key in ("added", "updated", "unchanged", "removed", "failed", "chunks_embedded", "seconds"):
        assert key in summary
    assert sorted(summary["added"]) == ["kb/calls.csv", "kb/guide.md"]
    assert summary["chunks_embedded"] == 2 and summary["failed"] == []

    again = json.loads(ingest(str(folder), "--json", store=tmp_path / "store").stdout)
    assert (again["chunks_embedded"], sorted(again["unchanged"])) == (0, ["kb/calls.csv", "kb/guide.md"])


def test_failures_give_exit_1_and_name_the_file(folder, tmp_path, write):
    write("broken.pdf", b"%PDF-1.4 not really")
    done = ingest(str(folder), store=tmp_path / "store")
    assert done.returncode == 1
    assert "FAILED kb/broken.pdf: corrupt or unreadable PDF" in done.stdout
    assert "2 added" in done.stdout
    assert "Traceback" not in done.stderr


def test_dry_run_lists_changes_and_leaves_the_index_untouched(folder, tmp_path):
    ingest(str(folder), store=tmp_path / "store")
    (folder / "guide.md").write_text("# Guide\n\nChanged text.\n", encoding="utf-8")
    summary = json.loads(ingest(str(folder), "--dry-run", "--json", store=tmp_path / "store").stdout)
    assert summary["updated"] == ["kb/guide.md"] and summary["dry_run"] is True
    after = json.loads(ingest(str(folder), "--json", store=tmp_path / "store").stdout)
    assert after["updated"] == ["kb/guide.md"], "the dry run wrote nothing"


@pytest.mark.parametrize("args", [["/no/such/folder"], ["--no-such-flag"]])
def test_usage_errors_exit_2_with_one_clean_line(args, tmp_path):
    done = ingest(*args, store=tmp_path / "store")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.strip()


def test_a_second_writer_on_the_embedded_store_is_refused(folder, tmp_path):
    store = tmp_path / "store"
    make_client(store, None)  # this test process now owns the embedded store, as a running bot would
    try:
        done = ingest(str(folder), store=store)
    finally:
        release_embedded_store(store)
    assert done.returncode == 3
    assert "in use by another process" in done.stderr and "KB_CHROMA_URL" in done.stderr


def test_default_sources_are_the_bundled_sample(tmp_path):
    done = ingest("--json", store=tmp_path / "store")
    summary = json.loads(done.stdout)
    assert done.returncode == 0, summary["failed"]
    assert "sample/funding-calls.csv" in summary["added"] and "sample/events.ics" in summary["added"]
