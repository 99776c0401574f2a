"""Cuts records into chunks: headings kept with their text, sentences kept whole, small records kept whole.

No I/O. Chunk ids are stable (`source_id:index`) and each chunk carries the hash of what is embedded,
so re-ingestion can reuse embeddings of chunks whose text did not change.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from knowledge.date_parsing import timestamp
from knowledge.models import Chunk, MetadataValue, Record

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# A sentence ends at . ! ? … followed by space and something that starts a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"»”)]?\s+(?=[\"«“(]?[A-ZÀ-ÖØ-Þ0-9•\-–])")
_ABBREVIATIONS = frozenset(
    "e.g i.e etc cf p pp art al vs no nr n° m mm mme dr pr st ste fig réf ref min max env approx ex "
    "inc ltd co jan feb fév mar apr avr jun jul aug aoû sep sept oct nov dec déc".split()
)
_FIELD_LIMIT = 500  # characters of a free-text field kept in metadata
_HEADING_LIMIT = 300


@dataclass(frozen=True)
class _Unit:
    heading: tuple[str, ...]
    text: str
    opens_section: bool
    continues_paragraph: bool = False


def split_sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences, leaving common abbreviations ("art.", "M.", "e.g.") alone.

    >>> split_sentences("Le dossier est complet. La date limite est le 3 mars.")
    ['Le dossier est complet.', 'La date limite est le 3 mars.']
    """
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        candidate = paragraph[start : match.start()].rstrip()
        last_word = re.split(r"\s+", candidate)[-1].rstrip(".").lower() if candidate else ""
        if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue
        pieces.append(paragraph[start : match.end()].strip())
        start = match.end()
    pieces.append(paragraph[start:].strip())
    return [p for p in pieces if p]


def _hard_split(text: str, limit: int) -> Iterator[str]:
    """Last resort for a 'sentence' longer than a chunk (tables, lists without punctuation).

    A 'word' longer than a chunk (a pasted blob, a line of 30 MB with no space) is cut every `limit` characters.
    """
    words = (word[start : start + limit] for word in text.split() for start in range(0, len(word), limit))
    current: list[str] = []
    size = 0
    for word in words:
        if current and size + len(word) + 1 > limit:
            yield " ".join(current)
            current, size = [], 0
        current.append(word)
        size += len(word) + 1
    if current:
        yield " ".join(current)


def _units(text: str, limit: int) -> Iterator[_Unit]:
    heading: list[tuple[int, str]] = []
    paragraph: list[str] = []
    opens = True

    def flush() -> Iterator[_Unit]:
        nonlocal opens
        body = "\n".join(paragraph).strip()
        paragraph.clear()
        if not body:
            return
        path = tuple(h for _, h in heading)
        pieces = [body] if len(body) <= limit else [
            piece for sentence in split_sentences(body) for piece in (
                [sentence] if len(sentence) <= limit else _hard_split(sentence, limit))
        ]
        for position, piece in enumerate(pieces):
            yield _Unit(path, piece, opens, continues_paragraph=position > 0)
            opens = False

    for line in text.splitlines():
        # A heading goes into every chunk of its section: a "heading" of a thousand characters is text.
        match = _HEADING.match(line.strip()) if len(line) <= _HEADING_LIMIT else None
        if match:
            yield from flush()
            level = len(match.group(1))
            heading = [(lvl, h) for lvl, h in heading if lvl < level] + [(level, match.group(2).strip())]
            opens = True
        elif not line.strip():
            yield from flush()
        else:
            paragraph.append(line.rstrip())
    yield from flush()


def split_text(text: str, target_chars: int) -> list[tuple[str, str]]:
    """Split a Markdown-like body into (heading path, passage) pairs of about `target_chars`."""
    chunks: list[tuple[str, str]] = []
    current: list[str] = []
    current_heading: tuple[str, ...] = ()
    size = 0

    def emit() -> None:
        nonlocal current, size
        if current:
            chunks.append((" > ".join(current_heading), "\n\n".join(current)))
        current, size = [], 0

    for unit in _units(text, target_chars):
        text_piece = unit.text
        if unit.opens_section and current and unit.heading != current_heading:
            if size >= target_chars // 2 or size + len(text_piece) > target_chars:
                emit()
            elif unit.heading:
                text_piece = f"{'#' * min(len(unit.heading), 6)} {unit.heading[-1]}\n{text_piece}"
        if current and size + len(text_piece) > target_chars:
            emit()
        if not current:
            current_heading = unit.heading
            text_piece = unit.text
        if current and unit.continues_paragraph:
            current[-1] = f"{current[-1]} {text_piece}"
        else:
            current.append(text_piece)
        size += len(text_piece) + 2
    emit()
    return chunks


def content_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def record_metadata(record: Record, *, source_id: str, path: str, record_index: int) -> dict[str, MetadataValue]:
    """What Chroma keeps beside each chunk of a record, for filters and for showing sources."""
    meta: dict[str, MetadataValue] = {
        "source_id": source_id,
        "path": path,
        "url": record.url or path,
        "title": record.title,
        "kind": record.kind,
        "audience": record.audience,
        "language": record.language or "",
        "record_index": record_index,
    }
    for name, moment in record.dates.items():
        meta[name] = record.fields.get(name) or moment.isoformat()
        meta[f"{name}_ts"] = timestamp(moment)
    for name, value in record.fields.items():
        meta.setdefault(name, value[:_FIELD_LIMIT])
    return meta


def chunk_records(
    records: Sequence[Record], *, source_id: str, path: str, target_chars: int = 1200
) -> list[Chunk]:
    """All chunks of one source, numbered from 0 across its records.

    >>> [c.id for c in chunk_records([Record(title="T", text="Hello.")], source_id="s/a.md", path="a.md")]
    ['s/a.md:0']
    """
    chunks: list[Chunk] = []
    for record_index, record in enumerate(records):
        meta = record_metadata(record, source_id=source_id, path=path, record_index=record_index)
        if record.whole and len(record.text) <= 3 * target_chars:
            pieces = [("", record.text.strip())]
        else:
            pieces = split_text(record.text, target_chars) or [("", record.title)]
        for heading, passage in pieces:
            context = record.title if not heading or heading == record.title else f"{record.title} — {heading}"
            embed_text = f"{context}\n{passage}"
            index = len(chunks)
            chunks.append(
                Chunk(
                    id=f"{source_id}:{index}",
                    text=passage,
                    embed_text=embed_text,
                    metadata={**meta, "heading": heading, "chunk_index": index,
                              "content_hash": content_hash(embed_text)},
                )
            )
    return chunks
