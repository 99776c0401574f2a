"""Chat-model fakes for answering tests: LangChain's own fake, and a local OpenAI-compatible server."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.outputs import ChatGenerationChunk


class FailingChatModel(FakeListChatModel):
    """A chat model whose provider is down: every call raises, streamed or not."""

    responses: list[str] = ["unused"]

    def _call(self, *args: Any, **kwargs: Any) -> str:
        raise TimeoutError("provider timed out")

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        raise TimeoutError("provider timed out")


def word_chunks(text: str) -> list[str]:
    """A reply cut as a model streams it: a word at a time, with the space before it."""
    return re.findall(r"\s*\S+", text) or [text]


class OpenAIStub:
    """An OpenAI-compatible `/v1/chat/completions` on a free loopback port that records requests.

    `replies` are the assistant texts of successive requests (the last one repeats; `reply` is one for all);
    `delay` seconds are waited before answering; `status` != 200 answers with that HTTP error. A request with
    `"stream": true` is answered with server-sent events, one chunk per word (`word_chunks`), `chunk_delay`
    seconds apart, then `data: [DONE]`.
    """

    def __init__(self, reply: str = "", delay: float = 0.0, status: int = 200, *,
                 replies: Sequence[str] = (), chunk_delay: float = 0.0) -> None:
        self.replies = list(replies) or [reply]
        self.delay, self.status, self.chunk_delay = delay, status, chunk_delay
        self.requests: list[dict] = []
        self.arrivals: list[float] = []  # time.perf_counter() of each request, parallel to `requests`
        self.streamed: list[float] = []  # time.perf_counter() of each chunk sent
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with stub._lock:
                    stub.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                    stub.arrivals.append(time.perf_counter())
                    text = stub.replies[min(len(stub.requests), len(stub.replies)) - 1]
                time.sleep(stub.delay)
                try:
                    if stub.status != 200:
                        self._json({"error": {"message": "stub failure", "type": "server_error"}})
                    elif body.get("stream"):
                        self._events(body, text)
                    else:
                        self._json({
                            "id": "chatcmpl-stub", "object": "chat.completion", "created": 0,
                            "model": body.get("model"),
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": text}}],
                            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                        })
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def _json(self, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(stub.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _events(self, body: dict, text: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()  # HTTP/1.0: the stream ends when the connection closes

                def event(delta: dict, finish: str | None = None) -> None:
                    chunk = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 0,
                             "model": body.get("model"),
                             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()

                event({"role": "assistant", "content": ""})
                for i, piece in enumerate(word_chunks(text)):
                    if i:
                        time.sleep(stub.chunk_delay)
                    event({"content": piece})
                    stub.streamed.append(time.perf_counter())
                event({}, "stop")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def reply(self) -> str:
        return self.replies[-1]

    def __enter__(self) -> OpenAIStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
