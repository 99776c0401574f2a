"""The plain data the knowledge base passes around: sources, records, chunks and ingestion reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

KINDS = ("document", "funding_call", "event")
AUDIENCES = ("public", "member", "staff")  # each role sees its own audience and those before it

MetadataValue = str | int | float | bool


def is_cancelled(meta: Mapping[str, object]) -> bool:
    """An event (or call) its source marks cancelled (STATUS:CANCELLED, a "status" column): kept in the index,
    said cancelled, never shown as ahead."""
    return meta.get("status") == "cancelled"


def audience_rank(audience: str) -> int:
    """Position of an audience in AUDIENCES (unknown audiences rank as staff, the safest)."""
    return AUDIENCES.index(audience) if audience in AUDIENCES else len(AUDIENCES) - 1


@dataclass(frozen=True)
class Source:
    """One file found under an ingested root."""

    path: Path  # absolute
    root: Path  # absolute folder the relative path is taken from
    relpath: str  # posix path relative to root

    @property
    def source_id(self) -> str:
        """Stable identifier: the root folder's name and the relative path."""
        return f"{self.root.name}/{self.relpath}"


@dataclass
class Record:
    """One answerable unit of a source: a document, one funding call or one event."""

    title: str
    text: str  # Markdown-like body: '# ' headings, blank-line paragraphs
    kind: str = "document"
    url: str | None = None
    language: str | None = None
    audience: str = "public"
    dates: dict[str, datetime] = field(default_factory=dict)  # opens, deadline, start, end (aware)
    fields: dict[str, str] = field(default_factory=dict)  # funder, budget, location, registration_url, ...
    whole: bool = False  # keep in one chunk (one call, one event)


@dataclass(frozen=True)
class Chunk:
    """A piece of a record, as stored in the index."""

    id: str  # source_id:index
    text: str  # the passage shown to members
    embed_text: str  # title and headings + passage, what is embedded and keyword-indexed
    metadata: dict[str, MetadataValue]
    # Its keyword-index words (`text.chunk_tokens`), worked out beside the reading (in the file worker,
    # off the embedding process) when known; None: the index works them out.
    tokens: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Failure:
    """A source (or a part of one) that could not be ingested, with a one-line reason."""

    path: str
    error: str


@dataclass
class IngestReport:
    """What one ingestion run did; `as_dict()` is the `--json` contract."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files of a kind we do not read
    chunks_embedded: int = 0
    chunks_reused: int = 0
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary_lines(self, max_failures: int = 20) -> list[str]:
        """A short report for staff in chat: the counts, then one line per failed source."""
        lines = [f"Ingestion done in {self.seconds:.1f} s: {len(self.added)} added, {len(self.updated)} updated, "
                 f"{len(self.unchanged)} unchanged, {len(self.removed)} removed, {len(self.failed)} failed; "
                 f"{self.chunks_embedded} chunks embedded."]
        lines += [f"• FAILED {f.path}: {f.error}" for f in self.failed[:max_failures]]
        return lines

    def as_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": [{"path": f.path, "error": f.error} for f in self.failed],
            "skipped": self.skipped,
            "chunks_embedded": self.chunks_embedded,
            "chunks_reused": self.chunks_reused,
            "seconds": round(self.seconds, 3),
            "dry_run": self.dry_run,
            "counts": {
                "added": len(self.added),
                "updated": len(self.updated),
                "unchanged": len(self.unchanged),
                "removed": len(self.removed),
                "failed": len(self.failed),
                "skipped": len(self.skipped),
            },
        }
