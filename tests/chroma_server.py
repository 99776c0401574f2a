"""A real `chroma run` server on a loopback port, for integration tests and bench/faults.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import free_port


class ChromaServer:
    """Start, stop and restart (same port, same data) a Chroma server: `with ChromaServer(path) as url: ...`."""

    def __init__(self, data: Path, port: int | None = None) -> None:
        self.data = data
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None

    def start(self) -> str:
        chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
        self.data.mkdir(parents=True, exist_ok=True)
        log = (self.data / "server.log").open("a")
        self._process = subprocess.Popen(
            [chroma, "run", "--path", str(self.data / "db"), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        for _attempt in range(200):  # up to about a minute on a busy machine
            try:
                urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1)
                return self.url
            except OSError:
                if self._process.poll() is not None:
                    break
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"chroma server did not start: {(self.data / 'server.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=20)
        self._process = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
