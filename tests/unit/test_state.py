"""What the bot remembers: events once, threads, answers, feedback and gaps."""

from __future__ import annotations

from datetime import timedelta

from bot.conversation import Reply
from bot.state import BotState
from tests.conftest import TODAY

CLOCK = lambda: TODAY  # noqa: E731


def reply(question: str, abstained: bool = False) -> Reply:
    return Reply(question=question, language="en", answer="answer", abstained=abstained, sources=[])


def test_an_event_is_handled_once(tmp_path):
    state = BotState(tmp_path / "s.sqlite3", clock=CLOCK)
    assert state.first_time("Ev1") and not state.first_time("Ev1") and state.first_time("Ev2")


def test_a_message_claimed_by_a_run_that_died_is_taken_over_once_but_a_finished_one_never(tmp_path):
    path = tmp_path / "s.sqlite3"
    dead = BotState(path, clock=CLOCK)
    assert dead.claim_message("slack", "C1", "1.0") and dead.claim_message("slack", "C1", "2.0")
    dead.finish_message("slack", "C1", "2.0")  # answered before the crash; 1.0 was not
    assert not BotState(path, clock=CLOCK).claim_message("slack", "C1", "1.0"), "a live run may be answering it"
    restarted = BotState(path, clock=lambda: TODAY + timedelta(minutes=1))  # Slack's retry, a minute later
    assert restarted.claim_message("slack", "C1", "1.0"), "the unanswered message is answered after the restart"
    assert not restarted.claim_message("slack", "C1", "1.0"), "once"
    assert not restarted.claim_message("slack", "C1", "2.0"), "an answered message is never answered again"
    assert restarted.first_time("Ev9") and not restarted.first_time("Ev9")
    assert not BotState(path, clock=CLOCK).first_time("Ev9"), "another live run is handling it"
    much_later = BotState(path, clock=lambda: TODAY + timedelta(minutes=5))
    assert much_later.first_time("Ev9"), "a later run lets the event through to the message claim"


def test_claims_older_than_a_week_are_forgotten_at_start(tmp_path):
    BotState(tmp_path / "s.sqlite3", clock=CLOCK).claim_message("slack", "C1", "old")
    BotState(tmp_path / "s.sqlite3", clock=lambda: TODAY + timedelta(days=6)).claim_message("slack", "C1", "recent")
    week_later = BotState(tmp_path / "s.sqlite3", clock=lambda: TODAY + timedelta(days=8))
    keys = [key for (key,) in week_later._db.execute("SELECT key FROM claims")]
    assert keys == ["slack:message:C1:recent"], "the file does not grow forever; recent claims stay"


def test_state_survives_a_restart(tmp_path):
    BotState(tmp_path / "s.sqlite3", clock=CLOCK).remember_thread("slack", "C1", "1.0")
    assert BotState(tmp_path / "s.sqlite3", clock=CLOCK).is_answered_thread("slack", "C1", "1.0")


def test_thread_history_is_oldest_first(tmp_path):
    state = BotState(tmp_path / "s.sqlite3", clock=CLOCK)
    for question in ("first", "second"):
        state.record_answer("slack", "C1", "1.0", "U1", "member", reply(question))
    assert [t.text for t in state.history("slack", "C1", "1.0") if t.role == "user"] == ["first", "second"]


def test_gaps_are_unanswered_or_down_voted(tmp_path):
    state = BotState(tmp_path / "s.sqlite3", clock=CLOCK)
    good = state.record_answer("slack", "C1", "1", "U1", "member", reply("liked"))
    bad = state.record_answer("teams", "C1", "2", "U1", "member", reply("disliked"))
    state.record_answer("slack", "C1", "3", "U1", "member", reply("unknown", abstained=True))
    assert state.record_feedback(good, "U2", True) and state.record_feedback(bad, "U2", False)
    assert not state.record_feedback(999, "U2", False), "feedback on an unknown answer is refused"
    assert [(g.question, g.reason) for g in state.gaps()] == [("unknown", "no answer"), ("disliked", "marked unhelpful")]


def test_none_in_the_window_then_the_next_one_is_answered_but_still_a_gap(tmp_path):
    # "Is there an AI workshop next week?" -> "nothing matches; the next one after that: ... 10 December": the
    # member got an answer, the staff report still sees a week the calendar did not cover
    state = BotState(tmp_path / "s.sqlite3", clock=CLOCK)
    later = Reply(question="AI workshop next week?", language="en", answer="none; the next one ...",
                  abstained=False, sources=[], note="next_after")
    state.record_answer("slack", "C1", "1", "U1", "member", later)
    state.record_answer("slack", "C1", "2", "U1", "member", reply("answered"))
    assert [g.question for g in state.gaps()] == ["AI workshop next week?"]
