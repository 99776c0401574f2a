"""The Teams bot on the Microsoft 365 Agents SDK: translates activities into questions for the conversation
core, and replies back (native citations in chats, Adaptive Cards in channels).

`create_agent` builds the `AgentApplication`; `create_web_app` the aiohttp app serving POST /api/messages.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re

from aiohttp import web
from microsoft_agents.activity import Activity, ActivityTypes, DeliveryModes, InvokeResponse
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_middleware, start_agent_process
from microsoft_agents.hosting.core.app.streaming import Citation
from microsoft_agents.hosting.core import (
    AgentApplication,
    AgentAuthConfiguration,
    AnonymousTokenProvider,
    Connections,
    MemoryStorage,
    TurnContext,
    TurnState,
)

from bot.conversation import Incoming, Reply
from knowledge.language import detect_language
from bot.settings import BotSettings
from bot.state import BotState
from bot.teams import render
from bot.wiring import Services

logger = logging.getLogger(__name__)

PLATFORM = "teams"
_MENTION = re.compile(r"<at>.*?</at>", re.DOTALL)
_STAFF_COMMANDS = {"reingest", "gaps", "status"}
APOLOGY = {
    "en": "Sorry, something went wrong while answering. The team has been notified; please try again later.",
    "fr": "Désolé, une erreur est survenue pendant la réponse. L'équipe est prévenue ; merci de réessayer plus tard.",
}


def user_of(activity: Activity) -> str:
    """The sender's stable identity (Entra object id, else the Teams id): answers and feedback use the same."""
    sender = activity.from_property
    return (getattr(sender, "aad_object_id", None) or sender.id or "") if sender else ""


class TeamsConcierge:
    """The handlers' logic, kept apart from the SDK's registration."""

    def __init__(self, services: Services, settings: BotSettings, state: BotState) -> None:
        self.services = services
        self.settings = settings
        self.state = state
        self._roles = settings.conversation_roles()
        self._reingest_lock = asyncio.Lock()

    def is_staff(self, activity: Activity) -> bool:
        """From the authenticated activity's sender only (never from what the message says)."""
        sender = activity.from_property
        ids = {sender.id, getattr(sender, "aad_object_id", None)} if sender else set()
        return bool(ids & set(self.settings.teams_staff_users))

    def role(self, activity: Activity) -> str:
        """1:1 chats: staff for staff, else member. Channels and group chats: configured, default member."""
        conversation = activity.conversation
        if (conversation.conversation_type or "personal") == "personal":
            return "staff" if self.is_staff(activity) else "member"
        channel_id = conversation.id.split(";", 1)[0]
        return self._roles.get(conversation.id) or self._roles.get(channel_id, "member")

    async def on_message(self, context: TurnContext, _state: TurnState) -> None:
        activity = context.activity
        if isinstance(activity.value, dict) and render.FEEDBACK_KEY in activity.value:
            await self._card_feedback(context)
            return
        text = _MENTION.sub("", activity.text or "").strip()
        if not text:
            return
        if text.lower() in _STAFF_COMMANDS:
            await self._staff_command(context, text.lower())
            return
        conversation = activity.conversation
        kind = conversation.conversation_type or "personal"
        user = user_of(activity)
        role = self.role(activity)
        streaming = kind == "personal" and activity.delivery_mode != DeliveryModes.expect_replies
        try:
            if not streaming:  # at once: the SDK's own indicator only starts on slow turns
                await context.send_activity(Activity(type=ActivityTypes.typing))
            history = self.state.history(PLATFORM, conversation.id, "")
            reply: Reply = await asyncio.to_thread(
                self.services.concierge.answer, Incoming(text, role=role, history=tuple(history)))
            answer_id = self.state.record_answer(PLATFORM, conversation.id, "", user, role, reply)
            if kind == "channel":
                sent = await context.send_activity(
                    render.card_message(reply.answer, reply.sources, reply.language, answer_id))
            elif streaming:
                sent = await self._stream(context, reply)
            else:
                sent = await context.send_activity(
                    render.chat_message(reply.answer, reply.sources, reply.language, feedback=True))
            if sent is not None and getattr(sent, "id", None):
                self.state.link_message(PLATFORM, sent.id, answer_id)
        except Exception:  # noqa: BLE001 - a polite reply, and the traceback for staff
            logger.exception("Teams answer failed conversation=%s", conversation.id)
            language = detect_language(text)
            await context.send_activity(APOLOGY[language])

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
        value = context.activity.value
        user = user_of(context.activity)
        helpful = value.get(render.FEEDBACK_KEY) == "up"
        if self.state.record_feedback(int(value.get("answer_id", 0)), user, helpful):
            await context.send_activity("Thanks for your feedback!" if helpful else
                                        "Thanks — the team will look at this answer.")

    async def on_feedback_loop(self, context: TurnContext, _state: TurnState) -> None:
        """Teams' built-in 👍/👎 (message/submitAction), matched to the answer by the message it names."""
        value = context.activity.value or {}
        action = value.get("actionValue") or {}
        answer_id = self.state.answer_for_message(PLATFORM, context.activity.reply_to_id or "")
        user = user_of(context.activity)
        if answer_id is not None and action.get("reaction") in {"like", "dislike"}:
            self.state.record_feedback(answer_id, user, action["reaction"] == "like")
        await context.send_activity(Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(status=200)))

    async def _staff_command(self, context: TurnContext, command: str) -> None:
        if not self.is_staff(context.activity):
            await context.send_activity("Sorry, this command is for the cluster team.")
            return
        if command == "gaps":
            gaps = self.state.gaps(20)
            await context.send_activity("\n\n".join(render.escape(f"- {g.question} — {g.reason} ({g.platform})")
                                                    for g in gaps) or "No knowledge gap recorded.")
        elif command == "status":
            await context.send_activity(render.escape(self.services.status_line()))
        else:
            if self._reingest_lock.locked():  # no await between the check and `async with`: one runs at a time
                await context.send_activity("An ingestion is already running.")
                return
            async with self._reingest_lock:
                await context.send_activity("Ingestion started…")
                try:
                    report = await asyncio.to_thread(self.services.ingestor().run, self.services.settings.sources)
                except Exception:  # noqa: BLE001 - staff get one line; the traceback goes to the log
                    logger.exception("reingest failed")
                    await context.send_activity("The ingestion failed; the details are in the bot's log.")
                    return
            await context.send_activity("\n\n".join(render.escape(line) for line in report.summary_lines()))


def create_agent(services: Services, settings: BotSettings, state: BotState, adapter: CloudAdapter,
                 connections: Connections) -> AgentApplication[TurnState]:
    agent = AgentApplication[TurnState](storage=MemoryStorage(), adapter=adapter, connection_manager=connections)
    concierge = TeamsConcierge(services, settings, state)
    agent.activity(ActivityTypes.message)(concierge.on_message)
    agent.invoke("message/submitAction")(concierge.on_feedback_loop)

    @agent.error
    async def on_error(context: TurnContext, error: Exception) -> None:
        logger.exception("unhandled Teams error: %s", error)
        await context.send_activity(APOLOGY["en"])

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

    def get_token_provider_from_activity(self, activity, *args, **kwargs) -> AnonymousTokenProvider:  # noqa: ANN001, ANN002, ANN003
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
    try:
        manager: Connections = MsalConnectionManager(**config)
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
        return await start_agent_process(request, agent, adapter)

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
