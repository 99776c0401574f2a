"""Escaping shared by the Slack and Teams renderers: text from a source must never ping, tag or link. No I/O."""

from __future__ import annotations

import re
from urllib.parse import quote

_CITATION = re.compile(r"\[\d+\](?![(:])")  # `[2]`, but not a Markdown link or reference definition
_MARKDOWN_SPECIAL = re.compile(r"([\\\[\]])")


def entities(text: str) -> str:
    """`&`, `<` and `>` as entities: no `<!channel>`, `<@U1>`, `<at>` or tag from any source.

    >>> entities("R&D <!channel>")
    'R&amp;D &lt;!channel&gt;'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def no_markdown_links(text: str) -> str:
    """Brackets escaped so no `[text](url)` link can be made; citation markers `[n]` kept as they are.

    >>> no_markdown_links("[click](https://x.test) see [1]")
    '\\\\[click\\\\](https://x.test) see [1]'
    """
    pieces, position = [], 0
    for match in _CITATION.finditer(text):
        pieces += [_MARKDOWN_SPECIAL.sub(r"\\\1", text[position : match.start()]), match.group()]
        position = match.end()
    pieces.append(_MARKDOWN_SPECIAL.sub(r"\\\1", text[position:]))
    return "".join(pieces)


def web_url(url: str, safe: str) -> str | None:
    """An http(s) URL percent-encoded but for the characters in `safe`; None for anything else."""
    url = url.strip()
    if not url.startswith(("http://", "https://")):
        return None
    return quote(url, safe=safe)
