"""The Teams app package uploads: a valid manifest naming the bot, and icons of the required sizes."""

from __future__ import annotations

import json
import struct
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy" / "teams"))

from make_package import build  # noqa: E402

BOT_ID = "11111111-2222-3333-4444-555555555555"


def test_package_has_the_manifest_with_the_bot_id_and_icons_of_the_right_size(tmp_path):
    package = build(BOT_ID, tmp_path / "app.zip")
    with zipfile.ZipFile(package) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        sizes = {name: struct.unpack(">II", archive.read(name)[16:24]) for name in ("color.png", "outline.png")}
    assert manifest["id"] == manifest["bots"][0]["botId"] == BOT_ID
    assert set(manifest["bots"][0]["scopes"]) == {"personal", "groupChat", "team"}
    assert sizes == {"color.png": (192, 192), "outline.png": (32, 32)}
