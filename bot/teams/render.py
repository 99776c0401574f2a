"""Turns replies into Teams activities: native citations in chats, an Adaptive Card in channels. No I/O."""

from __future__ import annotations

from collections.abc import Sequence

from microsoft_agents.activity import Activity, Attachment
from microsoft_agents.activity.entity.ai_entity import ClientCitation, ClientCitationAppearance

from bot.digest import Digest, item_note, say, summary_text, title_text
from bot.escaping import entities, no_markdown_links, web_url
from bot.messages import text as say_bot
from bot.reminders import remindable
from knowledge.answering import SourceRef
from knowledge.locales import message, written_date

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
FEEDBACK_KEY = "concierge_feedback"
REMIND_KEY = "concierge_remind"  # a "Remind me" click: the call (`bot.reminders.CallRef.value`)
# Characters a URL may keep; the rest (spaces, brackets, parentheses, `<`, `>`, `|`...) is percent-encoded so a
# URL cannot close a Markdown link early or open a tag.
_URL_SAFE = ":/?#@!$&'*+,;=%~-._"


def escape_plain(text: str) -> str:
    """HTML-ish characters as entities: no `<at>` mention, no tag, from any source."""
    return entities(text)


def escape(text: str) -> str:
    """Text for Markdown (messages, card TextBlocks, streamed chunks): `escape_plain`, and brackets escaped so no
    `[text](url)` link can be made; citation markers `[n]` stay as they are for Teams to match.

    >>> escape("<at>All</at>, see [1]")
    '&lt;at&gt;All&lt;/at&gt;, see [1]'
    """
    return escape_plain(no_markdown_links(text))


def safe_url(url: str) -> str | None:
    """A web URL safe in a Markdown link, a card action or a citation (percent-encoded); None otherwise."""
    return web_url(url, _URL_SAFE)


def _date_note(ref: SourceRef, language: str) -> str:
    if ref.kind == "funding_call" and ref.dates.get("deadline"):
        status = f" ({message('status_' + ref.status, language)})" if ref.status in ("closed", "cancelled") else ""
        deadline = written_date(ref.dates["deadline"], language)
        return f"{_capitalized(message('source_deadline', language))} {deadline}{status}"
    if ref.kind == "event" and ref.dates.get("start"):
        status = f" ({message('status_' + ref.status, language)})" if ref.status in ("past", "cancelled") else ""
        start = written_date(ref.dates["start"], language)
        return f"{_capitalized(message('source_start', language))} {start}{status}"
    return ""


def _capitalized(label: str) -> str:
    """The label opening a note: "date limite" -> "Date limite" (the rest of it left as written)."""
    return label[:1].upper() + label[1:]


def citations(sources: Sequence[SourceRef], language: str) -> list[ClientCitation]:
    """Teams' citation claims: position n matches the [n] in the text."""
    out = []
    for ref in sources:
        abstract = " — ".join(part for part in (_date_note(ref, language), ref.snippet.replace("\n", " ")) if part)
        out.append(ClientCitation(position=ref.n, appearance=ClientCitationAppearance(
            name=escape_plain(ref.title[:80]), url=safe_url(ref.url),
            abstract=escape_plain(abstract[:160] or ref.title[:160]))))
    return out


def sources_markdown(sources: Sequence[SourceRef], language: str) -> str:
    """`[1] [title](url) · Deadline ...`, one paragraph per source; titles escaped, URLs percent-encoded."""
    lines = []
    for ref in sources:
        url = safe_url(ref.url)
        label = f"[{escape(ref.title)}]({url})" if url else escape(ref.title)
        note = _date_note(ref, language)
        lines.append(f"[{ref.n}] {label}" + (f" · {escape(note)}" if note else ""))
    return "\n\n".join(lines)


def answer_markdown(answer: str, sources: Sequence[SourceRef], language: str) -> str:
    """The answer (escaped) and its sources, as the Markdown text of a message or a stream."""
    text = escape(answer)
    return text if not sources else f"{text}\n\n{sources_markdown(sources, language)}"


