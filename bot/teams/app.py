"""The Teams bot on the Microsoft 365 Agents SDK: translates activities into calls of the desk (`bot.desk`), and
its replies back (native citations in chats, Adaptive Cards in channels, `bot.teams.render`).

`create_agent` builds the `AgentApplication`; `create_web_app` the aiohttp app serving POST /api/messages.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from microsoft_agents.activity import Activity, ActivityTypes, DeliveryModes, InvokeResponse
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_middleware, start_agent_process
from microsoft_agents.hosting.core import (
    AgentApplication,
    AgentAuthConfiguration,
    AnonymousTokenProvider,
    Connections,
    MemoryStorage,
    TurnContext,
    TurnState,
)
from microsoft_agents.hosting.core.app.streaming import Citation, StreamingResponse

from bot.conversation import Reply
from bot.desk import Desk, Notice, notice_lines
from bot.settings import BotSettings
from bot.state import BotState
from bot.teams import render
from bot.teams.digest import remember
from bot.teams.follows import remember_member
from bot.teams.report import report_message
from bot.wiring import Services

if TYPE_CHECKING:
    from bot.scheduler import Scheduler

logger = logging.getLogger(__name__)

PLATFORM = "teams"
_MENTION = re.compile(r"<at>.*?</at>", re.DOTALL)


def user_of(activity: Activity) -> str:
    """The sender's stable identity (Entra object id, else the Teams id): answers and feedback use the same."""
    sender = activity.from_property
    return (getattr(sender, "aad_object_id", None) or sender.id or "") if sender else ""


def notice_text(notice: Notice) -> str:
    """A desk notice as escaped Markdown paragraphs, list items as a Markdown list."""
    return "\n\n".join(render.escape(line) for line in notice_lines(notice, "- "))


def _shown_live(stream: StreamingResponse, loop: asyncio.AbstractEventLoop) -> Callable[[str], None]:
    """The conversation's `on_text` for a Teams stream: a chat model's checked text, escaped, queued as it comes.
    It is called on the answering thread; the stream belongs to the event loop, so each piece is handed over."""

    def show(piece: str) -> None:
        loop.call_soon_threadsafe(stream.queue_text_chunk, render.escape(piece))

    return show


def _replace_streamed_text(stream: StreamingResponse, text: str) -> None:
    """Make `text` the final message of the stream instead of what was streamed. Teams shows the final message in
    place of the streamed text; the SDK builds it from the text queued so far (`get_message()`) and has no
    setter, so its attribute is set (covered by the Teams streaming tests, which would catch an SDK change)."""
    stream._message = text  # noqa: SLF001


