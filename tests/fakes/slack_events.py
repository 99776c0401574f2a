"""Signed Slack requests as Slack sends them (events, slash commands), for the tests and the benches."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack_api import TEAM

SECRET = "test-signing-secret"
CHANNEL, MEMBER = "CGENERAL", "UMEMBER"


def signed(body: str, content_type: str, *, secret: str = SECRET, timestamp: int | None = None,
           retry: int | None = None) -> BoltRequest:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    headers = {"content-type": [content_type], "x-slack-request-timestamp": [ts],
               "x-slack-signature": [SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)]}
    if retry is not None:
        headers["x-slack-retry-num"] = [str(retry)]
        headers["x-slack-retry-reason"] = ["http_timeout"]
    return BoltRequest(body=body, headers=headers)


_event_counter = iter(range(1, 10_000))


def event_body(event: dict) -> dict:
    return {"token": "t", "team_id": TEAM, "api_app_id": "A1", "type": "event_callback",
            "event_id": f"Ev{next(_event_counter):05d}", "event_time": int(time.time()), "event": event,
            "authorizations": [{"team_id": TEAM, "user_id": "UBOT", "is_bot": True}]}


def send_event(app, event: dict, **kwargs):  # noqa: ANN001, ANN201
    response = app.dispatch(signed(json.dumps(event_body(event)), "application/json", **kwargs))
    return response


def mention(text: str, *, channel: str = CHANNEL, user: str = MEMBER, ts: str = "1700000100.000100",
            thread_ts: str | None = None) -> dict:
    event = {"type": "app_mention", "user": user, "text": f"<@UBOT> {text}", "channel": channel, "ts": ts,
             "channel_type": "channel"}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def message(text: str, *, channel: str, ts: str, user: str = MEMBER, thread_ts: str | None = None,
            channel_type: str = "channel") -> dict:
    event = {"type": "message", "user": user, "text": text, "channel": channel, "ts": ts, "channel_type": channel_type}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def text_of(post: dict) -> str:
    return json.dumps(post.get("blocks"), ensure_ascii=False) + post.get("text", "")


def slash(command: str, text: str, user: str, slack_api, channel: str = CHANNEL) -> BoltRequest:
    return signed(urlencode({"token": "t", "team_id": TEAM, "channel_id": channel, "user_id": user,
                             "command": command, "text": text, "response_url": slack_api.response_url,
                             "trigger_id": "1.2.3"}), "application/x-www-form-urlencoded")
