"""Turns replies into Teams activities: native citations in chats, an Adaptive Card in channels. No I/O."""

from __future__ import annotations

from collections.abc import Sequence

from microsoft_agents.activity import Activity, Attachment
from microsoft_agents.activity.entity.ai_entity import ClientCitation, ClientCitationAppearance

from knowledge.answering import SourceRef

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
FEEDBACK_KEY = "concierge_feedback"


def _date_note(ref: SourceRef, language: str) -> str:
    fr = language == "fr"
    if ref.kind == "funding_call" and ref.dates.get("deadline"):
        status = {"closed": " (clôturé)" if fr else " (closed)"}.get(ref.status or "", "")
        return f"{'Date limite' if fr else 'Deadline'} {ref.dates['deadline']}{status}"
    if ref.kind == "event" and ref.dates.get("start"):
        status = {"past": " (passé)" if fr else " (past)"}.get(ref.status or "", "")
        return f"{'Le' if fr else 'On'} {ref.dates['start']}{status}"
    return ""


def citations(sources: Sequence[SourceRef], language: str) -> list[ClientCitation]:
    """Teams' citation claims: position n matches the [n] in the text."""
    out = []
    for ref in sources:
        abstract = " — ".join(part for part in (_date_note(ref, language), ref.snippet.replace("\n", " ")) if part)
        out.append(ClientCitation(position=ref.n, appearance=ClientCitationAppearance(
            name=ref.title[:80], url=ref.url if ref.url.startswith(("http://", "https://")) else None,
            abstract=abstract[:160] or ref.title[:160])))
    return out


def sources_markdown(sources: Sequence[SourceRef], language: str) -> str:
    lines = []
    for ref in sources:
        label = f"[{ref.title}]({ref.url})" if ref.url.startswith(("http://", "https://")) else ref.title
        note = _date_note(ref, language)
        lines.append(f"[{ref.n}] {label}" + (f" · {note}" if note else ""))
    return "\n\n".join(lines)


def chat_message(answer: str, sources: Sequence[SourceRef], language: str, *, feedback: bool) -> Activity:
    """A message with native citations (and Teams' feedback loop) for 1:1 and group chats."""
    text = answer if not sources else f"{answer}\n\n{sources_markdown(sources, language)}"
    activity = Activity(type="message", text=text, text_format="markdown")
    if sources:
        activity.add_ai_metadata(citations(sources, language))
    if feedback:
        activity.channel_data = {"feedbackLoopEnabled": True}
    return activity


def card_message(answer: str, sources: Sequence[SourceRef], language: str, answer_id: int | None) -> Activity:
    """An Adaptive Card for channels: the answer, dated sources, one open-URL action each, 👍/👎 buttons."""
    fr = language == "fr"
    body: list[dict] = [{"type": "TextBlock", "text": answer, "wrap": True}]
    if sources:
        body.append({"type": "TextBlock", "text": "Sources", "weight": "Bolder", "spacing": "Medium"})
        body.extend({"type": "TextBlock", "wrap": True, "spacing": "Small", "text": line}
                    for line in sources_markdown(sources, language).split("\n\n"))
    actions: list[dict] = [{"type": "Action.OpenUrl", "title": f"[{ref.n}] {ref.title}"[:60], "url": ref.url}
                           for ref in sources if ref.url.startswith(("http://", "https://"))]
    if answer_id is not None:
        actions += [
            {"type": "Action.Submit", "title": "👍 Utile" if fr else "👍 Helpful",
             "data": {FEEDBACK_KEY: "up", "answer_id": answer_id}},
            {"type": "Action.Submit", "title": "👎 Pas utile" if fr else "👎 Not helpful",
             "data": {FEEDBACK_KEY: "down", "answer_id": answer_id}},
        ]
    card = {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.5", "body": body, "actions": actions}
    return Activity(type="message", text=answer, attachments=[Attachment(content_type=CARD_TYPE, content=card)])
