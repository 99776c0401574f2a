"""The bot's scheduled jobs (the retention purge, the channel digests of `bot.digest`): one scheduler per bot
process, on the injected clock, each period run once however many processes share the state file and however
long the bot was down.

APScheduler computes the schedule (`CronTrigger`, crontab syntax, in `KB_TIMEZONE`) and its background thread
wakes the scheduler at each fire time; what is due is decided here, from the injected clock and the runs
recorded in the bot's state (`BotState.claim_run`):

- a job is due when a fire time has passed since its last run (or since it was first scheduled);
- after downtime the missed fire times are coalesced: the job runs once, for the latest of them;
- the run is claimed in SQLite under (job, fire time) first: a second process, or a second start, skips it;
  a run whose process died is not retried (at most once: a digest is never sent twice).

>>> from datetime import datetime
>>> from zoneinfo import ZoneInfo
>>> paris = ZoneInfo("Europe/Paris")
>>> trigger = parse_schedule("30 3 * * *", paris)
>>> latest_fire(trigger, after=datetime(2027, 1, 1, 12, tzinfo=paris), now=datetime(2027, 1, 4, 12, tzinfo=paris))
datetime.datetime(2027, 1, 4, 3, 30, tzinfo=zoneinfo.ZoneInfo(key='Europe/Paris'))
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.state import BotState, JobRun
from knowledge.clock import Clock

logger = logging.getLogger(__name__)

# A run after a long downtime looks for the latest missed fire time in this recent window first (a daily job
# down for a year: 8 steps, not 365); a job firing less often than that falls back to walking from its last run.
_RECENT = timedelta(days=8)
_DIGITS = re.compile(r"\d")


class ScheduleError(ValueError):
    """A schedule that is not a 5-field crontab expression APScheduler accepts."""


def parse_schedule(expression: str, timezone: tzinfo) -> CronTrigger:
    """A crontab expression (minute hour day month weekday) as APScheduler's trigger in `timezone`.

    Weekdays are written as names (`mon`, `mon-fri`): crontab's 0 is Sunday, APScheduler's is Monday, so
    numbers would silently mean another day.

    >>> from zoneinfo import ZoneInfo
    >>> parse_schedule("0 9 * * mon", ZoneInfo("Europe/Paris")).fields[4]
    DayOfWeekField('day_of_week', 'mon')
    >>> parse_schedule("0 9 * * 1", ZoneInfo("Europe/Paris"))
    Traceback (most recent call last):
    ...
    bot.scheduler.ScheduleError: schedule '0 9 * * 1': write weekdays as names (mon, tue, ... sun; mon-fri), not numbers
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ScheduleError(f"schedule {expression!r}: expected 5 fields (minute hour day month weekday), "
                            f"e.g. '0 9 * * mon'")
    if _DIGITS.search(fields[4].split("/")[0]):
        raise ScheduleError(f"schedule {expression!r}: write weekdays as names (mon, tue, ... sun; mon-fri), "
                            "not numbers")
    try:
        return CronTrigger.from_crontab(expression, timezone=timezone)
    except ValueError as exc:
        raise ScheduleError(f"schedule {expression!r}: {exc}") from None


def next_fire(trigger: CronTrigger, after: datetime) -> datetime | None:
    """The first fire time strictly after `after`."""
    fire: datetime | None = trigger.get_next_fire_time(after, after)
    return fire


def latest_fire(trigger: CronTrigger, *, after: datetime, now: datetime) -> datetime | None:
    """The latest fire time in (`after`, `now`], or None when none has passed: the one period to run for."""
    for start in (max(after, now - _RECENT), after):
        fire = next_fire(trigger, start)
        if fire is None or fire > now:
            continue
        while (following := next_fire(trigger, fire)) is not None and following <= now:
            fire = following
        return fire
    return None


@dataclass(frozen=True)
class Job:
    """What runs, and when. `run(now)` returns a one-line result for staff ("removed 3 rows"); an exception
    is the failed result (logged with its traceback)."""

    name: str
    schedule: str
    run: Callable[[datetime], str]


@dataclass(frozen=True)
class JobStatus:
    """A job as staff see it (`/concierge status`, App Home)."""

    name: str
    schedule: str  # "30 3 * * * (Europe/Paris)"
    last: JobRun | None
    next_run: datetime | None
    due: bool  # the next run's time has passed: it runs at the next wake-up (or is running)


