"""The staff report in Teams: an Adaptive Card with its figures (a FactSet), the questions per day, and one
block per part of the report. No I/O."""

from __future__ import annotations

from microsoft_agents.activity import Activity, Attachment

from bot.report import Report, figures, period_text, report_sections, word
from bot.teams.render import CARD_TYPE, escape, escape_plain, safe_url


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


__all__ = ["report_card", "report_message"]
