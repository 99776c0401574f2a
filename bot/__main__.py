"""`python -m bot`: the terminal chat, one-off questions, evaluation, and (with credentials) Slack or Teams.

    python -m bot                      # Slack / Teams when their credentials are set, else the terminal chat
    python -m bot chat [--role staff]
    python -m bot ask "Quels appels à projets sont ouverts ?" [--json] [--role member] [--today 2026-01-15]
    python -m bot eval QA.jsonl [--output results.jsonl] [--role member] [--json] [--ingest CORPUS_DIR]
                                [--remove-gold]
    python -m bot digest --channel C0123 [--language fr|en|de] [--audience public|member] [--today 2026-11-23]
                         [--dry-run]
    python -m bot report [--since 2026-11-01] [--html report.html] [--today 2026-11-22] [--language fr]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path
from typing import NoReturn

from bot.evaluation import EvaluationAborted, QuestionFileError, evaluate, format_metrics, load_questions
from knowledge.locales import LANGUAGES

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_EMPTY_INDEX = ("the knowledge base at {location} is empty: run `python ingest.py FOLDER` first "
                "(or point KB_STORE_PATH / KB_CHROMA_URL at an existing index)")


class UsageMistake(Exception):
    """A command line that cannot be run; `main` prints it in one line and exits with EXIT_USAGE."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line for `main` to print (not the usage block and an exit)."""

    def error(self, message: str) -> NoReturn:
        raise UsageMistake(f"{self.prog}: {message} (see {self.prog} --help)")


