"""A scriptable OpenAI-compatible chat-completions server on loopback, for the judge tests.

It is a real HTTP server (stdlib `ThreadingHTTPServer` on 127.0.0.1, port 0), so the tests exercise
the real `openai` SDK, real sockets and real timing. Each test scripts what it answers:

    server.script(Verdict("Yes"), Status(503), Slow(2.0, Verdict("No")))   # one-shot replies, in order
    server.default = lambda request: Verdict("Yes" if "42" in request.user_text else "No")  # afterwards

It counts hits and records each request's body and arrival time.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Verdict:
    """A normal 200 reply whose message content is `text`."""

    text: str


@dataclass(frozen=True)
class Logprobs:
    """A 200 reply with first-token logprobs: {token: logprob}; the content is the likeliest token."""

    top: dict[str, float]


@dataclass(frozen=True)
class Status:
    """An HTTP error status with an OpenAI-style error body, and optionally a Retry-After header."""

    code: int
    retry_after: float | None = None


@dataclass(frozen=True)
class Raw:
    """A 200 reply with this exact body (malformed JSON, garbage, or JSON missing fields)."""

    body: bytes
    content_type: str = "application/json"


@dataclass(frozen=True)
class Slow:
    """Wait `seconds` before giving `then`."""

    seconds: float
    then: Reply


Reply = Verdict | Logprobs | Status | Raw | Slow


@dataclass
class Seen:
    """One request as the server saw it."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    arrived: float  # time.monotonic()
    finished: float | None = None

    @property
    def user_text(self) -> str:
        """The last user message's content: what a scripted verdict usually depends on."""
        users = [m for m in self.body.get("messages", []) if m.get("role") == "user"]
        return str(users[-1].get("content", "")) if users else ""


@dataclass
class JudgeServer:
    """Start with `running_judge_server()`; `base_url` ends in /v1 like vLLM's."""

    model: str = "judge-model"
    default: Callable[[Seen], Reply] = lambda request: Verdict("Yes")
    seen: list[Seen] = field(default_factory=list)
    _queue: deque[Reply] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    @property
    def hits(self) -> int:
        """Chat-completion requests received (model listings are not counted)."""
        return len(self.chat_requests)

    @property
    def chat_requests(self) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path.endswith("/chat/completions")]

    def next_reply(self, request: Seen) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self.default(request)

    def max_in_flight(self) -> int:
        """The most chat requests the server was handling at the same moment."""
        events = []
        for s in self.chat_requests:
            events += [(s.arrived, 1), (s.finished if s.finished is not None else float("inf"), -1)]
        level = peak = 0
        for _, step in sorted(events, key=lambda e: (e[0], e[1])):
            level += step
            peak = max(peak, level)
        return peak

    def record(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> Seen:
        seen = Seen(path=path, body=body, headers=headers, arrived=time.monotonic())
        with self._lock:
            self.seen.append(seen)
        return seen


def _completion_body(model: str, reply: Verdict | Logprobs) -> dict[str, Any]:
    logprobs = None
    if isinstance(reply, Logprobs):
        ranked = sorted(reply.top.items(), key=lambda kv: kv[1], reverse=True)
        text = ranked[0][0]
        top = [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in ranked]
        logprobs = {"content": [{"token": text, "logprob": ranked[0][1], "bytes": list(text.encode()),
                                 "top_logprobs": top}]}
    else:
        text = reply.text
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "logprobs": logprobs, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
    }


def _handler(state: JudgeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def _send(self, code: int, body: bytes, content_type: str = "application/json",
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test): nothing to deliver

        def do_GET(self) -> None:
            state.record(self.path, {}, {k.lower(): v for k, v in self.headers.items()})
            if self.path.rstrip("/").endswith("/models"):
                body = {"object": "list", "data": [{"id": state.model, "object": "model", "owned_by": "test"}]}
                self._send(200, json.dumps(body).encode())
            else:
                self._send(404, b'{"error": {"message": "not found"}}')

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"unparsed": raw.decode(errors="replace")}
            seen = state.record(self.path, body, {k.lower(): v for k, v in self.headers.items()})
            reply = state.next_reply(seen)
            while isinstance(reply, Slow):
                time.sleep(reply.seconds)
                reply = reply.then
            if isinstance(reply, Status):
                headers = {} if reply.retry_after is None else {"Retry-After": f"{reply.retry_after:g}"}
                error = {"error": {"message": f"scripted status {reply.code}", "type": "test", "code": reply.code}}
                self._send(reply.code, json.dumps(error).encode(), headers=headers)
            elif isinstance(reply, Raw):
                self._send(200, reply.body, reply.content_type)
            else:
                self._send(200, json.dumps(_completion_body(state.model, reply)).encode())
            seen.finished = time.monotonic()

    return Handler


@contextmanager
def running_judge_server(model: str = "judge-model") -> Iterator[JudgeServer]:
    """Serve on 127.0.0.1 on a free port for the duration of the block."""
    state = JudgeServer(model=model)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def closed_port_url() -> str:
    """A loopback URL nothing listens on: bind a port, then close it."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
