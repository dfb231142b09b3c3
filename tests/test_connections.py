"""Clients that would starve the API get bounded answers: a real ``agent-scheduler api`` process
on a loopback port, real sockets (docs/operations.md, "Limits and timeouts")."""

from __future__ import annotations

import gc
import json
import os
import resource
import select
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.core.settings import Settings
from api.serving import BACKLOG, GuardedH11Protocol, connection_budget
from tests.helpers.api import JOBS
from tests.helpers.api_process import ApiProcess, api_process
from tests.helpers.served import served

pytestmark = pytest.mark.server  # runs `agent-scheduler api` processes (tests/README.md)

MiB = 1024 * 1024
HUGE = 200 * MiB


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` within ``within`` seconds (reading what it sends)."""
    poller = select.poll()  # not select.select: fds past 1023 are fine
    poller.register(sock, select.POLLIN)
    deadline = time.monotonic() + within
    while True:
        left = deadline - time.monotonic()
        if poller.poll(max(left, 0) * 1000):
            try:
                if sock.recv(65536) == b"":
                    return True
            except ConnectionError:
                return True
        elif left <= 0:
            return False


def answer(sock: socket.socket, within: float = 10) -> tuple[int, dict[str, str], Any]:
    """The one HTTP response on ``sock``, read until the server closes it: status, headers, JSON."""
    sock.settimeout(within)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass  # the server closed with our unread bytes: what it sent before is kept
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 "), data[:200]
    headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(body)


def post_head(api: ApiProcess, *, key: str | None, length: int, expect: bool = False) -> bytes:
    """The head of ``POST /api/scheduler/jobs`` with ``key`` and a ``Content-Length`` (and
    ``Expect: 100-continue``: the server then says when it starts reading the body)."""
    lines = [f"POST {JOBS} HTTP/1.1", f"Host: 127.0.0.1:{api.port}"]
    lines += ["Content-Type: application/json", f"Content-Length: {length}"]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    if expect:
        lines.append("Expect: 100-continue")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """One API with short timeouts (2 s for headers and bodies, 1 s idle after an answer)."""
    with api_process(
        tmp_path_factory.mktemp("api"),
        max_connections=200,
        header_timeout_seconds=2,
        body_timeout_seconds=2,
        keep_alive_seconds=1,
    ) as process:
        yield process


class TestIdleAndSlowConnections:
    def test_a_connection_that_sends_nothing_is_closed(self, api: ApiProcess) -> None:
        with api.connect() as sock:
            assert closed_by_server(sock, within=15)

    def test_a_connection_idle_after_its_answer_is_closed(self, api: ApiProcess) -> None:
        with api.connect() as sock:
            sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{api.port}\r\n\r\n".encode())
            assert closed_by_server(sock, within=15)

    def test_headers_sent_a_byte_a_second_are_cut_off(self, api: ApiProcess) -> None:
        with api.connect() as sock:
            sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{api.port}\r\n".encode())
            deadline = time.monotonic() + 20
            closed = False
            while not closed and time.monotonic() < deadline:
                try:
                    sock.sendall(b"X")  # a header that never ends, a byte a second
                except ConnectionError:
                    closed = True  # closed by the server: nothing to read
                    break
                closed = closed_by_server(sock, within=1)
            assert closed, "a connection trickling its headers stayed open 20 s"

    def test_a_slow_body_is_answered_408(self, api: ApiProcess) -> None:
        with api.connect() as sock:
            sock.sendall(post_head(api, key=api.key, length=100) + b'{"name": ')
            status, headers, body = answer(sock, within=15)
        assert status == 408
        assert headers["connection"] == "close"
        assert body["error"] == "request_timeout" and body["status"] == 408

    def test_a_body_without_a_key_gets_its_401_before_a_byte_of_it(self, api: ApiProcess) -> None:
        with api.connect() as sock:
            sock.sendall(post_head(api, key=None, length=100))
            status, headers, body = answer(sock)
        assert status == 401 and body["error"] == "unauthorized"
        assert headers["www-authenticate"] == "Bearer"
        with api.connect() as sock:
            sock.sendall(post_head(api, key="sk_not_a_key", length=100))
            assert answer(sock)[0] == 401


class TestLargeBodies:
    def upload(self, api: ApiProcess, key: str | None) -> tuple[httpx.Response, int, int]:
        """POST 200 MB, streamed (chunked); the answer, the bytes sent and the server's peak
        memory growth."""
        sent = 0

        def chunks() -> Iterator[bytes]:
            nonlocal sent
            chunk = b" " * (256 * 1024)
            while sent < HUGE:
                sent += len(chunk)
                yield chunk

        peak = api.status("VmHWM")
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        response = httpx.post(api.url + JOBS, content=chunks(), headers=headers, timeout=30)
        return response, sent, api.status("VmHWM") - peak

    def test_200_mb_without_a_key_is_refused_before_it_is_read(self, api: ApiProcess) -> None:
        response, sent, growth = self.upload(api, key=None)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
        assert sent < 16 * MiB, f"the client got to send {sent / MiB:.0f} MiB"
        assert growth < 32 * MiB, f"the API's peak memory grew {growth / MiB:.0f} MiB"

    def test_200_mb_with_a_key_is_413_once_past_the_limit(self, api: ApiProcess) -> None:
        response, sent, growth = self.upload(api, key=api.key)
        assert response.status_code == 413
        body = response.json()
        assert body["error"] == "payload_too_large" and body["status"] == 413
        assert str(MiB) in body["message"]
        assert sent < 16 * MiB, f"the client got to send {sent / MiB:.0f} MiB"
        assert growth < 32 * MiB, f"the API's peak memory grew {growth / MiB:.0f} MiB"

    def test_a_content_length_over_the_limit_is_413_before_a_byte_of_it(
        self, api: ApiProcess
    ) -> None:
        with api.connect() as sock:
            sock.sendall(post_head(api, key=api.key, length=HUGE))
            status, headers, body = answer(sock)
        assert status == 413 and body["error"] == "payload_too_large"
        assert headers["connection"] == "close"

    def test_a_body_within_the_limit_reaches_the_route(self, api: ApiProcess) -> None:
        auth = {"Authorization": f"Bearer {api.key}"}
        with httpx.Client(base_url=api.url, headers=auth, timeout=30) as http:
            near_limit = json.dumps({"name": "x" * (MiB - 100)})
            assert len(near_limit) <= MiB
            answered = http.post(
                JOBS, content=near_limit, headers={"Content-Type": "application/json"}
            )
            assert answered.status_code == 422, answered.text  # the route read and judged it
            chunked = http.post(
                JOBS, content=iter([b"{", b"}"]), headers={"Content-Type": "application/json"}
            )
            assert chunked.status_code == 422, chunked.text
            # The connection stays open after those answers: nothing was cut short.
            assert http.get(JOBS).status_code == 200


def test_a_flood_of_idle_connections_leaves_the_api_answering(tmp_path: Path) -> None:
    """300 idle connections against a cap of 200 (and a header timeout long past the test):
    the oldest idle ones are closed, /healthz and an authenticated read answer at once."""
    with (
        api_process(tmp_path, max_connections=200, header_timeout_seconds=120) as api,
        ExitStack() as held,
    ):
        flood = [held.enter_context(api.connect()) for _ in range(300)]
        deadline = time.monotonic() + 15
        while (closed := sum(closed_by_server(s, within=0) for s in flood)) < 100:
            assert time.monotonic() < deadline, f"only {closed} of 300 idle connections closed"
            time.sleep(0.1)
        assert api.open_sockets() <= 200 + 8
        auth = {"Authorization": f"Bearer {api.key}"}
        with httpx.Client(base_url=api.url, timeout=5) as http:
            assert http.get("/healthz").status_code == 200
            assert http.get(JOBS, headers=auth).status_code == 200
        assert api.open_sockets() <= 200 + 8
        log = api.log_text()
        assert len(log) < 20_000 and "Traceback" not in log, log[-3000:]


def test_when_every_connection_has_a_request_in_progress_a_new_one_gets_503(
    tmp_path: Path,
) -> None:
    """Nothing idle to close for a new connection: it is answered 503 and closed at once."""
    with (
        api_process(tmp_path, max_connections=3, body_timeout_seconds=20) as api,
        ExitStack() as held,
    ):
        for _ in range(3):  # each has its request in progress, waiting for a body
            sock = held.enter_context(api.connect())
            sock.sendall(post_head(api, key=api.key, length=100, expect=True))
            assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        with api.connect() as sock:
            status, headers, body = answer(sock)
        assert status == 503 and body["error"] == "unavailable"
        assert headers["connection"] == "close"


def test_accept_errors_are_logged_once_not_per_accept(tmp_path: Path) -> None:
    """The process runs out of file descriptors (its limit lowered under it): asyncio's accept
    error is logged once; once descriptors are back, the API answers again."""
    with api_process(tmp_path, max_connections=200, header_timeout_seconds=120) as api:
        pid = api.process.pid
        limit = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        in_use = len(os.listdir(f"/proc/{pid}/fd"))
        with ExitStack() as held:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (in_use, limit[1]))
            try:
                for _ in range(50):
                    held.enter_context(api.connect())
                time.sleep(3)  # asyncio retries accept() every second: several rounds of errors
            finally:
                resource.prlimit(pid, resource.RLIMIT_NOFILE, limit)
            with httpx.Client(base_url=api.url, timeout=10) as http:
                assert http.get("/healthz").status_code == 200
        log = api.log_text()
        assert log.count("socket.accept() out of system resource") == 1, log[-3000:]
        assert len(log) < 20_000, log[-3000:]


def test_api_workers_serve_with_the_same_limits(tmp_path: Path) -> None:
    """``api --workers 2`` gives its processes the limits ``api`` has."""
    with api_process(tmp_path, "--workers", "2", header_timeout_seconds=2) as api:
        with api.connect() as sock:
            assert closed_by_server(sock, within=15)
        with api.connect() as sock:
            sock.sendall(post_head(api, key=None, length=HUGE))
            assert answer(sock)[0] == 401
        with api.connect() as sock:
            sock.sendall(post_head(api, key=api.key, length=HUGE))
            assert answer(sock)[0] == 413


def test_the_connection_cap_fits_the_open_file_limit() -> None:
    assert connection_budget(4096, 20_000) == (4096, BACKLOG)
    assert connection_budget(4096, 1024) == (1024 - 256 - 128, 128)
    assert connection_budget(4096, 256) == (64, 32)  # never under a quarter of the limit
    assert connection_budget(100, resource.RLIM_INFINITY) == (100, BACKLOG)
    for open_files in (64, 1024, 4096, 20_000, 1_048_576):
        connections, backlog = connection_budget(1_000_000, open_files)
        assert 0 < connections and connections + backlog < open_files


def test_answers_go_out_without_waiting_for_the_clients_ack(tmp_path: Path) -> None:
    """A listening socket made without ``IPPROTO_TCP`` (as uvicorn binds for ``--workers``, and
    as ``served`` hands over) still gets connections with Nagle's algorithm off: the answer's
    body, written after its head, would otherwise wait for the client's delayed ACK, 40 ms an
    answer on a kept-alive connection."""
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'index.db'}",
        temporal_address="127.0.0.1:1",
        tick_interval_seconds=0,
    )
    with served(settings) as base_url, httpx.Client(base_url=base_url, timeout=10) as http:
        assert http.get("/healthz").status_code == 200
        port = httpx.URL(base_url).port
        ours = [
            found.transport.get_extra_info("socket")
            for found in gc.get_objects()
            if isinstance(found, GuardedH11Protocol)
            and not found.transport.is_closing()
            and found.transport.get_extra_info("sockname")[1] == port
        ]
        assert ours, "no open connection of the served API"
        for sock in ours:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
