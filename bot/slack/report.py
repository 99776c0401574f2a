"""The staff report in Slack: Block Kit for its figures and sections (`report_blocks`, no I/O), and the post, one
message then the chart uploaded with `files_upload_v2` (`post_report`), to a staff member's DM or the staff channel.
"""

from __future__ import annotations

import logging
from datetime import datetime

from slack_sdk import WebClient

from bot.report import (
    Report,
    build_report,
    chart_alt,
    chart_png,
    figures,
    period_text,
    report_job,
    report_sections,
    word,
)
from bot.scheduler import Job
from bot.slack.render import MAX_BLOCKS, escape, link, safe_url, split_text
from bot.state import BotState
from knowledge.embedding import Embedder
from knowledge.store import KnowledgeStore

logger = logging.getLogger(__name__)

_FIELDS = 10  # Slack's limit of fields in one section


def report_blocks(report: Report, language: str = "en") -> list[dict]:
    """Header, period, the figures as fields, then one section per part of the report (escaped, linked)."""
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": word("title", language)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(period_text(report, language))}]},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{escape(label)}*\n{escape(value)}"}
                                       for label, value in figures(report, language)][:_FIELDS]},
    ]
    for section in report_sections(report, language):
        lines = [f"• {link(line.url, line.text)}" if safe_url(line.url) else f"• {escape(line.text)}"
                 for line in section.lines]
        for n, piece in enumerate(split_text("\n".join(lines))):
            text = f"*{escape(section.title)}*\n{piece}" if n == 0 else piece
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    return blocks[:MAX_BLOCKS]


def fallback_text(report: Report, language: str = "en") -> str:
    """The notification text: the title, period and headline figures."""
    numbers = ", ".join(f"{label}: {value}" for label, value in figures(report, language)[:3])
    return escape(f"{word('title', language)} — {period_text(report, language)} — {numbers}")


def post_report(client: WebClient, channel: str, report: Report, language: str = "en") -> None:
    """Post the report in `channel`, then its chart (PNG) with `files_upload_v2` (scopes chat:write, files:write)."""
    client.chat_postMessage(channel=channel, text=fallback_text(report, language),
                            blocks=report_blocks(report, language), unfurl_links=False)
    client.files_upload_v2(channel=channel, file=chart_png(report, language),
                           filename=f"questions-per-day-{report.end.date().isoformat()}.png",
                           title=word("chart_title", language), alt_txt=chart_alt(report, language))
    logger.info("staff report posted questions=%d", report.questions)  # no channel: a DM's id names its member


def scheduled_report(state: BotState, *, embedder: Embedder, store: KnowledgeStore, client: WebClient,
                     channel: str, schedule: str, language: str = "en") -> Job:
    """The scheduled job posting the last week's report to the staff channel (`KB_REPORT_CHANNEL`)."""

    def build(now: datetime) -> Report:
        return build_report(state, embedder=embedder, store=store, now=now)

    def publish(report: Report) -> str:
        post_report(client, channel, report, language)
        return f"posted to {channel}: {report.questions} questions, {report.unanswered} unanswered"

    return report_job(build, publish, schedule=schedule)


__all__ = ["fallback_text", "post_report", "report_blocks", "scheduled_report"]
