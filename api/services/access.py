"""Who is calling and what their key allows (docs/api.md, "Keys and scopes").

A request's key resolves to a :class:`Caller` in one indexed lookup: the owner, the key's id,
name, scope and limits, and the transport (``rest`` or ``mcp``). Routes and MCP tools declare
the scope they need; the job service checks the key's limits on what it creates, changes and
starts.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import Forbidden, Invalid, RateLimited, Unauthorized
from api.core.index import keys as keys_store
from api.core.schedules import parse_schedule
from domain.inputs import NUL_FREE_PATTERN, JsonInt, Text
from domain.schedules import AtSchedule, CronSchedule, EverySchedule, shortest_spacing
from domain.schedules import parse_duration as parse_seconds

log = logging.getLogger(__name__)

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
Transport = Literal["rest", "mcp"]

SCOPE_EXTENSION = "x-scope"
"""The OpenAPI extension naming the scope an operation needs (``api.routing.JsonRoute``)."""


def _as_seconds(value: Any) -> Any:
    return parse_seconds(value) if isinstance(value, str | bool) else value


def duration_schema(low: int, high: int) -> WithJsonSchema:
    """The JSON schema of a number of seconds also given as a duration string (``15m``)."""
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": low, "maximum": high},
                {
                    "type": "string",
                    "maxLength": 40,
                    "pattern": NUL_FREE_PATTERN,
                    "description": "a duration, e.g. `15m`",
                },
            ]
        }
    )


AS_SECONDS = BeforeValidator(_as_seconds)
"""Reads a duration string (``15m``, ``30d``) as its seconds."""
MAX_INTERVAL_SECONDS = 366 * 86_400
IntervalSeconds = Annotated[
    int,
    AS_SECONDS,
    Field(ge=1, le=MAX_INTERVAL_SECONDS),
    duration_schema(1, MAX_INTERVAL_SECONDS),
]


class KeyLimits(BaseModel):
    """The guardrails a key carries; a limit left out (or null) is no limit."""

    model_config = ConfigDict(extra="forbid")

    max_jobs: JsonInt | None = Field(
        None, ge=1, le=1_000_000, description="Live jobs created with this key."
    )
    min_interval_seconds: IntervalSeconds | None = Field(
        None,
        description="The tightest spacing any schedule of its jobs may fire at (seconds, or a "
        "duration such as `15m`).",
    )
    max_runs_per_day: JsonInt | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Runs of its jobs started in the last 24 hours (triggers are refused past "
        "it; each of its jobs also gets a budget no looser than it).",
    )
    agents: list[Annotated[Text, Field(min_length=1, max_length=200)]] | None = Field(
        None, max_length=100, description="The agents its jobs may use (and fall back to)."
    )
    no_trigger: bool = Field(False, description="True: the key cannot start runs itself.")

    def stored(self) -> dict[str, Any] | None:
        """As kept on the key's row: only the limits set; None when there are none."""
        data = self.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        return data or None


@dataclass(frozen=True)
class Caller:
    """The caller of one request: an owner's key, what it may do, and how it came."""

    owner: str
    key_id: str
    key_name: str | None
    scope: Scope
    limits: KeyLimits | None
    transport: Transport = "rest"

    def require(self, needed: Scope) -> None:
        """Refuse (403) a call that needs a wider scope than the key's."""
        if SCOPES.index(self.scope) < SCOPES.index(needed):
            raise Forbidden(
                f"This needs a key with the '{needed}' scope; this key's scope is '{self.scope}'"
            )


def caller_of_row(row: Any, *, now: datetime, transport: Transport = "rest") -> Caller:
    """The caller a key's row stands for; 401 for a revoked or expired key."""
    if row.revoked_at is not None:
        raise Unauthorized("Invalid or revoked API key")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized(f"This API key expired at {row.expires_at.isoformat()}")
    limits = KeyLimits.model_validate(row.limits) if row.limits else None
    scope: Scope = row.scope if row.scope in SCOPES else "read"
    return Caller(
        owner=row.owner,
        key_id=row.id,
        key_name=row.name,
        scope=scope,
        limits=limits,
        transport=transport,
    )


class KeyUse:
    """``last_used_at`` of each key, written at most once a minute per key and API process
    (the write itself skips a key another process marked in the last minute)."""

    def __init__(self) -> None:
        self._written: dict[str, float] = {}

    def due(self, key_id: str, last_used_at: datetime | None, now: datetime) -> bool:
        """Whether this use should be written (and, if so, it is counted as written)."""
        if last_used_at is not None and now - last_used_at < timedelta(minutes=1):
            return False
        moment = time.monotonic()
        if moment - self._written.get(key_id, -60.0) < 60:
            return False
        if len(self._written) > 10_000:
            self._written.clear()
        self._written[key_id] = moment
        return True

    async def write(self, session: AsyncSession, key_id: str, now: datetime) -> None:
        """Write the use in the request's ``session`` (committed at once: on SQLite the engine
        has one connection, so another session would wait for this one); a failure is logged,
        never the request's."""
        try:
            await keys_store.touch_key(session, key_id=key_id, at=now)
        except Exception:  # a missed last-use write must not fail the call
            await session.rollback()
            log.warning("could not record the use of key %s", key_id, exc_info=True)


_WINDOWS = {"second": 1, "minute": 60, "hour": 3600, "day": 86_400}


def parse_rate(limit: str) -> tuple[int, int]:
    """``600/minute`` → (600, 60): requests and the window's length in seconds."""
    count, _, unit = limit.partition("/")
    return int(count), _WINDOWS[unit]


