"""Real HTTP servers on loopback that tests script: an agent, Slack, an LLM endpoint."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer: status, JSON body, and how long to take."""

    status: int = 200
    body: Any = None
    delay: float = 0.0


@dataclass
class Seen:
    """One request the server received."""

    path: str
    headers: dict[str, str]
    body: Any
    at: float


@dataclass
class ScriptedServer:
    """Answers each path with its scripted replies in order; the last one repeats."""

    replies: dict[str, list[Reply]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def script(self, path: str, *replies: Reply) -> str:
        """Set the replies of ``path``; returns its full URL."""
        self.replies[path] = list(replies)
        return self.url + path

    def calls(self, path: str) -> list[Seen]:
        """Requests received on ``path``."""
        return [s for s in self.seen if s.path == path]

    async def wait_for_call(self, path: str, *, timeout: float = 20) -> None:
        """Return once ``path`` has been called; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not self.calls(path):
            assert time.monotonic() < deadline, f"nothing called {path} within {timeout}s"
            await asyncio.sleep(0.05)

    def _next(self, path: str) -> Reply:
        queue = self.replies.get(path) or [Reply(404, {"error": "no script"})]
        return queue.pop(0) if len(queue) > 1 else queue[0]


def _handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            server.seen.append(Seen(self.path, dict(self.headers), body, time.monotonic()))
            reply = server._next(self.path)
            if reply.delay < 0:  # hang until the test releases it (or 60 s)
                server.release.wait(60)
            else:
                time.sleep(reply.delay)
            payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body)
            data = payload if isinstance(payload, bytes) else payload.encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (cancelled or timed out), as tests intend

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


def serve() -> Iterator[ScriptedServer]:
    """Run a scripted server on a free loopback port for the duration of a fixture."""
    server = ScriptedServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        httpd.shutdown()
        httpd.server_close()
