"""The one way API, worker and CLI build a Temporal client, and where the binaries live."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from temporalio.client import Client, Interceptor, OutboundInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RetryConfig, RPCError, RPCStatusCode, TLSConfig

from api.core import tracing
from api.core.errors import Unavailable
from api.core.settings import Settings

T = TypeVar("T")


def packaged_binary(name: str) -> str:
    """Path of a binary shipped by a pip package (``temporal``, ``temporal-test-server``).

    Looked up next to the running interpreter first (the venv's ``bin``), then on ``PATH``;
    nothing is ever downloaded.
    """
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"'{name}' not found next to {sys.executable} or on PATH; "
            "install the project (pip install -e .[test]) to get it."
        )
    return found


def is_not_found(exc: BaseException) -> bool:
    """Whether ``exc`` is Temporal saying the workflow or schedule does not exist."""
    return isinstance(exc, RPCError) and exc.status == RPCStatusCode.NOT_FOUND


async def missing_ok(call: Awaitable[T]) -> T | None:
    """Await a Temporal call on something that may be gone: NOT_FOUND gives None.

    Any other error is raised.
    """
    try:
        return await call
    except RPCError as exc:
        if not is_not_found(exc):
            raise
        return None


# The API answers a caller: it retries a failing Temporal call for a couple of seconds, then
# says 503, instead of the SDK's default of about half a minute.
API_RETRY = RetryConfig(initial_interval_millis=100, max_interval_millis=1000, max_retries=4)
# Each of the API's Temporal calls has this deadline. Without one, a server that stops
# answering (frozen, or packets dropped) holds a request until the connection's keepalive gives
# up, 15 s per call: a create answered 503 after 45 s. Above what a busy server takes.
API_RPC_TIMEOUT = timedelta(seconds=10)

# The client calls the API makes (each takes an input with an ``rpc_timeout``).
_API_CALLS = (
    "start_workflow",
    "cancel_workflow",
    "describe_workflow",
    "terminate_workflow",
    "signal_workflow",
    "query_workflow",
    "count_workflows",
    "create_schedule",
    "list_schedules",
    "backfill_schedule",
    "delete_schedule",
    "describe_schedule",
    "pause_schedule",
    "trigger_schedule",
    "unpause_schedule",
    "update_schedule",
)


class _DeadlineOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, timeout: timedelta) -> None:
        super().__init__(next)
        self._timeout = timeout


def _with_deadline(name: str) -> Callable[[_DeadlineOutbound, Any], Awaitable[Any]]:
    async def call(self: _DeadlineOutbound, input: Any) -> Any:
        if input.rpc_timeout is None:
            input = dataclasses.replace(input, rpc_timeout=self._timeout)
        return await getattr(self.next, name)(input)

    return call


for _name in _API_CALLS:
    setattr(_DeadlineOutbound, _name, _with_deadline(_name))


class RpcDeadline(Interceptor):
    """A client interceptor giving every call in ``_API_CALLS`` a deadline unless it set one."""

    def __init__(self, timeout: timedelta = API_RPC_TIMEOUT) -> None:
        self.timeout = timeout

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        """Wrap the client's outbound calls."""
        return _DeadlineOutbound(next, self.timeout)


async def build_temporal_client(
    settings: Settings,
    *,
    retry_config: RetryConfig | None = None,
    interceptors: list[Interceptor] | None = None,
) -> Client:
    """Connect to Temporal with the pydantic data converter and any TLS / API key settings."""
    tls: TLSConfig | bool = False
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
    elif settings.temporal_api_key:
        tls = True
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        tls=tls,
        api_key=settings.temporal_api_key,
        retry_config=retry_config,
        # The tracing interceptor (when traces are on) is a worker interceptor too: a worker
        # built on this client traces workflows and activities (docs/operations.md, "Traces").
        interceptors=[*(interceptors or []), *tracing.temporal_interceptors()],
    )


class TemporalConnection:
    """The API's Temporal client, connected on first use.

    An API replica starts while Temporal is down and answers 503 until it is reachable; once
    connected, the SDK reconnects by itself.
    """

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        """The connected client, or :class:`Unavailable`."""
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    try:
                        self._client = await asyncio.wait_for(
                            build_temporal_client(
                                self._settings,
                                retry_config=API_RETRY,
                                interceptors=[RpcDeadline()],
                            ),
                            timeout=10,
                        )
                    except (RuntimeError, OSError, TimeoutError) as exc:
                        raise Unavailable(
                            f"Temporal at {self._settings.temporal_address} is unreachable; "
                            "try again shortly"
                        ) from exc
        return self._client
