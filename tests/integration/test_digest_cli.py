"""`python -m bot digest` as staff run it (subprocesses over a real index built with the default model, posting
to the recording fake Slack API through SLACK_API_URL)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from knowledge.pipeline import Ingestor
from knowledge.settings import KnowledgeSettings
from knowledge.store import open_store, release_embedded_store
from tests.conftest import PARIS, SHARED_DATA
from tests.fakes.slack_api import SlackAPIServer
from tests.integration.test_digests import CALLS, EVENTS, NEW_CALLS

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def store(tmp_path_factory, real_embedder) -> Path:
    """The index of tests.integration.test_digests, ingested on 1 and 20 November with the default model."""
    root = tmp_path_factory.mktemp("digest-cli")
    kb = root / "kb"
    kb.mkdir()
    (kb / "calls.csv").write_text(CALLS, encoding="utf-8")
    (kb / "events.csv").write_text(EVENTS, encoding="utf-8")
    settings = KnowledgeSettings(store_path=root / "store", _env_file=None)
    index = open_store(settings.store_path, None, settings.collection, real_embedder.name, real_embedder.dimension)
    for day, files in ((1, ()), (20, ("new-calls.csv",))):
        for name in files:
            (kb / name).write_text(NEW_CALLS, encoding="utf-8")
        moment = datetime(2026, 11, day, 10, 0, tzinfo=PARIS)
        assert Ingestor(settings, index, real_embedder, now=lambda moment=moment: moment).run([kb]).ok
    index.close()
    release_embedded_store(settings.store_path)
    return settings.store_path


@pytest.fixture
def slack_api() -> Iterator[SlackAPIServer]:
    server = SlackAPIServer(SHARED_DATA / "slack-fixtures")
    yield server
    server.close()


def digest(*args: str, store: Path, state: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("KB_", "SLACK_", "CONNECTIONS__", "CONCIERGE_"))}
    environment.update({"KB_STORE_PATH": str(store), "CONCIERGE_STATE_PATH": str(state),
                        "KB_DIGEST_CHANNELS": "C0123:fr:member", **env})
    return subprocess.run([sys.executable, "-m", "bot", "digest", *args], capture_output=True, text=True,
                          env=environment, cwd=ROOT, timeout=300)


def test_a_dry_run_prints_the_channels_digest_and_posts_nothing(store, tmp_path, slack_api):
    done = digest("--channel", "C0123", "--today", "2026-11-23", "--dry-run", store=store,
                  state=tmp_path / "state.sqlite3", SLACK_API_URL=slack_api.url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "Digest for C0123 (fr, member) as of 2026-11-23 12:00; dry run: nothing is posted.",
        "",
        "Le point du cluster · 23 novembre 2026",
        "",
        "Nouveaux appels à projets",
        "- Members' export fund — clôture le 4 décembre 2026 — https://kb.test/export",
        "- Digital health voucher — clôture le 15 janvier 2027 — https://kb.test/digital-health",
        "",
        "Appels à projets qui ferment dans les 14 jours",
        "- Feasibility aid — clôture le 30 novembre 2026 — https://kb.test/feasibility",
        "- Members' prototyping voucher — clôture le 2 décembre 2026 à 17:00 — https://kb.test/prototyping",
        "",
        "Événements des 14 prochains jours",
        "- Atelier IA en santé — 26 novembre 2026 à 14:00 — https://kb.test/atelier-ia",
        "- Members' breakfast — 1er décembre 2026 à 08:30 — https://kb.test/breakfast",
    ]
    assert slack_api.calls == [], "a dry run calls no Slack API"


def test_the_flags_override_the_channels_language_and_audience(store, tmp_path):
    done = digest("--channel", "C0123", "--language", "en", "--audience", "public", "--today", "2026-11-23",
                  "--dry-run", store=store, state=tmp_path / "state.sqlite3")
    assert done.returncode == 0, done.stderr
    assert "Cluster digest · 23 November 2026" in done.stdout
    assert "- Digital health voucher — closes 15 January 2027 — https://kb.test/digital-health" in done.stdout
    assert "Members'" not in done.stdout


def test_a_real_run_posts_the_digest_once_per_period(store, tmp_path, slack_api):
    env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": slack_api.url}
    state = tmp_path / "state.sqlite3"
    first = digest("--channel", "C0123", "--today", "2026-11-23", store=store, state=state, **env)
    assert (first.returncode, first.stdout.strip()) == (0, "posted 6 items to C0123"), first.stderr
    [post] = slack_api.of("chat.postMessage")
    assert post["channel"] == "C0123"
    assert post["blocks"][0]["text"]["text"] == "Le point du cluster · 23 novembre 2026"
    assert "<https://kb.test/export|Members' export fund> · clôture le 4 décembre 2026" in post["blocks"][1]["text"]["text"]

    again = digest("--channel", "C0123", "--today", "2026-11-24", store=store, state=state, **env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == ("nothing posted to C0123: its digest for the period of 2026-11-23 09:00 was "
                                    "posted already")
    assert len(slack_api.of("chat.postMessage")) == 1


@pytest.mark.parametrize("args, env, code, message", [
    (("--channel", "C0123"), {}, 1, "python -m bot digest: set SLACK_BOT_TOKEN to post digests to Slack"),
    (("--channel", "teams:19:abc@thread.tacv2"), {}, 1, "python -m bot digest: set the Teams connection"),
    (("--channel", "#general", "--dry-run"), {}, 2, "python -m bot digest: digest channel '#general': a Slack "
     "channel id is letters and digits (C0123)"),
    (("--channel", "C0123", "--dry-run"), {"KB_DIGEST_SCHEDULE": "0 9 * * 1"}, 2,
     "python -m bot digest: invalid setting KB_DIGEST_SCHEDULE"),
], ids=["no-slack-token", "no-teams-connection", "not-a-channel", "bad-schedule"])
def test_a_digest_that_cannot_be_posted_says_why_in_one_line(store, tmp_path, args, env, code, message):
    done = digest(*args, store=store, state=tmp_path / "state.sqlite3", **env)
    assert done.returncode == code
    assert done.stderr.startswith(message) and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stdout == ""