async def check_rate(session: AsyncSession, *, limit: str, key_id: str, now: datetime) -> None:
    """Count the request in the key's fixed window (one UPSERT in the request's ``session``,
    committed at once); past the limit, 429 with ``Retry-After``."""
    allowed, length = parse_rate(limit)
    epoch = int(now.timestamp())
    window = epoch // length
    count = await keys_store.count_request(session, key_id=key_id, window=window)
    if count > allowed:
        retry_after = max(1, (window + 1) * length - epoch)
        raise RateLimited(
            f"Rate limit of {limit} per key reached; retry in {retry_after} s",
            retry_after=retry_after,
        )


AnySchedule = CronSchedule | EverySchedule | AtSchedule


@dataclass(frozen=True)
class Guard:
    """A caller's limits applied to what it does to jobs (no limits: every check passes)."""

    caller: Caller | None

    @property
    def limits(self) -> KeyLimits | None:
        """The key's limits, if it has any."""
        return self.caller.limits if self.caller is not None else None

    @property
    def created_by(self) -> str | None:
        """The id of the key, recorded on the jobs it creates."""
        return self.caller.key_id if self.caller is not None else None

    async def check_create(self, session: AsyncSession) -> None:
        """Refuse (403) a job past the key's ``max_jobs``."""
        limits = self.limits
        if limits is None or limits.max_jobs is None:
            return
        assert self.caller is not None
        live = await keys_store.live_jobs_created_by(session, key_id=self.caller.key_id)
        if live >= limits.max_jobs:
            raise Forbidden(
                f"This key's limit max_jobs is {limits.max_jobs}: it has {live} live jobs"
            )

    def check_agents(self, field: str, agent_ids: list[str]) -> None:
        """Refuse (422 on ``field``) an agent the key's ``agents`` does not list."""
        limits = self.limits
        if limits is None or limits.agents is None:
            return
        for agent_id in agent_ids:
            if agent_id not in limits.agents:
                allowed = ", ".join(limits.agents) or "none"
                raise Invalid.field(
                    field, f"agent '{agent_id}' is not in this key's limit agents ({allowed})"
                )

    def check_schedule(self, schedule: AnySchedule, *, now: datetime) -> None:
        """Refuse (422 on ``schedule``) one that fires closer than the key's
        ``min_interval_seconds``."""
        limits = self.limits
        if limits is None or limits.min_interval_seconds is None:
            return
        spacing = shortest_spacing(schedule, after=now)
        if spacing is not None and spacing < limits.min_interval_seconds:
            raise Invalid.field(
                "schedule",
                f"fires {spacing} s apart at the closest; this key's limit "
                f"min_interval_seconds is {limits.min_interval_seconds}",
            )

    async def check_chain(
        self, session: AsyncSession, *, job_ids: list[str], now: datetime
    ) -> None:
        """Refuse (422 on ``jobs.<i>``) a chain of a job that fires closer than the key's
        ``min_interval_seconds``: a chain runs whenever a root job's run ends, so its nodes
        run as often as its jobs' schedules fire."""
        limits = self.limits
        if limits is None or limits.min_interval_seconds is None:
            return
        assert self.caller is not None
        stored = await keys_store.schedules_of_jobs(
            session, owner=self.caller.owner, job_ids=job_ids
        )
        for index, job_id in enumerate(job_ids):
            if job_id not in stored:
                continue  # not the owner's: the chain's own check says so
            try:
                self.check_schedule(parse_schedule(stored[job_id]), now=now)
            except Invalid as exc:
                message = exc.details[0].message if exc.details else exc.message
                raise Invalid.field(f"jobs.{index}", f"job {job_id} {message}") from None

    def budget(self, budget: dict[str, Any] | None) -> dict[str, Any] | None:
        """A job's budget as stored, capped by the key's ``max_runs_per_day``."""
        limits = self.limits
        if limits is None or limits.max_runs_per_day is None:
            return budget
        capped = dict(budget or {})
        given = capped.get("max_runs_per_day")
        capped["max_runs_per_day"] = min(given or limits.max_runs_per_day, limits.max_runs_per_day)
        return capped

    async def check_start(
        self,
        session: AsyncSession,
        *,
        now: datetime,
        runs: int = 1,
        created_by: str | None = None,
    ) -> None:
        """Refuse (403) a start of ``runs`` runs by a key with ``no_trigger``, or past its
        ``max_runs_per_day``. Without a caller (a hook delivery), the ``max_runs_per_day`` of
        the key that created the job (``created_by``) applies."""
        limits, key_id = self.limits, self.created_by
        if self.caller is None and created_by is not None:
            creator = await keys_store.get_key(session, key_id=created_by)
            if creator is None or not creator.limits:
                return
            key_id = created_by
            limits = KeyLimits.model_validate(creator.limits).model_copy(
                update={"no_trigger": False}  # its hooks were made by a key allowed to
            )
        if limits is None or key_id is None:
            return
        if limits.no_trigger:
            raise Forbidden("This key's limit no_trigger forbids starting runs")
        if limits.max_runs_per_day is None:
            return
        started = await keys_store.runs_of_jobs_created_by(
            session, key_id=key_id, since=now - timedelta(days=1)
        )
        if started + runs > limits.max_runs_per_day:
            raise Forbidden(
                f"This key's limit max_runs_per_day is {limits.max_runs_per_day}: its jobs "
                f"started {started} runs in the last 24 hours"
            )
