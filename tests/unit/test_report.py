"""The staff report over a bot state filled on a pinned clock: its figures, the gaps grouped by topic, the chart,
and its renderings (Slack blocks, Teams card, HTML page, plain lines), none of which names a member."""

from __future__ import annotations

import json
import re
import struct
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.conversation import Reply
from bot.desk import Desk
from bot.report import build_report, chart_png, group_questions, html_page, summary_lines
from bot.settings import BotSettings
from bot.slack.report import report_blocks
from bot.state import BotState
from bot.teams.report import report_card
from knowledge.answering import SourceRef
from knowledge.store import KnowledgeStore, StoreUnavailable
from tests.conftest import PARIS
from tests.fakes.embedding import HashingEmbedder
from tests.fakes.services import FakeServices

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=PARIS)  # a Monday, when the weekly report is posted
MEMBERS = ("UMEMBER1", "UMEMBER2", "29:teams-member", "aad-object-id-1234")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CLEAN_ROOM = SourceRef(n=1, title="Clean room booking", url="https://kb.test/clean-room", path="clean-room.md",
                       kind="document", snippet="", score=0.9)
EIC = SourceRef(n=1, title="EIC Accelerator", url="https://kb.test/eic", path="calls.csv", kind="funding_call",
                snippet="", score=0.9)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def reply(question: str, *, sources: tuple[SourceRef, ...] = (), abstained: bool = False) -> Reply:
    answer = "I don't know; please ask the cluster team." if abstained else f"About {question} [1]"
    return Reply(question=question, language="en", answer=answer, abstained=abstained, sources=list(sources))


@pytest.fixture
def filled(tmp_path: Path) -> BotState:
    """A week of questions from several members, on Slack and Teams, and one question from before the week."""
    clock = Clock(NOW - timedelta(days=10))
    state = BotState(tmp_path / "state.sqlite3", clock=clock)

    def ask(days_ago: float, question: str, user: str = MEMBERS[0], **kwargs: object) -> int:
        clock.now = NOW - timedelta(days=days_ago)
        return state.record_answer("slack" if user.startswith("U") else "teams", "CMEMBERS", "1.0", user, "member",
                                   reply(question, **kwargs))  # type: ignore[arg-type]

    ask(10, "A question from before the week")
    booked = ask(6, "How do I book the clean room?", sources=(CLEAN_ROOM,))
    ask(6, "When does the EIC Accelerator close?", MEMBERS[1], sources=(EIC, CLEAN_ROOM))
    ask(5, "What is the deadline of the EIC Accelerator?", MEMBERS[2], sources=(EIC,))
    slow = ask(5, "Is the EIC Accelerator deadline extended?", MEMBERS[3], sources=(EIC,))
    ask(4, "parking near the cluster office car park", abstained=True)
    ask(4, "Is there a car park near the cluster office for parking?", MEMBERS[1], abstained=True)
    ask(3, "Cluster office parking: where is the car park?", MEMBERS[2], abstained=True)
    ask(2, "wifi password of the meeting room guest wifi", abstained=True)
    ask(1, "guest wifi password in the meeting room", MEMBERS[3], abstained=True)
    clock.now = NOW - timedelta(hours=1)
    state.record_feedback(booked, MEMBERS[1], helpful=True)
    state.record_feedback(booked, MEMBERS[2], helpful=True)
    state.record_feedback(slow, MEMBERS[0], helpful=False)
    state.record_feedback(slow, MEMBERS[1], helpful=False)
    state.record_feedback(slow, MEMBERS[2], helpful=True)
    clock.now = NOW
    return state


@pytest.fixture
def report(filled: BotState):  # noqa: ANN201
    return build_report(filled, embedder=HashingEmbedder(), store=None, now=NOW)


def test_the_report_counts_the_weeks_questions_answers_and_feedback(report):
    assert (report.start, report.end) == (NOW - timedelta(days=7), NOW)
    assert (report.questions, report.answered, report.unanswered) == (9, 4, 5), "the question of 10 days ago is out"
    assert (report.helpful, report.unhelpful) == (3, 2)
    assert report.answered_share == 44
    [worst] = report.worst
    assert (worst.question, worst.up, worst.down) == ("Is the EIC Accelerator deadline extended?", 1, 2)
    assert [(c.title, c.count) for c in report.cited] == [("EIC Accelerator", 3), ("Clean room booking", 2)]


