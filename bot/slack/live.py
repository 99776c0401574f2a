"""A chat model's answer streamed into a Slack thread while it is written (`chat.startStream`/`appendStream`),
then finished from the checked reply: the rest of the text, the sources and the feedback buttons on
`chat.stopStream`; or, when the reply the conversation settled on is not the text already shown (the model's reply
failed a check or ran out of time, and the extractive answer replaces it), the stream is stopped and the message
replaced with `chat.update` on the stream's `ts`, which Slack documents as the way to rewrite a streamed message.

The text arrives checked sentence by sentence, with its citations numbered as in the final answer
(`knowledge.chat_answering`), so appending each piece at once is what a member should see.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.chat_stream import ChatStream

from bot.conversation import Reply
from bot.slack import render

logger = logging.getLogger(__name__)


class LiveAnswer:
    """`append` is the conversation's `on_text`; `finish` completes the message once the Reply is known.

    The stream opens on the first piece of text only: with the extractive answerer nothing is ever appended, and
    the listener posts or streams the reply as before.
    """

    def __init__(self, open_stream: Callable[[], ChatStream]) -> None:
        self._open = open_stream
        self._stream: ChatStream | None = None
        self.shown = ""  # the escaped Markdown the member sees
        self.refused: str | None = None  # Slack's error when it refused to start a stream: post the answer instead
        self._gave_up = False  # a call failed: nothing more is appended
        self._broken = False  # ... after the stream started: what the member sees is uncertain, `finish` replaces it

    @property
    def started(self) -> bool:
        """The member sees a streamed message (which `finish` must complete)."""
        return self._stream is not None and self._stream.ts is not None

    def append(self, text: str) -> None:
        """Show one more piece of the answer; never raises (the answer goes on and `finish` delivers it)."""
        if self._gave_up:
            return
        chunk = render.escape_markdown(text)
        try:
            if self._stream is None:
                self._stream = self._open()
            self._stream.append(markdown_text=chunk)
            self.shown += chunk
        except (SlackApiError, OSError) as exc:  # OSError: the connection, after slack_sdk's own retries
            self._gave_up = True
            if self.started:
                logger.warning("appending to the streamed answer failed; it will be replaced: %s", exc)
                self._broken = True
            elif isinstance(exc, SlackApiError):
                self.refused = str(exc.response.get("error"))
                logger.info("streaming unavailable (%s); the answer will be posted", self.refused)
            else:
                logger.warning("starting the stream failed; the answer will be posted: %s", exc)

    def finish(self, client: WebClient, channel: str, thread: str, reply: Reply, blocks: list[dict]) -> None:
        """Complete the streamed message with `reply`: append the rest and the sources and buttons when the reply
        goes on from what was shown, else replace the message. Never raises once the member sees something."""
        assert self._stream is not None and self._stream.ts is not None, "finish() needs a started stream"
        expected = "".join(render.stream_chunks(reply.answer))
        if not self._broken and expected.startswith(self.shown):
            try:
                self._stream.stop(markdown_text=expected[len(self.shown):] or None,
                                  blocks=[b for b in blocks if b["type"] != "section"])  # sources and buttons
                return
            except (SlackApiError, OSError):
                logger.exception("stopping the streamed answer failed; replacing it channel=%s", channel)
        else:
            logger.info("the streamed text is replaced by the checked answer channel=%s", channel)
            try:
                self._stream.stop()
            except (SlackApiError, OSError) as exc:  # e.g. message_not_in_streaming_state: chat.update still works
                logger.info("stopping the stream before replacing it failed: %s", exc)
        self._replace(client, channel, thread, reply, blocks)

    def _replace(self, client: WebClient, channel: str, thread: str, reply: Reply, blocks: list[dict]) -> None:
        text = render.fallback_text(reply.answer)
        assert self._stream is not None and self._stream.ts is not None
        try:
            client.chat_update(channel=channel, ts=self._stream.ts, text=text, blocks=blocks)
            return
        except (SlackApiError, OSError):
            logger.exception("replacing the streamed answer failed; posting it channel=%s", channel)
        try:  # the member must get the checked answer, even below a streamed one
            client.chat_postMessage(channel=channel, thread_ts=thread, text=text, blocks=blocks, unfurl_links=False)
        except (SlackApiError, OSError):
            logger.exception("the checked answer could not be posted channel=%s", channel)