def reminder_actions(sources: Sequence[SourceRef], language: str) -> list[dict]:
    """A "Remind me" Action.Submit per open call cited (a few at most), naming the call in its data."""
    return [{"type": "Action.Submit", "title": escape_plain(say_bot("reminder_button", language, title=ref.title)[:60]),
             "data": {REMIND_KEY: ref.value()}} for ref in remindable(sources, language)]


def reminder_card(sources: Sequence[SourceRef], language: str) -> Attachment | None:
    """The "Remind me" buttons alone, as a small card under a chat answer (None: no open call cited)."""
    actions = reminder_actions(sources, language)
    if not actions:
        return None
    return Attachment(content_type=CARD_TYPE, content={
        "type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "version": "1.5",
        "body": [], "actions": actions})


def chat_message(answer: str, sources: Sequence[SourceRef], language: str, *, feedback: bool) -> Activity:
    """A message with native citations (and Teams' feedback loop) for 1:1 and group chats, and the "Remind me"
    buttons of the open calls it cites."""
    text = answer_markdown(answer, sources, language)
    activity = Activity(type="message", text=text, text_format="markdown")
    if (reminders := reminder_card(sources, language)) is not None:
        activity.attachments = [reminders]
    if sources:
        activity.add_ai_metadata(citations(sources, language))
    if feedback:
        activity.channel_data = {"feedbackLoopEnabled": True}
    return activity


def card_message(answer: str, sources: Sequence[SourceRef], language: str, answer_id: int | None) -> Activity:
    """An Adaptive Card for channels: the answer, dated sources, one open-URL action each, 👍/👎 buttons and a
    "Remind me" button per open call cited (`bot.reminders`)."""
    body: list[dict] = [{"type": "TextBlock", "text": escape(answer), "wrap": True}]
    if sources:
        body.append({"type": "TextBlock", "text": message("sources_heading", language), "weight": "Bolder",
                     "spacing": "Medium"})
        body.extend({"type": "TextBlock", "wrap": True, "spacing": "Small", "text": line}
                    for line in sources_markdown(sources, language).split("\n\n"))
    actions: list[dict] = [{"type": "Action.OpenUrl", "title": escape_plain(f"[{ref.n}] {ref.title}"[:60]),
                            "url": safe_url(ref.url)} for ref in sources if safe_url(ref.url)]
    if answer_id is not None:
        actions += [
            {"type": "Action.Submit", "title": f"👍 {message('feedback_up', language)}",
             "data": {FEEDBACK_KEY: "up", "answer_id": answer_id}},
            {"type": "Action.Submit", "title": f"👎 {message('feedback_down', language)}",
             "data": {FEEDBACK_KEY: "down", "answer_id": answer_id}},
        ]
        actions += reminder_actions(sources, language)
    card = {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.5", "body": body, "actions": actions}
    return Activity(type="message", text=escape(answer),
                    attachments=[Attachment(content_type=CARD_TYPE, content=card)])


def digest_message(digest: Digest) -> Activity:
    """A channel digest as an Adaptive Card: its title, then each section's heading and items (a link and the date
    each), in the channel's language; the summary is what notifications show."""
    language = digest.language
    body: list[dict] = [{"type": "TextBlock", "text": escape(title_text(digest)), "size": "Large",
                         "weight": "Bolder", "wrap": True}]
    for name, items, more in digest.sections():
        body.append({"type": "TextBlock", "text": escape(name), "weight": "Bolder", "spacing": "Medium",
                     "wrap": True})
        for item in items:
            url = safe_url(item.url)
            label = f"[{escape(item.title)}]({url})" if url else escape(
                item.title if not item.url or item.url == item.title else f"{item.title} ({item.url})")
            body.append({"type": "TextBlock", "wrap": True, "spacing": "Small",
                         "text": f"{label} · {escape(item_note(item, language))}"})
        if more:
            body.append({"type": "TextBlock", "wrap": True, "spacing": "Small", "isSubtle": True,
                         "text": escape(say("digest_more", language, count=more))})
    card = {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.5", "body": body}
    return Activity(type="message", summary=escape_plain(summary_text(digest)),
                    attachments=[Attachment(content_type=CARD_TYPE, content=card)])
