"""The Slack app: translates Slack events into questions for the conversation core, and replies back.

`create_app` builds a slack-bolt `App`; `run_socket_mode` and `run_http` start it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

from slack_bolt import Ack, App, Assistant, BoltResponse, Respond, Say, SetStatus, SetSuggestedPrompts
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, RetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from bot.conversation import Incoming, Reply
from knowledge.language import detect_language
from bot.settings import BotSettings
from bot.slack import render
from bot.state import BotState
from bot.wiring import Services
from knowledge.store import StoreError

logger = logging.getLogger(__name__)

PLATFORM = "slack"
_MENTION = re.compile(r"<@[A-Z0-9]+>")
_CACHE_SECONDS = 300
APOLOGY = {
    "en": "Sorry, something went wrong while answering. The team has been notified; please try again later.",
    "fr": "Désolé, une erreur est survenue pendant la réponse. L'équipe est prévenue ; merci de réessayer plus tard.",
}
SUGGESTED_PROMPTS = [
    {"title": "Open funding calls", "message": "Which funding calls are still open?"},
    {"title": "Prochains événements", "message": "Quels sont les prochains événements du cluster ?"},
    {"title": "Accreditation", "message": "How do I apply for the accreditation programme?"},
    {"title": "Adhésion", "message": "Combien coûte l'adhésion au cluster ?"},
]


class Roles:
    """Who may see what: staff by user ID or user group, channels by configuration or sharing."""

    def __init__(self, settings: BotSettings, client: WebClient) -> None:
        self._settings = settings
        self._client = client
        self._channel_roles = settings.channel_roles()
        self._cache: dict[tuple[str, str], tuple[float, object]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: tuple[str, str], compute):  # noqa: ANN001, ANN202
        with self._lock:
            hit = self._cache.get(key)
            if hit and time.monotonic() - hit[0] < _CACHE_SECONDS:
                return hit[1]
        value = compute()
        with self._lock:
            self._cache[key] = (time.monotonic(), value)
        return value

    def is_staff(self, user: str) -> bool:
        if user in self._settings.slack_staff_users:
            return True
        for group in self._settings.slack_staff_groups:
            def members(group: str = group) -> set[str]:
                try:
                    return set(self._client.usergroups_users_list(usergroup=group)["users"])
                except SlackApiError:
                    logger.exception("cannot list user group=%s", group)
                    return set()
            if user in self._cached(("group", group), members):
                return True
        return False

    def _shared(self, channel: str) -> bool:
        def lookup() -> bool:
            try:
                info = self._client.conversations_info(channel=channel)["channel"]
            except SlackApiError:
                logger.exception("cannot read channel=%s; treating it as shared", channel)
                return True  # unknown: assume people from outside may read it
            return bool(info.get("is_ext_shared") or info.get("is_shared") or info.get("is_org_shared"))
        return bool(self._cached(("shared", channel), lookup))

    def for_message(self, channel: str, channel_type: str | None, user: str) -> str:
        """DMs: staff for staff, else member. Channels: public if shared outside, else configured (member)."""
        if channel_type == "im" or channel.startswith("D"):
            return "staff" if self.is_staff(user) else "member"
        if self._shared(channel):
            return "public"
        return self._channel_roles.get(channel, "member")


class SlackConcierge:
    """The listeners' logic, separate from bolt's registration so each piece stays small."""

    def __init__(self, services: Services, settings: BotSettings, state: BotState, client: WebClient) -> None:
        self.services = services
        self.settings = settings
        self.state = state
        self.roles = Roles(settings, client)
        self._reingest_lock = threading.Lock()
        self._team_id: str | None = None
        self._stream_in_channels = True  # until the workspace refuses chat.startStream outside assistant threads

    # --- answering ----------------------------------------------------------------------------------------

    def claim(self, channel: str, ts: str) -> bool:
        """True for the first listener to take a message: a mention in a thread we follow arrives twice
        (as `app_mention` and as `message`, with different event ids) and is answered once."""
        return self.state.claim_message(PLATFORM, channel, ts)

    def answer(self, *, text: str, channel: str, thread: str, user: str, role: str) -> tuple[Reply, int]:
        history = self.state.history(PLATFORM, channel, thread)
        reply = self.services.concierge.answer(Incoming(_MENTION.sub("", text).strip(), role=role,
                                                        history=tuple(history)))
        answer_id = self.state.record_answer(PLATFORM, channel, thread, user, role, reply)
        return reply, answer_id

    def reply_in_thread(self, client: WebClient, *, text: str, channel: str, thread: str, user: str, role: str,
                        assistant: bool = False, message: str | None = None) -> None:
        """Answer a question in its thread; an error becomes a short apology there, never silence. `message`
        (its ts, claimed by the caller) is marked finished once the answer or the apology is posted."""
        self.state.remember_thread(PLATFORM, channel, thread)  # before posting: a quick follow-up is ours too
        try:
            reply, answer_id = self.answer(text=text, channel=channel, thread=thread, user=user, role=role)
            blocks = render.answer_blocks(reply.answer, reply.sources, reply.language, answer_id)
            stream = assistant or self._stream_in_channels
            if not (stream and self._stream(client, reply, blocks, channel, thread, user, assistant)):
                client.chat_postMessage(channel=channel, thread_ts=thread, text=render.fallback_text(reply.answer),
                                        blocks=blocks, unfurl_links=False)
        except Exception:  # noqa: BLE001 - the member gets an apology, staff get the traceback
            logger.exception("answer failed channel=%s thread=%s", channel, thread)
            language = detect_language(text)
            try:
                client.chat_postMessage(channel=channel, thread_ts=thread, text=APOLOGY[language])
            except SlackApiError:
                logger.exception("apology could not be posted channel=%s", channel)
                return  # not finished: a retry of the event after a restart may still answer it
        if message is not None:
            self.state.finish_message(PLATFORM, channel, message)

    def _stream(self, client: WebClient, reply: Reply, blocks: list[dict], channel: str, thread: str,
                user: str, assistant: bool) -> bool:
        """Stream the answer where the workspace supports it; False to fall back to one message.

        Once the stream has started, the member already sees (part of) the answer: a later failure is
        logged, never followed by a second full post.
        """
        streamer = None
        try:
            if self._team_id is None:
                self._team_id = client.auth_test().get("team_id")
            streamer = client.chat_stream(channel=channel, thread_ts=thread, recipient_user_id=user,
                                          recipient_team_id=self._team_id, buffer_size=200)
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

    # --- staff --------------------------------------------------------------------------------------------

    def reingest(self, respond: Respond) -> None:
        """Run ingestion of the configured sources once at a time, then post its summary."""
        if not self._reingest_lock.acquire(blocking=False):
            respond(text="An ingestion is already running; its summary will follow.", response_type="ephemeral")
            return
        try:
            respond(text="Ingestion started…", response_type="ephemeral")
            report = self.services.ingestor().run(self.services.settings.sources)
            respond(text=render.lines_text(report.summary_lines()), response_type="ephemeral")
        except Exception:  # noqa: BLE001
            logger.exception("reingest failed")
            respond(text="The ingestion failed; the details are in the bot's log.", response_type="ephemeral")
        finally:
            self._reingest_lock.release()

    def home(self, user: str) -> dict:
        staff = self.roles.is_staff(user)
        role = "staff" if staff else "member"
        now = self.services.clock()
        retriever = self.services.retriever
        try:
            events = [{"title": m["title"], "url": m["url"], "start": m.get("start", "")}
                      for m in retriever.upcoming("event", role, now)]
            calls = [{"title": m["title"], "url": m["url"], "deadline": m.get("deadline", "")}
                     for m in retriever.upcoming("funding_call", role, now)]
            status = self.services.index_status() if staff else None
        except StoreError:  # the page still opens; the lists come back with the store
            logger.exception("App Home without the knowledge base")
            events, calls, status = [], [], None
        gaps = [f"{g.question} ({g.reason}, {g.platform})" for g in self.state.gaps(10)] if staff else []
        return render.home_view(staff=staff, events=events, calls=calls, status=status, gaps=gaps,
                                ask_command=self.settings.slack_ask_command)


def retry_handlers() -> list[RetryHandler]:
    """slack_sdk's own retries: a reset connection, 429 after its `Retry-After`, and 500/503."""
    return [ConnectionErrorRetryHandler(max_retry_count=2), RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2)]


