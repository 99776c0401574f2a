"""Builders of hostile files, made inside the tests (never committed): small on disk, costly to read naively."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

MB = 1024 * 1024
NEVER = "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30"  # every second of February 30th: the rule library looks for years


def docx_bytes(*paragraphs: str) -> bytes:
    """A real DOCX holding the paragraphs, the first one as a heading."""
    import docx

    document = docx.Document()
    document.add_heading(paragraphs[0], level=1)
    for text in paragraphs[1:]:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def malformed_docx() -> bytes:
    """A DOCX whose word/document.xml is cut in the middle (lxml: XMLSyntaxError)."""
    source = zipfile.ZipFile(io.BytesIO(docx_bytes("Broken", "This text is never read.")))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info, data[: len(data) // 2] if info.filename == "word/document.xml" else data)
    return buffer.getvalue()


def _deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def zip_of_zeros(megabytes: int, *, declared: int | None = None) -> bytes:
    """A DOCX-shaped zip whose word/document.xml is `megabytes` MB of zeros (about 1 KB per MB on disk).

    Built from one compressed megabyte repeated (deflate blocks ending in a full flush can be chained), so a
    400 MB bomb takes a tenth of a second to make. `declared` sets the size the zip claims instead (a liar).
    """
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    one_mb = packer.compress(bytes(MB)) + packer.flush(zlib.Z_FULL_FLUSH)
    body = one_mb * megabytes + packer.flush()
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(bytes(MB), crc)
    types = b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
    members = [
        ("[Content_Types].xml", _deflate(types), zlib.crc32(types), len(types)),
        ("word/document.xml", body, crc, megabytes * MB if declared is None else declared),
    ]
    out, central = bytearray(), bytearray()
    for name, data, checksum, size in members:
        encoded, offset = name.encode(), len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, checksum, len(data), size, len(encoded), 0)
        out += encoded + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, checksum, len(data), size,
                               len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    start = len(out)
    out += central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), start, 0)
    return bytes(out)


def deep_json(levels: int) -> str:
    return "[" * levels + "]" * levels


def nested_divs(levels: int) -> str:
    return "<html><body>" + "<div>" * levels + "deep" + "</div>" * levels + "</body></html>"


def calendar(rule: str, start: str = "20261120T090000Z", summary: str = "Tick") -> str:
    """One recurring event, and one ordinary event that must survive whatever the rule does."""
    return (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n"
        f"BEGIN:VEVENT\nUID:tick@test\nDTSTART:{start}\nRRULE:{rule}\nSUMMARY:{summary}\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:ai@test\nDTSTART:20261210T130000Z\nSUMMARY:Atelier IA en santé\nEND:VEVENT\n"
        "END:VCALENDAR\n"
    )


def sparse_file(path: Path, size: int) -> Path:
    """A file of `size` bytes that takes no room on disk (its size is all that matters)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.truncate(size)
    return path