class TeamsListeners:
    """The handlers: Teams facts in, desk calls, activities out."""

    def __init__(self, desk: Desk, settings: BotSettings) -> None:
        self.desk = desk
        self._staff = set(settings.teams_staff_users)
        self._roles = settings.conversation_roles()

    def is_staff(self, activity: Activity) -> bool:
        """From the authenticated activity's sender only (never from what the message says)."""
        sender = activity.from_property
        ids = {sender.id, getattr(sender, "aad_object_id", None)} if sender else set()
        return bool(ids & self._staff)

    def role(self, activity: Activity) -> str:
        """1:1 chats are direct; channels and group chats have their configured role (by conversation or channel)."""
        conversation = activity.conversation
        channel_id = conversation.id.split(";", 1)[0]
        return self.desk.role(direct=(conversation.conversation_type or "personal") == "personal",
                              is_staff=lambda: self.is_staff(activity),
                              configured=self._roles.get(conversation.id) or self._roles.get(channel_id))

    async def on_message(self, context: TurnContext, _state: TurnState) -> None:
        activity = context.activity
        if isinstance(activity.value, dict) and render.FEEDBACK_KEY in activity.value:
            await self._card_feedback(context)
            return
        if isinstance(activity.value, dict) and render.REMIND_KEY in activity.value:
            await self._card_reminder(context)
            return
        text = _MENTION.sub("", activity.text or "").strip()
        if not text:
            return
        if self.desk.is_forget_request(text):
            await self._forget(context, text)
            return
        if self.desk.is_reminder_list(text) and (activity.conversation.conversation_type or "personal") == "personal":
            await self._reminder_list(context)
            return
        if self.desk.is_follow_command(text):
            await self._follow(context, text)
            return
        if self.desk.is_staff_command(text):
            await self._staff_command(context, text)
            return
        conversation = activity.conversation
        kind = conversation.conversation_type or "personal"
        streaming = kind == "personal" and activity.delivery_mode != DeliveryModes.expect_replies
        show = _shown_live(context.streaming_response, asyncio.get_running_loop()) if streaming else None
        try:
            if not streaming:  # at once: the SDK's own indicator only starts on slow turns
                await context.send_activity(Activity(type=ActivityTypes.typing))
            reply, answer_id = await asyncio.to_thread(self.desk.ask, text, conversation=conversation.id,
                                                       user=user_of(activity), role=self.role(activity),
                                                       on_text=show)
            if kind == "channel":
                sent = await context.send_activity(
                    render.card_message(reply.answer, reply.sources, reply.language, answer_id))
            elif streaming:
                sent = await self._stream(context, reply)
            else:
                sent = await context.send_activity(
                    render.chat_message(reply.answer, reply.sources, reply.language, feedback=True))
            if sent is not None and getattr(sent, "id", None):
                self.desk.link(sent.id, answer_id)
        except Exception:  # noqa: BLE001 - a polite reply, and the traceback for staff
            logger.exception("Teams answer failed conversation=%s", conversation.id)
            await context.send_activity(self.desk.apology(text))

    async def _stream(self, context: TurnContext, reply: Reply):  # noqa: ANN202
        """Stream the answer in a 1:1 chat; the final message carries the citations and the feedback loop.

        A chat model's reply may have streamed already (`_shown_live`): the answer goes on from it, or, when the
        answer is not what was shown (the reply failed a check later on), the final message replaces it."""
        stream = context.streaming_response
        shown = stream.get_message()
        if not shown:
            stream.queue_informative_update("…")
        text = render.answer_markdown(reply.answer, reply.sources, reply.language)
        stream.set_citations([Citation(content=render.escape_plain(ref.snippet[:300] or ref.title),
                                       title=render.escape_plain(ref.title), url=render.safe_url(ref.url))
                              for ref in reply.sources])  # the SDK turns [n] into Teams citation claims
        stream.set_generated_by_ai_label(bool(reply.sources))
        stream.set_feedback_loop(True)
        if (reminders := render.reminder_card(reply.sources, reply.language)) is not None:
            stream.set_attachments([reminders])
        if text.startswith(shown):
            for line in text[len(shown):].splitlines(keepends=True):
                stream.queue_text_chunk(line)
        else:
            logger.info("the streamed text is replaced by the checked answer")
            _replace_streamed_text(stream, text)
        await stream.end_stream()
        return None

    async def _card_reminder(self, context: TurnContext) -> None:
        """"Remind me" on an answer: recorded under the sender (`user_of`). Reminders come in the member's 1:1 chat
        with the bot: a click there is how its reference is learnt; a click elsewhere is told to write there once."""
        activity, user = context.activity, user_of(context.activity)
        value = activity.value if isinstance(activity.value, dict) else {}
        if (activity.conversation.conversation_type or "personal") == "personal":
            await asyncio.to_thread(remember_member, self.desk.state, context, user)
        reachable = await asyncio.to_thread(self.desk.state.member_conversation, PLATFORM, user) is not None
        said = await asyncio.to_thread(self.desk.remind, str(value.get(render.REMIND_KEY) or ""), user,
                                       reachable=reachable)
        await context.send_activity(render.escape(said))

    async def _card_feedback(self, context: TurnContext) -> None:
        value = context.activity.value if isinstance(context.activity.value, dict) else {}
        thanks = self.desk.feedback(int(value.get("answer_id", 0)), user_of(context.activity),
                                    value.get(render.FEEDBACK_KEY) == "up")
        if thanks:
            await context.send_activity(thanks)

    async def on_feedback_loop(self, context: TurnContext, _state: TurnState) -> None:
        """Teams' built-in 👍/👎 (message/submitAction), matched to the answer by the message it names."""
        value = context.activity.value if isinstance(context.activity.value, dict) else {}
        action = value.get("actionValue") or {}
        if action.get("reaction") in {"like", "dislike"}:
            self.desk.feedback_on_message(context.activity.reply_to_id or "", user_of(context.activity),
                                          action["reaction"] == "like")
        await context.send_activity(Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(status=200)))

    async def _reminder_list(self, context: TurnContext) -> None:
        """`reminders` in a 1:1 chat: the member's deadline reminders; the chat is where they will come (its
        reference is kept for them)."""
        user = user_of(context.activity)
        await asyncio.to_thread(remember_member, self.desk.state, context, user)
        notice = await asyncio.to_thread(self.desk.reminder_list, user)
        await context.send_activity(notice_text(notice))

    async def _forget(self, context: TurnContext, said: str) -> None:
        """A "forget me" in a 1:1 chat erases what is kept under the sender's id (`user_of`, as answers are
        recorded); elsewhere others would read the reply, so the member is told to ask in a 1:1 chat."""
        activity = context.activity
        if (activity.conversation.conversation_type or "personal") != "personal":
            await context.send_activity(notice_text(self.desk.forget_in_private(said)))
            return
        notice = await asyncio.to_thread(self.desk.forget, user_of(activity), said=said)
        await context.send_activity(notice_text(notice))

    async def _follow(self, context: TurnContext, text: str) -> None:
        """`follow <topic>`, `unfollow <topic>`, `following` in a 1:1 chat, where the notices will come (its reference
        is kept for them); elsewhere the member is told to write it in a 1:1 chat."""
        activity = context.activity
        if (activity.conversation.conversation_type or "personal") != "personal":
            await context.send_activity(notice_text(self.desk.follow_in_private(text)))
            return
        user = user_of(activity)
        await asyncio.to_thread(remember_member, self.desk.state, context, user)
        notice = await asyncio.to_thread(self.desk.follow_command, text, user=user, role=self.role(activity),
                                         language=(activity.locale or "")[:2].lower() or None)
        await context.send_activity(notice_text(notice))

    async def _staff_command(self, context: TurnContext, command: str) -> None:
        """The desk runs the command in a worker thread (ingestion blocks); each notice is sent from the loop."""
        loop = asyncio.get_running_loop()

        def tell(notice: Notice) -> None:
            # The staff report as an Adaptive Card with its figures; every other notice as text.
            sent = report_message(notice.report) if notice.report is not None else notice_text(notice)
            asyncio.run_coroutine_threadsafe(context.send_activity(sent), loop).result()

        await asyncio.to_thread(self.desk.staff_command, command, staff=self.is_staff(context.activity), tell=tell)