class Scheduler:
    """The process's scheduler over the bot's state file.

    `add` the jobs, `start` (runs what was missed while the bot was down, once, then wakes at each fire time),
    `shutdown` on exit. `run_due(now)` is the whole decision, callable directly (tests pin and advance `now`).
    """

    def __init__(self, state: BotState, *, clock: Clock, timezone: tzinfo) -> None:
        self.state = state
        self.clock = clock  # the process's one clock: what is due, and when runs happened
        self.timezone = timezone
        self._jobs: dict[str, tuple[Job, CronTrigger]] = {}
        self._running = threading.Lock()  # one run_due at a time in this process (wake-ups may coincide)
        self.caught_up = threading.Event()  # set once the runs missed while the bot was down are done
        self._catching_up: threading.Thread | None = None
        # APScheduler only wakes us up; one worker thread, so runs follow one another.
        self._background = BackgroundScheduler(timezone=timezone, executors={"default": ThreadPoolExecutor(1)},
                                               job_defaults={"coalesce": True, "max_instances": 1,
                                                             "misfire_grace_time": None})

    def add(self, job: Job) -> None:
        """Schedule `job` (raises `ScheduleError` for a bad schedule); its first period starts now."""
        if job.name in self._jobs:
            raise ValueError(f"a job named {job.name!r} is already scheduled")
        trigger = parse_schedule(job.schedule, self.timezone)
        self._jobs[job.name] = (job, trigger)
        self.state.job_since(job.name)
        if self._background.running:
            self._wake_at(job.name, trigger)

    @property
    def jobs(self) -> list[Job]:
        return [job for job, _ in self._jobs.values()]

    @property
    def running(self) -> bool:
        """Started and not shut down: waking up at each fire time."""
        return bool(self._background.running)

    def start(self) -> None:
        """Run what is due now (in a thread of its own: the bot starts at once), then wake at each fire time."""
        self._background.start()
        for name, (_, trigger) in self._jobs.items():
            self._wake_at(name, trigger)
        # Not an APScheduler one-off job: its removal after the run races with a quick shutdown.
        self._catching_up = threading.Thread(target=self._catch_up, name="scheduler-catch-up", daemon=True)
        self._catching_up.start()

    def _catch_up(self) -> None:
        try:
            self.run_due()
        except Exception:  # noqa: BLE001 - the state file could not be read: the wake-ups try again
            logger.exception("catching up on missed runs failed")
        finally:
            self.caught_up.set()

    def shutdown(self, wait: bool = True) -> None:
        """Stop waking up; with `wait`, let a running job finish first."""
        if self._background.running:
            self._background.shutdown(wait=wait)
        if wait and self._catching_up is not None:
            self._catching_up.join()

    def _wake_at(self, name: str, trigger: CronTrigger) -> None:
        self._background.add_job(self.run_due, trigger=trigger, id=f"wake:{name}", name=f"wake up for {name}",
                                 replace_existing=True)

    def run_due(self, now: datetime | None = None) -> list[str]:
        """Run each job whose fire time has passed since its last run, once, for the latest such fire time;
        the names of the jobs this call ran."""
        ran: list[str] = []
        with self._running:
            for name, (job, trigger) in self._jobs.items():
                at = now or self.clock()
                period = latest_fire(trigger, after=self._anchor(name), now=at)
                if period is None or not self.state.claim_run(name, period):
                    continue
                ran.append(name)
                try:
                    result, ok = job.run(at), True
                except Exception as exc:  # noqa: BLE001 - one failed job does not stop the others
                    logger.exception("scheduled job failed job=%s period=%s", name, period.isoformat())
                    result, ok = f"failed: {type(exc).__name__}", False
                self.state.finish_run(name, period, ok=ok, result=result)
                logger.info("scheduled job ran job=%s period=%s ok=%s", name, period.isoformat(), ok)
        return ran

    def _anchor(self, name: str) -> datetime:
        """Where the search for a missed fire time starts: the last run's period, or when the job was added."""
        since = self.state.job_since(name)
        last = self.state.last_run(name)
        return max(since, last.period) if last else since

    def status(self, now: datetime | None = None) -> list[JobStatus]:
        """Each job: its schedule, last run and result, and next run."""
        now = now or self.clock()
        statuses = []
        for name, (job, trigger) in self._jobs.items():
            upcoming = next_fire(trigger, self._anchor(name))
            statuses.append(JobStatus(name, f"{job.schedule} ({self.timezone})", self.state.last_run(name),
                                      upcoming, upcoming is not None and upcoming <= now))
        return statuses


def purge_job(state: BotState, *, days: int, schedule: str) -> Job:
    """The retention purge: members' data older than `days` is deleted (`BotState.purge`)."""

    def purge(now: datetime) -> str:
        removed = state.purge(now - timedelta(days=days))
        counts = ", ".join(f"{table} {count}" for table, count in removed.items())
        return f"removed what was older than {days} days: {counts}"

    return Job("retention-purge", schedule, purge)


__all__ = ["Job", "JobStatus", "ScheduleError", "Scheduler", "latest_fire", "next_fire", "parse_schedule",
           "purge_job"]
