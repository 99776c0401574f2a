"""Staff command: bring the knowledge base in line with the cluster's documents, calls and events.

    python ingest.py knowledge/sample
    python ingest.py docs/ calls/ events.ics --dry-run
    python ingest.py docs/ --json

Exit codes: 0 all good, 1 some sources failed, 2 usage error, 3 the index could not be opened, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from knowledge.clock import Clock

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STORE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ingest.py",
        description="Index folders and files (PDF, DOCX, HTML, Markdown, text, .ics, CSV/JSON/YAML tables). "
        "Unchanged sources are skipped; sources gone from an ingested folder are removed.",
    )
    parser.add_argument("paths", nargs="*", type=Path,
                        help="folders (recursive) and files; default: KB_SOURCES (the bundled sample)")
    parser.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument("--no-prune", action="store_true", help="keep sources that disappeared from a folder")
    parser.add_argument("--rebuild", action="store_true",
                        help="empty the index first (needed after changing KB_EMBEDDING_MODEL)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each step")
    return parser.parse_args(argv)


def _progress_bar(enabled: bool):  # noqa: ANN202
    """A rich progress bar on stderr, or nothing when stderr is not a terminal."""
    if not enabled:
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description:>9}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=True)
    tasks: dict[str, TaskID] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return bar, update


def print_summary(report_dict: dict, store_chunks: int | None) -> None:
    counts = report_dict["counts"]
    verb = "would be " if report_dict["dry_run"] else ""
    print(
        f"{counts['added']} added, {counts['updated']} updated, {counts['unchanged']} unchanged, "
        f"{counts['removed']} {verb}removed, {counts['failed']} failed"
        + (f", {counts['skipped']} skipped (unsupported type)" if counts["skipped"] else "")
    )
    for name in ("added", "updated", "removed"):
        for source_id in report_dict[name]:
            print(f"  {name}: {source_id}")
    for failure in report_dict["failed"]:
        print(f"  FAILED {failure['path']}: {failure['error']}")
    tail = f"{report_dict['chunks_embedded']} chunks embedded"
    if report_dict.get("chunks_reused"):
        tail += f", {report_dict['chunks_reused']} reused"
    if store_chunks is not None:
        tail += f"; {store_chunks} chunks in the index"
    print(f"{tail}; {report_dict['seconds']:.1f} s")


def main(argv: list[str] | None = None, *, clock: Clock | None = None) -> int:
    """Run the command; `clock` defaults to the machine's (tests pin it)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")

    from zoneinfo import ZoneInfo

    from pydantic import ValidationError

    from knowledge.clock import system_clock
    from knowledge.embedding import EmbeddingError, load_embedder
    from knowledge.keyword_index import KeywordIndex
    from knowledge.pipeline import Ingestor, UsageError
    from knowledge.settings import KnowledgeSettings
    from knowledge.store import StoreError, open_store

    try:
        settings = KnowledgeSettings()
    except ValidationError as exc:
        print(f"ingest.py: invalid settings: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}", file=sys.stderr)
        return EXIT_USAGE
    paths = args.paths or settings.sources
    missing = [p for p in paths if not p.exists()]
    if missing:  # usage errors first, before loading a model
        print(f"ingest.py: no such file or folder: {missing[0]}", file=sys.stderr)
        return EXIT_USAGE
    try:
        embedder = load_embedder(settings.embedding_model)
        store = open_store(settings.store_path, settings.chroma_url, settings.collection, embedder.name,
                           embedder.dimension, rebuild=args.rebuild and not args.dry_run)
        keyword_index = KeywordIndex(settings.keyword_index_file())
        if args.rebuild and not args.dry_run:
            keyword_index.clear()
    except (StoreError, EmbeddingError) as exc:
        print(f"ingest.py: {exc}", file=sys.stderr)
        return EXIT_STORE

    bar, update = _progress_bar(not args.quiet and not args.json and sys.stderr.isatty())
    ingestor = Ingestor(settings, store, embedder, now=clock or system_clock(ZoneInfo(settings.timezone)),
                        keyword_index=keyword_index)
    try:
        if bar is not None:
            with bar:
                report = ingestor.run(paths, dry_run=args.dry_run, prune=not args.no_prune, progress=update)
        else:
            report = ingestor.run(paths, dry_run=args.dry_run, prune=not args.no_prune)
    except KeyboardInterrupt:
        print("ingest.py: interrupted; what was written is consistent, run again to finish", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UsageError as exc:
        print(f"ingest.py: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        print(f"ingest.py: {exc}", file=sys.stderr)
        return EXIT_STORE

    summary = report.as_dict()
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print_summary(summary, None if args.dry_run else store.count())
    return EXIT_OK if report.ok else EXIT_FAILED


def main_exit() -> None:
    """Console-script entry point (`concierge-ingest`)."""
    sys.exit(main())


if __name__ == "__main__":
    main_exit()
