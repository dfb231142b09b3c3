"""How uvicorn serves the API: bounded connections, header and idle timeouts, quiet accept errors.

uvicorn alone keeps a connection that never sends a complete request open for ever, accepts
connections until the process runs out of file descriptors, and asyncio then logs a traceback
per failed ``accept()``. Here every connection has its request headers within a timeout or is
closed, at most ``max_connections`` are open (the oldest idle one is closed to make room), and
the accept error is logged at most once a minute (docs/operations.md, "Limits and timeouts").
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import resource
import socket
import time
import weakref
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import h11
from uvicorn.config import LOGGING_CONFIG, Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from api.core.logs import uvicorn_formatters
from api.core.settings import Settings
from api.errors import error_response

log = logging.getLogger(__name__)

# File descriptors kept for what is not a client connection: index and Temporal connections,
# delivery and LLM clients, log files, the listening socket (and in `dev` the worker's).
FD_HEADROOM = 256
# uvicorn's default listen backlog. asyncio accepts up to this many connections in one go before
# any of them is looked at, so it counts against the open-file limit too.
BACKLOG = 2048
# h11's default: request headers larger than this are a 400.
MAX_HEADER_BYTES = 16 * 1024
# How long a connection answered 400 keeps reading (and dropping) what its client still sends:
# a close with unread bytes resets the connection, and a client on a loaded machine may not have
# read the 400 yet.
LINGER_SECONDS = 5.0
ACCEPT_ERROR = "socket.accept() out of system resource"
ACCEPT_ERROR_LOG_INTERVAL = 60.0


def connection_budget(max_connections: int, open_files: int) -> tuple[int, int]:
    """The connections and listen backlog a process that may open ``open_files`` files can take.

    Held connections, a burst of accepted ones (up to the backlog) and ``FD_HEADROOM`` must fit
    under the limit, so ``accept()`` never fails for want of a descriptor.
    """
    if open_files == resource.RLIM_INFINITY or open_files <= 0:
        return max_connections, BACKLOG
    backlog = min(BACKLOG, max(open_files // 8, 16))
    room = max(open_files - FD_HEADROOM - backlog, open_files // 4, 1)
    return min(max_connections, room), backlog


@dataclass(frozen=True)
class ConnectionLimits:
    """What :class:`GuardedH11Protocol` enforces, per process."""

    max_connections: int
    header_timeout: float


def _raw_response(status: int, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 response in the API's error body, sent before any request was read."""
    response = error_response(
        status, code, message, headers={"Connection": "close", "Retry-After": "1"}
    )
    head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()
    fields = b"".join(name + b": " + value + b"\r\n" for name, value in response.raw_headers)
    return head + fields + b"\r\n" + bytes(response.body)


_BUSY = _raw_response(
    503, "unavailable", "Every connection of this server is busy with a request; retry shortly"
)
# Per server, its connections with no request in progress, the longest idle first.
_IDLE: weakref.WeakKeyDictionary[ServerState, dict[GuardedH11Protocol, None]] = (
    weakref.WeakKeyDictionary()
)


