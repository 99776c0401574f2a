"""The scheduled jobs and the retention purge, on a pinned clock the tests advance: a run missed while the bot
was down runs once at start, two processes sharing the state file run a period once, staff see each job, and
members' data older than BOT_RETENTION_DAYS is gone after the nightly purge."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.conversation import Reply
from bot.desk import Desk
from bot.scheduler import Job, ScheduleError, Scheduler, parse_schedule, purge_job
from bot.settings import BotSettings
from bot.state import BotState
from tests.conftest import PARIS
from tests.fakes.services import FakeServices

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=PARIS)
NIGHTLY = "30 3 * * *"


class Clock:
    """The process's clock, pinned; a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def reply(question: str) -> Reply:
    return Reply(question=question, language="en", answer="answer", abstained=False, sources=[])


class Runs:
    """A job that records each run."""

    def __init__(self) -> None:
        self.at: list[datetime] = []

    def __call__(self, now: datetime) -> str:
        self.at.append(now)
        return f"run {len(self.at)}"


def scheduler_on(path: Path, clock: Clock, *jobs: Job) -> Scheduler:
    """A bot process: its own connection to the state file, its own scheduler."""
    scheduler = Scheduler(BotState(path, clock=clock), clock=clock, timezone=PARIS)
    for job in jobs:
        scheduler.add(job)
    return scheduler


def start_and_stop(scheduler: Scheduler) -> None:
    """Start as `python -m bot` does, let the catch-up finish, stop as on exit."""
    scheduler.start()
    try:
        assert scheduler.caught_up.wait(10), "the catch-up never ran"
    finally:
        scheduler.shutdown()


def test_a_run_missed_while_the_bot_was_down_runs_once_at_start_not_once_per_missed_night(tmp_path):
    path, clock, runs = tmp_path / "state.sqlite3", Clock(MONDAY), Runs()
    start_and_stop(scheduler_on(path, clock, Job("nightly", NIGHTLY, runs)))
    assert runs.at == [], "nothing was missed before the job existed"

    clock.now = MONDAY + timedelta(days=3, hours=2)  # down from Monday to Thursday noon: three nights missed
    restarted = scheduler_on(path, clock, Job("nightly", NIGHTLY, runs))
    start_and_stop(restarted)
    assert runs.at == [clock.now], "one run for the three missed nights"
    [job] = restarted.status()
    assert job.last is not None and job.last.period == datetime(2026, 11, 26, 3, 30, tzinfo=PARIS)
    assert job.last.result == "run 1" and job.last.ok
    assert job.next_run == datetime(2026, 11, 27, 3, 30, tzinfo=PARIS) and not job.due

    clock.now += timedelta(hours=1)  # restarted again the same day
    start_and_stop(scheduler_on(path, clock, Job("nightly", NIGHTLY, runs)))
    assert len(runs.at) == 1, "that night's run is done already"


