"""Turns replies into Slack Block Kit, with Slack's limits respected. No I/O."""

from __future__ import annotations

from collections.abc import Sequence

from bot import messages
from bot.digest import Digest, item_note, say, summary_text, title_text
from bot.escaping import entities, no_markdown_links, web_url
from bot.reminders import CallRef, remindable
from knowledge.answering import SourceRef
from knowledge.locales import message, written_date

SECTION_LIMIT = 3000  # characters of one section's text
MAX_BLOCKS = 50
FEEDBACK_UP, FEEDBACK_DOWN = "feedback_up", "feedback_down"
REMIND = "remind_call"  # + ":<n>": one button per open call cited (`bot.reminders`)
_BUTTON_TEXT = 75  # characters of a button's label


# Characters a URL may keep as they are; everything else (spaces, `|`, `<`, `>`, quotes...) is percent-encoded.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"


def escape(text: str) -> str:
    """Slack's control characters as entities, so no text can ping (`<!channel>`, `<@U1>`) or make a link.

    >>> escape("R&D <!channel>")
    'R&amp;D &lt;!channel&gt;'
    """
    return entities(text)


def escape_markdown(text: str) -> str:
    """`escape`, and no Markdown link either (for `markdown_text`): brackets are escaped, citations `[n]` kept."""
    return escape(no_markdown_links(text))


def safe_url(url: str) -> str | None:
    """A web URL fit for `<url|label>` (percent-encoded, `&` as an entity), or None for anything else."""
    target = web_url(url, _URL_SAFE)
    return escape(target) if target else None


def link(url: str, title: str) -> str:
    """`<url|title>` for web links; the bare title (and path) otherwise."""
    label = escape(title).replace("|", "¦")
    target = safe_url(url)
    if target:
        return f"<{target}|{label}>"
    return f"{label} ({escape(url)})" if url and url != title else label


