"""Request dependencies: state, index session, the caller (its owner, key and scope), the clock,
idempotent replays."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from api.core import logs
from api.core.errors import Unauthorized
from api.core.index.keys import key_of
from api.services.access import (
    SCOPE_EXTENSION,
    Caller,
    Guard,
    KeyUse,
    Scope,
    Transport,
    caller_of_row,
    check_rate,
)
from api.services.activity import ActivityRecorder
from api.services.chains import ChainService
from api.services.idempotency import (
    HEADER,
    KEY_MAX_LENGTH,
    KEY_PATTERN,
    NO_FINGERPRINT,
    Action,
    Fingerprint,
    Idempotency,
    KeyedAnswer,
    request_fingerprint,
)
from api.services.jobs import JobService
from api.services.runs import RunService
from api.state import AppState
from domain.inputs import Text
from domain.timezones import TimezoneName

REPLAYED_HEADER = "Idempotent-Replayed"


async def _state(request: Request) -> AppState:
    state: AppState = request.app.state.app
    return state


StateDep = Annotated[AppState, Depends(_state)]


async def _session(request: Request, state: StateDep) -> AsyncIterator[AsyncSession]:
    sessions = state.read_sessions if request.method in ("GET", "HEAD") else state.sessions
    async with sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(_session)]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer sk_…`")


def bearer_key(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header (None: no header, or another scheme)."""
    scheme, key = get_authorization_scheme_param(authorization)
    return key if authorization and scheme.lower() == "bearer" and key else None


async def _key_row(session: AsyncSession, key: str | None) -> Any:
    if not key:
        raise Unauthorized("Missing API key: send 'Authorization: Bearer <key>'")
    row = await key_of(session, plaintext=key)
    if row is None:
        raise Unauthorized("Invalid or revoked API key")
    return row


# Where the body guard leaves the key row it looked up (``scope["state"]``), with its key, so
# the route's check does not look it up again.
KEY_ROW = "api_key_row"


async def check_key_early(session: AsyncSession, key: str | None, state: dict[str, Any]) -> None:
    """The body guard's early check: 401 for a missing, unknown, revoked or expired key. No
    side effect but the row left in the request's ``state`` for :func:`admit`."""
    row = await _key_row(session, key)
    caller_of_row(row, now=datetime.now(UTC))  # refuses an expired key
    state[KEY_ROW] = (key, row)


_KEY_USE = KeyUse()


async def admit(
    state: AppState,
    session: AsyncSession,
    key: str | None,
    *,
    transport: Transport,
    looked_up: tuple[str | None, Any] | None = None,
) -> Caller:
    """The caller of a key (None: none was sent): the one check of REST routes and the MCP
    endpoint. One indexed lookup (none when ``looked_up`` holds this key's row, found by the
    body guard for this request); 401 for a missing, unknown, revoked or expired key. Records
    the key's use (at most once a minute) and counts the request against the rate limit (429
    past it) when ``AGENT_SCHEDULER_RATE_LIMIT`` is set (docs/api.md, "Rate limit")."""
    if looked_up is not None and looked_up[0] == key:
        row = looked_up[1]
    else:
        row = await _key_row(session, key)
    now = datetime.now(UTC)
    caller = caller_of_row(row, now=now, transport=transport)
    if _KEY_USE.due(caller.key_id, row.last_used_at, now):
        await _KEY_USE.write(session, caller.key_id, now)
    if state.settings.rate_limit:
        await check_rate(session, limit=state.settings.rate_limit, key_id=caller.key_id, now=now)
    return caller


def route_scope(request: Request) -> Scope | None:
    """The scope the request's operation declares (its OpenAPI ``x-scope``), if any."""
    route = request.scope.get("route")
    extra = getattr(route, "openapi_extra", None) or {}
    scope: Scope | None = extra.get(SCOPE_EXTENSION)
    return scope


def note_call(request: Request, owner: str) -> None:
    """Count an authenticated call as activity of ``owner`` (no I/O): the lifespan keeps the
    activity recorder in ``app.state.activity``."""
    recorder: ActivityRecorder | None = getattr(request.app.state, "activity", None)
    if recorder is not None:
        recorder.note(owner)


