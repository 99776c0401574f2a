"""The desk every chat platform shares, without any platform: who sees what, answer -> record -> link,
feedback, staff commands and the sentences around answers."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.desk import Desk, Notice, role_for
from bot.state import BotState
from bot.wiring import Services
from knowledge.models import IngestReport
from knowledge.settings import KnowledgeSettings
from knowledge.store import open_store, release_embedded_store
from tests.conftest import PARIS, ROOT
from tests.fakes.embedding import HashingEmbedder
from tests.fakes.services import BlockingIngestor, FakeServices

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=PARIS)
STAFF_DOC = "https://kb.test/escalation"
MEMBER_DOC = "https://kb.test/clean-room"
TINY_KB = {
    "escalation.md": "---\ntitle: Invoice escalation\naudience: staff\nurl: https://kb.test/escalation\n---\n"
                     "# Invoice escalation\n\nInvoice questions are escalated to the account manager within a day.\n",
    "clean-room.md": "---\ntitle: Clean room booking\naudience: member\nurl: https://kb.test/clean-room\n---\n"
                     "# Clean room\n\nInvoice questions about the clean room booking go to the lab manager.\n",
}


@pytest.fixture
def services() -> FakeServices:
    return FakeServices(NOW)


@pytest.fixture
def state(tmp_path: Path) -> BotState:
    return BotState(tmp_path / "state.sqlite3", clock=lambda: NOW)


@pytest.fixture
def desk(services: FakeServices, state: BotState) -> Desk:
    return Desk(services, state, platform="test")


@pytest.fixture(scope="module")
def tiny_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The real services over a two-document store (one staff, one member document) and the hashing embedder."""
    root = tmp_path_factory.mktemp("tiny")
    for name, text in TINY_KB.items():
        (root / "kb").mkdir(exist_ok=True)
        (root / "kb" / name).write_text(text, encoding="utf-8")
    settings = KnowledgeSettings(store_path=root / "chroma", sources=[root / "kb"], min_confidence=0.0,
                                 _env_file=None)
    embedder = HashingEmbedder()
    store = open_store(settings.store_path, None, settings.collection, embedder.name, embedder.dimension)
    built = Services(settings, embedder=embedder, store=store, clock=lambda: NOW)
    assert built.ingestor().run(settings.sources).ok
    yield built
    release_embedded_store(settings.store_path)


def told(desk: Desk, action: str, *, staff: bool = True, **kwargs: object) -> list[Notice]:
    notices: list[Notice] = []
    desk.staff_command(action, staff=staff, tell=notices.append, **kwargs)  # type: ignore[arg-type]
    return notices


# --- who sees what ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("facts, staff, expected", [
    ({"direct": True}, False, "member"),
    ({"direct": True}, True, "staff"),
    ({"direct": False}, True, "member"),  # a channel: the default, whoever asks
    ({"direct": False, "configured": "public"}, True, "public"),
    ({"direct": False, "shared": lambda: True, "configured": "member"}, True, "public"),  # outsiders read it
    ({"direct": True, "shared": lambda: True}, False, "member"),  # a DM is never "shared"
    ({"direct": False, "private": True}, True, "staff"),  # an ephemeral answer to staff
    ({"direct": False, "private": True, "shared": lambda: True}, False, "public"),
], ids=["member-dm", "staff-dm", "staff-in-channel", "configured-public", "shared-channel", "dm-not-shared",
        "private-to-staff", "private-to-member-in-shared"])
def test_the_role_of_a_conversation_follows_the_rule(facts, staff, expected):
    assert role_for(is_staff=lambda: staff, **facts) == expected


def test_lookups_run_only_when_the_rule_needs_them():
    asked: list[str] = []

    def lookup(name: str, value: bool):  # noqa: ANN202
        return lambda: asked.append(name) or value

    role_for(direct=True, is_staff=lookup("staff", False), shared=lookup("shared", True))
    assert asked == ["staff"], "a DM needs no channel lookup"
    asked.clear()
    role_for(direct=False, is_staff=lookup("staff", True), shared=lookup("shared", False))
    assert asked == ["shared"], "a channel needs no staff lookup"


