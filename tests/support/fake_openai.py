"""A real OpenAI-compatible HTTP server for tests, bound to 127.0.0.1 on a free port.

Tests talk to it through the official SDK exactly as production code talks to OpenAI,
Ollama or llama.cpp, so they exercise real HTTP, SSE parsing and error paths. The server
runs in a background thread, so it works the same from sync and async tests::

    with FakeOpenAI(reply="Hello there") as fake:
        model = OpenAIModel(OpenAISettings(base_url=fake.base_url))
        ...
        assert fake.last_request.messages[-1]["content"] == "hi"

Behaviour is chosen per instance with ``mode`` and can be changed between requests
(``fake.mode = "error"`` or ``fake.configure(mode="slow", chunk_delay=0.5)``):

``stream``  SSE chunks when the request asks for ``stream``, else one JSON completion
``json``    always one JSON completion, as servers that ignore ``stream=True`` do
``slow``    like ``stream`` but waits ``chunk_delay`` seconds (default 1 s) before each piece
``error``   HTTP ``status`` (500) with an OpenAI-style error body
``drop``    streams ``fail_after`` content chunks, then closes the connection mid-reply
``hang``    accepts the request and never answers (until the server stops)
``garbled`` streams events whose data is not JSON (a non-streamed request still gets JSON)

``/v1/embeddings`` answers too: each input as a bag of its words hashed into a small unit vector
(``bag_of_words``), in reverse order of ``index`` (clients must reorder); ``error`` mode fails it.

The reply text is ``reply``, or ``responder(request)`` when a responder is given. Every
request is recorded in ``requests`` (body parsed from JSON) for assertions.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, cast

import pytest

__all__ = ["FakeOpenAI", "Mode", "RecordedRequest", "fake_openai"]

Mode = Literal["stream", "json", "slow", "error", "drop", "hang", "garbled"]
MODES: tuple[Mode, ...] = ("stream", "json", "slow", "error", "drop", "hang", "garbled")

_PIECE_RE = re.compile(r"\s*\S+")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake received; ``body`` is the decoded JSON payload."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Mapping[str, Any] = field(default_factory=dict)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages sent, as plain dicts."""
        return list(self.body.get("messages", []))

    @property
    def model(self) -> str | None:
        """The model name the client asked for."""
        value = self.body.get("model")
        return value if isinstance(value, str) else None

    @property
    def stream(self) -> bool:
        """Whether the client asked for a streamed (SSE) reply."""
        return bool(self.body.get("stream", False))


def split_reply(text: str) -> list[str]:
    """Cut a reply into token-like pieces (" word"), as real servers stream them."""
    pieces: list[str] = _PIECE_RE.findall(text)
    tail = text[len("".join(pieces)) :]
    if tail:
        pieces.append(tail)
    return pieces


