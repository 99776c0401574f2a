"""Chat-model fakes for answering tests: LangChain's own fake, and a local OpenAI-compatible server."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel


class FailingChatModel(FakeListChatModel):
    """A chat model whose provider is down: every call raises."""

    responses: list[str] = ["unused"]

    def _call(self, *args: Any, **kwargs: Any) -> str:
        raise TimeoutError("provider timed out")


class OpenAIStub:
    """An OpenAI-compatible `/v1/chat/completions` on a free loopback port that records requests.

    `reply` is the assistant text returned; `delay` seconds are waited first; `status` != 200 answers
    with that HTTP error.
    """

    def __init__(self, reply: str = "", delay: float = 0.0, status: int = 200) -> None:
        self.reply, self.delay, self.status = reply, delay, status
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                stub.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                time.sleep(stub.delay)
                if stub.status != 200:
                    payload = {"error": {"message": "stub failure", "type": "server_error"}}
                else:
                    payload = {
                        "id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": body.get("model"),
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": stub.reply}}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }
                data = json.dumps(payload).encode()
                try:
                    self.send_response(stub.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OpenAIStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
