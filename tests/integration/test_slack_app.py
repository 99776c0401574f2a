"""The Slack app through the real slack-bolt `App`: signed requests in, Web API calls out to a local server
that records them; the real conversation core, Chroma and embedding model behind it."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from slack_bolt.adapter.socket_mode.internals import run_bolt_app
from slack_sdk import WebClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.settings import BotSettings
from bot.slack.app import create_app
from bot.slack.listeners import ANSWER_WORKERS
from bot.state import BotState
from tests.conftest import SHARED_DATA
from tests.fakes.services import BlockingIngestor
from tests.fakes.slack_api import TEAM, SlackAPIServer
from tests.fakes.slack_events import SECRET, event_body, mention, message, send_event, signed, slash, text_of
from tests.integration.conftest import BY_AUDIENCE, CORPUS

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
STAFF, MEMBER = "USTAFF", "UMEMBER"
CHANNEL, SHARED, PUBLIC_CHANNEL = "CGENERAL", "CSHARED", "CPUBLIC"
PINGS = ("<!channel>", "<!here>", "<@U123>", "<#C1>", "<!subteam^S1>", "<https://evil.test")


@pytest.fixture
def slack_api():
    server = SlackAPIServer(SHARED_DATA / "slack-fixtures", shared_channels={SHARED}, groups={"SSTAFF": [STAFF]})
    yield server
    server.close()


@pytest.fixture
def state(tmp_path, services):
    return BotState(tmp_path / "state.sqlite3", clock=services.clock)


def build_app(services, state, slack_api, tmp_path):  # noqa: ANN001, ANN201
    settings = BotSettings(slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_url=slack_api.url,
                           slack_staff_groups="SSTAFF", slack_channel_roles=f"{PUBLIC_CHANNEL}=public",
                           state_path=tmp_path / "state.sqlite3", _env_file=None)
    return create_app(services, settings, state, client=WebClient(token="xoxb-test", base_url=slack_api.url))


@pytest.fixture
def app(services, slack_api, state, tmp_path):
    return build_app(services, state, slack_api, tmp_path)


def test_a_mention_is_answered_in_its_thread_with_linked_sources_and_feedback_buttons(app, slack_api):
    response = send_event(app, mention("Quelle est la date limite de l'EIC Accelerator ?"))
    assert response.status == 200
    [post] = slack_api.wait_for("chat.postMessage")
    assert post["channel"] == CHANNEL and post["thread_ts"] == "1700000100.000100"
    blocks = text_of(post)
    assert "<https://kb.test/eic|EIC Accelerator>" in blocks
    assert "date limite 4 mars 2027" in blocks
    assert "feedback_up" in blocks and "feedback_down" in blocks


def test_a_direct_message_is_answered(app, slack_api):
    send_event(app, message("How do I apply for the accreditation programme?", channel="D123", ts="1700000200.1",
                            channel_type="im"))
    [post] = slack_api.wait_for("chat.postMessage")
    assert post["channel"] == "D123" and "Fill in the application form" in text_of(post)


def test_follow_ups_in_an_answered_thread_need_no_mention(app, slack_api):
    send_event(app, mention("Tell me about the EIC Accelerator", ts="1700000300.1"))
    slack_api.wait_for("chat.postMessage")
    send_event(app, message("and the deadline?", channel=CHANNEL, ts="1700000301.1", thread_ts="1700000300.1"))
    posts = slack_api.wait_for("chat.postMessage", 2)
    assert posts[1]["thread_ts"] == "1700000300.1" and "2027-03-04" in text_of(posts[1])


def test_chatter_in_other_threads_is_left_alone(app, slack_api):
    send_event(app, message("and the deadline?", channel=CHANNEL, ts="1700000401.1", thread_ts="1700000400.1"))
    send_event(app, mention("What are the upcoming events?", ts="1700000402.1"))  # answered: a marker
    posts = slack_api.wait_for("chat.postMessage")
    time.sleep(0.5)
    assert [p["thread_ts"] for p in slack_api.of("chat.postMessage")] == ["1700000402.1"]
    assert "Atelier IA en santé" in text_of(posts[0])


def test_a_retry_of_an_event_never_seen_is_answered(app, slack_api):
    """The original delivery was lost (the bot was restarting): Slack's retry is the only copy."""
    body = json.dumps(event_body(mention("What are the upcoming events?", ts="1700000550.1")))
    assert app.dispatch(signed(body, "application/json", retry=1)).status == 200
    [post] = slack_api.wait_for("chat.postMessage")
    assert post["thread_ts"] == "1700000550.1" and "Atelier IA en santé" in text_of(post)