def test_two_processes_sharing_the_state_file_run_a_period_once(tmp_path):
    path, clock, runs = tmp_path / "state.sqlite3", Clock(MONDAY), Runs()
    processes = [scheduler_on(path, clock, Job("nightly", NIGHTLY, runs)) for _ in range(2)]
    clock.now = datetime(2026, 11, 24, 3, 30, 1, tzinfo=PARIS)
    together = threading.Barrier(len(processes))

    def run(scheduler: Scheduler) -> None:
        together.wait()
        scheduler.run_due()

    threads = [threading.Thread(target=run, args=(p,)) for p in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(runs.at) == 1
    clock.now += timedelta(days=1)
    assert [p.run_due() for p in processes] in ([["nightly"], []], [[], ["nightly"]])
    assert len(runs.at) == 2, "the next night runs once too"


def test_a_job_runs_at_its_fire_time_in_the_cluster_time_zone(tmp_path):
    clock, runs = Clock(MONDAY), Runs()
    scheduler = scheduler_on(tmp_path / "state.sqlite3", clock, Job("weekly", "0 9 * * mon", runs))
    clock.now = datetime(2026, 11, 30, 8, 59, tzinfo=PARIS)
    assert scheduler.run_due() == [], "a minute early"
    clock.now = datetime(2026, 11, 30, 9, 0, tzinfo=PARIS)
    assert scheduler.run_due() == ["weekly"] and scheduler.run_due() == []


def test_a_failing_job_is_reported_and_does_not_stop_the_others(tmp_path):
    clock, runs = Clock(MONDAY), Runs()

    def broken(now: datetime) -> str:
        raise RuntimeError("disk full")

    scheduler = scheduler_on(tmp_path / "state.sqlite3", clock, Job("broken", NIGHTLY, broken),
                             Job("nightly", NIGHTLY, runs))
    clock.now += timedelta(days=1)
    assert scheduler.run_due() == ["broken", "nightly"]
    assert scheduler.run_due() == [], "a failed period is not retried in a loop"
    failed, ok = scheduler.status()
    assert failed.last is not None and failed.last.ok is False and failed.last.result == "failed: RuntimeError"
    assert ok.last is not None and ok.last.ok


def test_staff_see_each_job_with_its_schedule_last_run_and_next_run(tmp_path):
    clock = Clock(MONDAY)
    scheduler = scheduler_on(tmp_path / "state.sqlite3", clock, Job("nightly", NIGHTLY, Runs()))
    desk = Desk(FakeServices(MONDAY), scheduler.state, platform="test", scheduler=scheduler)
    [before] = desk.status().lines
    assert before == "nightly · 30 3 * * * (Europe/Paris) · last run: never · next run: 2026-11-24 03:30"
    clock.now = datetime(2026, 11, 24, 4, 0, tzinfo=PARIS)
    assert desk.status().lines[0].endswith("next run: 2026-11-24 03:30 (due)"), "not run yet: the bot was stopped"
    scheduler.run_due()
    notice = desk.status("fr")
    assert notice.lead[0] == "3 sources, 12 chunks; last ingestion never, 0 failed."
    assert notice.lead[1] == "Tâches planifiées :"
    assert notice.lines == ("nightly · 30 3 * * * (Europe/Paris) · dernière exécution : 2026-11-24 03:30, run 1 · "
                            "prochaine : 2026-11-25 03:30",)


@pytest.mark.parametrize("schedule, problem", [
    ("0 9 * * 1", "weekdays as names"),  # crontab's 1 is Monday, APScheduler 3's is Tuesday
    ("0 9 * *", "expected 5 fields"),
    ("0 25 * * *", "higher than the maximum value"),
])
def test_a_schedule_that_would_run_at_the_wrong_time_is_refused_with_what_to_write(schedule, problem):
    with pytest.raises(ScheduleError, match=problem):
        parse_schedule(schedule, PARIS)
    with pytest.raises(ValueError, match=problem):
        BotSettings(purge_schedule=schedule, _env_file=None)


def test_retention_comes_from_bot_retention_days(monkeypatch):
    assert BotSettings(_env_file=None).retention_days == 180
    monkeypatch.setenv("BOT_RETENTION_DAYS", "30")
    assert BotSettings(_env_file=None).retention_days == 30


def test_the_nightly_purge_removes_members_data_older_than_the_retention_and_keeps_the_rest(tmp_path):
    path, clock = tmp_path / "state.sqlite3", Clock(MONDAY)
    state = BotState(path, clock=clock)
    old = state.record_answer("slack", "C1", "1.0", "UOLD", "member", reply("an old question"))
    state.remember_thread("slack", "C1", "1.0")
    state.record_feedback(old, "UOLD", helpful=False)
    state.link_message("teams", "sent-1", old)
    clock.now = MONDAY + timedelta(days=100)
    recent = state.record_answer("slack", "C1", "2.0", "URECENT", "member", reply("a recent question"))
    state.record_feedback(recent, "URECENT", helpful=False)
    scheduler = scheduler_on(path, clock, purge_job(BotState(path, clock=clock), days=180, schedule=NIGHTLY))

    clock.now = MONDAY + timedelta(days=180)  # 180 days to the hour: not older than the retention yet
    scheduler.run_due()
    assert [g.question for g in state.gaps()] == ["a recent question", "an old question"]

    clock.now = MONDAY + timedelta(days=181)
    scheduler.run_due()
    restarted = BotState(path, clock=clock)
    assert [g.question for g in restarted.gaps()] == ["a recent question"]
    assert restarted.questions_of("UOLD") == [] and restarted.feedback(old) == {}
    assert restarted.answer_for_message("teams", "sent-1") is None
    assert not restarted.is_answered_thread("slack", "C1", "1.0")
    assert restarted.feedback(recent) == {"URECENT": -1}
    [job] = scheduler.status()
    assert job.last is not None and job.last.result.startswith(  # then the other tables' counts (0 here)
        "removed what was older than 180 days: threads 1, answers 1, feedback 1,")


def test_forgetting_a_member_removes_everything_tied_to_their_id_and_nothing_of_others(tmp_path):
    path, clock = tmp_path / "state.sqlite3", Clock(MONDAY)
    state = BotState(path, clock=clock)
    mine = state.record_answer("slack", "C1", "1.0", "UME", "member", reply("my question"))
    state.remember_thread("slack", "C1", "1.0")
    state.record_answer("slack", "C1", "1.0", "UME", "member", reply("my follow-up"))
    theirs = state.record_answer("slack", "C1", "2.0", "UOTHER", "member", reply("their question"))
    state.remember_thread("slack", "C1", "2.0")
    state.record_feedback(mine, "UOTHER", helpful=True)  # theirs, on my answer: goes with my answer
    state.record_feedback(theirs, "UME", helpful=False)  # mine, on their answer
    state.record_feedback(theirs, "UOTHER", helpful=True)
    for member in ("UME", "UOTHER"):
        reminder = state.add_reminder("slack", member, path="calls.csv", title="EIC", url="https://kb.test/eic",
                                      deadline=MONDAY.timestamp() + 86400 * 30, deadline_text="", language="en")
        state.claim_reminder_message(reminder, "7d", MONDAY.timestamp() + 86400 * 30)

    assert {what: count for what, count in state.forget("UME").items() if count} == {
        "questions": 2, "feedback": 1, "reminders": 1}
    restarted = BotState(path, clock=clock)
    assert restarted.questions_of("UME") == [] and restarted.feedback(mine) == {}
    assert not restarted.is_answered_thread("slack", "C1", "1.0")
    assert restarted.questions_of("UOTHER") == ["their question"]
    assert restarted.feedback(theirs) == {"UOTHER": 1} and restarted.is_answered_thread("slack", "C1", "2.0")
    assert [r.user for r in restarted.reminders()] == ["UOTHER"]
    assert not restarted.claim_reminder_message(restarted.reminders()[0].id, "7d", MONDAY.timestamp() + 86400 * 30)
    assert not any(restarted.forget("UME").values())


def test_the_bot_process_runs_the_purge_for_as_long_as_its_chat_app_runs(tmp_path):
    """`python -m bot slack|teams` wraps the app in `scheduled_jobs`: one scheduler on the services' clock, the
    purge of `BOT_RETENTION_DAYS` caught up at start, stopped on exit."""
    from bot.__main__ import scheduled_jobs

    path, clock = tmp_path / "state.sqlite3", Clock(MONDAY)
    services = FakeServices(MONDAY)
    services.clock, services.tz = clock, PARIS
    settings = BotSettings(retention_days=30, state_path=path, _env_file=None)
    with scheduled_jobs(services, settings, BotState(path, clock=clock)) as first:  # the first deployment
        assert first.caught_up.wait(10)
    BotState(path, clock=clock).record_answer("slack", "C1", "1.0", "U1", "member", reply("a question"))

    clock.now = MONDAY + timedelta(days=40)  # the bot was stopped for 40 days
    with scheduled_jobs(services, settings, BotState(path, clock=clock)) as scheduler:
        assert scheduler.running and [job.name for job in scheduler.jobs] == ["retention-purge"]
        assert scheduler.caught_up.wait(10)
    assert not scheduler.running
    restarted = BotState(path, clock=clock)
    assert restarted.questions_of("U1") == [] and restarted.runs("retention-purge") == 1