def create_agent(services: Services, settings: BotSettings, state: BotState, adapter: CloudAdapter,
                 connections: Connections, *, desk: Desk | None = None,
                 scheduler: Scheduler | None = None) -> AgentApplication[TurnState]:
    agent = AgentApplication[TurnState](storage=MemoryStorage(), adapter=adapter, connection_manager=connections)
    desk = desk or Desk(services, state, platform=PLATFORM, scheduler=scheduler)
    listeners = TeamsListeners(desk, settings)

    @agent.before_turn
    async def remember_conversation(context: TurnContext, _state: TurnState) -> bool:
        """Channel digests are posted unprompted: keep how to reach each channel and group chat
        (`bot.teams.digest`), from the activity that added the bot there and from every message."""
        await asyncio.to_thread(remember, state, context)
        return True

    agent.activity(ActivityTypes.message)(listeners.on_message)
    agent.invoke("message/submitAction")(listeners.on_feedback_loop)

    @agent.error
    async def on_error(context: TurnContext, error: Exception) -> None:
        logger.exception("unhandled Teams error: %s", error)
        await context.send_activity(desk.apology(context.activity.text or ""))

    return agent


class AnonymousConnections(Connections):
    """Local development without Entra credentials: replies are sent without a token."""

    def __init__(self) -> None:
        self._provider = AnonymousTokenProvider()
        self._config = AgentAuthConfiguration(anonymous_allowed=True)

    def get_connection(self, connection_name: str) -> AnonymousTokenProvider:
        return self._provider

    def get_default_connection(self) -> AnonymousTokenProvider:
        return self._provider

    def get_token_provider(self, claims_identity, service_url: str) -> AnonymousTokenProvider:  # noqa: ANN001
        return self._provider

    def get_token_provider_from_activity(self, claims_identity: Any, activity: Any, *args: Any,
                                         **kwargs: Any) -> AnonymousTokenProvider:
        return self._provider

    def get_default_connection_configuration(self) -> AgentAuthConfiguration:
        return self._config