def test_a_retry_after_the_bot_died_mid_answer_is_answered_once(services, slack_api, tmp_path):
    """The first run took the event and was killed before posting; the restarted bot gets Slack's retries."""
    body = json.dumps(event_body(mention("What are the upcoming events?", ts="1700000560.1")))
    dead = BotState(tmp_path / "state.sqlite3", clock=services.clock)
    assert dead.first_time(json.loads(body)["event_id"]) and dead.claim_message("slack", CHANNEL, "1700000560.1")

    later = lambda: services.clock() + timedelta(minutes=1)  # noqa: E731 - Slack retries a minute later
    restarted = build_app(services, BotState(tmp_path / "state.sqlite3", clock=later), slack_api, tmp_path)
    for retry in (1, 2):
        assert restarted.dispatch(signed(body, "application/json", retry=retry)).status == 200
    [post] = slack_api.wait_for("chat.postMessage")
    time.sleep(0.5)  # a second answer would have come by now
    assert len(slack_api.of("chat.postMessage")) == 1 and "Atelier IA en santé" in text_of(post)

    again = build_app(services, BotState(tmp_path / "state.sqlite3", clock=later), slack_api, tmp_path)
    again.dispatch(signed(body, "application/json", retry=3))
    time.sleep(0.5)
    assert len(slack_api.of("chat.postMessage")) == 1, "answered messages are never answered again"


@pytest.mark.parametrize("bot_user", ["UBOT", None], ids=["bot-user-known", "bot-user-unknown"])
@pytest.mark.parametrize("mention_first", [True, False], ids=["app_mention-first", "message-first"])
def test_a_mention_in_a_followed_thread_is_answered_once(services, state, tmp_path, bot_user, mention_first):
    """Slack sends it as `app_mention` and as `message` (two event ids, one message ts)."""
    api = SlackAPIServer(SHARED_DATA / "slack-fixtures", bot_user=bot_user)
    try:
        app = build_app(services, state, api, tmp_path)
        send_event(app, mention("Tell me about the EIC Accelerator", ts="1700000560.1"))
        api.wait_for("chat.postMessage")
        follow_up = "<@UBOT> and the deadline?"
        events = [{**mention("", ts="1700000561.1", thread_ts="1700000560.1"), "text": follow_up},
                  message(follow_up, channel=CHANNEL, ts="1700000561.1", thread_ts="1700000560.1")]
        for event in events if mention_first else events[::-1]:
            send_event(app, event)
        posts = api.wait_for("chat.postMessage", 2)
        time.sleep(0.5)
        assert len(api.of("chat.postMessage")) == 2, "the follow-up is answered once"
        assert posts[1]["thread_ts"] == "1700000560.1" and "2027-03-04" in text_of(posts[1])
    finally:
        api.close()


def test_a_retried_event_gets_one_answer(app, slack_api):
    body = json.dumps(event_body(mention("What are the upcoming events?", ts="1700000500.1")))
    assert app.dispatch(signed(body, "application/json")).status == 200
    assert app.dispatch(signed(body, "application/json", retry=1)).status == 200
    assert app.dispatch(signed(body, "application/json")).status == 200  # same event_id, no retry header
    slack_api.wait_for("chat.postMessage")
    time.sleep(1.0)
    assert len(slack_api.of("chat.postMessage")) == 1


