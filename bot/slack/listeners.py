"""Slack's listeners: translate events, commands and clicks into calls of the desk (`bot.desk`), and its
replies into messages, streams and ephemeral responses. No product rule and no sentence of their own.

Ack first, work after: Slack waits for the HTTP response (3 s at most), so nothing slow runs before it. bolt
acknowledges an event before its listener starts; the listeners themselves (bolt's `listener_executor`) only
check the event id, claim the message and hand the answer to a small pool of answer workers. There answers may
queue under a burst; the acks, and the listener threads that call `ack()` for commands and clicks, do not.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App, Assistant, BoltRequest, Respond, Say, SetStatus, SetSuggestedPrompts
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.chat_stream import ChatStream

from bot import messages
from bot.conversation import Reply
from bot.desk import Desk, Notice, notice_lines
from bot.report import word as report_word
from bot.settings import BotSettings
from bot.slack import render
from bot.slack.directory import SlackDirectory
from bot.slack.live import LiveAnswer
from bot.slack.report import post_report

logger = logging.getLogger(__name__)

_MENTION = re.compile(r"<@[A-Z0-9]+>")
ANSWER_WORKERS = 4  # answers computed at once (CPU-bound retrieval on a small host); more wait their turn


def notice_text(notice: Notice) -> str:
    """A desk notice as escaped mrkdwn, list items bulleted."""
    return render.lines_text(notice_lines(notice, "• "))


class SlackListeners:
    """Each bolt listener as a method; `register` hands them to the App."""

    def __init__(self, desk: Desk, directory: SlackDirectory, settings: BotSettings) -> None:
        self.desk = desk
        # Where answers are worked out and posted: never bolt's listener executor, whose threads call `ack()`.
        self.answers = ThreadPoolExecutor(max_workers=ANSWER_WORKERS, thread_name_prefix="slack-answer")
        self.directory = directory
        self.ask_command = settings.slack_ask_command
        self.admin_command = settings.slack_admin_command
        self._team_id: str | None = None
        self._stream_in_channels = True  # until the workspace refuses chat.startStream outside assistant threads

    def register(self, app: App) -> None:
        assistant = Assistant()
        assistant.thread_started(self.start_assistant_thread)
        assistant.user_message(self.answer_in_assistant)
        app.use(assistant)
        app.event("app_mention")(self.answer_mention)
        app.event("message")(self.answer_dm_or_follow_up)
        app.command(self.ask_command)(self.answer_privately)
        app.command(self.admin_command)(self.staff_command)
        app.action(render.FEEDBACK_UP)(self.record_feedback)
        app.action(render.FEEDBACK_DOWN)(self.record_feedback)
        app.action(re.compile(f"^{render.REMIND}:"))(self.set_reminder)
        app.event("app_home_opened")(self.publish_home)
        app.error(self.log_errors)

    # --- facts for the desk's rule -----------------------------------------------------------------------------

    def role(self, channel: str, channel_type: str | None, user: str, *, private: bool = False) -> str:
        return self.desk.role(direct=self.directory.is_direct(channel, channel_type),
                              is_staff=lambda: self.directory.is_staff(user), private=private,
                              shared=lambda: self.directory.is_shared(channel),
                              configured=self.directory.configured_role(channel))

    # --- events ----------------------------------------------------------------------------------------------

    def first_delivery(self, request: BoltRequest) -> bool:
        """Slack re-sends an event it thinks was missed: handle it unless its id was already handled (the
        original may have been lost while the bot restarted). Each event listener asks first; being a SQLite
        write, it runs there, after the ack, not in a middleware before it."""
        event_id = request.body.get("event_id") if isinstance(request.body, dict) else None
        if event_id and not self.desk.first_delivery(str(event_id)):
            logger.info("event already handled event_id=%s retry=%s", event_id,
                        request.headers.get("x-slack-retry-num"))
            return False
        return True

    def _later(self, work: Callable[[], None]) -> None:
        """Run `work` on an answer worker; what it raises is logged like a listener's error."""
        def run() -> None:
            try:
                work()
            except Exception:  # noqa: BLE001 - the thread pool would drop it silently
                logger.exception("unhandled error in a Slack answer")
        self.answers.submit(run)

    def start_assistant_thread(self, request: BoltRequest, say: Say,
                               set_suggested_prompts: SetSuggestedPrompts) -> None:
        if not self.first_delivery(request):
            return
        say(messages.text("greeting"))
        set_suggested_prompts(prompts=messages.SUGGESTED_PROMPTS)

    def answer_in_assistant(self, request: BoltRequest, payload: dict, client: WebClient,
                            set_status: SetStatus) -> None:
        if not self.first_delivery(request):
            return
        channel, user = payload["channel"], payload["user"]
        if not self.desk.claim(channel, payload["ts"]):
            return  # answered already (a retry after a restart)
        set_status(messages.text("thinking"))
        self.answer_later(client, text=payload.get("text", ""), channel=channel,
                          thread=payload.get("thread_ts") or payload["ts"], user=user,
                          role=lambda: self.role(channel, "im", user), assistant=True, message=payload["ts"])

    def answer_mention(self, request: BoltRequest, event: dict, client: WebClient) -> None:
        if not self.first_delivery(request):
            return
        channel, user = event["channel"], event.get("user", "")
        if not self.desk.claim(channel, event["ts"]):
            return  # already answered as a `message` in a thread we follow
        self.answer_later(client, text=event.get("text", ""), channel=channel,
                          thread=event.get("thread_ts") or event["ts"], user=user,
                          role=lambda: self.role(channel, event.get("channel_type"), user), message=event["ts"])

    def answer_dm_or_follow_up(self, request: BoltRequest, event: dict, client: WebClient, context: Any) -> None:
        if not self.first_delivery(request):
            return
        if event.get("subtype") or event.get("bot_id") or not event.get("text"):
            return  # edits, joins, bots (including ourselves)
        if context.bot_user_id and f"<@{context.bot_user_id}>" in event["text"]:
            return  # a mention: answered by answer_mention
        channel, user = event["channel"], event.get("user", "")
        if event.get("channel_type") == "im" and user and self.desk.is_forget_request(event["text"]):
            if self.desk.claim(channel, event["ts"]):  # "forget me" in a DM: erased, never recorded as a question
                self._later(lambda: self.forget_in_dm(client, channel=channel, user=user, said=event["text"],
                                                      message=event["ts"]))
            return
        if event.get("channel_type") == "im":
            thread = event.get("thread_ts") or event["ts"]
        elif event.get("thread_ts") and self.desk.follows(channel, event["thread_ts"]):
            thread = event["thread_ts"]  # a follow-up in a thread we answered: no new mention needed
        else:
            return
        if not self.desk.claim(channel, event["ts"]):
            return  # already answered as an `app_mention`
        self.answer_later(client, text=event["text"], channel=channel, thread=thread, user=user,
                          role=lambda: self.role(channel, event.get("channel_type"), user), message=event["ts"])

    def forget_in_dm(self, client: WebClient, *, channel: str, user: str, said: str, message: str) -> None:
        """Erase what is kept under the sender's id and say what went, in the DM only they read."""
        client.chat_postMessage(channel=channel, text=notice_text(self.desk.forget(user, said=said)))
        self.desk.finish(channel, message)

    def publish_home(self, request: BoltRequest, event: dict, client: WebClient) -> None:
        if not self.first_delivery(request) or event.get("tab", "home") != "home":
            return
        home = self.desk.home(staff=self.directory.is_staff(event["user"]))
        client.views_publish(user_id=event["user"], view=render.home_view(
            staff=home.staff, events=home.events, calls=home.calls, status=home.status, gaps=home.gaps,
            jobs=home.jobs, ask_command=self.ask_command))

    def log_errors(self, error: Exception, body: dict) -> None:
        logger.error("unhandled error in a Slack listener: %s (type=%s)", error, body.get("type"))

    # --- commands and clicks -------------------------------------------------------------------------------

    def answer_privately(self, ack: Ack, command: dict, respond: Respond) -> None:
        ack()
        question = _MENTION.sub("", command.get("text") or "").strip()
        if not question:
            respond(text=messages.text("ask_usage", command=self.ask_command), response_type="ephemeral")
            return
        self._later(lambda: self._answer_privately(question, command, respond))

    def _answer_privately(self, question: str, command: dict, respond: Respond) -> None:
        user, channel = command["user_id"], command["channel_id"]
        try:
            reply, answer_id = self.desk.ask(question, conversation=channel, thread=f"command:{user}", user=user,
                                             role=self.role(channel, None, user, private=True))
            respond(text=render.fallback_text(reply.answer), response_type="ephemeral",
                    blocks=render.answer_blocks(reply.answer, reply.sources, reply.language, answer_id))
        except Exception:  # noqa: BLE001 - the member gets an apology, staff get the traceback
            logger.exception("slash command answer failed")
            respond(text=self.desk.apology(question), response_type="ephemeral")

    def staff_command(self, ack: Ack, command: dict, respond: Respond, client: WebClient) -> None:
        ack()
        if self.desk.is_follow_command(command.get("text") or ""):
            self.follow_command(command, respond)
            return
        # Who asks comes from the signed payload only; nothing typed in the text can make someone staff.
        # `forget-me` is for every member (`user`): the ephemeral reply reaches them only.
        self.desk.staff_command(
            command.get("text") or "", staff=self.directory.is_staff(command["user_id"]),
            tell=lambda notice: self._tell_staff(client, command["user_id"], respond, notice),
            invoked_as=self.admin_command, ask_command=self.ask_command, user=command["user_id"])

    def follow_command(self, command: dict, respond: Respond) -> None:
        """`/concierge follow <topic>`, `unfollow <topic>`, `following`: for every member, replied ephemerally; the
        follow keeps the audience the member may see where they asked (staff: everything)."""
        user, channel = command["user_id"], command["channel_id"]
        notice = self.desk.follow_command(command.get("text") or "", user=user, invoked_as=self.admin_command,
                                          role=self.role(channel, None, user, private=True))
        respond(text=notice_text(notice), response_type="ephemeral")

    def _tell_staff(self, client: WebClient, user: str, respond: Respond, notice: Notice) -> None:
        """A notice as an ephemeral reply; the report goes to the asker's DM with the bot (blocks, then the chart):
        an ephemeral reply cannot carry a file, and the other members of a channel must not read the report."""
        if notice.report is None:
            respond(text=notice_text(notice), response_type="ephemeral")
            return
        try:
            direct = client.conversations_open(users=user)["channel"]["id"]
            post_report(client, direct, notice.report)
        except (SlackApiError, SlackRequestError, OSError):
            logger.exception("the staff report could not be posted")
            respond(text=report_word("failed"), response_type="ephemeral")
            return
        respond(text=report_word("sent_privately"), response_type="ephemeral")

    def set_reminder(self, ack: Ack, body: dict, action: dict, respond: Respond) -> None:
        """"Remind me" on an answer: the reminder is recorded under the clicking member; only they read the reply."""
        ack()
        said = self.desk.remind(action.get("value") or "", body["user"]["id"])
        respond(text=render.lines_text([said]), response_type="ephemeral", replace_original=False)

    def record_feedback(self, ack: Ack, body: dict, action: dict, respond: Respond) -> None:
        ack()
        thanks = self.desk.feedback(int(action["value"]), body["user"]["id"], action["action_id"] == render.FEEDBACK_UP)
        if thanks:
            respond(text=thanks, response_type="ephemeral", replace_original=False)

    # --- replies ---------------------------------------------------------------------------------------------

    def answer_later(self, client: WebClient, *, text: str, channel: str, thread: str, user: str,
                     role: Callable[[], str], assistant: bool = False, message: str | None = None) -> None:
        """Follow the thread now (a quick follow-up is ours too), then answer on an answer worker: the role
        (which may ask the Web API) and the answer are worked out there."""
        self.desk.follow(channel, thread)
        self._later(lambda: self.reply_in_thread(client, text=text, channel=channel, thread=thread, user=user,
                                                 role=role(), assistant=assistant, message=message))

    def reply_in_thread(self, client: WebClient, *, text: str, channel: str, thread: str, user: str, role: str,
                        assistant: bool = False, message: str | None = None) -> None:
        """Answer a question in its thread (followed already: `answer_later`); an error becomes a short apology
        there, never silence. `message` (its ts, claimed by the caller) is marked finished once the answer or the
        apology is posted."""
        question = _MENTION.sub("", text).strip()
        try:
            stream = assistant or self._stream_in_channels
            # A chat model's reply is streamed while it is written; the extractive answerer appends nothing.
            live = LiveAnswer(lambda: self._open_stream(client, channel, thread, user, 1)) if stream else None
            reply, answer_id = self.desk.ask(question, conversation=channel, thread=thread, user=user, role=role,
                                             on_text=live.append if live is not None else None)
            blocks = render.answer_blocks(reply.answer, reply.sources, reply.language, answer_id)
            if live is not None and live.started:
                live.finish(client, channel, thread, reply, blocks)
            else:
                if live is not None and live.refused:  # refused already: no second refused call for this answer
                    stream = False
                    if not assistant:
                        self._stream_in_channels = False
                if not (stream and self._stream(client, reply, blocks, channel, thread, user, assistant)):
                    client.chat_postMessage(channel=channel, thread_ts=thread,
                                            text=render.fallback_text(reply.answer), blocks=blocks, unfurl_links=False)
        except Exception:  # noqa: BLE001 - the member gets an apology, staff get the traceback
            logger.exception("answer failed channel=%s thread=%s", channel, thread)
            try:
                client.chat_postMessage(channel=channel, thread_ts=thread, text=self.desk.apology(text))
            except SlackApiError:
                logger.exception("apology could not be posted channel=%s", channel)
                return  # not finished: a retry of the event after a restart may still answer it
        if message is not None:
            self.desk.finish(channel, message)

    def _open_stream(self, client: WebClient, channel: str, thread: str, user: str, buffer_size: int) -> ChatStream:
        """A chat stream in the thread for the asker; it calls Slack on its first flush (team id asked once)."""
        if self._team_id is None:
            self._team_id = client.auth_test().get("team_id")
        return client.chat_stream(channel=channel, thread_ts=thread, recipient_user_id=user,
                                  recipient_team_id=self._team_id, buffer_size=buffer_size)

    def _stream(self, client: WebClient, reply: Reply, blocks: list[dict], channel: str, thread: str,
                user: str, assistant: bool) -> bool:
        """Stream the answer where the workspace supports it; False to fall back to one message.

        Once the stream has started, the member already sees (part of) the answer: a later failure is
        logged, never followed by a second full post.
        """
        streamer = None
        try:
            streamer = self._open_stream(client, channel, thread, user, buffer_size=200)
            for chunk in render.stream_chunks(reply.answer):
                streamer.append(markdown_text=chunk)
            streamer.stop(blocks=[b for b in blocks if b["type"] != "section"])  # the sources and the buttons
            return True
        except (SlackApiError, OSError) as exc:  # OSError: the connection, after slack_sdk's own retries
            if streamer is not None and streamer.ts:
                logger.exception("stream failed after it started channel=%s thread=%s", channel, thread)
                return True
            if not isinstance(exc, SlackApiError):
                return False
            logger.info("streaming unavailable (%s); posting one message", exc.response.get("error"))
            if not assistant:
                self._stream_in_channels = False  # do not pay a refused call on every answer
            return False
