"""Channel digests as a channel reads them: composed from a real Chroma index (fast fake embedder) on a pinned
clock, posted through a real slack_sdk WebClient to the recording fake Slack API, or proactively to Teams through
the real Agents SDK and a local Bot Connector; once per period across schedulers sharing the state file and
across restarts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.desk import Desk
from bot.digest import DigestNotPosted, Digests, parse_target
from bot.scheduler import Scheduler
from bot.settings import BotSettings
from bot.slack.digest import SlackDigestPoster
from bot.slack.directory import SlackDirectory
from bot.state import BotState
from bot.teams.app import auth_configuration, create_web_app
from bot.teams.digest import TeamsDigestPoster
from bot.wiring import Services
from knowledge.settings import KnowledgeSettings
from knowledge.store import release_embedded_store
from tests.conftest import PARIS, SHARED_DATA
from tests.fakes.embedding import HashingEmbedder
from tests.fakes.slack_api import SlackAPIServer
from tests.fakes.teams_service import AiohttpServer, ConnectorService

pytestmark = [pytest.mark.integration]

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=PARIS)
WEEKLY = "0 9 * * mon"
CHANNEL, SHARED = "CDIGEST", "CSHARED"
TEAMS_CHANNEL = "19:digest@thread.tacv2"

CALLS = (
    "reference;title;kind;deadline;audience;language;url\n"
    "EIC;EIC Accelerator;funding_call;2027-03-04;public;en;https://kb.test/eic\n"
    "FEAS;Feasibility aid;funding_call;2026-11-30;public;en;https://kb.test/feasibility\n"
    "PROTO;Members' prototyping voucher;funding_call;2026-12-02 17:00;member;en;https://kb.test/prototyping\n"
    "PILOT;Staff pilot fund;funding_call;2026-12-01;staff;en;https://kb.test/pilot\n"
    "OLD;Closed call;funding_call;2026-11-01;public;en;https://kb.test/closed\n"
)
EVENTS = (
    "title;kind;start;end;audience;language;url\n"
    "Atelier IA en santé;event;2026-11-26 14:00;2026-11-26 17:30;public;fr;https://kb.test/atelier-ia\n"
    "Members' breakfast;event;2026-12-01 08:30;2026-12-01 10:00;member;en;https://kb.test/breakfast\n"
    "Staff retreat;event;2026-11-27;2026-11-27;staff;en;https://kb.test/retreat\n"
    "MDR webinar;event;2027-01-14 11:00;2027-01-14 12:30;public;en;https://kb.test/mdr\n"
    "Past meetup;event;2026-11-10 18:00;2026-11-10 20:00;public;en;https://kb.test/past\n"
)
NEW_CALLS = (
    "reference;title;kind;deadline;audience;language;url\n"
    "DHV;Digital health voucher;funding_call;2027-01-15;public;en;https://kb.test/digital-health\n"
    "EXP;Members' export fund;funding_call;2026-12-04;member;en;https://kb.test/export\n"
)


class Clock:
    """The process's clock, pinned; a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Cluster:
    """The knowledge base as staff built it: calls and events ingested on 1 November, two new calls on 20
    November; the clock is Monday 23 November, 09:00."""

    services: Services
    clock: Clock
    kb: Path

    def ingest(self, at: datetime) -> None:
        self.clock.now = at
        report = self.services.ingestor().run([self.kb])
        assert report.ok, report.failed


@pytest.fixture
def cluster(tmp_path) -> Iterator[Cluster]:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "calls.csv").write_text(CALLS, encoding="utf-8")
    (kb / "events.csv").write_text(EVENTS, encoding="utf-8")
    settings = KnowledgeSettings(store_path=tmp_path / "chroma", _env_file=None)
    clock = Clock(datetime(2026, 11, 1, 10, 0, tzinfo=PARIS))
    built = Cluster(Services(settings, embedder=HashingEmbedder(), clock=clock), clock, kb)
    built.ingest(clock.now)
    (kb / "new-calls.csv").write_text(NEW_CALLS, encoding="utf-8")
    built.ingest(datetime(2026, 11, 20, 10, 0, tzinfo=PARIS))
    clock.now = MONDAY
    yield built
    release_embedded_store(settings.store_path)


@pytest.fixture
def slack_api() -> Iterator[SlackAPIServer]:
    server = SlackAPIServer(SHARED_DATA / "slack-fixtures", shared_channels={SHARED})
    yield server
    server.close()


