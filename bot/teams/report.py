"""The staff report in Teams: an Adaptive Card with its figures (a FactSet), the questions per day, and one
block per part of the report (`report_card`, `report_message`: no I/O); and the weekly post of that card to the
staff conversation of `KB_REPORT_CHANNEL` (`teams:<conversation id>`), a proactive message through
`bot.teams.proactive` (`post_report`, `scheduled_report`).

As for channel digests (`bot.teams.digest`), the bot can post there only once it knows the conversation's
reference: add the bot to the team or chat (or mention it there) before the first report.
"""

from __future__ import annotations

import logging
from datetime import datetime

from microsoft_agents.activity import Activity, Attachment
from microsoft_agents.hosting.core import ChannelServiceAdapter

from bot.report import Report, build_report, figures, period_text, report_job, report_sections, word
from bot.scheduler import Job
from bot.state import BotState
from bot.teams import proactive
from bot.teams.digest import PLATFORM, conversation_key
from bot.teams.render import CARD_TYPE, escape, escape_plain, safe_url
from knowledge.embedding import Embedder
from knowledge.store import KnowledgeStore

logger = logging.getLogger(__name__)


class ReportNotPosted(Exception):
    """The staff report could not be posted to its Teams conversation (the scheduled run is a failed run)."""


def report_card(report: Report, language: str = "en") -> dict:
    """The Adaptive Card (1.5): title, period, figures, a per-day table, then the sections (links to sources)."""
    body: list[dict] = [
        {"type": "TextBlock", "text": escape(word("title", language)), "size": "Large", "weight": "Bolder",
         "wrap": True},
        {"type": "TextBlock", "text": escape(period_text(report, language)), "isSubtle": True, "spacing": "None",
         "wrap": True},
        {"type": "FactSet", "facts": [{"title": escape_plain(label), "value": escape_plain(value)}
                                      for label, value in figures(report, language)]},
        {"type": "TextBlock", "text": escape(word("chart_title", language)), "weight": "Bolder",
         "spacing": "Medium", "wrap": True},
        {"type": "FactSet", "facts": [
            {"title": day.day.isoformat(),
             "value": f"{day.answered + day.unanswered} ({escape_plain(word('answered', language))} {day.answered}, "
                      f"{escape_plain(word('unanswered', language))} {day.unanswered})"}
            for day in report.days]},
    ]
    for section in report_sections(report, language):
        body.append({"type": "TextBlock", "text": escape(section.title), "weight": "Bolder", "spacing": "Medium",
                     "wrap": True})
        lines = []
        for line in section.lines:
            url = safe_url(line.url)
            lines.append(f"- [{escape(line.text)}]({url})" if url else f"- {escape(line.text)}")
        # Adaptive Cards' Markdown list: items separated by "\r" (Teams' "Format cards" page).
        body.append({"type": "TextBlock", "text": "\r".join(lines), "wrap": True, "spacing": "Small"})
    return {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.5", "body": body}


def report_message(report: Report, language: str = "en") -> Activity:
    """The card as a message, with the title and period as its text (notifications, clients without cards)."""
    return Activity(type="message", text=escape(f"{word('title', language)} — {period_text(report, language)}"),
                    attachments=[Attachment(content_type=CARD_TYPE, content=report_card(report, language))])


def post_report(adapter: ChannelServiceAdapter, state: BotState, conversation: str, report: Report,
                language: str = "en", *, app_id: str | None = None) -> str:
    """Post the report's card as a new message in the Teams `conversation` (a channel's or group chat's id) through
    `adapter`, as the bot `app_id` (None: as the identity the reference was learnt with); the id Teams gave it.
    Raises `ReportNotPosted`, after one log line naming the conversation (never the report), when the bot does
    not know the conversation yet or Teams refuses the post. Runs its own event loop (the scheduler's thread)."""
    key = conversation_key(conversation)
    kept = state.conversation_reference(PLATFORM, key)
    if kept is None:
        logger.warning("staff report not posted: no conversation reference for Teams conversation %s yet; add the "
                       "bot to the team or chat (or mention it there) once", key)
        raise ReportNotPosted(f"no conversation reference for Teams conversation {key} yet: the bot learns it when "
                              "it is added to the team or chat, or mentioned there")
    try:
        sent = proactive.post(adapter, app_id, kept, report_message(report, language))
    except Exception as exc:  # noqa: BLE001 - the SDK raises its HTTP client's errors as they are
        # The error's name and HTTP status only: its text may quote what Teams answered.
        status = getattr(exc, "status", None)
        why = type(exc).__name__ + (f", HTTP {status}" if isinstance(status, int) else "")
        logger.warning("staff report not posted: Teams conversation %s cannot be reached (%s)", key, why)
        raise ReportNotPosted(f"the staff report could not be posted to Teams conversation {key}: {why}") from exc
    logger.info("staff report posted to Teams conversation=%s questions=%d", key, report.questions)
    return sent


def scheduled_report(state: BotState, *, embedder: Embedder, store: KnowledgeStore, adapter: ChannelServiceAdapter,
                     conversation: str, schedule: str, language: str = "en", app_id: str | None = None) -> Job:
    """The scheduled job posting the last week's report as an Adaptive Card to the staff conversation
    (`KB_REPORT_CHANNEL=teams:<conversation id>`): the same job as Slack's (`bot.report.report_job`)."""

    def build(now: datetime) -> Report:
        return build_report(state, embedder=embedder, store=store, now=now)

    def publish(report: Report) -> str:
        post_report(adapter, state, conversation, report, language, app_id=app_id)
        return (f"posted to {PLATFORM}:{conversation_key(conversation)}: {report.questions} questions, "
                f"{report.unanswered} unanswered")

    return report_job(build, publish, schedule=schedule)


__all__ = ["ReportNotPosted", "post_report", "report_card", "report_message", "scheduled_report"]
