"""Teams rendering: citations and cards, and nothing from a source that mentions people or makes a link."""

from __future__ import annotations

import json

import pytest

from bot.teams.render import card_message, chat_message, escape, reminder_actions, safe_url, sources_markdown
from knowledge.answering import SourceRef

INJECTIONS = ["<at>Everyone</at>", "[click](https://evil.test)", "![img](https://evil.test/x.png)",
              "<a href='https://evil.test'>x</a>", "<https://evil.test>", "[1](https://evil.test)"]


def ref(n: int = 1, **kw) -> SourceRef:
    base = {"n": n, "title": "EIC Accelerator", "url": "https://kb.test/eic", "path": "calls.csv",
            "kind": "funding_call", "snippet": "Grant up to EUR 2.5 million", "score": 0.1,
            "dates": {"deadline": "2027-03-04"}, "status": "open"}
    return SourceRef(**{**base, **kw})


def markdown_fields(activity) -> list[str]:
    """What Teams renders as Markdown: the text and the card's text blocks."""
    fields = [activity.text or ""]
    for attachment in activity.attachments or []:
        fields += [block["text"] for block in attachment.content["body"]]
    return fields


@pytest.mark.parametrize("injection", INJECTIONS)
def test_markup_quoted_from_a_source_is_escaped_in_chats_and_cards(injection):
    answer = f"Apply here {injection} before 2027-03-04 [1]."
    source = ref(title=f"EIC {injection}", snippet=injection)
    for activity in (chat_message(answer, [source], "en", feedback=True),
                     card_message(answer, [source], "en", answer_id=3)):
        for text in markdown_fields(activity):
            assert injection not in text
            assert "<a " not in text and "<at>" not in text and "](https://evil" not in text.replace("\\]", "")
        assert "<at>" not in json.dumps(activity.model_dump(mode="json", exclude_none=True))


def test_citation_markers_stay_for_teams_to_match():
    assert escape("Deadline 2027-03-04 [1][2], see [3].") == "Deadline 2027-03-04 [1][2], see [3]."
    assert escape("[1](https://evil.test) [2]: https://evil.test") == (
        "\\[1\\](https://evil.test) \\[2\\]: https://evil.test")
    activity = chat_message("Deadline 2027-03-04 [1].", [ref()], "en", feedback=True)
    assert activity.text.startswith("Deadline 2027-03-04 [1].")
    [entity] = [e for e in activity.entities if getattr(e, "citation", None)]
    assert entity.citation[0].position == 1 and entity.citation[0].appearance.url == "https://kb.test/eic"


@pytest.mark.parametrize("url, safe", [
    ("https://kb.test/a b", "https://kb.test/a%20b"),
    ("https://kb.test/a)(b", "https://kb.test/a%29%28b"),
    ("https://kb.test/a]b[", "https://kb.test/a%5Db%5B"),
    ("https://kb.test/a|<b>", "https://kb.test/a%7C%3Cb%3E"),
    ("https://kb.test/?a=1&b=2#x", "https://kb.test/?a=1&b=2#x"),
    ("javascript:alert(1)", None),
    ("docs/guide.md", None),
])
def test_urls_are_percent_encoded_or_not_links_at_all(url, safe):
    assert safe_url(url) == safe
    markdown = sources_markdown([ref(url=url, title="Guide")], "en")
    assert markdown.startswith(f"[1] [Guide]({safe})" if safe else "[1] Guide")
    card = card_message("Hi [1]", [ref(url=url)], "en", answer_id=None).attachments[0].content
    assert [a["url"] for a in card["actions"] if a["type"] == "Action.OpenUrl"] == ([safe] if safe else [])


def test_citation_urls_are_safe_and_titles_escaped():
    activity = chat_message("Hi [1]", [ref(url="https://kb.test/a b|<!channel>", title="<at>All</at>")], "en",
                            feedback=False)
    [entity] = [e for e in activity.entities if getattr(e, "citation", None)]
    appearance = entity.citation[0].appearance
    assert appearance.url == "https://kb.test/a%20b%7C%3C!channel%3E"
    assert appearance.name == "&lt;at&gt;All&lt;/at&gt;"


@pytest.mark.parametrize("source, note", [
    (ref(status="closed"), "Deadline 4 March 2027 (closed)"),
    (ref(status="cancelled"), "Deadline 4 March 2027 (cancelled)"),
    (ref(kind="event", dates={"start": "2027-03-11 18:30"}, status="cancelled"), "On 11 March 2027, 18:30 (cancelled)"),
    (ref(kind="event", dates={"start": "2027-03-11 18:30"}, status="upcoming"), "On 11 March 2027, 18:30"),
])
def test_the_source_line_says_closed_or_cancelled_and_no_remind_me_for_them(source, note):
    assert sources_markdown([source], "en") == f"[1] [EIC Accelerator](https://kb.test/eic) · {note}"
    assert reminder_actions([source], "en") == []
