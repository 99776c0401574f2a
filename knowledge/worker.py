"""Reads and chunks files in a separate process that can be stopped: one file never spoils a run.

A parser stuck in C code (lxml, zlib, a regular expression) cannot be interrupted by a thread or a signal
handler in its own process; a process can be killed. `FileWorker` keeps one worker process for a whole
run (files are sent to it one at a time), kills it when a file overruns its time budget, and starts a
fresh one for the next file. The worker's address space is limited (KB_WORKER_MEMORY_MB), so a file that
slips past the size limits fails on its own instead of taking the machine's memory.

    Usage (`job` is a `FileJob`)::

        with FileWorker(memory_mb=2048) as worker:
            result = worker.call(read_file, job, seconds=120)  # FileFailed past the budget

The worker is a fresh interpreter that imports only the loaders and the chunker (no model, no store, no
torch). Needs a Unix system (Linux, macOS): requests and replies go through pipes passed to the worker.
"""

from __future__ import annotations

import logging
import os
import pickle
import selectors
import signal
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from knowledge.chunking import chunk_records
from knowledge.loaders import LoadContext, LoaderError, load
from knowledge.models import Chunk
from knowledge.text import chunk_tokens

try:
    import resource
except ImportError:  # Windows: no address-space or CPU limits
    resource = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

_START_SECONDS = 60.0  # a worker that is not ready by then (a machine under heavy load) is an error


class FileFailed(Exception):
    """A file could not be read; the message is the one line shown to staff."""


@dataclass(frozen=True)
class FileJob:
    """One file to read and chunk, with everything the worker needs (it shares nothing with the caller)."""

    path: Path
    source_id: str
    relpath: str
    link: str  # the record's URL when it has none of its own
    ctx: LoadContext
    chunk_chars: int


@dataclass
class FileResult:
    chunks: list[Chunk]
    problems: list[str] = field(default_factory=list)


def read_file(job: FileJob) -> FileResult:
    """Load one file and cut it into chunks (what the worker runs for each file)."""
    loaded = load(job.path, job.ctx)
    for record in loaded.records:
        record.url = record.url or job.link
    chunks = chunk_records(loaded.records, source_id=job.source_id, path=job.relpath, target_chars=job.chunk_chars)
    # The keyword-index words too, here: this process works beside the embedding one (which holds Python's lock).
    chunks = [replace(c, tokens=tuple(chunk_tokens(c.text, c.metadata))) for c in chunks]
    return FileResult(chunks, loaded.problems)


def failure_reason(exc: BaseException) -> str:
    """One line a staff member can act on, for whatever went wrong while reading a file."""
    if isinstance(exc, LoaderError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "needs more memory than its reader may use (KB_WORKER_MEMORY_MB)"
    if isinstance(exc, RecursionError):
        return "nested too deeply to read (KB_MAX_DEPTH)"
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"unreadable ({type(exc).__name__}{': ' + detail if detail else ''})"


def _death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if name == "SIGXCPU":
            return "its reader used too much CPU time and was stopped (KB_FILE_SECONDS)"
        if name == "SIGKILL":
            return "its reader was killed (out of memory?); the file may be too large (KB_WORKER_MEMORY_MB)"
        return f"its reader crashed ({name}); the file may be corrupt"
    return f"its reader stopped unexpectedly (exit code {exitcode})"


def _limit(kind: str, soft: int) -> None:
    if resource is None:
        return
    which = getattr(resource, kind)
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))


# Messages are pickles prefixed by their length, over two pipes (a stray print in a library cannot mix in).
_HEADER = struct.Struct("!Q")


def _send(fd: int, message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read_exactly(fd: int, size: int) -> bytes:
    parts, left = [], size
    while left:
        part = os.read(fd, min(left, 1 << 20))
        if not part:
            raise EOFError("the other process closed the pipe")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _readable(fd: int, seconds: float) -> bool:
    """Wait until `fd` has something to read (or is closed), at most `seconds`; any fd number (epoll)."""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        return bool(selector.select(seconds))


def _receive(fd: int) -> Any:  # noqa: ANN401
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size))
    return pickle.loads(_read_exactly(fd, size))  # noqa: S301 - from our own worker or parent only