@pytest.mark.parametrize("forge", [{"secret": "wrong-secret"}, {"timestamp": int(time.time()) - 3600}])
def test_forged_or_stale_signatures_get_401_and_no_answer(app, slack_api, forge):
    response = app.dispatch(signed(json.dumps(event_body(mention("What are the upcoming events?"))),
                                   "application/json", **forge))
    assert response.status == 401
    time.sleep(0.5)
    assert slack_api.of("chat.postMessage") == []


def test_the_same_event_over_socket_mode_is_answered(app, slack_api):
    request = SocketModeRequest(type="events_api", envelope_id="env-1",
                                payload=event_body(mention("What are the upcoming events?", ts="1700000600.1")))
    assert run_bolt_app(app, request).status == 200
    [post] = slack_api.wait_for("chat.postMessage")
    assert post["thread_ts"] == "1700000600.1"


def test_slash_command_answers_privately(app, slack_api):
    response = app.dispatch(slash("/ask", "Quels appels à projets sont ouverts ?", MEMBER, slack_api))
    assert response.status == 200
    [reply] = slack_api.wait_for("/respond/1")
    assert reply["response_type"] == "ephemeral"
    assert "Innov'Santé" in text_of(reply) and "EIC Accelerator" in text_of(reply)


def test_feedback_clicks_are_recorded_and_down_votes_become_gaps(app, slack_api, state):
    send_event(app, mention("What are the upcoming events?", ts="1700000700.1"))
    [post] = slack_api.wait_for("chat.postMessage")
    [actions] = [b for b in post["blocks"] if b["type"] == "actions"]
    down = next(e for e in actions["elements"] if e["action_id"] == "feedback_down")
    payload = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": MEMBER}, "api_app_id": "A1",
               "token": "t", "trigger_id": "1.2", "response_url": slack_api.response_url,
               "container": {"type": "message", "channel_id": CHANNEL, "message_ts": post.get("ts", "1")},
               "channel": {"id": CHANNEL}, "actions": [{**down, "block_id": actions["block_id"], "type": "button",
                                                          "action_ts": "1"}]}
    response = app.dispatch(signed(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"))
    assert response.status == 200
    slack_api.wait_for("/respond/1")
    answer_id = int(down["value"])
    assert state.feedback(answer_id) == {MEMBER: -1}
    assert [g.reason for g in state.gaps()] == ["marked unhelpful"]


def test_unanswered_questions_are_listed_for_staff(app, slack_api, state):
    send_event(app, mention("What is the capital of Australia?", ts="1700000800.1"))
    slack_api.wait_for("chat.postMessage")
    app.dispatch(slash("/concierge", "gaps", STAFF, slack_api))
    [listing] = slack_api.wait_for("/respond/1")
    assert "What is the capital of Australia?" in listing["text"] and "no answer" in listing["text"]


@pytest.mark.parametrize("text", ["reingest", f"reingest {STAFF}", f"reingest <@{STAFF}>", f"{STAFF} reingest"])
def test_only_the_signed_sender_counts_for_staff_commands(app, slack_api, services, monkeypatch, text):
    """A member naming a staff member in the text is still a member: refused, and nothing is ingested."""
    ingestor = BlockingIngestor()
    monkeypatch.setattr(services, "ingestor", lambda: ingestor)
    app.dispatch(slash("/concierge", text, MEMBER, slack_api))
    [refusal] = slack_api.wait_for("/respond/1")
    assert "for the cluster team" in refusal["text"]
    time.sleep(0.3)
    assert len(slack_api.of("/respond/1")) == 1 and ingestor.runs == 0


def test_staff_reingest_posts_the_summary(app, slack_api, services, tmp_path):
    services.settings.sources = [Path(services.store.sources()["kb/calls.csv"].root)]  # the folder indexed at start
    app.dispatch(slash("/concierge", "reingest", STAFF, slack_api))
    replies = slack_api.wait_for("/respond/1", 2, timeout=120)
    assert replies[0]["text"] == "Ingestion started…"
    assert "Ingestion done" in replies[1]["text"] and f"{len(CORPUS)} unchanged" in replies[1]["text"]


def test_a_second_reingest_while_one_runs_is_told_so(app, slack_api, services, monkeypatch):
    ingestor = BlockingIngestor()
    monkeypatch.setattr(services, "ingestor", lambda: ingestor)
    try:
        app.dispatch(slash("/concierge", "reingest", STAFF, slack_api))
        assert ingestor.started.wait(10)
        app.dispatch(slash("/concierge", "reingest", STAFF, slack_api))
        replies = slack_api.wait_for("/respond/1", 2)
        assert [r["text"] for r in replies] == ["Ingestion started…",
                                                "An ingestion is already running."]
    finally:
        ingestor.release.set()
    replies = slack_api.wait_for("/respond/1", 3)
    assert replies[2]["text"].startswith("Ingestion done") and ingestor.runs == 1


@pytest.mark.parametrize("channel, user, channel_type, sees", [
    (PUBLIC_CHANNEL, STAFF, "channel", {"public"}),  # configured public: whoever asks
    (SHARED, STAFF, "channel", {"public"}),  # Slack Connect: people from outside read it
    (CHANNEL, STAFF, "channel", {"public", "member"}),
    ("DMEMBER", MEMBER, "im", {"public", "member"}),
    ("DSTAFF", STAFF, "im", {"public", "member", "staff"}),
], ids=["public-channel", "shared-channel", "member-channel", "member-dm", "staff-dm"])
def test_each_place_sees_its_audiences_sources_only(app, slack_api, channel, user, channel_type, sees):
    for i, (question, _, _) in enumerate(BY_AUDIENCE.values()):
        ts = f"17000009{i}0.1"
        if channel_type == "im":
            send_event(app, message(question, channel=channel, ts=ts, user=user, channel_type="im"))
        else:
            send_event(app, mention(question, channel=channel, user=user, ts=ts))
    posts = {p["thread_ts"]: text_of(p) for p in slack_api.wait_for("chat.postMessage", len(BY_AUDIENCE))}
    for i, (audience, (_, url, words)) in enumerate(BY_AUDIENCE.items()):
        seen = posts[f"17000009{i}0.1"]
        if audience in sees:
            assert url in seen and words in seen, audience
        else:
            assert url not in seen and words not in seen, f"{audience} content in {channel}"


@pytest.mark.parametrize("streaming", [False, True], ids=["message", "stream"])
def test_a_quoted_document_pings_nobody_and_makes_no_link(app, slack_api, streaming):
    slack_api.streaming = streaming
    send_event(app, mention("Where can journalists download the press kit?", channel=PUBLIC_CHANNEL,
                            ts="1700001000.1"))
    slack_api.wait_for("chat.stopStream" if streaming else "chat.postMessage")
    sent = json.dumps([p for m, p in slack_api.calls if m.startswith("chat.")], ensure_ascii=False)
    assert "Journalists download the press kit" in sent
    for ping in PINGS:
        assert ping not in sent
    assert "&lt;!channel&gt;" in sent
    assert "<https://kb.test/press%20kit?a=1&amp;b=2%7C%3C!channel%3E|Press kit &lt;!here&gt; ¦" in sent


def test_app_home_shows_next_events_and_calls_and_staff_see_the_index(app, slack_api):
    for user in (MEMBER, STAFF):
        send_event(app, {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home",
                         "event_ts": "1700001100.1"})
    views = {v["user_id"]: json.dumps(v["view"], ensure_ascii=False) for v in slack_api.wait_for("views.publish", 2)}
    for view in views.values():
        assert "Atelier IA en santé" in view and "<https://kb.test/eic|EIC Accelerator>" in view
        assert "Journée du financement" not in view, "past events are not 'next'"
    assert "Index status" not in views[MEMBER]
    assert "Index status" in views[STAFF] and "chunks" in views[STAFF]


@pytest.mark.parametrize("status, times", [(429, 2), (500, 1)])
def test_a_rate_limited_or_failing_post_still_delivers_the_answer_once(app, slack_api, status, times):
    slack_api.fail_next("chat.postMessage", status, times=times, retry_after=0)
    send_event(app, mention("What are the upcoming events?", ts="1700001150.1"))
    [post] = slack_api.wait_for("chat.postMessage")
    time.sleep(0.3)
    assert slack_api.refused == [("chat.postMessage", status)] * times
    assert len(slack_api.of("chat.postMessage")) == 1 and "Atelier IA en santé" in text_of(post)


def test_a_stream_that_fails_after_it_started_is_not_posted_again(app, slack_api):
    slack_api.streaming = True
    slack_api.fail_next("chat.stopStream", 500, times=10)  # more than the retries
    send_event(app, mention("What are the upcoming events?", ts="1700001170.1"))
    slack_api.wait_for("chat.startStream")
    for _ in range(100):  # stopStream, then slack_sdk's retry of it
        if slack_api.refused.count(("chat.stopStream", 500)) >= 2:
            break
        time.sleep(0.1)
    time.sleep(0.5)  # what would be a second post
    assert slack_api.of("chat.postMessage") == [], "the member already sees the streamed answer"
    assert slack_api.refused[-1] == ("chat.stopStream", 500)


def test_a_rate_limited_or_failing_stream_still_delivers_the_answer_once(app, slack_api):
    slack_api.streaming = True
    slack_api.fail_next("chat.startStream", 429, retry_after=0)
    slack_api.fail_next("chat.stopStream", 500)
    send_event(app, mention("What are the upcoming events?", ts="1700001160.1"))
    [stopped] = slack_api.wait_for("chat.stopStream")
    time.sleep(0.3)
    assert slack_api.refused == [("chat.startStream", 429), ("chat.stopStream", 500)]
    assert len(slack_api.of("chat.startStream")) == 1 and slack_api.of("chat.postMessage") == []
    calls = slack_api.of("chat.startStream") + slack_api.of("chat.appendStream") + [stopped]
    streamed = "".join(chunk.get("text", "") for call in calls for chunk in call.get("chunks") or [])
    assert streamed.count("Atelier IA en santé") == 1 and "feedback_up" in json.dumps(stopped["blocks"])


def test_an_error_becomes_an_apology_in_the_thread(app, slack_api, services, monkeypatch):
    def broken(incoming):  # noqa: ANN001, ANN202
        raise RuntimeError("index unavailable")

    monkeypatch.setattr(services.concierge, "answer", broken)
    send_event(app, mention("Quels appels à projets sont ouverts ?", ts="1700001200.1"))
    [post] = slack_api.wait_for("chat.postMessage")
    assert post["thread_ts"] == "1700001200.1" and post["text"].startswith("Désolé")


@pytest.mark.parametrize("question, apology", [("Quels appels à projets sont ouverts ?", "Désolé"),
                                               ("Which funding calls are still open?", "Sorry")])
def test_a_failed_private_answer_apologises_in_the_question_language(app, slack_api, services, monkeypatch,
                                                                   question, apology):
    def broken(incoming):  # noqa: ANN001, ANN202
        raise RuntimeError("index unavailable")

    monkeypatch.setattr(services.concierge, "answer", broken)
    app.dispatch(slash("/ask", question, MEMBER, slack_api))
    [reply] = slack_api.wait_for("/respond/1")
    assert reply["response_type"] == "ephemeral" and reply["text"].startswith(apology)


def test_commands_are_acknowledged_while_every_answer_worker_is_busy(app, slack_api, services, monkeypatch):
    """Answers queue under a burst; acks do not: a slash command is acknowledged and handled while every
    answer worker is still working out an answer, and every queued mention is answered once afterwards."""
    answer, release = services.concierge.answer, threading.Event()
    busy = threading.Semaphore(0)

    def slow(incoming):  # noqa: ANN001, ANN202
        busy.release()
        assert release.wait(60), "never released"
        return answer(incoming)

    monkeypatch.setattr(services.concierge, "answer", slow)
    mentions = ANSWER_WORKERS + 2
    try:
        for i in range(mentions):
            assert send_event(app, mention("What are the upcoming events?", ts=f"17000012{i:02d}.1")).status == 200
        for _ in range(ANSWER_WORKERS):
            assert busy.acquire(timeout=30), "every answer worker is busy"
        assert app.dispatch(slash("/ask", "", MEMBER, slack_api)).status == 200
        [usage] = slack_api.wait_for("/respond/1")  # handled too, not queued behind the answers
        assert "/ask" in usage["text"] and slack_api.of("chat.postMessage") == []
    finally:
        release.set()
    posts = slack_api.wait_for("chat.postMessage", mentions)
    time.sleep(0.3)
    assert sorted(p["thread_ts"] for p in posts) == [f"17000012{i:02d}.1" for i in range(mentions)]
    assert len(slack_api.of("chat.postMessage")) == mentions


def test_staff_status_and_unknown_actions(app, slack_api):
    app.dispatch(slash("/concierge", "status", STAFF, slack_api))
    app.dispatch(slash("/concierge", "help", STAFF, slack_api))
    texts = [r["text"] for r in slack_api.wait_for("/respond/1", 2)]  # in either order: two listener threads
    assert "Usage: /concierge reingest | gaps | status | report" in texts
    [status] = [text for text in texts if not text.startswith("Usage")]
    assert "sources" in status and "chunks" in status


def test_assistant_threads_show_status_and_stream_where_supported(services, state, slack_api, tmp_path):
    slack_api.streaming = True
    settings = BotSettings(slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_url=slack_api.url,
                           state_path=tmp_path / "state.sqlite3", _env_file=None)
    app = create_app(services, settings, state, client=WebClient(token="xoxb-test", base_url=slack_api.url))
    event = message("Quels sont les prochains événements ?", channel="DASSIST", ts="1700001300.2",
                    thread_ts="1700001300.1", channel_type="im")
    event["assistant_thread"] = {"action_token": "x"}
    send_event(app, event)
    [started] = slack_api.wait_for("chat.startStream")
    [stopped] = slack_api.wait_for("chat.stopStream")
    assert started["thread_ts"] == "1700001300.1" and started["recipient_user_id"] == MEMBER
    assert "feedback_up" in json.dumps(stopped.get("blocks"))
    calls = slack_api.of("chat.startStream") + slack_api.of("chat.appendStream") + [stopped]
    streamed = "".join(chunk.get("text", "") for call in calls for chunk in call.get("chunks") or [])
    assert "Atelier IA en santé" in streamed
    assert slack_api.of("assistant.threads.setStatus"), "a 'thinking' status was shown"


def test_mentions_stream_where_supported_and_fall_back_once_where_not(app, slack_api):
    send_event(app, mention("What are the upcoming events?", ts="1700001400.1"))
    slack_api.wait_for("chat.postMessage")
    send_event(app, mention("Quels appels à projets sont ouverts ?", ts="1700001401.1"))
    slack_api.wait_for("chat.postMessage", 2)
    assert len(slack_api.of("chat.startStream")) == 1, "refused once: not tried again"


def test_mentions_stream_in_workspaces_that_support_it(app, slack_api):
    slack_api.streaming = True
    send_event(app, mention("What are the upcoming events?", ts="1700001500.1"))
    [stopped] = slack_api.wait_for("chat.stopStream")
    assert "feedback_up" in json.dumps(stopped["blocks"])
    assert slack_api.of("chat.postMessage") == []