def split_text(text: str, limit: int = SECTION_LIMIT - 100) -> list[str]:
    """Cut text into pieces under `limit`, at line ends where possible, never losing a character."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # a single enormous line: cut at a space
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:cut])
            line = line[cut:].lstrip()
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def source_line(ref: SourceRef, language: str) -> str:
    """`[1] <url|title> · deadline 4 March 2027 (open)`: the link, and the date members act on."""
    parts = [f"*[{ref.n}]* {link(ref.url, ref.title)}"]
    if ref.kind == "funding_call" and ref.dates.get("deadline"):
        deadline = written_date(ref.dates["deadline"], language)
        parts.append(f"{message('source_deadline', language)} {escape(deadline)}")
    elif ref.kind == "event" and ref.dates.get("start"):
        start = written_date(ref.dates["start"], language)
        parts.append(f"{message('source_start', language)} {escape(start)}")
    if ref.status:
        parts.append(f"({message('status_' + ref.status, language)})")
    return " · ".join(parts)


def answer_blocks(answer: str, sources: Sequence[SourceRef], language: str,
                  answer_id: int | None = None) -> list[dict]:
    """The answer, its numbered sources as links, and 👍/👎 buttons (when the answer was recorded), with a
    "Remind me" button for each open call it cites (a few at most)."""
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": piece}}
                          for piece in split_text(escape(answer))]
    if sources:
        lines = [source_line(ref, language) for ref in sources]
        for piece in split_text("\n".join(lines)):
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": piece}]})
    if answer_id is not None:
        blocks.append(feedback_block(answer_id, language, remindable(sources, language)))
    if len(blocks) > MAX_BLOCKS:  # never drop the reply: fold the overflow into the last text block
        overflow = "\n".join(b["text"]["text"] if "text" in b else b["elements"][0]["text"]
                             for b in blocks[MAX_BLOCKS - 2 : -1])
        blocks = blocks[: MAX_BLOCKS - 2] + [{"type": "section", "text": {
            "type": "mrkdwn", "text": overflow[: SECTION_LIMIT - 1]}}] + blocks[-1:]
    return blocks


def feedback_block(answer_id: int, language: str, reminders: Sequence[CallRef] = ()) -> dict:
    up, down = message("feedback_up", language), message("feedback_down", language)
    return {"type": "actions", "block_id": f"feedback:{answer_id}", "elements": [
        {"type": "button", "action_id": FEEDBACK_UP, "value": str(answer_id),
         "text": {"type": "plain_text", "text": f"👍 {up}", "emoji": True}},
        {"type": "button", "action_id": FEEDBACK_DOWN, "value": str(answer_id),
         "text": {"type": "plain_text", "text": f"👎 {down}", "emoji": True}},
        *(remind_button(n, ref) for n, ref in enumerate(reminders)),
    ]}


def remind_button(n: int, ref: CallRef) -> dict:
    """'⏰ Remind me: EIC Accelerator'; the value names the call (`CallRef.value`). Escaped like every text."""
    label = messages.text("reminder_button", ref.language, title=ref.title)
    if len(label) > _BUTTON_TEXT:
        label = label[: _BUTTON_TEXT - 1] + "…"
    return {"type": "button", "action_id": f"{REMIND}:{n}", "value": ref.value(),
            "text": {"type": "plain_text", "text": escape(label), "emoji": True}}


def fallback_text(answer: str) -> str:
    """Notification text shown where blocks are not (push notifications, search), escaped like the blocks."""
    first = answer.strip().splitlines()[0] if answer.strip() else ""
    return escape(first[:300])


def stream_chunks(answer: str) -> list[str]:
    """The answer as `markdown_text` pieces for chat streaming, one line each, escaped."""
    return [escape_markdown(line) for line in answer.splitlines(keepends=True)]


def lines_text(lines: Sequence[str]) -> str:
    """Plain lines (summaries, gaps) as one escaped mrkdwn text."""
    return "\n".join(escape(line) for line in lines)


def home_view(*, staff: bool, events: Sequence[dict], calls: Sequence[dict], status: dict | None,
              gaps: Sequence[str], ask_command: str, language: str = "en", jobs: Sequence[str] = ()) -> dict:
    """App Home: what the bot does, the next events and closing calls; for staff, the index, the gaps and the
    scheduled jobs (`jobs`: one line each)."""
    def say(key: str, **values: object) -> str:
        return messages.text(key, language, **values)

    def header(key: str) -> dict:
        return {"type": "header", "text": {"type": "plain_text", "text": say(key)}}

    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Cluster Concierge"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": say("home_intro", ask_command=escape(ask_command))}},
        header("home_next_events"),
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(
            f"• {link(e['url'], e['title'])} · {escape(e['start'])}" for e in events)
            or f"_{say('home_no_event')}_"}},
        header("home_calls_closing"),
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(
            f"• {link(c['url'], c['title'])} · {say('source_deadline')} {escape(c['deadline'])}" for c in calls)
            or f"_{say('home_no_call')}_"}},
    ]
    if staff and status is not None:
        blocks += [
            header("home_index_status"),
            {"type": "section", "text": {"type": "mrkdwn", "text": say(
                "home_index_summary", sources=status["sources"], chunks=status["chunks"],
                finished=escape(str(status.get("finished_at") or say("home_never"))), failed=status.get("failed", 0))}},
        ]
        if status.get("failures"):
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": split_text(
                escape(str(status["failures"])))[0]}})
        blocks += [
            header("home_gaps"),
            {"type": "section", "text": {"type": "mrkdwn", "text": split_text(
                "\n".join(f"• {escape(g)}" for g in gaps) or f"_{say('home_no_gaps')}_")[0]}},
        ]
    if staff and jobs:
        blocks += [
            header("home_jobs"),
            {"type": "section", "text": {"type": "mrkdwn", "text": split_text(
                "\n".join(f"• {escape(line)}" for line in jobs))[0]}},
        ]
    return {"type": "home", "blocks": blocks[:MAX_BLOCKS]}


def digest_blocks(digest: Digest) -> list[dict]:
    """A channel digest: its title, then each section's heading and items (a link and the date each), in the
    channel's language."""
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": title_text(digest)[:150]}}]
    for name, items, more in digest.sections():
        lines = [f"• {link(item.url, item.title)} · {escape(item_note(item, digest.language))}" for item in items]
        if more:
            lines.append(f"• _{escape(say('digest_more', digest.language, count=more))}_")
        pieces = split_text("\n".join(lines))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape(name)}*\n{pieces[0]}"}})
        blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": piece}} for piece in pieces[1:]]
    return blocks[:MAX_BLOCKS]


def digest_fallback(digest: Digest) -> str:
    """The digest's notification text: its title and each section's count."""
    return escape(summary_text(digest))