def digests_on(path: Path, cluster: Cluster, slack_api: SlackAPIServer) -> Digests:
    """A bot process's digests: its own connection to the state file, its own Slack client."""
    client = WebClient(token="xoxb-test", base_url=slack_api.url)
    poster = SlackDigestPoster(client, SlackDirectory(BotSettings(_env_file=None), client))
    return Digests(cluster.services.store, BotState(path, clock=cluster.clock), clock=cluster.clock, timezone=PARIS,
                   schedule=WEEKLY, posters={"slack": poster})


def seen(post: dict) -> list[str]:
    """What the channel reads: the header, then each line of each section."""
    lines = []
    for block in post["blocks"]:
        lines += block["text"]["text"].split("\n")
    return lines


def posts(slack_api: SlackAPIServer) -> list[dict]:
    return slack_api.of("chat.postMessage")


def test_a_member_channel_reads_new_calls_closing_calls_and_next_events_sorted_and_linked(tmp_path, cluster, slack_api):
    digests = digests_on(tmp_path / "state.sqlite3", cluster, slack_api)
    result = digests.send(parse_target(f"{CHANNEL}:en:member"))
    [post] = posts(slack_api)
    assert post["channel"] == CHANNEL and result.line() == f"posted 6 items to {CHANNEL}"
    assert seen(post) == [
        "Cluster digest · 23 November 2026",
        "*New funding calls*",
        "• <https://kb.test/export|Members' export fund> · closes 4 December 2026",
        "• <https://kb.test/digital-health|Digital health voucher> · closes 15 January 2027",
        "*Funding calls closing within 14 days*",
        "• <https://kb.test/feasibility|Feasibility aid> · closes 30 November 2026",
        "• <https://kb.test/prototyping|Members' prototyping voucher> · closes 2 December 2026, 17:00",
        "*Events in the next 14 days*",
        "• <https://kb.test/atelier-ia|Atelier IA en santé> · 26 November 2026, 14:00",
        "• <https://kb.test/breakfast|Members' breakfast> · 1 December 2026, 08:30",
    ]
    assert post["text"] == ("Cluster digest · 23 November 2026 — New funding calls: 2 · Funding calls closing "
                            "within 14 days: 2 · Events in the next 14 days: 2")
    assert post["unfurl_links"] is False


def test_a_french_channel_reads_french_headings_and_dates(tmp_path, cluster, slack_api):
    digests_on(tmp_path / "state.sqlite3", cluster, slack_api).send(parse_target(f"{CHANNEL}:fr"))
    lines = seen(posts(slack_api)[0])
    assert lines[:3] == ["Le point du cluster · 23 novembre 2026", "*Nouveaux appels à projets*",
                         "• <https://kb.test/export|Members' export fund> · clôture le 4 décembre 2026"]
    assert "*Appels à projets qui ferment dans les 14 jours*" in lines
    assert "• <https://kb.test/prototyping|Members' prototyping voucher> · clôture le 2 décembre 2026 à 17:00" in lines
    assert "*Événements des 14 prochains jours*" in lines
    assert "• <https://kb.test/breakfast|Members' breakfast> · 1er décembre 2026 à 08:30" in lines


@pytest.mark.parametrize("audience, shown, never", [
    ("public", {"Digital health voucher", "Feasibility aid", "Atelier IA en santé"},
     {"Members' export fund", "Members' prototyping voucher", "Members' breakfast", "Staff pilot fund",
      "Staff retreat"}),
    ("member", {"Members' export fund", "Members' prototyping voucher", "Members' breakfast"},
     {"Staff pilot fund", "Staff retreat"}),
])
def test_a_channel_never_reads_what_its_audience_may_not_see(tmp_path, cluster, slack_api, audience, shown, never):
    digests_on(tmp_path / "state.sqlite3", cluster, slack_api).send(parse_target(f"{CHANNEL}:en:{audience}"))
    text = json.dumps(posts(slack_api)[0], ensure_ascii=False)
    assert all(title in text for title in shown)
    assert not [title for title in never if title in text]
    assert "Closed call" not in text and "MDR webinar" not in text and "Past meetup" not in text


def test_a_channel_shared_with_other_organisations_reads_public_items_only(tmp_path, cluster, slack_api):
    digests_on(tmp_path / "state.sqlite3", cluster, slack_api).send(parse_target(f"{SHARED}:en:member"))
    text = json.dumps(posts(slack_api)[0], ensure_ascii=False)
    assert "Digital health voucher" in text and "Members'" not in text


