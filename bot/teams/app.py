"""The Teams bot on the Microsoft 365 Agents SDK: translates activities into calls of the desk (`bot.desk`), and
its replies back (native citations in chats, Adaptive Cards in channels, `bot.teams.render`).

`create_agent` builds the `AgentApplication`; `create_web_app` the aiohttp app serving POST /api/messages.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from typing import Any

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
from microsoft_agents.hosting.core.app.streaming import Citation

from bot.conversation import Reply
from bot.desk import Desk, Notice, notice_lines
from bot.settings import BotSettings
from bot.state import BotState
from bot.teams import render
from bot.wiring import Services

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
        text = _MENTION.sub("", activity.text or "").strip()
        if not text:
            return
        if self.desk.is_staff_command(text):
            await self._staff_command(context, text)
            return
        conversation = activity.conversation
        kind = conversation.conversation_type or "personal"
        streaming = kind == "personal" and activity.delivery_mode != DeliveryModes.expect_replies
        try:
            if not streaming:  # at once: the SDK's own indicator only starts on slow turns
                await context.send_activity(Activity(type=ActivityTypes.typing))
            reply, answer_id = await asyncio.to_thread(self.desk.ask, text, conversation=conversation.id,
                                                       user=user_of(activity), role=self.role(activity))
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
        """Stream the answer in a 1:1 chat; the final message carries the citations and the feedback loop."""
        stream = context.streaming_response
        stream.queue_informative_update("…")
        text = render.answer_markdown(reply.answer, reply.sources, reply.language)
        stream.set_citations([Citation(content=render.escape_plain(ref.snippet[:300] or ref.title),
                                       title=render.escape_plain(ref.title), url=render.safe_url(ref.url))
                              for ref in reply.sources])  # the SDK turns [n] into Teams citation claims
        stream.set_generated_by_ai_label(bool(reply.sources))
        stream.set_feedback_loop(True)
        for line in text.splitlines(keepends=True):
            stream.queue_text_chunk(line)
        await stream.end_stream()
        return None

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

    async def _staff_command(self, context: TurnContext, command: str) -> None:
        """The desk runs the command in a worker thread (ingestion blocks); each notice is sent from the loop."""
        loop = asyncio.get_running_loop()

        def tell(notice: Notice) -> None:
            asyncio.run_coroutine_threadsafe(context.send_activity(notice_text(notice)), loop).result()

        await asyncio.to_thread(self.desk.staff_command, command, staff=self.is_staff(context.activity), tell=tell)


def create_agent(services: Services, settings: BotSettings, state: BotState, adapter: CloudAdapter,
                 connections: Connections, *, desk: Desk | None = None) -> AgentApplication[TurnState]:
    agent = AgentApplication[TurnState](storage=MemoryStorage(), adapter=adapter, connection_manager=connections)
    desk = desk or Desk(services, state, platform=PLATFORM)
    listeners = TeamsListeners(desk, settings)
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
                   allow_anonymous: bool = False) -> web.Application:
    """aiohttp app: POST /api/messages behind the SDK's JWT middleware (401 without a valid token)."""
    auth, adapter, connections = auth_configuration(allow_anonymous)
    agent = create_agent(services, settings, state, adapter, connections)

    async def messages(request: web.Request) -> web.Response:
        response = await start_agent_process(request, agent, adapter)
        return response if response is not None else web.Response(status=202)

    app = web.Application(middlewares=[jwt_authorization_middleware])
    app.router.add_post("/api/messages", messages)
    app["agent_configuration"] = auth
    app["agent_app"] = agent
    app["adapter"] = adapter
    return app


def run(services: Services, settings: BotSettings, state: BotState, *, port: int, allow_anonymous: bool) -> None:
    app = create_web_app(services, settings, state, allow_anonymous=allow_anonymous)
    logger.warning("Teams endpoint listening on port %d: POST /api/messages", port)
    web.run_app(app, host="0.0.0.0", port=port, print=None)
