"""HTTP mode over a real socket: the threaded server in front of the bolt App."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from slack_sdk import WebClient

from bot.settings import BotSettings
from bot.slack.app import create_app, make_http_server
from bot.state import BotState
from tests.conftest import SHARED_DATA
from tests.fakes.slack_api import SlackAPIServer
from tests.fakes.slack_events import SECRET, event_body, mention, signed, text_of

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


@pytest.fixture
def http_app(services, tmp_path):
    api = SlackAPIServer(SHARED_DATA / "slack-fixtures")
    settings = BotSettings(slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_url=api.url,
                           state_path=tmp_path / "s.sqlite3", _env_file=None)
    app = create_app(services, settings, BotState(settings.state_path, clock=services.clock),
                     client=WebClient(token="xoxb-test", base_url=api.url))
    server = make_http_server(app, 0, host="127.0.0.1")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", api
    server.shutdown()
    api.close()


def post(url: str, request) -> int:  # noqa: ANN001
    headers = {k: v[0] for k, v in request.headers.items()}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=request.raw_body.encode(), headers=headers),
                                    timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_signed_events_over_http_are_acknowledged_and_answered(http_app):
    base, api = http_app
    body = json.dumps(event_body(mention("What are the upcoming events?", ts="1700002000.1")))
    assert post(f"{base}/slack/events", signed(body, "application/json")) == 200
    [answer] = api.wait_for("chat.postMessage")
    assert answer["thread_ts"] == "1700002000.1"


class HeldState(BotState):
    """The bot's state, with each event-id claim held until the test lets it through."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.reached, self.release = threading.Event(), threading.Event()

    def first_time(self, event_id: str) -> bool:
        self.reached.set()
        assert self.release.wait(60), "never released"
        return super().first_time(event_id)


def test_the_http_ack_is_sent_before_the_event_is_claimed_or_answered(services, tmp_path):
    """Ack first, work after: the response to Slack does not wait for the state (a SQLite write) nor the
    answer; the event is handled, once, after it."""
    api = SlackAPIServer(SHARED_DATA / "slack-fixtures")
    settings = BotSettings(slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_url=api.url,
                           state_path=tmp_path / "s.sqlite3", _env_file=None)
    state = HeldState(settings.state_path, clock=services.clock)
    app = create_app(services, settings, state, client=WebClient(token="xoxb-test", base_url=api.url))
    server = make_http_server(app, 0, host="127.0.0.1")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        body = json.dumps(event_body(mention("What are the upcoming events?", ts="1700002100.1")))
        # Acknowledged while the claim is held (before, the claim came first: this post timed out)
        assert post(f"http://127.0.0.1:{server.server_port}/slack/events", signed(body, "application/json")) == 200
        assert state.reached.wait(30), "the event is handled after the ack"
        assert api.of("chat.postMessage") == []
        state.release.set()
        [answer] = api.wait_for("chat.postMessage")
        assert answer["thread_ts"] == "1700002100.1" and "Atelier IA en santé" in text_of(answer)
    finally:
        state.release.set()
        server.shutdown()
        api.close()


def test_a_burst_of_connections_waits_for_the_server_instead_of_being_dropped(services, tmp_path):
    """Slack sends a burst of events at once: the kernel holds every connection until the server accepts it
    (with a short listen backlog the rest would be dropped, to be retried a second later or reset)."""
    settings = BotSettings(slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_url="http://127.0.0.1:9/",
                           state_path=tmp_path / "s.sqlite3", _env_file=None)
    app = create_app(services, settings, BotState(settings.state_path, clock=services.clock), token_verification=False)
    server = make_http_server(app, 0, host="127.0.0.1")  # not accepting yet: a busy server
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    connections = []
    try:
        for _ in range(50):
            connections.append(socket.create_connection(("127.0.0.1", server.server_port), timeout=10))
        serving.start()
        for connection in connections:
            connection.sendall(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        for connection in connections:
            with connection.makefile("rb") as response:
                assert response.read().endswith(b"\r\n\r\nok")
    finally:
        for connection in connections:
            connection.close()
        if serving.is_alive():
            server.shutdown()
        server.server_close()


def test_a_forged_request_over_http_gets_401(http_app):
    base, api = http_app
    body = json.dumps(event_body(mention("What are the upcoming events?")))
    assert post(f"{base}/slack/events", signed(body, "application/json", secret="forged")) == 401
    time.sleep(0.3)
    assert api.of("chat.postMessage") == []


def test_health_check(http_app):
    base, _ = http_app
    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
        assert response.read() == b"ok"