def serve(requests: int, replies: int, memory_mb: int, log_level: int) -> None:
    """The worker's loop: receive (function, argument, seconds), reply (ok, result or reason, stays alive)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the ingesting process, which then stops us
    os.dup2(2, 1)  # a library's stray print goes to stderr, never into `ingest.py --json` output
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s")
    try:
        _limit("RLIMIT_CORE", 0)  # a parser that crashes leaves no core file behind
        _limit("RLIMIT_AS", memory_mb * 1024 * 1024)
    except (ValueError, OSError) as exc:  # e.g. already above it: run without the limit rather than not at all
        logger.warning("cannot limit the file reader's memory to %s MB: %s", memory_mb, exc)
    _send(replies, "ready")
    while True:
        try:
            call = _receive(requests)
        except (EOFError, OSError):  # the ingesting process is gone
            return
        if call is None:
            return
        function, argument, seconds = call
        if resource is not None:
            # Backstop if the ingesting process dies mid-file: the kernel stops a runaway reader by itself.
            used = resource.getrusage(resource.RUSAGE_SELF)
            _limit("RLIMIT_CPU", int(used.ru_utime + used.ru_stime + 2 * seconds + 10))
        # After a MemoryError the heap may be in a poor state: reply, then stop (the next file gets a fresh worker).
        ok, value, stays = True, None, True
        try:
            value = function(argument)
        except Exception as exc:  # noqa: BLE001 - any failure is this one file's, reported, never the run's
            ok, value, stays = False, failure_reason(exc), not isinstance(exc, MemoryError)
        try:
            try:
                _send(replies, (ok, value, stays))
            except OSError:
                raise
            except Exception as exc:  # noqa: BLE001 - e.g. a result too large to pickle within the memory limit
                stays = stays and not isinstance(exc, MemoryError)
                _send(replies, (False, failure_reason(exc), stays))
        except OSError:  # the ingesting process is gone
            return
        if not stays:
            return


class FileWorker:
    """One long-lived worker process that runs one call at a time under a time budget.

    The process starts on the first call; after a timeout or a crash it is gone and the next call starts
    a new one. Use it as a context manager (or call `close()`) to stop it.

    It is a fresh interpreter (`python -c`), not a fork of the caller (which may hold torch's threads) and
    not `multiprocessing`'s spawn or forkserver, which would re-run the caller's main script in it.
    """

    def __init__(self, memory_mb: int = 2048) -> None:
        self._memory_mb = memory_mb
        self._process: subprocess.Popen | None = None
        self._requests = self._replies = -1  # our ends of the two pipes

    def __enter__(self) -> FileWorker:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def call(self, function: Callable[[Any], Any], argument: object, seconds: float) -> Any:  # noqa: ANN401
        """`function(argument)` in the worker; raise FileFailed with a reason on error, timeout or crash.

        `function` must be importable by name (a module-level function); its argument and result picklable.
        """
        try:
            self._start()
            _send(self._requests, (function, argument, seconds))
        except OSError:  # the worker died between two calls: this one gets a fresh worker
            self._kill()
            try:
                self._start()
                _send(self._requests, (function, argument, seconds))
            except OSError as exc:
                self._kill()
                raise FileFailed(f"its reader process could not be started ({exc})") from None
        if not _readable(self._replies, seconds):
            self._kill()
            raise FileFailed(f"took longer than {seconds:g} s (KB_FILE_SECONDS); its reader was stopped")
        try:
            ok, value, stays = _receive(self._replies)  # a reply, or end-of-file because the worker died
        except (EOFError, OSError, pickle.UnpicklingError, struct.error, ValueError):
            raise FileFailed(self._died()) from None
        if not stays:
            self._kill()
        if not ok:
            raise FileFailed(value)
        return value

    def close(self) -> None:
        """Stop the worker: politely, then by force."""
        if self._process is None:
            return
        try:
            _send(self._requests, None)
            self._process.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self._kill()

    def _start(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self._kill()
        child_requests, self._requests = os.pipe()
        self._replies, child_replies = os.pipe()
        level = logging.getLogger().getEffectiveLevel()
        boot = (f"import sys; sys.path[:0] = {sys.path!r}; from knowledge.worker import serve; "
                f"serve({child_requests}, {child_replies}, {self._memory_mb}, {level})")
        try:
            self._process = subprocess.Popen([sys.executable, "-c", boot], stdin=subprocess.DEVNULL,
                                             pass_fds=(child_requests, child_replies))
        finally:
            os.close(child_requests)
            os.close(child_replies)
        # Wait for "ready", so that starting up does not count against the first file's time budget.
        if not _readable(self._replies, _START_SECONDS):
            self._kill()
            raise FileFailed(f"its reader process did not start within {_START_SECONDS:g} s")
        try:
            _receive(self._replies)
        except (EOFError, OSError):
            raise FileFailed(self._died()) from None
        logger.debug("file reader started pid=%s", self._process.pid)

    def _died(self) -> str:
        assert self._process is not None
        try:
            code = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self._kill()
        return _death_reason(code)

    def _kill(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            self._process = None
        for fd in (self._requests, self._replies):
            if fd >= 0:
                os.close(fd)
        self._requests = self._replies = -1
