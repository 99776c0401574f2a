"""`python -m bot`: the terminal chat, one-off questions, evaluation, and (with credentials) Slack or Teams.

    python -m bot                      # Slack / Teams when their credentials are set, else the terminal chat
    python -m bot chat [--role staff]
    python -m bot ask "Quels appels à projets sont ouverts ?" [--json] [--role member] [--today 2026-01-15]
    python -m bot eval QA.jsonl [--output results.jsonl] [--role member] [--json] [--ingest CORPUS_DIR]
                                [--remove-gold]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import date, datetime, time
from pathlib import Path
from typing import NoReturn

from bot.evaluation import EvaluationAborted, QuestionFileError, evaluate, format_metrics, load_questions

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

    chat = sub.add_parser("chat", help="terminal chat")
    chat.add_argument("--role", default="member", choices=["public", "member", "staff"])
    chat.add_argument("--today", type=_today)
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
        services = build_services()
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
    except (ValidationError, ValueError) as exc:
        raise CommandFailed(f"python -m bot: invalid Slack settings: {exc}", EXIT_USAGE) from None
    if args.command == "teams" or (args.command is None and not bot_settings.slack_configured
                                   and bot_settings.teams_configured):
        from bot.state import BotState
        from bot.teams.app import run as run_teams

        state = BotState(bot_settings.state_path, clock=services.clock)
        run_teams(services, bot_settings, state, port=getattr(args, "port", 3978),
                  allow_anonymous=getattr(args, "allow_anonymous", False))
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
    app = create_app(services, settings, BotState(settings.state_path, clock=services.clock))
    if http:
        run_http(app, port)
    else:
        run_socket_mode(app, settings)
    return EXIT_OK


def main_exit() -> None:
    """Console-script entry point (`concierge`)."""
    sys.exit(main())


if __name__ == "__main__":
    main_exit()