def test_a_member_dm_sees_member_sources(tiny_services, state):
    desk = Desk(tiny_services, state, platform="test")
    role = desk.role(direct=True, is_staff=lambda: False)
    reply, _ = desk.ask("Who handles invoice questions?", conversation="D1", user="U1", role=role)
    urls = {ref.url for ref in reply.sources}
    assert role == "member" and MEMBER_DOC in urls and STAFF_DOC not in urls


def test_a_staff_dm_sees_staff_sources(tiny_services, state):
    desk = Desk(tiny_services, state, platform="test")
    role = desk.role(direct=True, is_staff=lambda: True)
    reply, _ = desk.ask("Who handles invoice escalation?", conversation="D2", user="U2", role=role)
    assert role == "staff" and STAFF_DOC in {ref.url for ref in reply.sources}


def test_an_unknown_role_is_refused_before_answering(desk, services):
    with pytest.raises(ValueError, match="unknown role"):
        desk.ask("Anything?", conversation="C1", user="U1", role="admin")
    assert services.concierge.asked == []


# --- answer -> record -> link ------------------------------------------------------------------------------------


def test_an_answer_is_recorded_and_read_back_as_the_thread_history(desk, services, state):
    _, first = desk.ask("Tell me about the EIC Accelerator", conversation="C1", thread="t1", user="U1", role="member")
    _, second = desk.ask("and the deadline?", conversation="C1", thread="t1", user="U1", role="member")
    assert second == first + 1
    follow_up = services.concierge.asked[-1]
    assert [turn.text for turn in follow_up.history if turn.role == "user"] == ["Tell me about the EIC Accelerator"]
    desk.ask("Other thread", conversation="C1", thread="t2", user="U1", role="member")
    assert services.concierge.asked[-1].history == ()


def test_a_message_is_claimed_once_and_threads_are_followed(desk):
    assert desk.claim("C1", "1.1") and not desk.claim("C1", "1.1")
    assert not desk.follows("C1", "1.0")
    desk.follow("C1", "1.0")
    assert desk.follows("C1", "1.0")
    assert desk.first_delivery("Ev1") and not desk.first_delivery("Ev1")


@pytest.mark.parametrize("question, start", [
    ("Quels appels à projets sont ouverts ?", "Désolé"),
    ("Which funding calls are still open?", "Sorry"),
    ("Welche Förderaufrufe sind noch offen?", "Entschuldigung"),
    ("", "Sorry"),
])
def test_apology_is_in_the_question_language(desk, question, start):
    assert desk.apology(question).startswith(start)


# --- feedback --------------------------------------------------------------------------------------------------


def test_feedback_is_stored_under_the_user_and_thanked(desk, state):
    _, answer_id = desk.ask("What are the upcoming events?", conversation="C1", user="U1", role="member")
    assert desk.feedback(answer_id, "U1", helpful=False) == "Thanks — the team will look at this answer."
    assert desk.feedback(answer_id, "U1", helpful=True, language="fr") == "Merci pour votre retour !"
    assert state.feedback(answer_id) == {"U1": 1}
    assert desk.feedback(answer_id + 99, "U1", helpful=True) is None, "an unknown answer is not thanked"


def test_feedback_naming_a_sent_message_reaches_its_answer(desk, state):
    _, answer_id = desk.ask("What are the upcoming events?", conversation="C1", user="aad-1", role="member")
    desk.link("sent-1", answer_id)
    assert desk.feedback_on_message("sent-1", "aad-1", helpful=False)
    assert not desk.feedback_on_message("sent-unknown", "aad-1", helpful=False)
    assert [(g.answer_id, g.reason) for g in state.gaps()] == [(answer_id, "marked unhelpful")]