async def _caller(
    request: Request,
    state: StateDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    key = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        key = credentials.credentials
    looked_up = request.scope.get("state", {}).get(KEY_ROW)
    caller = await admit(state, session, key, transport="rest", looked_up=looked_up)
    # An operation that declares no scope is refused to all but admin keys.
    caller.require(route_scope(request) or "admin")
    note_call(request, caller.owner)  # in memory; written in batches in the background
    params = request.path_params
    logs.bind(owner=caller.owner, job_id=params.get("job_id"), run_id=params.get("run_id"))
    return caller


CallerDep = Annotated[Caller, Depends(_caller)]


async def _owner(caller: CallerDep) -> str:
    return caller.owner


OwnerDep = Annotated[str, Depends(_owner)]


async def utc_now() -> datetime:
    """The current instant, in UTC: what "now" is for the request.

    A coroutine so FastAPI calls it on the event loop: a plain function dependency would cost
    a round trip to its thread pool. Tests pin it with
    ``app.dependency_overrides[utc_now] = lambda: instant``.
    """
    return datetime.now(UTC)


NowDep = Annotated[datetime, Depends(utc_now)]


def job_service(
    state: AppState, session: AsyncSession, caller: Caller, now: datetime
) -> JobService:
    """The job operations of ``caller``'s owner, under its key's limits, in ``session`` at
    ``now`` (for routes and MCP tools)."""
    return JobService(
        session=session,
        temporal=state.temporal,
        settings=state.settings,
        agents=state.agents,
        owner=caller.owner,
        now=now,
        guard=Guard(caller),
    )


def run_service(state: AppState, session: AsyncSession, jobs: JobService) -> RunService:
    """The run operations over ``jobs`` (for routes and MCP tools alike)."""
    return RunService(jobs=jobs, session=session, temporal=state.temporal, settings=state.settings)


async def _jobs(
    request: Request, state: StateDep, session: SessionDep, caller: CallerDep, now: NowDep
) -> JobService:
    jobs = job_service(state, session, caller, now)
    jobs.idempotency_key = request.headers.get(HEADER)  # for the audit log
    return jobs


JobServiceDep = Annotated[JobService, Depends(_jobs)]


async def _runs(state: StateDep, session: SessionDep, jobs: JobServiceDep) -> RunService:
    return run_service(state, session, jobs)


RunServiceDep = Annotated[RunService, Depends(_runs)]


async def _chains(
    state: StateDep, session: SessionDep, caller: CallerDep, now: NowDep
) -> ChainService:
    return ChainService(
        session=session,
        temporal=state.temporal,
        settings=state.settings,
        owner=caller.owner,
        now=now,
        guard=Guard(caller),
    )


ChainServiceDep = Annotated[ChainService, Depends(_chains)]


Limit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")]

# Offsets past this are refused (422): no owner has that many rows, and larger numbers overflow
# the index's integers (SQLite and PostgreSQL BIGINT alike).
MAX_OFFSET = 1_000_000_000

Offset = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description=f"How many to skip (at most {MAX_OFFSET:,}).")
]
JobId = Annotated[Text, Path(description="A job id (`job_…`).")]
RunId = Annotated[Text, Path(description="A run id.")]
ChainId = Annotated[Text, Path(description="A chain id (`chain_…`).")]
ChainRunId = Annotated[Text, Path(description="A chain run id (`chainrun_…`).")]
Zone = Annotated[TimezoneName, Query(description="An IANA time zone name, e.g. `Europe/Paris`.")]


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=KEY_MAX_LENGTH,
        pattern=KEY_PATTERN,
        description=(
            "Any unique string of printable ASCII (at most 255 characters), e.g. a UUID: "
            "a retry with the same key and body within 24 hours gets the first answer again "
            "(with `Idempotent-Replayed: true`) instead of acting twice."
        ),
    ),
]


async def _fingerprint(request: Request) -> Fingerprint:
    """The fingerprint of the request being served (its body as the route read it)."""
    body = getattr(request, "_json", None)
    raw = await request.body()
    return request_fingerprint(
        request.method, request.url.path, raw if body is None and raw else body
    )


@dataclass
class IdempotentRequest:
    """A request's ``Idempotency-Key`` over HTTP: a keyed answer is sent as it was stored, with
    ``Idempotent-Replayed: true`` when it is the first answer again."""

    idempotency: Idempotency

    async def respond(self, status_code: int, action: Action) -> Response | BaseModel:
        """Run ``action`` once for the key (see :meth:`Idempotency.run`); its response."""
        answer = await self.idempotency.run(status_code, action)
        if not isinstance(answer, KeyedAnswer):
            return answer
        return Response(
            answer.body,
            status_code=answer.status_code,
            media_type="application/json",
            headers={REPLAYED_HEADER: "true"} if answer.replayed else None,
        )


async def _idempotency(
    request: Request,
    state: StateDep,
    session: SessionDep,
    owner: OwnerDep,
    now: NowDep,
    key: IdempotencyKeyHeader = None,
) -> IdempotentRequest:
    return IdempotentRequest(
        Idempotency(
            session=session,
            owner=owner,
            key=key,
            fingerprint=await _fingerprint(request) if key is not None else NO_FINGERPRINT,
            now=now,
            wait_seconds=state.settings.idempotency_wait_seconds,
        )
    )


IdempotencyDep = Annotated[IdempotentRequest, Depends(_idempotency)]
