"""Block Kit rendering: links, dates, Slack's limits, never a lost reply, and nothing from a source that
pings people or makes a link."""

from __future__ import annotations

import json

import pytest

from bot.slack.render import (
    SECTION_LIMIT,
    answer_blocks,
    escape,
    fallback_text,
    home_view,
    lines_text,
    link,
    safe_url,
    source_line,
    split_text,
    stream_chunks,
)
from knowledge.answering import SourceRef

PINGS = ["<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C1>", "<!subteam^S1>", "<https://evil.test|click>"]


def ref(n: int = 1, **kw) -> SourceRef:
    base = dict(n=n, title="EIC Accelerator", url="https://kb.test/eic", path="calls.csv", kind="funding_call",
                snippet="", score=0.1, dates={"deadline": "2027-03-04"}, status="open")
    return SourceRef(**{**base, **kw})


def test_sources_are_links_with_the_deadline_or_event_date():
    assert source_line(ref(), "en") == "*[1]* <https://kb.test/eic|EIC Accelerator> · deadline 4 March 2027 · (open)"
    event = ref(2, title="Atelier IA", kind="event", dates={"start": "2026-12-10 14:00"}, status="upcoming")
    assert source_line(event, "fr") == "*[2]* <https://kb.test/eic|Atelier IA> · le 10 décembre 2026 à 14:00 · (à venir)"


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
    assert [e["value"] for e in actions["elements"][:2]] == ["42", "42"]
    assert "Utile" in actions["elements"][0]["text"]["text"]


def test_open_calls_cited_get_a_remind_me_button_each_closed_calls_and_documents_none():
    sources = [ref(1), ref(2, title="Old call", status="closed"), ref(3, title="Guide", kind="document", dates={}),
               ref(4, title="Innov'Santé " + "très long titre " * 8)]
    actions = answer_blocks("Hi [1]", sources, "fr", answer_id=42)[-1]
    reminders = [e for e in actions["elements"] if e["action_id"].startswith("remind_call")]
    assert [e["text"]["text"][:40] for e in reminders] == ["⏰ Me le rappeler : EIC Accelerator",
                                                             "⏰ Me le rappeler : Innov'Santé très long"]
    assert all(len(e["text"]["text"]) <= 75 for e in reminders)
    assert len({e["action_id"] for e in actions["elements"]}) == len(actions["elements"])  # Slack wants them unique
    assert json.loads(reminders[0]["value"]) == {"p": "calls.csv", "t": "EIC Accelerator", "d": "2027-03-04",
                                                 "l": "fr"}


def test_an_answer_never_carries_more_than_three_remind_me_buttons():
    actions = answer_blocks("Hi", [ref(n, title=f"Call {n}") for n in range(1, 7)], "en", answer_id=1)[-1]
    assert len([e for e in actions["elements"] if e["action_id"].startswith("remind_call")]) == 3


def test_member_home_has_no_staff_sections():
    view = home_view(staff=False, events=[], calls=[], status={"sources": 1, "chunks": 2}, gaps=["q"],
                     ask_command="/ask")
    text = str(view)
    assert "No upcoming event" in text and "Index status" not in text and "Knowledge gaps" not in text


@pytest.mark.parametrize("ping", PINGS)
def test_a_ping_quoted_from_a_source_is_escaped_in_blocks_fallback_and_stream(ping):
    answer = f"{ping} Apply before 2027-03-04. [1]"
    sent = json.dumps(answer_blocks(answer, [ref(title=f"EIC {ping}")], "en", answer_id=1)) + fallback_text(answer)
    sent += "".join(stream_chunks(answer))
    assert ping not in sent
    assert escape(ping) in fallback_text(answer)


@pytest.mark.parametrize("url, target", [
    ("https://kb.test/a|b", "https://kb.test/a%7Cb"),
    ("https://kb.test/a>b<c", "https://kb.test/a%3Eb%3Cc"),
    ("https://kb.test/a b", "https://kb.test/a%20b"),
    ("https://kb.test/?a=1&b=2", "https://kb.test/?a=1&amp;b=2"),
    ("https://kb.test/caf%C3%A9#top", "https://kb.test/caf%C3%A9#top"),
])
def test_link_targets_cannot_end_the_link_early(url, target):
    assert safe_url(url) == target
    assert link(url, "Guide") == f"<{target}|Guide>"


@pytest.mark.parametrize("url", ["javascript:alert(1)", "slack://open", "<!channel>"])
def test_only_web_urls_become_links(url):
    assert not link(url, "Guide").startswith("<") and safe_url(url) is None
    assert "<!channel>" not in link(url, "Guide")


def test_streamed_markdown_makes_no_link_but_keeps_citations():
    [chunk] = stream_chunks("See [the page](https://evil.test) and [2] or [3](https://evil.test) [4]: x")
    assert chunk == "See \\[the page\\](https://evil.test) and [2] or \\[3\\](https://evil.test) \\[4\\]: x"


def test_app_home_and_staff_lists_escape_titles_urls_gaps_and_failures():
    view = home_view(staff=True, events=[{"title": "Meetup <!here>", "url": "https://kb.test/e|<!channel>",
                                          "start": "<!date^1^x|y>"}],
                     calls=[{"title": "<@U123>", "url": "https://kb.test/c", "deadline": "2027-01-01"}],
                     status={"sources": 1, "chunks": 2, "failures": "<!channel> broken.md"},
                     gaps=["<!channel> what is this?"], ask_command="/ask")
    sent = json.dumps(view) + lines_text(["• <!subteam^S1> question — no answer (slack)"])
    for ping in [*PINGS, "<!date"]:
        assert ping not in sent
    assert "<https://kb.test/e%7C%3C!channel%3E|Meetup &lt;!here&gt;>" in sent