def _today(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(prog="python -m bot", description="Cluster Concierge")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each step")
    sub = parser.add_subparsers(dest="command")

    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument("--role", default="member", choices=["public", "member", "staff"])
    ask.add_argument("--today", type=_today, help="answer as if today were this date (YYYY-MM-DD)")

    ev = sub.add_parser("eval", help="score answers on a JSON Lines question set")
    ev.add_argument("qa", type=Path)
    ev.add_argument("--output", type=Path, help="write one `ask --json` object per question (plus id)")
    ev.add_argument("--role", default="member", choices=["public", "member", "staff"])
    ev.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    ev.add_argument("--ingest", type=Path, action="append", default=[],
                    help="ingest this corpus folder first (repeatable)")
    ev.add_argument("--today", type=_today, help="default date for questions without `today`")
    ev.add_argument("--remove-gold", action="store_true",
                    help="ask each answerable question without its expected sources, as an unanswerable one "
                         "(abstention recall on near-domain questions)")

    slack = sub.add_parser("slack", help="run the Slack app (Socket Mode, or HTTP with --http)")
    slack.add_argument("--http", action="store_true", help="HTTP mode: POST /slack/events (SLACK_SIGNING_SECRET)")
    slack.add_argument("--port", type=int, default=3000)

    teams = sub.add_parser("teams", help="run the Teams bot: POST /api/messages")
    teams.add_argument("--port", type=int, default=3978)
    teams.add_argument("--allow-anonymous", action="store_true",
                       help="accept requests without a token (local development only; logged as a warning)")

    digest = sub.add_parser("digest", help="print (--dry-run) or post one channel digest now")
    digest.add_argument("--channel", required=True,
                        help="a Slack channel id (C0123), or teams:<conversation id>; configured or not "
                        "(KB_DIGEST_CHANNELS)")
    digest.add_argument("--language", choices=list(LANGUAGES), help="override the channel's language")
    digest.add_argument("--audience", choices=["public", "member"], help="override the channel's audience")
    digest.add_argument("--today", type=_today, help="as if today were this date (YYYY-MM-DD)")
    digest.add_argument("--dry-run", action="store_true", help="print the digest; post and record nothing")

    chat = sub.add_parser("chat", help="terminal chat")
    chat.add_argument("--role", default="member", choices=["public", "member", "staff"])
    chat.add_argument("--today", type=_today)

    report = sub.add_parser("report", help="the staff report: questions, answers, feedback, gaps, stale content")
    report.add_argument("--since", type=_today, help="the report's first day (YYYY-MM-DD; default: the last 7 days)")
    report.add_argument("--html", type=Path, help="write it as a self-contained HTML page (else print it)")
    report.add_argument("--today", type=_today, help="report as if today were this date, up to its end (YYYY-MM-DD)")
    report.add_argument("--language", default="en", choices=["en", "fr", "de"])
    return parser.parse_args(argv)


def _moment(day: date | None, services) -> datetime | None:  # noqa: ANN001
    return datetime.combine(day, time(12, 0), services.tz) if day else None


def print_reply(reply, out=sys.stdout) -> None:  # noqa: ANN001
    print(reply.answer, file=out)
    if reply.sources:
        print("", file=out)
        for source in reply.sources:
            print(f"[{source.n}] {source.title} — {source.url}", file=out)


def run_chat(services, role: str, today: date | None) -> int:  # noqa: ANN001
    from bot.conversation import Incoming, Turn

    print("Cluster Concierge — ask about funding calls, events and cluster services (FR/EN/DE).")
    print("Commands: /new (new thread), /role public|member|staff, /quit.   Ctrl-D to leave.")
    history: list[Turn] = []
    while True:
        try:
            line = input("\n> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return EXIT_OK
        if not line:
            continue
        if line in {"/quit", "/exit"}:
            return EXIT_OK
        if line == "/new":
            history = []
            print("(new thread)")
            continue
        if line.startswith("/role"):
            wanted = line.split(maxsplit=1)[1].strip() if " " in line else ""
            if wanted in {"public", "member", "staff"}:
                role = wanted
                print(f"(role: {role})")
            else:
                print("(usage: /role public|member|staff)")
            continue
        try:
            reply = services.concierge.answer(Incoming(line, role=role, history=tuple(history),
                                                       now=_moment(today, services)))
        except Exception:  # noqa: BLE001 - the chat goes on; the error is logged for staff
            logging.getLogger(__name__).exception("answer failed")
            print("Sorry, something went wrong while answering. Please try again or contact the team.")
            continue
        print_reply(reply)
        history += [Turn("user", line), Turn("assistant", reply.answer)]


class CommandFailed(Exception):
    """Ends a command with one line on stderr and an exit code (a user mistake is never a traceback)."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except UsageMistake as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    prog = f"python -m bot {args.command}" if args.command else "python -m bot"
    try:
        if args.command == "eval":
            check_eval_arguments(args)  # usage mistakes first, before loading a model
        digest = check_digest_arguments(args) if args.command == "digest" else None
        if args.command == "report":
            check_report_arguments(args, prog)
        services = build_services()
        if args.command == "report":
            return run_report(services, args, prog)
        if digest is not None:
            bot_settings, target = digest
            return run_digest(services, args, bot_settings, target, prog)
        if args.command == "ask":
            return ask(services, args, prog)
        if args.command == "eval":
            return run_eval(services, args, prog)
        return serve(services, args, prog)
    except CommandFailed as exc:
        print(exc, file=sys.stderr)
        return exc.code


def check_eval_arguments(args: argparse.Namespace) -> None:
    if not args.qa.is_file():
        raise CommandFailed(f"python -m bot eval: no such question file: {args.qa}", EXIT_USAGE)
    try:
        load_questions(args.qa)
    except QuestionFileError as exc:
        raise CommandFailed(f"python -m bot eval: {exc}", EXIT_USAGE) from None
    if args.output is not None and not args.output.parent.is_dir():
        raise CommandFailed(f"python -m bot eval: no such folder for --output: {args.output.parent}", EXIT_USAGE)
    missing = [p for p in args.ingest if not p.exists()]
    if missing:
        raise CommandFailed(f"python -m bot eval: no such file or folder to --ingest: {missing[0]}", EXIT_USAGE)


def check_report_arguments(args: argparse.Namespace, prog: str) -> None:
    if args.html is not None and not args.html.parent.is_dir():
        raise CommandFailed(f"{prog}: no such folder for --html: {args.html.parent}", EXIT_USAGE)
    if args.since is not None and args.today is not None and args.since > args.today:
        raise CommandFailed(f"{prog}: --since {args.since} is after --today {args.today}", EXIT_USAGE)


def run_report(services, args: argparse.Namespace, prog: str) -> int:  # noqa: ANN001
    """The staff report of the bot's state file (`CONCIERGE_STATE_PATH`) and the index, printed or as HTML."""
    from pydantic import ValidationError

    from bot.report import build_report, html_page, summary_lines
    from bot.settings import BotSettings
    from bot.state import BotState

    try:
        state_path = BotSettings().state_path
    except ValidationError as exc:
        raise CommandFailed(f"{prog}: invalid bot settings: {exc.errors()[0]['msg']}", EXIT_USAGE) from None
    if not state_path.is_file():
        raise CommandFailed(f"{prog}: no bot state at {state_path}: the bot has recorded no answer there "
                            "(set CONCIERGE_STATE_PATH to the bot's file)")
    now = datetime.combine(args.today, time(23, 59, 59), services.tz) if args.today else services.clock()
    if args.since is not None and args.since > now.date():
        raise CommandFailed(f"{prog}: --since {args.since} is in the future", EXIT_USAGE)
    report = build_report(BotState(state_path, clock=services.clock), embedder=services.embedder,
                          store=services.store, now=now, since=args.since)
    if args.html is None:
        print("\n".join(summary_lines(report, args.language, limit=50)))
        return EXIT_OK
    try:
        args.html.write_text(html_page(report, args.language), encoding="utf-8")
    except OSError as exc:
        raise CommandFailed(f"{prog}: cannot write {args.html}: {exc.strerror or exc}") from None
    print(f"wrote {args.html}: {report.questions} questions, {report.unanswered} unanswered")
    return EXIT_OK


def build_services():  # noqa: ANN201 - bot.wiring.Services
    """The services from the environment's settings (the one place the CLI wires them)."""
    from pydantic import ValidationError

    from bot.wiring import ConfigurationError, Services
    from knowledge.embedding import EmbeddingError
    from knowledge.settings import KnowledgeSettings
    from knowledge.store import StoreError

    try:
        return Services(KnowledgeSettings())
    except ValidationError as exc:
        error = exc.errors()[0]
        raise CommandFailed(f"python -m bot: invalid setting {error['loc'][0]}: {error['msg']}", EXIT_USAGE) from None
    except (StoreError, EmbeddingError, ConfigurationError) as exc:
        raise CommandFailed(f"python -m bot: {exc}") from None


def index_is_empty(services, prog: str) -> bool:  # noqa: ANN001
    from knowledge.store import StoreError

    try:
        return services.store.count() == 0
    except StoreError as exc:
        raise CommandFailed(f"{prog}: {exc}") from None


def ask(services, args: argparse.Namespace, prog: str) -> int:  # noqa: ANN001
    from bot.conversation import Incoming

    if index_is_empty(services, prog):
        raise CommandFailed(f"{prog}: {_EMPTY_INDEX.format(location=services.store.location)}")
    reply = services.concierge.answer(Incoming(args.question, role=args.role, now=_moment(args.today, services)))
    if args.json:
        print(json.dumps(reply.as_dict(), ensure_ascii=False))
    else:
        print_reply(reply)
    return EXIT_ERROR if reply.note == "unavailable" else EXIT_OK


def run_eval(services, args: argparse.Namespace, prog: str) -> int:  # noqa: ANN001
    from knowledge.pipeline import UsageError
    from knowledge.store import StoreError

    try:
        if args.ingest:
            report = services.ingestor().run(args.ingest)
            print(f"ingested: {len(report.added)} added, {len(report.updated)} updated, "
                  f"{len(report.unchanged)} unchanged, {len(report.failed)} failed", file=sys.stderr)
        if services.store.count() == 0:
            raise CommandFailed(f"{prog}: {_EMPTY_INDEX.format(location=services.store.location)}")
        metrics = evaluate(services, args.qa, role=args.role, output=args.output,
                           default_today=_moment(args.today, services), remove_gold=args.remove_gold)
    except UsageError as exc:
        raise CommandFailed(f"{prog}: {exc}", EXIT_USAGE) from None
    except (StoreError, EvaluationAborted) as exc:
        raise CommandFailed(f"{prog}: {exc}") from None
    except OSError as exc:  # --output could not be written
        raise CommandFailed(f"{prog}: cannot write {exc.filename or args.output}: {exc.strerror or exc}") from None
    except KeyboardInterrupt:
        raise CommandFailed(f"{prog}: interrupted", EXIT_INTERRUPTED) from None
    print(json.dumps(metrics, ensure_ascii=False) if args.json else format_metrics(metrics))
    return EXIT_OK


def serve(services, args: argparse.Namespace, prog: str) -> int:  # noqa: ANN001
    """The terminal chat, or Slack / Teams when asked or configured."""
    from pydantic import ValidationError

    from bot.settings import BotSettings

    if index_is_empty(services, prog):  # the chat and the chat apps start anyway: staff may ingest from them
        print(f"{prog}: warning: {_EMPTY_INDEX.format(location=services.store.location)}", file=sys.stderr)
    if args.command == "chat":
        return run_chat(services, args.role, args.today)
    try:
        bot_settings = BotSettings()
        bot_settings.channel_roles()
        bot_settings.digest_targets()
    except (ValidationError, ValueError) as exc:
        raise CommandFailed(f"python -m bot: invalid bot settings: {exc}", EXIT_USAGE) from None
    if args.command == "teams" or (args.command is None and not bot_settings.slack_configured
                                   and bot_settings.teams_configured):
        from bot.state import BotState
        from bot.teams.app import run as run_teams

        state = BotState(bot_settings.state_path, clock=services.clock)
        with scheduled_jobs(services, bot_settings, state, platform="teams",
                            allow_anonymous=getattr(args, "allow_anonymous", False)) as scheduler:
            run_teams(services, bot_settings, state, port=getattr(args, "port", 3978),
                      allow_anonymous=getattr(args, "allow_anonymous", False), scheduler=scheduler)
        return EXIT_OK
    if args.command == "slack" or (args.command is None and bot_settings.slack_configured):
        return run_slack(services, bot_settings, http=getattr(args, "http", False) or (
            bot_settings.slack_app_token is None), port=getattr(args, "port", 3000))
    return run_chat(services, "member", None)


def run_slack(services, settings, *, http: bool, port: int) -> int:  # noqa: ANN001
    from bot.slack.app import create_app, run_http, run_socket_mode
    from bot.state import BotState

    if settings.slack_bot_token is None:
        print("python -m bot slack: set SLACK_BOT_TOKEN (and SLACK_APP_TOKEN, or SLACK_SIGNING_SECRET with --http)",
              file=sys.stderr)
        return EXIT_USAGE
    if http and settings.slack_signing_secret is None:
        print("python -m bot slack --http: set SLACK_SIGNING_SECRET", file=sys.stderr)
        return EXIT_USAGE
    state = BotState(settings.state_path, clock=services.clock)
    with scheduled_jobs(services, settings, state, platform="slack") as scheduler:
        app = create_app(services, settings, state, scheduler=scheduler)
        if http:
            run_http(app, port)
        else:
            run_socket_mode(app, settings)
    return EXIT_OK


@contextmanager
def scheduled_jobs(services, settings, state, *, platform: str | None = None,  # noqa: ANN001
                   allow_anonymous: bool = False) -> Iterator:  # (Services, BotSettings, BotState)
    """The process's one scheduler, on the services' clock, for as long as a chat app runs: the retention
    purge (`BOT_RETENTION_DAYS`, `BOT_PURGE_SCHEDULE`) and, for the chat `platform` it serves, the digest of each
    channel of `KB_DIGEST_CHANNELS` (`KB_DIGEST_SCHEDULE`); the staff report to `KB_REPORT_CHANNEL`
    (`KB_REPORT_SCHEDULE`) when it names one of the platform's channels (Slack: a channel id, the report and its
    chart; Teams: `teams:<conversation id>`, the report's Adaptive Card); the members' deadline reminders
    (`KB_REMINDER_SCHEDULE`). A run missed while the bot was down runs once at start."""
    from bot.digest import Digests
    from bot.scheduler import Scheduler, purge_job

    scheduler = Scheduler(state, clock=services.clock, timezone=services.tz)
    scheduler.add(purge_job(state, days=settings.retention_days, schedule=settings.purge_schedule))
    targets = [target for target in settings.digest_targets() if target.platform == platform]
    if targets:
        poster = digest_poster(platform or "", settings, state, allow_anonymous=allow_anonymous)
        digests = Digests(services.store, state, clock=services.clock, timezone=services.tz,
                          schedule=settings.digest_schedule, posters={platform or "": poster})
        for target in targets:
            scheduler.add(digests.job(target))
    if platform == "slack" and settings.report_target("slack"):
        scheduler.add(slack_report_job(services, settings, state))
    if platform == "teams" and settings.report_target("teams"):
        scheduler.add(teams_report_job(services, settings, state, allow_anonymous=allow_anonymous))
    reminders = reminder_job(services, settings, state, platform=platform or "", allow_anonymous=allow_anonymous)
    if reminders is not None:
        scheduler.add(reminders)
    follows = follow_job(services, settings, state, platform=platform or "", allow_anonymous=allow_anonymous)
    if follows is not None:
        scheduler.add(follows)
    scheduler.start()
    try:
        yield scheduler
    finally:
        scheduler.shutdown()


def follow_job(services, settings, state, *, platform: str, allow_anonymous: bool = False):  # noqa: ANN001, ANN201
    """The job telling `platform`'s members about calls and events on the topics they follow (`KB_FOLLOW_SCHEDULE`),
    or None when this process cannot message them (no Slack token, no Teams connection)."""
    from bot.follows import FollowJob, FollowNotifier
    from knowledge.topic_match import TopicMatcher

    notifier: FollowNotifier
    if platform == "slack" and settings.slack_bot_token is not None:
        from slack_sdk import WebClient

        from bot.slack.app import with_retries
        from bot.slack.follows import SlackFollowNotifier

        notifier = SlackFollowNotifier(with_retries(WebClient(token=settings.slack_bot_token.get_secret_value(),
                                                              base_url=settings.slack_api_url)))
    elif platform == "teams" and (allow_anonymous or settings.teams_configured):
        from bot.teams.app import auth_configuration
        from bot.teams.follows import TeamsFollowNotifier

        _, adapter, _ = auth_configuration(allow_anonymous)
        notifier = TeamsFollowNotifier(adapter, state, app_id=None if allow_anonymous else settings.teams_client_id)
    else:
        return None
    return FollowJob(services.store, state, TopicMatcher(services.embedder), clock=services.clock,
                     timezone=services.tz, platform=platform, notifier=notifier,
                     schedule=settings.follow_schedule).job()


def reminder_job(services, settings, state, *, platform: str, allow_anonymous: bool = False):  # noqa: ANN001, ANN201
    """The job sending `platform`'s members their due deadline reminders as direct messages
    (`KB_REMINDER_SCHEDULE`), or None when this process cannot message them (no Slack token, no Teams connection)."""
    from bot.reminders import Reminders, ReminderSender

    sender: ReminderSender
    if platform == "slack" and settings.slack_bot_token is not None:
        from slack_sdk import WebClient

        from bot.slack.app import with_retries
        from bot.slack.reminders import SlackReminderSender

        sender = SlackReminderSender(with_retries(WebClient(token=settings.slack_bot_token.get_secret_value(),
                                                            base_url=settings.slack_api_url)))
    elif platform == "teams" and (allow_anonymous or settings.teams_configured):
        from bot.teams.app import auth_configuration
        from bot.teams.reminders import TeamsReminderSender

        _, adapter, _ = auth_configuration(allow_anonymous)
        sender = TeamsReminderSender(adapter, state, app_id=None if allow_anonymous else settings.teams_client_id)
    else:
        return None
    return Reminders(services.store, state, clock=services.clock, timezone=services.tz,
                     schedule=settings.reminder_schedule, senders={platform: sender}).job()


def slack_report_job(services, settings, state):  # noqa: ANN001, ANN201 - bot.scheduler.Job
    """The staff report posted to `KB_REPORT_CHANNEL` on `KB_REPORT_SCHEDULE`, with the bot's token."""
    from slack_sdk import WebClient

    from bot.slack.app import with_retries
    from bot.slack.report import scheduled_report

    client = with_retries(WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url))
    return scheduled_report(state, embedder=services.embedder, store=services.store, client=client,
                            channel=settings.report_target("slack"), schedule=settings.report_schedule,
                            language=settings.report_language)


def teams_report_job(services, settings, state, *, allow_anonymous: bool = False):  # noqa: ANN001, ANN201
    """The staff report's Adaptive Card posted to the Teams conversation of `KB_REPORT_CHANNEL`
    (`teams:<conversation id>`) on `KB_REPORT_SCHEDULE`, proactively with the bot's Teams connection (as the
    Teams digests are); the bot must have been added to that team or chat (or mentioned there) once."""
    from bot.teams.app import auth_configuration
    from bot.teams.report import scheduled_report

    if not allow_anonymous and not settings.teams_configured:
        raise CommandFailed("python -m bot teams: set the Teams connection (CONNECTIONS__SERVICE_CONNECTION__"
                            "SETTINGS__CLIENTID, CLIENTSECRET, TENANTID) to post the staff report to Teams "
                            "(KB_REPORT_CHANNEL)")
    _, adapter, _ = auth_configuration(allow_anonymous)
    return scheduled_report(state, embedder=services.embedder, store=services.store, adapter=adapter,
                            conversation=settings.report_target("teams"), schedule=settings.report_schedule,
                            language=settings.report_language, app_id=None if allow_anonymous
                            else settings.teams_client_id)


def check_digest_arguments(args: argparse.Namespace):  # noqa: ANN201 - (BotSettings, DigestTarget)
    """The bot settings and the channel `digest` is for, before loading a model (a mistake is a usage error)."""
    from pydantic import ValidationError

    from bot.settings import BotSettings

    try:
        settings = BotSettings()
        target = settings.digest_target(args.channel, language=args.language, audience=args.audience)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise CommandFailed(f"python -m bot digest: invalid setting {error['loc'][0]}: {error['msg']}",
                            EXIT_USAGE) from None
    except ValueError as exc:  # a channel that cannot be read (DigestError), a bad SLACK_CHANNEL_ROLES
        raise CommandFailed(f"python -m bot digest: {exc}", EXIT_USAGE) from None
    if not args.dry_run:
        _digest_credentials(target.platform, settings)
    return settings, target


def _digest_credentials(platform: str, settings, *, allow_anonymous: bool = False) -> None:  # noqa: ANN001
    """Posting to `platform` needs the bot's credentials: say which are missing (exit 1)."""
    if platform == "slack" and settings.slack_bot_token is None:
        raise CommandFailed("python -m bot digest: set SLACK_BOT_TOKEN to post digests to Slack")
    if platform == "teams" and not allow_anonymous and not settings.teams_configured:
        raise CommandFailed("python -m bot digest: set the Teams connection (CONNECTIONS__SERVICE_CONNECTION__"
                            "SETTINGS__CLIENTID, CLIENTSECRET, TENANTID) to post digests to Teams")


def run_digest(services, args: argparse.Namespace, settings, target, prog: str) -> int:  # noqa: ANN001
    """Print (`--dry-run`) or post `target`'s digest as of `--today` (else now), once per period."""
    from bot.digest import DigestNotPosted, DigestResult, Digests, digest_text
    from bot.state import BotState
    from knowledge.store import StoreError

    if index_is_empty(services, prog):
        raise CommandFailed(f"{prog}: {_EMPTY_INDEX.format(location=services.store.location)}")
    state = BotState(settings.state_path, clock=services.clock)
    now = _moment(args.today, services) or services.clock()
    posters = {} if args.dry_run else {target.platform: digest_poster(target.platform, settings, state)}
    digests = Digests(services.store, state, clock=services.clock, timezone=services.tz,
                      schedule=settings.digest_schedule, posters=posters)
    try:
        if args.dry_run:
            digest = digests.compose(target, now)
            print(f"Digest for {target.key} ({digest.language}, {digest.audience}) as of {now:%Y-%m-%d %H:%M}; "
                  "dry run: nothing is posted.\n")
            print(DigestResult(target, digests.period(now), "empty").line() if digest.empty else digest_text(digest))
            return EXIT_OK
        print(digests.send(target, now).line())
    except (DigestNotPosted, StoreError) as exc:
        raise CommandFailed(f"{prog}: {exc}") from None
    return EXIT_OK


def digest_poster(platform: str, settings, state, *, allow_anonymous: bool = False):  # noqa: ANN001, ANN201
    """What posts digests to `platform` with the bot's own credentials (SLACK_BOT_TOKEN, the Teams connection)."""
    _digest_credentials(platform, settings, allow_anonymous=allow_anonymous)
    if platform == "slack":
        from slack_sdk import WebClient

        from bot.slack.app import with_retries
        from bot.slack.digest import SlackDigestPoster
        from bot.slack.directory import SlackDirectory

        assert settings.slack_bot_token is not None  # checked above
        client = with_retries(WebClient(token=settings.slack_bot_token.get_secret_value(),
                                        base_url=settings.slack_api_url))
        return SlackDigestPoster(client, SlackDirectory(settings, client))
    from bot.teams.app import auth_configuration
    from bot.teams.digest import TeamsDigestPoster

    _, adapter, _ = auth_configuration(allow_anonymous)
    return TeamsDigestPoster(adapter, state, app_id=None if allow_anonymous else settings.teams_client_id)


def main_exit() -> None:
    """Console-script entry point (`concierge`)."""
    sys.exit(main())


if __name__ == "__main__":
    main_exit()