def create_app(services: Services, settings: BotSettings, state: BotState, *,
               client: WebClient | None = None, token_verification: bool = True) -> App:
    """The bolt App with every listener. `client` defaults to a WebClient on `SLACK_API_URL`; either way it
    gets the retry handlers it lacks (bolt copies them into each request's client)."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    client = client or WebClient(token=token, base_url=settings.slack_api_url)
    client.retry_handlers = list(client.retry_handlers or []) + [
        handler for handler in retry_handlers()
        if not any(type(existing) is type(handler) for existing in client.retry_handlers or [])]
    signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    app = App(client=client, signing_secret=signing_secret, token_verification_enabled=token_verification,
              request_verification_enabled=signing_secret is not None)
    concierge = SlackConcierge(services, settings, state, client)

    @app.middleware
    def answer_each_event_once(req, resp, next):  # noqa: ANN001, ANN202, A002
        """Slack re-sends an event it thinks was missed: answer it unless its id was already handled (the
        original may have been lost while the bot restarted)."""
        event_id = req.body.get("event_id") if isinstance(req.body, dict) else None
        if event_id and not state.first_time(str(event_id)):
            logger.info("event already handled event_id=%s retry=%s", event_id, req.headers.get("x-slack-retry-num"))
            return BoltResponse(status=200, body="")
        return next()

    assistant = Assistant()

    @assistant.thread_started
    def start_assistant_thread(say: Say, set_suggested_prompts: SetSuggestedPrompts) -> None:
        say("Bonjour ! Ask me about funding calls, events and cluster services — in French or English.")
        set_suggested_prompts(prompts=SUGGESTED_PROMPTS)

    @assistant.user_message
    def answer_in_assistant(payload: dict, client: WebClient, set_status: SetStatus) -> None:
        if not concierge.claim(payload["channel"], payload["ts"]):
            return  # answered already (a retry after a restart)
        set_status("is thinking…")
        concierge.reply_in_thread(client, text=payload.get("text", ""), channel=payload["channel"],
                                  thread=payload.get("thread_ts") or payload["ts"], user=payload["user"],
                                  role=concierge.roles.for_message(payload["channel"], "im", payload["user"]),
                                  assistant=True, message=payload["ts"])

    app.use(assistant)

    @app.event("app_mention")
    def answer_mention(event: dict, client: WebClient) -> None:
        if not concierge.claim(event["channel"], event["ts"]):
            return  # already answered as a `message` in a thread we follow
        thread = event.get("thread_ts") or event["ts"]
        role = concierge.roles.for_message(event["channel"], event.get("channel_type"), event.get("user", ""))
        concierge.reply_in_thread(client, text=event.get("text", ""), channel=event["channel"], thread=thread,
                                  user=event.get("user", ""), role=role, message=event["ts"])

    @app.event("message")
    def answer_dm_or_follow_up(event: dict, client: WebClient, context: Any) -> None:
        if event.get("subtype") or event.get("bot_id") or not event.get("text"):
            return  # edits, joins, bots (including ourselves)
        if context.bot_user_id and f"<@{context.bot_user_id}>" in event["text"]:
            return  # a mention: answered by answer_mention
        channel, user = event["channel"], event.get("user", "")
        if event.get("channel_type") == "im":
            thread = event.get("thread_ts") or event["ts"]
        elif event.get("thread_ts") and state.is_answered_thread(PLATFORM, channel, event["thread_ts"]):
            thread = event["thread_ts"]  # a follow-up in a thread we answered: no new mention needed
        else:
            return
        if not concierge.claim(channel, event["ts"]):
            return  # already answered as an `app_mention`
        role = concierge.roles.for_message(channel, event.get("channel_type"), user)
        concierge.reply_in_thread(client, text=event["text"], channel=channel, thread=thread, user=user, role=role,
                                  message=event["ts"])

    @app.command(settings.slack_ask_command)
    def answer_privately(ack: Ack, command: dict, respond: Respond) -> None:
        ack()
        question = (command.get("text") or "").strip()
        if not question:
            respond(text=f"Usage: {settings.slack_ask_command} your question", response_type="ephemeral")
            return
        user = command["user_id"]
        role = "staff" if concierge.roles.is_staff(user) else concierge.roles.for_message(
            command["channel_id"], None, user)
        try:
            reply, answer_id = concierge.answer(text=question, channel=command["channel_id"],
                                                thread=f"command:{user}", user=user, role=role)
            respond(text=render.fallback_text(reply.answer), response_type="ephemeral",
                    blocks=render.answer_blocks(reply.answer, reply.sources, reply.language, answer_id))
        except Exception:  # noqa: BLE001
            logger.exception("slash command answer failed")
            respond(text=APOLOGY["en"], response_type="ephemeral")

    @app.command(settings.slack_admin_command)
    def staff_command(ack: Ack, command: dict, respond: Respond) -> None:
        ack()
        action = (command.get("text") or "").strip().lower()
        # Who asks comes from the signed payload only; nothing typed in the text can make someone staff.
        if not concierge.roles.is_staff(command["user_id"]):
            respond(text="Sorry, this command is for the cluster team. Ask me anything with "
                         f"{settings.slack_ask_command}!", response_type="ephemeral")
            return
        if action == "reingest":
            concierge.reingest(respond)
        elif action == "gaps":
            gaps = state.gaps(20)
            respond(text=render.lines_text([f"• {g.question} — {g.reason} ({g.platform})" for g in gaps])
                    or "No knowledge gap recorded.", response_type="ephemeral")
        elif action == "status":
            respond(text=render.escape(concierge.services.status_line()), response_type="ephemeral")
        else:
            respond(text=f"Usage: {settings.slack_admin_command} reingest | gaps | status", response_type="ephemeral")

    def record_feedback(ack: Ack, body: dict, action: dict, respond: Respond) -> None:
        ack()
        helpful = action["action_id"] == render.FEEDBACK_UP
        if state.record_feedback(int(action["value"]), body["user"]["id"], helpful):
            respond(text="Thanks for your feedback!" if helpful else
                    "Thanks — the team will look at this answer.", response_type="ephemeral",
                    replace_original=False)

    app.action(render.FEEDBACK_UP)(record_feedback)
    app.action(render.FEEDBACK_DOWN)(record_feedback)

    @app.event("app_home_opened")
    def publish_home(event: dict, client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        client.views_publish(user_id=event["user"], view=concierge.home(event["user"]))

    @app.error
    def log_errors(error: Exception, body: dict) -> None:
        logger.error("unhandled error in a Slack listener: %s (type=%s)", error, body.get("type"))

    return app


def run_socket_mode(app: App, settings: BotSettings) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    if settings.slack_app_token is None:
        raise SystemExit("Socket Mode needs SLACK_APP_TOKEN (xapp-...); or use --http with SLACK_SIGNING_SECRET")
    SocketModeHandler(app, settings.slack_app_token.get_secret_value()).start()


def make_http_server(app: App, port: int, host: str = "0.0.0.0"):  # noqa: ANN201 - a WSGIServer
    """A threaded HTTP server for `POST /slack/events` (and `GET /healthz` for container checks)."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from slack_bolt.adapter.wsgi import SlackRequestHandler

    handler = SlackRequestHandler(app, path="/slack/events")

    def wsgi(environ, start_response):  # noqa: ANN001, ANN202
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        return handler(environ, start_response)

    class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:  # request lines would be noise; errors are logged by bolt
            pass

    return make_server(host, port, wsgi, server_class=ThreadingWSGIServer, handler_class=QuietHandler)


def run_http(app: App, port: int) -> None:
    server = make_http_server(app, port)
    logger.warning("Slack HTTP mode listening on port %d: POST /slack/events", server.server_port)
    server.serve_forever()
