"""A local Slack Web API on a free loopback port: records every call's body, answers like Slack.

Answers come from ../shared/data/slack-fixtures where one fits (api.test, chat streams), else are
built here. A real `WebClient(base_url=server.url)` talks to it; `response_url`s point at it too.
`fail_next` makes it answer like a rate-limited or broken Slack (429 with `Retry-After`, or 500).
`files_upload_v2` works end to end: the upload URL it is given points here, and the bytes are recorded (`upload`).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

BOT_USER = "UBOT"
TEAM = "T0TEST"


class SlackAPIServer:
    def __init__(self, fixtures: Path, *, shared_channels: set[str] = frozenset(),
                 groups: dict[str, list[str]] | None = None, streaming: bool = False,
                 bot_user: str | None = BOT_USER) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []  # the calls Slack carried out (200 answers)
        self.refused: list[tuple[str, int]] = []  # (method, status) of the calls answered 429 or 500
        self._failures: dict[str, list[tuple[int, int]]] = {}  # method -> [(status, retry_after)] to serve next
        self.arrivals: list[float] = []  # time.perf_counter() of each call, parallel to `calls`
        self.shared_channels = set(shared_channels)
        self.groups = groups or {}
        self.streaming = streaming
        self.bot_user = bot_user  # None: auth.test does not say who the bot is (bolt's `context.bot_user_id` is None)
        self._fixtures = fixtures
        self._cond = threading.Condition()
        self._ts = 1700000000.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                url = urlparse(self.path)
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if url.path.startswith("/upload/"):  # files_upload_v2's second step: the file's bytes, not a form
                    server._upload(self, url.path.rsplit("/", 1)[-1], data)
                    return
                raw = data.decode()
                params: dict[str, Any] = {k: v[0] for k, v in parse_qs(url.query).items()}
                if raw:
                    if raw.lstrip().startswith("{"):
                        params.update(json.loads(raw))
                    else:
                        params.update({k: v[0] for k, v in parse_qs(raw).items()})
                method = url.path.rsplit("/api/", 1)[-1] if "/api/" in url.path else url.path
                with server._cond:
                    failure = server._failures.get(method, []) and server._failures[method].pop(0)
                    if failure:
                        server.refused.append((method, failure[0]))
                        server._cond.notify_all()
                if failure:
                    status, retry_after = failure
                    error = "ratelimited" if status == 429 else "internal_error"
                    body = json.dumps({"ok": False, "error": error}).encode()
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", str(retry_after))
                else:
                    body = json.dumps(server.answer(method, params)).encode()
                    with server._cond:
                        server.calls.append((method, params))
                        server.arrivals.append(time.perf_counter())
                        server._cond.notify_all()
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _handle  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/"
        self.response_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/respond/1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def fail_next(self, method: str, status: int, times: int = 1, retry_after: int = 0) -> None:
        """Answer the next `times` calls of `method` with `status` (429 with `Retry-After`, or 500): the call is
        not carried out, as when Slack refuses it."""
        with self._cond:
            self._failures.setdefault(method, []).extend([(status, retry_after)] * times)

    def fixture(self, name: str) -> dict:
        return json.loads((self._fixtures / name).read_text(encoding="utf-8"))

    def answer(self, method: str, params: dict[str, Any]) -> dict:
        if method == "auth.test":
            answer = {"ok": True, "url": "https://test.slack.com/", "team": "Test", "user": "concierge",
                      "team_id": TEAM, "user_id": self.bot_user, "bot_id": "BBOT"}
            return {k: v for k, v in answer.items() if v is not None}
        if method == "chat.postMessage":
            self._ts += 1
            return {"ok": True, "channel": params.get("channel"), "ts": f"{self._ts:.6f}",
                    "message": {"text": params.get("text"), "user": BOT_USER}}
        if method in {"chat.startStream", "chat.appendStream", "chat.stopStream"}:
            if not self.streaming:
                return {"ok": False, "error": "not_allowed"}
            return self.fixture("web_response_chat_stream_test.json")
        if method == "conversations.info":
            channel = params.get("channel", "")
            return {"ok": True, "channel": {"id": channel, "is_ext_shared": channel in self.shared_channels}}
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.groups.get(params.get("usergroup", ""), [])}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": f"D{params.get('users', '')}"}}
        if method == "files.getUploadURLExternal":  # the upload goes to this server: recorded as "upload"
            file_id = f"F{len(self.of('files.getUploadURLExternal')) + 1:04d}"
            return {"ok": True, "file_id": file_id, "upload_url": self.url.replace("/api/", f"/upload/{file_id}")}
        if method == "files.completeUploadExternal":
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title"), "channels": [params.get("channel_id")]}
                                          for f in json.loads(params.get("files", "[]"))]}
        return self.fixture("web_response_api_test.json")

    def _upload(self, handler: BaseHTTPRequestHandler, file_id: str, data: bytes) -> None:
        """Record an uploaded file's bytes as an `upload` call ({"file_id", "content"}) and answer like Slack."""
        with self._cond:
            self.calls.append(("upload", {"file_id": file_id, "content": data}))
            self.arrivals.append(time.perf_counter())
            self._cond.notify_all()
        body = f"OK - {len(data)}".encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def wait_for(self, method: str, count: int = 1, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The bodies of the first `count` calls of `method`, waiting for them to arrive."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [p for m, p in self.calls if m == method]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {count} x {method} within {timeout}s; calls: "
                                         f"{[m for m, _ in self.calls]}")
                self._cond.wait(left)

    def of(self, method: str) -> list[dict[str, Any]]:
        with self._cond:
            return [p for m, p in self.calls if m == method]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