def test_an_empty_week_posts_nothing(tmp_path, cluster, slack_api):
    digests = digests_on(tmp_path / "state.sqlite3", cluster, slack_api)
    cluster.clock.now = datetime(2027, 6, 7, 9, 0, tzinfo=PARIS)  # every call closed, no event ahead
    result = digests.send(parse_target(CHANNEL))
    assert posts(slack_api) == []
    assert result.line() == (f"nothing to post to {CHANNEL}: no new call, no call closing and no event in the next "
                             "14 days")


def test_cancelled_events_and_calls_are_not_announced_as_ahead(tmp_path, cluster, slack_api):
    def status(table: str, cancelled: str) -> str:
        return "\n".join(line + (";annulé" if cancelled in line else ";status" if line.startswith(("title", "ref"))
                                 else ";") for line in table.splitlines()) + "\n"

    (cluster.kb / "events.csv").write_text(status(EVENTS, "atelier-ia"), encoding="utf-8")
    (cluster.kb / "calls.csv").write_text(status(CALLS, "kb.test/feasibility"), encoding="utf-8")
    cluster.ingest(MONDAY)
    digests_on(tmp_path / "state.sqlite3", cluster, slack_api).send(parse_target(f"{CHANNEL}:en:member"))
    lines = seen(posts(slack_api)[0])
    assert "• <https://kb.test/breakfast|Members' breakfast> · 1 December 2026, 08:30" in lines
    assert "• <https://kb.test/eic|EIC Accelerator> · closes 4 March 2027" in lines
    assert not [line for line in lines if "atelier-ia" in line or "feasibility" in line]
    home = [e["title"] for e in cluster.services.retriever.upcoming("event", "member", MONDAY)]
    assert "Members' breakfast" in home and "Atelier IA en santé" not in home  # App Home's next events
    calls = [c["title"] for c in cluster.services.retriever.upcoming("funding_call", "member", MONDAY)]
    assert "EIC Accelerator" in calls and "Feasibility aid" not in calls  # ... and calls closing soon


def test_only_calls_added_since_the_last_digest_are_new(tmp_path, cluster, slack_api):
    """Editing a table of calls to add one makes one new call, not as many as the table holds."""
    digests = digests_on(tmp_path / "state.sqlite3", cluster, slack_api)
    target = parse_target(f"{CHANNEL}:en:public")
    digests.send(target)
    cluster.clock.now = MONDAY + timedelta(days=7)
    digests.send(target)
    second = seen(posts(slack_api)[1])
    assert "*New funding calls*" not in second, "nothing was added during the week"

    with (cluster.kb / "new-calls.csv").open("a", encoding="utf-8") as table:
        table.write("LATE;Late call;funding_call;2027-02-01;public;en;https://kb.test/late\n")
    cluster.ingest(datetime(2026, 12, 2, 10, 0, tzinfo=PARIS))
    cluster.clock.now = MONDAY + timedelta(days=14)
    digests.send(target)
    third = seen(posts(slack_api)[2])
    assert third[1:3] == ["*New funding calls*", "• <https://kb.test/late|Late call> · closes 1 February 2027"]
    assert "Digital health voucher" not in "\n".join(third), "re-ingested with its table, but not new"