def test_greetings_and_thanks_are_neither_questions_nor_gaps(filled):
    for text in ("Hello!", "Merci beaucoup !", "thanks"):
        filled.record_answer("slack", "CMEMBERS", "1.0", MEMBERS[0], "member", reply(text))
    filled.record_answer("slack", "CMEMBERS", "1.0", MEMBERS[1], "member", reply("hello?", abstained=True))
    again = build_report(filled, embedder=HashingEmbedder(), store=None, now=NOW)
    assert (again.questions, again.answered, again.unanswered) == (9, 4, 5)


def test_questions_per_day_cover_every_day_of_the_period(report):
    days = {d.day: (d.answered, d.unanswered) for d in report.days}
    assert list(days) == [date(2026, 11, 16) + timedelta(days=n) for n in range(8)]
    assert days[date(2026, 11, 17)] == (2, 0) and days[date(2026, 11, 19)] == (0, 2)
    assert days[date(2026, 11, 23)] == (0, 0)
    assert sum(a + u for a, u in days.values()) == report.questions


def test_unanswered_and_unhelpful_questions_are_grouped_by_topic(report):
    groups = [(g.count, g.examples) for g in report.gaps]
    assert [count for count, _ in groups] == [3, 2, 1]
    parking, wifi, unhelpful = (examples for _, examples in groups)
    assert all("park" in question for question in parking) and len(parking) == 3
    assert all("wifi" in question for question in wifi)
    assert unhelpful == ("Is the EIC Accelerator deadline extended?",)


def test_groups_keep_at_most_three_distinct_examples():
    questions = ["Parking at the office?"] * 4 + ["parking at the office ?", "Where to park at the office?"] * 2
    [group] = group_questions(questions, HashingEmbedder(), similarity=0.3)
    assert group.count == 8 and len(group.examples) <= 3
    assert len({e.lower().replace(" ", "") for e in group.examples}) == len(group.examples)


def test_no_rendering_names_a_member(report):
    rendered = "\n".join([*summary_lines(report), json.dumps(report_blocks(report), ensure_ascii=False),
                          json.dumps(report_card(report), ensure_ascii=False), html_page(report)])
    assert "parking near the cluster office car park" in rendered  # what was asked is shown; who asked never
    for member in MEMBERS:
        assert member not in rendered
    assert "CMEMBERS" not in rendered


def test_the_chart_is_a_png_drawn_from_the_data_only(report, filled):
    png = chart_png(report)
    assert png.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (800, 320)
    assert chart_png(build_report(filled, embedder=HashingEmbedder(), store=None, now=NOW)) == png, "deterministic"
    later = build_report(filled, embedder=HashingEmbedder(), store=None, now=NOW + timedelta(days=3))
    assert chart_png(later) != png


def test_the_html_page_is_self_contained_and_escaped(filled, tmp_path):
    hostile = BotState(tmp_path / "state.sqlite3", clock=lambda: NOW - timedelta(hours=2))
    hostile.record_answer("slack", "C1", "2.0", MEMBERS[0], "member",
                          reply('<script src="https://evil.test/x.js"></script><img src=https://evil.test/p.png>',
                                abstained=True))
    page = html_page(build_report(hostile, embedder=HashingEmbedder(), store=None, now=NOW))
    assert "<script" not in page and "<img src=https://evil" not in page
    assert "&lt;script src=&quot;https://evil.test/x.js&quot;&gt;" in page
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert [s for s in sources if s.startswith("data:image/png;base64,")], "the chart is inline"
    assert not [s for s in sources if not s.startswith(("data:", "https://kb.test/"))], sources
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert "Questions asked" in page and ">10<" in page and "Knowledge gaps by topic" in page


def test_the_report_speaks_the_staff_language(report):
    lines = summary_lines(report, "fr")
    assert lines[0].startswith("Rapport du Concierge — du 2026-11-16 08:00 au 2026-11-23 08:00")
    assert "Questions posées: 9" in lines and "Lacunes de la base, par sujet" in lines
    assert report_blocks(report, "de")[0]["text"]["text"] == "Concierge-Bericht"


def test_slack_blocks_and_teams_card_carry_the_figures(report):
    blocks = report_blocks(report)
    fields = [f["text"] for f in blocks[2]["fields"]]
    assert fields[:3] == ["*Questions asked*\n9", "*Answered*\n4 (44% answered)", "*“I don't know”*\n5"]
    assert len(blocks) <= 50 and all(len(json.dumps(b)) < 3500 for b in blocks)
    assert "<https://kb.test/eic|EIC Accelerator — cited in 3 answers>" in json.dumps(blocks, ensure_ascii=False)
    card = report_card(report)
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Questions asked"] == "9" and facts["👎 Unhelpful"] == "2"
    assert card["body"][4]["facts"][1] == {"title": "2026-11-17", "value": "2 (Answered 2, “I don't know” 0)"}


