"""Runs the Teams aiohttp app on a free loopback port, and a local Bot Connector service that records
what the bot sends (the `serviceUrl` of normal-mode activities)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiohttp import web


class AiohttpServer:
    """Serve an aiohttp Application from a background event loop."""

    def __init__(self, app: web.Application) -> None:
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(app)
        started = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - the bound free port
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        started.wait(10)
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)


class ConnectorService:
    """Records POST /v3/conversations/{id}/activities[/{replyTo}] and answers with an id."""

    def __init__(self) -> None:
        self.activities: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with service._cond:
                    service.activities.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                    service._cond.notify_all()
                    number = len(service.activities)
                data = json.dumps({"id": f"sent-{number}"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_PUT = do_POST  # noqa: N815 - activity updates (streaming)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait_for(self, predicate, timeout: float = 30.0) -> dict[str, Any]:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for activity in self.activities:
                    if predicate(activity):
                        return activity
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching activity in {timeout}s: {self.activities}")
                self._cond.wait(left)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
