"""The staff report against real parts: stale content found in a real Chroma index in tmp_path, the scheduled
post through the real scheduler to the recording fake Slack API, and `python -m bot report --html` as staff run
it (a subprocess over an index built by `ingest.py` with the real model)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.conversation import Reply
from bot.report import stale_content
from bot.scheduler import Scheduler
from bot.slack.report import scheduled_report
from bot.state import BotState
from knowledge.answering import SourceRef
from knowledge.pipeline import Ingestor
from tests.conftest import PARIS, SHARED_DATA
from tests.fakes.slack_api import SlackAPIServer
from tests.integration.conftest import write_corpus

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=PARIS)  # Monday 08:00: the default KB_REPORT_SCHEDULE
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STAFF_CHANNEL = "CSTAFF"
MEMBER = "UMEMBER7"

EVENTS = (
    "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n"
    "BEGIN:VEVENT\nUID:past@test\nDTSTART;TZID=Europe/Paris:20261015T090000\nDTEND;TZID=Europe/Paris:20261015T170000\n"
    "SUMMARY:Innovation funding day\nDESCRIPTION:Meet the funders.\nURL:https://kb.test/funding-day\nEND:VEVENT\n"
    "BEGIN:VEVENT\nUID:next@test\nDTSTART;TZID=Europe/Paris:20261210T140000\nDTEND;TZID=Europe/Paris:20261210T173000\n"
    "SUMMARY:AI in health workshop\nDESCRIPTION:CE marking of AI software.\nURL:https://kb.test/ai-workshop\nEND:VEVENT\n"
    "END:VCALENDAR\n"
)
CALLS = (
    "reference;title;funder;deadline;url;description\n"
    "FEAS-2026;Feasibility aid for medtech projects;Region;2026-10-31;https://kb.test/feasibility;Feasibility studies.\n"
    "EIC-2027;EIC Accelerator;EIC;2027-03-04;https://kb.test/eic;High-risk innovation.\n"
)


def record(state: BotState, question: str, *, abstained: bool = False, user: str = MEMBER) -> int:
    source = SourceRef(n=1, title="EIC Accelerator", url="https://kb.test/eic", path="calls.csv",
                       kind="funding_call", snippet="", score=0.9)
    return state.record_answer("slack", "CMEMBERS", "1.0", user, "member", Reply(
        question=question, language="en", answer="I don't know." if abstained else "It closes on 2027-03-04 [1].",
        abstained=abstained, sources=[] if abstained else [source]))


def test_stale_content_is_found_in_the_real_index(settings, store, embedder, write, tmp_path):
    old = tmp_path / "archive"
    old.mkdir()
    (old / "membership-2025.md").write_text("---\ntitle: Membership fees 2025\n---\n# Fees\n\nThe fee is EUR 800.\n",
                                            encoding="utf-8")
    assert Ingestor(settings, store, embedder, now=lambda: NOW - timedelta(days=400)).run([old]).ok
    write("events.ics", EVENTS)
    write("calls.csv", CALLS)
    write("guide.md", "---\ntitle: Member guide\n---\n# Guide\n\nHow the cluster works.\n")
    assert Ingestor(settings, store, embedder, now=lambda: NOW - timedelta(days=30)).run([tmp_path / "kb"]).ok

    stale = stale_content(store, NOW)
    assert [(e.title, e.date, e.url) for e in stale.past_events] == [
        ("Innovation funding day", "2026-10-15", "https://kb.test/funding-day")]
    assert [(c.title, c.date) for c in stale.closed_calls] == [("Feasibility aid for medtech projects", "2026-10-31")]
    assert [(d.title, d.date) for d in stale.old_documents] == [("Membership fees 2025", "2025-10-19")]

    a_year_later = stale_content(store, NOW + timedelta(days=366))
    assert {e.title for e in a_year_later.past_events} == {"Innovation funding day", "AI in health workshop"}
    assert {c.title for c in a_year_later.closed_calls} == {"Feasibility aid for medtech projects",
                                                           "EIC Accelerator"}
    assert len(a_year_later.old_documents) == 4  # the archive, and the three sources ingested 30 days before NOW


@pytest.fixture
def slack_api():
    server = SlackAPIServer(SHARED_DATA / "slack-fixtures")
    yield server
    server.close()


def test_the_scheduled_report_is_posted_with_its_chart_once_per_week(store, embedder, slack_api, tmp_path):
    clock_now = [NOW - timedelta(days=3)]
    state = BotState(tmp_path / "state.sqlite3", clock=lambda: clock_now[0])
    record(state, "When does the EIC Accelerator close?")
    record(state, "Where can I park at the cluster office?", abstained=True)
    scheduler = Scheduler(state, clock=lambda: clock_now[0], timezone=PARIS)
    client = WebClient(token="xoxb-test", base_url=slack_api.url)
    scheduler.add(scheduled_report(state, embedder=embedder, store=store, client=client, channel=STAFF_CHANNEL,
                                   schedule="0 8 * * mon"))

    clock_now[0] = NOW + timedelta(minutes=5)
    assert scheduler.run_due() == ["staff-report"]
    [post] = slack_api.of("chat.postMessage")
    assert post["channel"] == STAFF_CHANNEL
    blocks = json.dumps(post["blocks"], ensure_ascii=False)
    assert "*Questions asked*\\n2" in blocks and "Where can I park at the cluster office?" in blocks
    assert "EIC Accelerator — cited in 1 answer>" in blocks
    assert MEMBER not in blocks + post["text"]
    [asked] = slack_api.of("files.getUploadURLExternal")
    [upload] = slack_api.of("upload")
    [done] = slack_api.of("files.completeUploadExternal")
    assert upload["content"].startswith(PNG_SIGNATURE) and int(asked["length"]) == len(upload["content"])
    assert asked["filename"] == "questions-per-day-2026-11-23.png" and "1 answered" in asked["alt_txt"]
    assert done["channel_id"] == STAFF_CHANNEL and f'"id": "{upload["file_id"]}"' in done["files"]
    assert [m for m, _ in slack_api.calls] == ["chat.postMessage", "files.getUploadURLExternal", "upload",
                                               "files.completeUploadExternal"]

    clock_now[0] = NOW + timedelta(days=1)
    assert scheduler.run_due() == [], "once per week, even when woken again"
    [status] = scheduler.status()
    assert status.last is not None and status.last.ok and status.last.result == (
        f"posted to {STAFF_CHANNEL}: 2 questions, 1 unanswered")
    assert status.next_run == datetime(2026, 11, 30, 8, 0, tzinfo=PARIS)


def test_a_failed_upload_is_a_failed_run_for_staff(store, embedder, slack_api, tmp_path):
    state = BotState(tmp_path / "state.sqlite3", clock=lambda: NOW - timedelta(days=1))
    scheduler = Scheduler(state, clock=lambda: NOW + timedelta(minutes=1), timezone=PARIS)
    client = WebClient(token="xoxb-test", base_url=slack_api.url)
    scheduler.add(scheduled_report(state, embedder=embedder, store=store, client=client, channel=STAFF_CHANNEL,
                                   schedule="0 8 * * mon"))
    slack_api.fail_next("files.getUploadURLExternal", 500, times=5)
    assert scheduler.run_due() == ["staff-report"]
    [status] = scheduler.status()
    assert status.last is not None and status.last.ok is False and status.last.result.startswith("failed:")


# --- python -m bot report --------------------------------------------------------------------------------------


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("KB_", "SLACK_", "CONCIERGE_"))}
    environment.update(env)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=environment, cwd=ROOT,
                          timeout=300)


@pytest.mark.e2e
def test_the_cli_writes_a_self_contained_html_report(tmp_path):
    store = tmp_path / "store"
    done = run("ingest.py", str(write_corpus(tmp_path / "kb")), KB_STORE_PATH=str(store))
    assert done.returncode == 0, done.stderr
    clock_now = [datetime(2026, 11, 18, 10, 0, tzinfo=PARIS)]
    state = BotState(tmp_path / "state.sqlite3", clock=lambda: clock_now[0])
    record(state, "When does the EIC Accelerator close?")
    down = record(state, "Is the EIC deadline extended?", user="UMEMBER8")
    state.record_feedback(down, "UMEMBER9", helpful=False)
    clock_now[0] = datetime(2026, 11, 20, 16, 0, tzinfo=PARIS)
    record(state, "Where can I park at the cluster office?", abstained=True)
    record(state, "Is there parking near the cluster office?", abstained=True, user="UMEMBER8")
    clock_now[0] = datetime(2026, 11, 2, 9, 0, tzinfo=PARIS)
    record(state, "An old question, before --since", abstained=True)

    page = tmp_path / "report.html"
    done = run("-m", "bot", "report", "--since", "2026-11-16", "--today", "2026-11-22", "--html", str(page),
               KB_STORE_PATH=str(store), CONCIERGE_STATE_PATH=str(tmp_path / "state.sqlite3"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote {page}: 4 questions, 2 unanswered"
    html = page.read_text(encoding="utf-8")
    assert "2026-11-16 00:00 to 2026-11-22 23:59" in html
    assert re.search(r'<span class="value">4</span><span class="label">Questions asked</span>', html)
    assert re.search(r'<span class="value">1</span><span class="label">👎 Unhelpful</span>', html)
    assert "2 × “Where can I park at the cluster office?” · “Is there parking near the cluster office?”" in html
    assert "Feasibility aid for medtech projects — closed 2026-10-31" in html
    assert "Journée du financement de l&#x27;innovation — ended 2026-10-15" in html
    assert "An old question" not in html
    for member in (MEMBER, "UMEMBER8", "UMEMBER9"):
        assert member not in html
    assets = re.findall(r'<(?:img|script|link|iframe|source|video|audio)\b[^>]*>', html)
    assert len(assets) == 1 and 'src="data:image/png;base64,' in assets[0]
    assert "url(" not in html and "@import" not in html

    missing = run("-m", "bot", "report", "--html", str(tmp_path / "no" / "such" / "report.html"),
                  KB_STORE_PATH=str(store), CONCIERGE_STATE_PATH=str(tmp_path / "state.sqlite3"))
    assert missing.returncode == 2 and missing.stderr.strip().splitlines() == [
        f"python -m bot report: no such folder for --html: {tmp_path / 'no' / 'such'}"]
