"""Build the Teams app package (manifest.json + icons, zipped) to upload in Teams or the Developer Portal.

    python deploy/teams/make_package.py --bot-id 00000000-0000-0000-0000-000000000000 \\
        [--output deploy/teams/concierge.zip]

The icons are drawn here (plain PNGs: 192x192 colour, 32x32 white outline on transparent), so no binary
file lives in the repository.
"""

from __future__ import annotations

import argparse
import json
import struct
import uuid
import zipfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def png(size: int, pixel) -> bytes:  # noqa: ANN001 - pixel(x, y) -> (r, g, b, a)
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(size)) for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def color_icon(x: int, y: int) -> tuple[int, int, int, int]:
    inside = (x - 96) ** 2 + (y - 96) ** 2 < 60 ** 2
    return (255, 255, 255, 255) if inside and not (x - 96) ** 2 + (y - 96) ** 2 < 40 ** 2 else (29, 79, 145, 255)


def outline_icon(x: int, y: int) -> tuple[int, int, int, int]:
    ring = 8 ** 2 <= (x - 16) ** 2 + (y - 16) ** 2 < 13 ** 2
    return (255, 255, 255, 255) if ring else (0, 0, 0, 0)


def build(bot_id: str, output: Path) -> Path:
    uuid.UUID(bot_id)  # the Entra app (client) id of the bot
    manifest = (HERE / "manifest.json").read_text(encoding="utf-8").replace("${{BOT_ID}}", bot_id)
    json.loads(manifest)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", manifest)
        package.writestr("color.png", png(192, color_icon))
        package.writestr("outline.png", png(32, outline_icon))
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bot-id", required=True, help="the bot's Entra app (client) id")
    parser.add_argument("--output", type=Path, default=HERE / "concierge.zip")
    args = parser.parse_args()
    print(build(args.bot_id, args.output))


if __name__ == "__main__":
    main()