def test_two_schedulers_on_one_state_file_post_a_period_once_and_a_restart_does_not_post_it_again(
        tmp_path, cluster, slack_api):
    path, target = tmp_path / "state.sqlite3", parse_target(CHANNEL)
    cluster.clock.now = MONDAY - timedelta(days=3)  # the bots were deployed on Friday

    def process() -> Scheduler:
        digests = digests_on(path, cluster, slack_api)
        scheduler = Scheduler(digests.state, clock=cluster.clock, timezone=PARIS)
        scheduler.add(digests.job(target))
        return scheduler

    processes = [process(), process()]
    cluster.clock.now = MONDAY + timedelta(seconds=1)
    together = threading.Barrier(2)

    def wake(scheduler: Scheduler) -> None:
        together.wait()
        scheduler.run_due()

    threads = [threading.Thread(target=wake, args=(p,)) for p in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(posts(slack_api)) == 1

    cluster.clock.now = MONDAY + timedelta(hours=2)  # both restarted the same morning
    restarted = process()
    restarted.start()
    try:
        assert restarted.caught_up.wait(30)
    finally:
        restarted.shutdown()
    assert len(posts(slack_api)) == 1, "the period's digest is posted already"
    [job] = restarted.status()
    assert job.last is not None and job.last.result == f"posted 6 items to {CHANNEL}"

    cluster.clock.now = MONDAY + timedelta(days=7, seconds=1)
    assert [p.run_due() for p in processes] in ([[f"digest:{CHANNEL}"], []], [[], [f"digest:{CHANNEL}"]])
    assert len(posts(slack_api)) == 2, "the next week is posted once too"


def test_a_digest_posted_by_hand_is_not_posted_again_by_the_schedule_in_that_period(tmp_path, cluster, slack_api):
    path, target = tmp_path / "state.sqlite3", parse_target(CHANNEL)
    cluster.clock.now = MONDAY - timedelta(days=3)
    scheduler = Scheduler(BotState(path, clock=cluster.clock), clock=cluster.clock, timezone=PARIS)
    scheduler.add(digests_on(path, cluster, slack_api).job(target))
    cluster.clock.now = MONDAY + timedelta(hours=1)
    assert digests_on(path, cluster, slack_api).send(target).outcome == "posted"  # by hand, at 10:00
    assert scheduler.run_due() == [f"digest:{CHANNEL}"]
    assert len(posts(slack_api)) == 1
    assert scheduler.status()[0].last.result.startswith(f"nothing posted to {CHANNEL}: its digest for the period")



def test_a_post_slack_refuses_is_reported_and_may_be_posted_again_in_that_period(tmp_path, cluster, slack_api):
    digests, target = digests_on(tmp_path / "state.sqlite3", cluster, slack_api), parse_target(CHANNEL)
    slack_api.fail_next("chat.postMessage", 500)
    with pytest.raises(DigestNotPosted, match=f"Slack refused the digest for channel {CHANNEL}: internal_error"):
        digests.send(target)
    assert posts(slack_api) == []
    assert digests.send(target).outcome == "posted" and len(posts(slack_api)) == 1

def test_staff_see_the_digest_job_in_status(tmp_path, cluster, slack_api):
    path, target = tmp_path / "state.sqlite3", parse_target(CHANNEL)
    cluster.clock.now = MONDAY - timedelta(days=3)
    digests = digests_on(path, cluster, slack_api)
    scheduler = Scheduler(digests.state, clock=cluster.clock, timezone=PARIS)
    scheduler.add(digests.job(target))
    desk = Desk(cluster.services, digests.state, platform="slack", scheduler=scheduler)
    assert desk.job_lines() == [f"digest:{CHANNEL} · 0 9 * * mon (Europe/Paris) · last run: never · "
                                "next run: 2026-11-23 09:00"]
    cluster.clock.now = MONDAY
    scheduler.run_due()
    assert desk.job_lines() == [f"digest:{CHANNEL} · 0 9 * * mon (Europe/Paris) · last run: 2026-11-23 09:00, "
                                f"posted 6 items to {CHANNEL} · next run: 2026-11-30 09:00"]


# --- Teams ------------------------------------------------------------------------------------------------------


@pytest.fixture
def connector() -> Iterator[ConnectorService]:
    service = ConnectorService()
    yield service
    service.close()


def test_a_teams_channel_gets_its_digest_as_a_new_post_once_the_bot_has_seen_the_channel(
        tmp_path, cluster, connector):
    import urllib.request

    state = BotState(tmp_path / "state.sqlite3", clock=cluster.clock)
    _, adapter, _ = auth_configuration(allow_anonymous=True)  # as `python -m bot teams --allow-anonymous` wires it
    poster = TeamsDigestPoster(adapter, state)
    digests = Digests(cluster.services.store, state, clock=cluster.clock, timezone=PARIS, schedule=WEEKLY,
                      posters={"teams": poster})
    target = parse_target(f"teams:{TEAMS_CHANNEL}:fr:public")
    with pytest.raises(DigestNotPosted, match="add or mention the bot there once"):
        digests.send(target)

    # The bot is added to the team: Teams sends a conversationUpdate from the channel (here with a thread id).
    server = AiohttpServer(create_web_app(cluster.services, BotSettings(_env_file=None), state, allow_anonymous=True))
    try:
        added = {"type": "conversationUpdate", "id": "u1", "channelId": "msteams", "serviceUrl": connector.url,
                 "from": {"id": "29:someone", "name": "Someone"}, "recipient": {"id": "28:concierge", "name": "Bot"},
                 "conversation": {"id": f"{TEAMS_CHANNEL};messageid=17", "conversationType": "channel",
                                  "tenantId": "t1"}, "membersAdded": [{"id": "28:concierge"}]}
        request = urllib.request.Request(f"{server.url}/api/messages", data=json.dumps(added).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status in (200, 202)
    finally:
        server.close()
    assert "29:someone" not in (state.conversation_reference("teams", TEAMS_CHANNEL) or ""), "no member id kept"

    assert digests.send(target).outcome == "posted"
    [sent] = [a for a in connector.activities if a["path"].endswith("/activities")]
    assert sent["path"] == f"/v3/conversations/{TEAMS_CHANNEL}/activities", "a new post in the channel"
    card = sent["attachments"][0]["content"]
    texts = [block["text"] for block in card["body"]]
    assert texts[:3] == ["Le point du cluster · 23 novembre 2026", "Nouveaux appels à projets",
                         "[Digital health voucher](https://kb.test/digital-health) · clôture le 15 janvier 2027"]
    assert "Members'" not in json.dumps(card, ensure_ascii=False)
    assert sent["summary"].startswith("Le point du cluster · 23 novembre 2026 — ")
    assert digests.send(target).outcome == "already" and len(connector.activities) == 1



def test_the_slack_bot_process_schedules_one_digest_job_per_slack_channel(tmp_path, cluster, slack_api):
    """`python -m bot slack` wraps the app in `scheduled_jobs`: each Slack channel of KB_DIGEST_CHANNELS gets its
    job (Teams conversations are the Teams process's), posted at the first fire time after the start."""
    from bot.__main__ import scheduled_jobs

    path = tmp_path / "state.sqlite3"
    settings = BotSettings(slack_bot_token="xoxb-test", slack_api_url=slack_api.url, state_path=path,
                           digest_channels=f"{CHANNEL}:fr,teams:{TEAMS_CHANNEL}", _env_file=None)
    cluster.clock.now = MONDAY - timedelta(days=3)
    with scheduled_jobs(cluster.services, settings, BotState(path, clock=cluster.clock), platform="slack") as first:
        assert [job.name for job in first.jobs] == ["retention-purge", f"digest:{CHANNEL}", "deadline-reminders",
                                                    "follow:slack"]
        assert first.caught_up.wait(30)
    assert posts(slack_api) == [], "nothing was due at the start"

    cluster.clock.now = MONDAY + timedelta(minutes=5)  # the bot was restarted just after 09:00
    with scheduled_jobs(cluster.services, settings, BotState(path, clock=cluster.clock), platform="slack") as again:
        assert again.caught_up.wait(30)
    [post] = posts(slack_api)
    assert post["channel"] == CHANNEL and post["blocks"][0]["text"]["text"] == "Le point du cluster · 23 novembre 2026"


def test_app_home_shows_staff_the_digest_job(tmp_path, cluster, slack_api):
    from bot.slack.app import create_app
    from tests.fakes.slack_events import SECRET, send_event

    path = tmp_path / "state.sqlite3"
    cluster.clock.now = MONDAY - timedelta(days=3)
    digests = digests_on(path, cluster, slack_api)
    scheduler = Scheduler(digests.state, clock=cluster.clock, timezone=PARIS)
    scheduler.add(digests.job(parse_target(CHANNEL)))
    cluster.clock.now = MONDAY
    scheduler.run_due()
    settings = BotSettings(slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_url=slack_api.url,
                           slack_staff_users="USTAFF", state_path=path, _env_file=None)
    app = create_app(cluster.services, settings, digests.state, scheduler=scheduler,
                     client=WebClient(token="xoxb-test", base_url=slack_api.url))
    send_event(app, {"type": "app_home_opened", "user": "USTAFF", "channel": "D1", "tab": "home",
                     "event_ts": "1700001100.1"})
    [view] = slack_api.wait_for("views.publish")
    assert (f"• digest:{CHANNEL} · 0 9 * * mon (Europe/Paris) · last run: 2026-11-23 09:00, posted 6 items to "
            f"{CHANNEL} · next run: 2026-11-30 09:00") in json.dumps(view["view"], ensure_ascii=False)