# --- staff -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["reingest", "gaps", "status", "anything"])
def test_non_staff_are_refused_and_nothing_runs(desk, services, action):
    assert told(desk, action, staff=False) == [Notice.say("Sorry, this command is for the cluster team.")]
    assert services.blocking_ingestor.runs == 0


def test_the_refusal_says_how_to_ask_instead_when_the_platform_has_a_command(desk):
    [refusal] = told(desk, "reingest", staff=False, ask_command="/ask")
    assert refusal.lines == ("Sorry, this command is for the cluster team. Ask me anything with /ask!",)


def test_second_reingest_is_told_one_is_running(desk, services):
    ingestor = services.blocking_ingestor
    first: list[Notice] = []
    worker = threading.Thread(target=desk.staff_command, args=("reingest",),
                              kwargs={"staff": True, "tell": first.append})
    worker.start()
    try:
        assert ingestor.started.wait(10)
        assert told(desk, "reingest") == [Notice.say("An ingestion is already running.")]
    finally:
        ingestor.release.set()
        worker.join(10)
    assert first[0] == Notice.say("Ingestion started…") and first[1].lines[0].startswith("Ingestion done")
    assert ingestor.runs == 1
    assert [n.lines[0][:16] for n in told(desk, "reingest")] == ["Ingestion starte", "Ingestion done i"], \
        "the lock is released once a run ends"


def test_a_failed_reingest_is_one_line_and_frees_the_lock(tmp_path, state):
    failing = BlockingIngestor(error=RuntimeError("disk full"))
    failing.release.set()
    desk = Desk(FakeServices(NOW, ingestor=failing), state, platform="test")
    assert told(desk, "reingest") == [Notice.say("Ingestion started…"),
                                      Notice.say("The ingestion failed; the details are in the bot's log.")]
    assert told(desk, "reingest")[0] == Notice.say("Ingestion started…")


def test_the_reingest_summary_lists_failures(state):
    report = IngestReport(unchanged=["a.md"])
    ingestor = BlockingIngestor(report=report)
    ingestor.release.set()
    desk = Desk(FakeServices(NOW, ingestor=ingestor), state, platform="test")
    assert told(desk, " REINGEST ")[-1] == Notice(tuple(report.summary_lines()))


def test_gaps_list_unanswered_and_down_voted_answers_of_every_platform(desk, services, state):
    assert told(desk, "gaps") == [Notice.say("No knowledge gap recorded.")]
    _, answer_id = desk.ask("Is the cafeteria open?", conversation="C1", user="U1", role="member")
    desk.feedback(answer_id, "U1", helpful=False)
    [gaps] = told(desk, "gaps")
    assert gaps.items and gaps.lines == ("Is the cafeteria open? — marked unhelpful (test)",)


def test_status_is_the_services_status_line(desk):
    assert told(desk, "status") == [Notice.say("3 sources, 12 chunks; last ingestion never, 0 failed.")]


def test_an_unknown_staff_action_gets_the_usage(desk):
    [usage] = told(desk, "help", invoked_as="/concierge")
    assert usage.lines == ("Usage: /concierge reingest | gaps | status | report",)


@pytest.mark.parametrize("text, command", [("reingest", True), (" Status ", True), ("reingest now", False),
                                           ("What is the status of my application?", False)])
def test_only_a_bare_command_word_is_a_staff_command(text, command):
    assert Desk.is_staff_command(text) is command


# --- home ------------------------------------------------------------------------------------------------------


def test_the_home_page_shows_staff_the_index_and_members_only_what_they_may_see(tiny_services, state):
    desk = Desk(tiny_services, state, platform="test")
    member, staff = desk.home(staff=False), desk.home(staff=True)
    assert member.status is None and member.gaps == []
    assert staff.status is not None and staff.status["sources"] == len(TINY_KB)


# --- no platform -----------------------------------------------------------------------------------------------


def test_the_desk_imports_no_chat_platform():
    code = ("import sys, bot.desk, bot.messages; "
            "print([m for m in sys.modules if m.split('.')[0] in {'slack_sdk', 'slack_bolt', 'microsoft_agents'}])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