class FakeOpenAI:
    """An OpenAI-compatible ``/v1/chat/completions`` server with switchable failure modes."""

    def __init__(
        self,
        reply: str = "Hello from the fake model.",
        *,
        mode: Mode = "stream",
        chunk_delay: float = 0.0,
        first_byte_delay: float = 0.0,
        fail_after: int = 2,
        status: int = 500,
        error_message: str = "The fake model server is broken on purpose.",
        responder: Callable[[RecordedRequest], str] | None = None,
        api_key: str | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._requests: list[RecordedRequest] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reply = reply
        self.mode: Mode = mode
        self.chunk_delay = chunk_delay
        self.first_byte_delay = first_byte_delay
        self.fail_after = fail_after
        self.status = status
        self.error_message = error_message
        self.responder = responder
        self.api_key = api_key

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread; returns ``self``."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests still in flight ("hang", "slow") are released at once."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- what tests use ---------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the server listens on (only while started)."""
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not started; use it as a context manager")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` without the ``/v1`` suffix."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What to use as ``OPENAI_BASE_URL``."""
        return f"{self.url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request (fails the test if there was none)."""
        with self._lock:
            if not self._requests:
                raise AssertionError("the fake OpenAI server received no request")
            return self._requests[-1]

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Only the chat-completion requests."""
        return [r for r in self.requests if r.path.rstrip("/").endswith("/chat/completions")]

    def clear(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    def configure(self, **changes: Any) -> None:
        """Change several settings at once, e.g. ``configure(mode="slow", chunk_delay=0.2)``."""
        with self._lock:
            for name, value in changes.items():
                if name not in _SETTINGS:
                    raise TypeError(f"unknown FakeOpenAI setting {name!r}")
                if name == "mode" and value not in MODES:
                    raise ValueError(f"mode must be one of {', '.join(MODES)}")
                setattr(self, name, value)

    # -- used by the handler thread ---------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {name: getattr(self, name) for name in _SETTINGS}

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; returns False when it is."""
        if seconds <= 0:
            return not self._stopping.is_set()
        return not self._stopping.wait(seconds)


_SETTINGS = (
    "reply",
    "mode",
    "chunk_delay",
    "first_byte_delay",
    "fail_after",
    "status",
    "error_message",
    "responder",
    "api_key",
)


def _make_handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        owner = fake

    return Handler


class _Handler(BaseHTTPRequestHandler):
    owner: FakeOpenAI
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    # -- routing ----------------------------------------------------------------------

    def do_GET(self) -> None:
        self._record({})
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        else:
            self._send_error_json(404, f"No route for GET {self.path}", "not_found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._record({"_raw": raw.decode("utf-8", "replace")})
            self._send_error_json(400, "Request body is not valid JSON", "invalid_request_error")
            return
        if not isinstance(body, dict):
            body = {"_raw": body}
        request = self._record(body)
        if self.path.rstrip("/").endswith("/embeddings"):
            self._embeddings(request, self.owner._snapshot())
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_error_json(404, f"No route for POST {self.path}", "not_found")
            return
        try:
            self._chat(request, self.owner._snapshot())
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True  # the client gave up (e.g. it timed out)

    def _record(self, body: dict[str, Any]) -> RecordedRequest:
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body,
        )
        self.owner._record(request)
        return request

    # -- embeddings -------------------------------------------------------------------

    def _embeddings(self, request: RecordedRequest, cfg: dict[str, Any]) -> None:
        """``/v1/embeddings``: each input as a bag of its words hashed into ``EMBEDDING_DIMENSIONS``
        (deterministic: texts sharing words are near, others far); ``error`` mode fails it too."""
        key = cfg["api_key"]
        if key is not None and self.headers.get("Authorization") != f"Bearer {key}":
            self._send_error_json(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
            return
        if cfg["mode"] == "error":
            self._send_error_json(int(cfg["status"]), str(cfg["error_message"]), "server_error")
            return
        inputs = request.body.get("input")
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
            self._send_error_json(400, "input must be a non-empty string or list of them", "invalid_request_error")
            return
        data = [{"object": "embedding", "index": i, "embedding": bag_of_words(t)} for i, t in enumerate(texts)]
        # answered in reverse order: clients must put them back by index
        self._send_json(200, {"object": "list", "data": data[::-1], "model": request.model or "fake-embedding"})

    # -- chat completions -------------------------------------------------------------

    def _chat(self, request: RecordedRequest, cfg: dict[str, Any]) -> None:
        fake = self.owner
        if not fake._wait(float(cfg["first_byte_delay"])):
            return
        key = cfg["api_key"]
        if key is not None and self.headers.get("Authorization") != f"Bearer {key}":
            self._send_error_json(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
            return
        mode = cast(Mode, cfg["mode"])
        if mode == "hang":
            while fake._wait(0.05):
                pass
            self.close_connection = True
            return
        if mode == "error":
            self._send_error_json(int(cfg["status"]), str(cfg["error_message"]), "server_error")
            return
        responder = cast("Callable[[RecordedRequest], str] | None", cfg["responder"])
        text = responder(request) if responder is not None else str(cfg["reply"])
        model = request.model or "fake-model"
        if mode == "json" or not request.stream:
            self._send_json(200, _completion(text, model, request))
            return
        if mode == "garbled":
            self._start_events()
            self._write_chunk(b"data: this is not json at all\n\n")
            self._write_chunk(b"data: [DONE]\n\n")
            self._write_chunk(b"")
            return
        delay = float(cfg["chunk_delay"]) or (1.0 if mode == "slow" else 0.0)
        fail_after = int(cfg["fail_after"]) if mode == "drop" else None
        self._stream(text, model, delay, fail_after, request)

    def _stream(self, text: str, model: str, delay: float, fail_after: int | None, request: RecordedRequest) -> None:
        fake = self.owner
        ident, created = _ident(), int(time.time())
        self._start_events()
        self._event(_chunk(ident, created, model, {"role": "assistant", "content": ""}, None))
        for index, piece in enumerate(split_reply(text)):
            if fail_after is not None and index >= fail_after:
                self._drop()
                return
            if not fake._wait(delay):
                self._drop()
                return
            self._event(_chunk(ident, created, model, {"content": piece}, None))
        if fail_after is not None:
            self._drop()
            return
        self._event(_chunk(ident, created, model, {}, "stop"))
        options = request.body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            usage = _usage(text, request)
            self._event(
                {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            )
        self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")

    def _start_events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _event(self, payload: Mapping[str, Any]) -> None:
        self._write_chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")

    def _write_chunk(self, data: bytes) -> None:
        """One HTTP/1.1 chunk; an empty one ends the body."""
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        """Cut the connection without finishing the chunked body: a crash mid-reply."""
        self.close_connection = True
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # -- plain responses --------------------------------------------------------------

    def _send_json(self, status: int, payload: Mapping[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_error_json(self, status: int, message: str, kind: str, code: str | None = None) -> None:
        self._send_json(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})


EMBEDDING_DIMENSIONS = 64


def bag_of_words(text: str) -> list[float]:
    """The fake's embedding: word counts hashed into a small unit vector."""
    vector = [0.0] * EMBEDDING_DIMENSIONS
    for word in re.findall(r"\w+", text.lower()):
        vector[zlib.crc32(word.encode()) % EMBEDDING_DIMENSIONS] += 1.0
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    return [v / norm for v in vector]


def _ident() -> str:
    return f"chatcmpl-fake-{time.monotonic_ns()}"


def _usage(text: str, request: RecordedRequest) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in request.messages)
    completion = len(text.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _chunk(ident: str, created: int, model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": "fake",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def _completion(text: str, model: str, request: RecordedRequest) -> dict[str, Any]:
    return {
        "id": _ident(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(text, request),
    }


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A started :class:`FakeOpenAI`; import this fixture into a conftest to share it."""
    with FakeOpenAI() as fake:
        yield fake
