"""HTTP mode over a real socket: the threaded server in front of the bolt App."""

from __future__ import annotations

import json
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
from tests.fakes.slack_events import SECRET, event_body, mention, signed

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