class _Throttle:
    """True at most once per ``interval`` seconds; counts the calls it said no to."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.skipped = 0
        self._next = 0.0

    def ready(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            self.skipped += 1
            return False
        self._next = now + self.interval
        return True


_refusals = _Throttle(ACCEPT_ERROR_LOG_INTERVAL)


def _send_at_once(transport: asyncio.BaseTransport) -> None:
    """Turn Nagle's algorithm off for a TCP connection.

    uvicorn writes a response's head and body separately. asyncio turns Nagle off only for
    sockets made with ``IPPROTO_TCP`` given, and the listening socket uvicorn binds for
    ``--workers`` (like one handed over by a test) is made without, so the body waited for the
    client's delayed ACK: 40 ms on every answer of a kept-alive connection.
    """
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a connection cap and a header timeout.

    A connection is idle while no request of it is in progress (before its first request's
    headers are complete, and after each answer). An idle connection is closed when its
    request headers are not complete ``header_timeout`` seconds after it became idle (uvicorn
    closes one that sends nothing at all after an answer sooner, at its keep-alive timeout).
    When a new connection would pass ``max_connections``, the longest idle one is closed; if
    every connection has a request in progress, the new one is answered 503 and closed.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self._idle = _IDLE.setdefault(server_state, {})
        self._header_timer: asyncio.TimerHandle | None = None
        self._lingering = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _send_at_once(transport)
        if len(self.connections) > self.limits.max_connections and not self._close_longest_idle():
            if _refusals.ready():
                log.warning(
                    "%d connections, each with a request in progress: refusing new ones with "
                    "503 (%d more since the last warning)",
                    self.limits.max_connections,
                    _refusals.skipped,
                )
                _refusals.skipped = 0
            transport.write(_BUSY)
            transport.close()
            return
        self._note_state()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's 400 for a request h11 cannot read, then a graceful close: a half-close
        after the answer, and what the client still sends read and dropped for
        ``LINGER_SECONDS``. uvicorn closes at once, and the client's unsent bytes then make the
        kernel reset the connection, often before the client has read the 400."""
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=msg.encode("ascii")),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self._lingering = True
        self._idle.pop(self, None)
        self._stop_header_timer()
        # Reading may be paused (a body past uvicorn's high-water mark): drain it while lingering.
        self.transport.resume_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if not self._lingering:
            super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._idle.pop(self, None)
        self._stop_header_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        self._note_state()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._note_state()

    def _close_longest_idle(self) -> bool:
        """Close the connection idle the longest (never this new one); False if none is."""
        oldest = next(iter(self._idle), None)
        if oldest is None:
            return False
        del self._idle[oldest]
        oldest._stop_header_timer()
        oldest.transport.close()
        return True

    def _note_state(self) -> None:
        """Track whether a request is in progress: idle connections are timed and evictable."""
        if self.transport.is_closing() or self._lingering:
            return  # a lingering connection closes itself; it is never the idle one evicted
        busy = self.cycle is not None and not self.cycle.response_complete
        if busy:
            self._idle.pop(self, None)
            self._stop_header_timer()
        elif self not in self._idle:
            self._idle[self] = None
            self._header_timer = self.loop.call_later(
                self.limits.header_timeout, self._header_timed_out
            )

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.cycle is None or self.cycle.response_complete:
            self._idle.pop(self, None)
            self.transport.close()


class AcceptErrorFilter(logging.Filter):
    """Lets asyncio's ``socket.accept() out of system resource`` through once per interval.

    asyncio logs it, with a traceback, for every failed ``accept()``; a process out of file
    descriptors would write hundreds of megabytes of them. The next one let through says how
    many were left out.
    """

    def __init__(self, interval: float = ACCEPT_ERROR_LOG_INTERVAL) -> None:
        super().__init__()
        self._throttle = _Throttle(interval)

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str) or not record.msg.startswith(ACCEPT_ERROR):
            return True
        if not self._throttle.ready():
            return False
        if self._throttle.skipped:
            # asyncio logs the text with no arguments: nothing to format in it.
            record.msg = record.msg.replace(
                ACCEPT_ERROR,
                f"{ACCEPT_ERROR} ({self._throttle.skipped} more not logged since the last one)",
                1,
            )
            self._throttle.skipped = 0
        return True


_ACCEPT_ERRORS = AcceptErrorFilter()


def accept_error_filter() -> AcceptErrorFilter:
    """The process's one filter: logging configured twice still adds it once."""
    return _ACCEPT_ERRORS


def log_config() -> dict[str, Any]:
    """uvicorn's logging config plus the accept-error filter on asyncio's logger.

    Given to uvicorn, which applies it in every process it runs (``--workers`` included).
    """
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["accept_errors"] = {"()": accept_error_filter}
    config["loggers"]["asyncio"] = {"filters": ["accept_errors"]}
    return config


def connection_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's keyword arguments for the limits of docs/operations.md, from ``settings``."""
    open_files, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    connections, backlog = connection_budget(settings.max_connections, open_files)
    if connections < settings.max_connections:
        log.warning(
            "serving at most %d connections, not %d: the open-file limit is %d "
            "(raise it, e.g. LimitNOFILE= or ulimit -n, for more)",
            connections,
            settings.max_connections,
            open_files,
        )
    limits = ConnectionLimits(
        max_connections=connections, header_timeout=settings.header_timeout_seconds
    )
    return {
        # A partial of a module-level class: uvicorn pickles it to its --workers processes.
        "http": functools.partial(GuardedH11Protocol, limits=limits),
        # uvicorn counts connections (never above the cap here) and running requests, which
        # outlive a client that left: this bounds the latter.
        "limit_concurrency": connections + 1,
        "backlog": backlog,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "log_config": uvicorn_formatters(log_config(), settings.log_format),
    }
