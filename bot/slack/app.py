"""The Slack app: a slack-bolt `App` whose listeners (`bot.slack.listeners`) translate Slack events into calls
of the desk (`bot.desk`) and its replies back into Block Kit (`bot.slack.render`).

`create_app` builds the App; `run_socket_mode` and `run_http` start it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, RetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from bot.desk import Desk
from bot.settings import BotSettings
from bot.slack.directory import SlackDirectory
from bot.slack.listeners import SlackListeners
from bot.state import BotState
from bot.wiring import Services

if TYPE_CHECKING:
    from bot.scheduler import Scheduler

logger = logging.getLogger(__name__)

PLATFORM = "slack"
LISTEN_BACKLOG = 128  # connections the kernel holds for the HTTP server before it accepts them


def retry_handlers() -> list[RetryHandler]:
    """slack_sdk's own retries: a reset connection, 429 after its `Retry-After`, and 500/503."""
    return [ConnectionErrorRetryHandler(max_retry_count=2), RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2)]


def with_retries(client: WebClient) -> WebClient:
    """The client with the retry handlers it lacks (bolt copies them into each request's client)."""
    client.retry_handlers = list(client.retry_handlers or []) + [
        handler for handler in retry_handlers()
        if not any(type(existing) is type(handler) for existing in client.retry_handlers or [])]
    return client


def create_app(services: Services, settings: BotSettings, state: BotState, *,
               client: WebClient | None = None, token_verification: bool = True, desk: Desk | None = None,
               scheduler: Scheduler | None = None) -> App:
    """The bolt App with every listener. `client` defaults to a WebClient on `SLACK_API_URL`; `desk` to one
    over `services` and `state` (showing `scheduler`'s jobs to staff). Requests are verified with
    `SLACK_SIGNING_SECRET` when it is set."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    client = with_retries(client or WebClient(token=token, base_url=settings.slack_api_url))
    signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    app = App(client=client, signing_secret=signing_secret, token_verification_enabled=token_verification,
              request_verification_enabled=signing_secret is not None)
    desk = desk or Desk(services, state, platform=PLATFORM, scheduler=scheduler)
    SlackListeners(desk, SlackDirectory(settings, client), settings).register(app)
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
        # The listen backlog (socketserver's default is 5): a burst of events beyond it would have its
        # connections dropped by the kernel and retried by the client a second later, or reset.
        request_queue_size = LISTEN_BACKLOG

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:  # request lines would be noise; errors are logged by bolt
            pass

    return make_server(host, port, wsgi, server_class=ThreadingWSGIServer, handler_class=QuietHandler)


def run_http(app: App, port: int) -> None:
    server = make_http_server(app, port)
    logger.warning("Slack HTTP mode listening on port %d: POST /slack/events", server.server_port)
    server.serve_forever()
