"""Block Kit rendering: links, dates, Slack's limits, never a lost reply."""

from __future__ import annotations

from bot.slack.render import SECTION_LIMIT, answer_blocks, home_view, link, source_line, split_text
from knowledge.answering import SourceRef


def ref(n: int = 1, **kw) -> SourceRef:
    base = dict(n=n, title="EIC Accelerator", url="https://kb.test/eic", path="calls.csv", kind="funding_call",
                snippet="", score=0.1, dates={"deadline": "2027-03-04"}, status="open")
    return SourceRef(**{**base, **kw})


def test_sources_are_links_with_the_deadline_or_event_date():
    assert source_line(ref(), "en") == "*[1]* <https://kb.test/eic|EIC Accelerator> · deadline 2027-03-04 · (open)"
    event = ref(2, title="Atelier IA", kind="event", dates={"start": "2026-12-10 14:00"}, status="upcoming")
    assert source_line(event, "fr") == "*[2]* <https://kb.test/eic|Atelier IA> · le 2026-12-10 14:00 · (à venir)"


def test_links_escape_slack_control_characters_and_plain_paths_are_not_links():
    assert link("https://x.test/a", "R&D <2027> | calls") == "<https://x.test/a|R&amp;D &lt;2027&gt; ¦ calls>"
    assert link("docs/guide.md", "Guide") == "Guide (docs/guide.md)"


def test_long_answers_are_split_under_the_section_limit_without_losing_text():
    answer = "\n".join(f"Line {i}: " + "word " * 40 for i in range(200)) + "\n" + "x" * 7000
    blocks = answer_blocks(answer, [ref()], "en", answer_id=7)
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(text) <= SECTION_LIMIT for text in sections)
    assert "".join(split_text(answer)).replace("\n", "") == answer.replace("\n", "")
    assert len(blocks) <= 50 and blocks[-1]["type"] == "actions", "feedback buttons stay last"


def test_feedback_buttons_carry_the_answer_id():
    actions = answer_blocks("Hi [1]", [ref()], "fr", answer_id=42)[-1]
    assert [e["value"] for e in actions["elements"]] == ["42", "42"]
    assert "Utile" in actions["elements"][0]["text"]["text"]


def test_member_home_has_no_staff_sections():
    view = home_view(staff=False, events=[], calls=[], status={"sources": 1, "chunks": 2}, gaps=["q"],
                     ask_command="/ask")
    text = str(view)
    assert "No upcoming event" in text and "Index status" not in text and "Knowledge gaps" not in text