def auth_configuration(allow_anonymous: bool) -> tuple[AgentAuthConfiguration, CloudAdapter, Connections]:
    """The SDK's usual environment settings (CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID, ...)."""
    if allow_anonymous:
        logger.warning("Teams endpoint accepts requests WITHOUT a token (--allow-anonymous): local development only")
        connections = AnonymousConnections()
        return (connections.get_default_connection_configuration(), CloudAdapter(connection_manager=connections),
                connections)
    from microsoft_agents.activity import load_configuration_from_env
    from microsoft_agents.authentication.msal import MsalConnectionManager

    config = load_configuration_from_env(os.environ)
    manager: Connections | None = None
    auth = None
    try:
        manager = MsalConnectionManager(**config)
        auth = manager.get_default_connection_configuration()
    except ValueError:
        manager, auth = None, None
    if manager is None or auth is None or not getattr(auth, "CLIENT_ID", None):
        logger.warning("no Teams credentials configured (CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID...): "
                       "every request will be refused with 401")
        return AgentAuthConfiguration(anonymous_allowed=False), CloudAdapter(
            connection_manager=AnonymousConnections()), AnonymousConnections()
    auth.ANONYMOUS_ALLOWED = False
    return auth, CloudAdapter(connection_manager=manager), manager


def create_web_app(services: Services, settings: BotSettings, state: BotState, *,
                   allow_anonymous: bool = False, scheduler: Scheduler | None = None) -> web.Application:
    """aiohttp app: POST /api/messages behind the SDK's JWT middleware (401 without a valid token).
    `scheduler`: the process's scheduler, whose jobs staff see in `status`."""
    auth, adapter, connections = auth_configuration(allow_anonymous)
    agent = create_agent(services, settings, state, adapter, connections, scheduler=scheduler)

    async def messages(request: web.Request) -> web.Response:
        response = await start_agent_process(request, agent, adapter)
        return response if response is not None else web.Response(status=202)

    app = web.Application(middlewares=[jwt_authorization_middleware])
    app.router.add_post("/api/messages", messages)
    app["agent_configuration"] = auth
    app["agent_app"] = agent
    app["adapter"] = adapter
    return app


def run(services: Services, settings: BotSettings, state: BotState, *, port: int, allow_anonymous: bool,
        scheduler: Scheduler | None = None) -> None:
    app = create_web_app(services, settings, state, allow_anonymous=allow_anonymous, scheduler=scheduler)
    logger.warning("Teams endpoint listening on port %d: POST /api/messages", port)
    web.run_app(app, host="0.0.0.0", port=port, print=None)
