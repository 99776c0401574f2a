"""What the bot remembers: events once, threads, answers, feedback and gaps."""

from __future__ import annotations

from bot.conversation import Reply
from bot.state import BotState
from tests.conftest import TODAY

CLOCK = lambda: TODAY  # noqa: E731


def reply(question: str, abstained: bool = False) -> Reply:
    return Reply(question=question, language="en", answer="answer", abstained=abstained, sources=[])


def test_an_event_is_handled_once(tmp_path):
    state = BotState(tmp_path / "s.sqlite3", clock=CLOCK)
    assert state.first_time("Ev1") and not state.first_time("Ev1") and state.first_time("Ev2")


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
