"""Reads a source file into records; one loader per file kind, chosen by extension."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from knowledge.loaders.base import LoadContext, Loaded, LoaderError, check_file_size
from knowledge.loaders.calendar import load_calendar
from knowledge.loaders.documents import load_docx, load_html, load_markdown, load_pdf, load_text
from knowledge.loaders.tables import load_table

LOADERS: dict[str, Callable[[Path, LoadContext], Loaded]] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".ics": load_calendar,
    ".ical": load_calendar,
    ".jcal": load_calendar,
    ".csv": load_table,
    ".json": load_table,
    ".yaml": load_table,
    ".yml": load_table,
}


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in LOADERS


def load(path: Path, ctx: LoadContext) -> Loaded:
    """Read one file; raises LoaderError with a one-line reason when it cannot be read at all.

    Files over the limits of `ctx` (size, unpacked size, depth...) are refused before the costly part.

    For example `load(Path("knowledge/sample/events.ics"), ctx).records[0].kind` is `"event"`.
    """
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoaderError(f"unsupported file type {path.suffix or '(none)'}")
    try:
        check_file_size(path, ctx)
        return loader(path, ctx)
    except LoaderError:
        raise
    except (OSError, UnicodeError) as exc:
        raise LoaderError(f"cannot read file: {exc}") from None


__all__ = ["LOADERS", "LoadContext", "Loaded", "LoaderError", "is_supported", "load"]
