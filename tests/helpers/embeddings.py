"""A real OpenAI-compatible embeddings API on loopback whose vectors tests control: each text's
vector counts the keywords it holds, so texts about the same thing are near-duplicates."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# One dimension per keyword, and one every text has (no text is the zero vector).
KEYWORDS = ("btc", "eth", "rain", "sun")


def vector(text: str) -> list[float]:
    """The vector the server answers for ``text``."""
    lowered = text.lower()
    return [float(lowered.count(word)) for word in KEYWORDS] + [0.1]


@dataclass
class EmbeddingsServer:
    """``POST /v1/embeddings``; ``requests`` holds each request's body and headers."""

    url: str = ""
    requests: list[tuple[dict[str, Any], dict[str, str]]] = field(default_factory=list)
    _httpd: ThreadingHTTPServer | None = None

    def stop(self) -> None:
        """Stop answering: the port refuses connections from now on."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def inputs(self) -> list[list[str]]:
        """The texts of each request, in order."""
        return [list(body["input"]) for body, _ in self.requests]


def serve_embeddings() -> Iterator[EmbeddingsServer]:
    """Run an embeddings server on a free loopback port for the duration of a fixture."""
    server = EmbeddingsServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            server.requests.append((body, dict(self.headers)))
            status, answer = (
                200,
                {
                    "object": "list",
                    "model": body.get("model"),
                    "data": [
                        {"object": "embedding", "index": i, "embedding": vector(text)}
                        for i, text in enumerate(body.get("input") or [])
                    ],
                },
            )
            if self.path != "/v1/embeddings":
                status, answer = 404, {"error": "no such path"}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server._httpd = httpd
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.stop()