# --- the staff command -----------------------------------------------------------------------------------------


class ReportServices(FakeServices):
    def __init__(self, now: datetime) -> None:
        super().__init__(now)
        self.embedder = HashingEmbedder()
        self.store = None


@pytest.mark.parametrize("text, staff", [("report", True), ("report 2026-11-01", True), ("Report", True),
                                         ("report a bug", False), ("reports", False), ("please report", False)])
def test_report_is_a_staff_command_only_as_written(text, staff):
    assert Desk.is_staff_command(text) is staff


def test_staff_get_the_report_and_members_the_refusal(filled):
    desk = Desk(ReportServices(NOW), filled, platform="slack")
    told: list = []
    desk.staff_command("report", staff=False, tell=told.append, ask_command="/ask")
    [refusal] = told
    assert refusal.report is None and "/ask" in refusal.lines[0]
    told.clear()
    desk.staff_command("report 2026-11-01", staff=True, tell=told.append)
    [notice] = told
    assert notice.report is not None and notice.report.start == datetime(2026, 11, 1, tzinfo=PARIS)
    assert notice.report.questions == 10 and "Questions asked: 10" in notice.lines


@pytest.mark.parametrize("text", ["report 2026-13-01", "report tomorrow", "report 2026-12-01"])
def test_a_report_date_that_cannot_be_used_gets_the_usage(filled, text):
    desk = Desk(ReportServices(NOW), filled, platform="slack")
    told: list = []
    desk.staff_command(text, staff=True, tell=told.append, invoked_as="/concierge")
    [usage] = told
    assert usage.report is None and usage.lines[0].startswith("Usage: /concierge report [YYYY-MM-DD]")


# --- settings and a store that cannot be read ---------------------------------------------------------------------


class UnreachableStore(KnowledgeStore):
    """A store whose server is down: every read raises, as `KnowledgeStore` does then."""

    def __init__(self) -> None:  # no client: nothing to reach
        pass

    def iter_chunks(self, **kwargs: object):  # type: ignore[override]  # noqa: ANN201
        raise StoreUnavailable("the Chroma server at http://chroma:8000 cannot be reached")


def test_an_unreachable_store_leaves_the_rest_of_the_report(filled):
    report = build_report(filled, embedder=HashingEmbedder(), store=UnreachableStore(), now=NOW)
    assert report.stale is None and report.questions == 9
    lines = summary_lines(report)
    assert lines[-2:] == ["Stale content", "- The knowledge base could not be read: stale content is missing from this "
                                           "report."]


def test_the_scheduled_report_settings(monkeypatch):
    monkeypatch.setenv("KB_REPORT_CHANNEL", "CSTAFF")
    settings = BotSettings(_env_file=None)
    assert (settings.report_channel, settings.report_schedule, settings.report_language) == (
        "CSTAFF", "0 8 * * mon", "en")
    with pytest.raises(ValidationError, match="write weekdays as names"):
        BotSettings(report_schedule="0 8 * * 1", _env_file=None)


@pytest.mark.parametrize("value, slack, teams", [
    ("CSTAFF", "CSTAFF", None),
    ("teams:19:abc@thread.tacv2", None, "19:abc@thread.tacv2"),
    (" Teams:19:abc@thread.tacv2 ", None, "19:abc@thread.tacv2"),
    ("", None, None),
])
def test_the_report_channel_names_a_slack_channel_or_a_teams_conversation(monkeypatch, value, slack, teams):
    """As in KB_DIGEST_CHANNELS: a plain id is Slack's, `teams:<conversation id>` Teams'; each process posts to
    its own platform's channel only (`report_target`)."""
    monkeypatch.setenv("KB_REPORT_CHANNEL", value)
    settings = BotSettings(_env_file=None)
    assert (settings.report_target("slack"), settings.report_target("teams")) == (slack, teams)
    assert settings.report_channel == (value.strip() or None)


@pytest.mark.parametrize("value, says", [
    ("teams:", "write the Teams conversation id after `teams:`"),
    ("#staff", "a Slack channel id is letters and digits"),
    ("19:abc@thread.tacv2", "a Teams conversation is written teams:<conversation id>"),
])
def test_a_report_channel_that_cannot_be_read_says_what_to_write(monkeypatch, value, says):
    monkeypatch.setenv("KB_REPORT_CHANNEL", value)
    with pytest.raises(ValidationError, match=re.escape(says)):
        BotSettings(_env_file=None)
