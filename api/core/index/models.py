"""Tables of the metadata index (SQLModel). Times are stored in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime written to the index")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: sa.Dialect, coltype: Any) -> Any:
        """On SQLite, ISO text to an aware datetime in one step: ``fromisoformat`` instead of
        SQLAlchemy's regular expression, then the offset (a job page reads 250 of these)."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            parsed = datetime.fromisoformat(value)
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

        return process


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


def _time(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class ApiKey(SQLModel, table=True):
    """An API key: only its SHA-256 hash is kept."""

    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=40)
    owner: str = Field(index=True, max_length=200)
    prefix: str = Field(max_length=20)
    key_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = _time()
    # Access (docs/api.md, "Keys and scopes"): ``read``, ``write`` or ``admin``; the key's
    # limits (``api.services.access.KeyLimits``, None: none); when it stops working.
    name: str | None = Field(default=None, max_length=200)
    scope: str = Field(default="write", max_length=10, sa_column_kwargs={"server_default": "write"})
    limits: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    expires_at: datetime | None = _time()
    # Written at most once a minute per key and API process (api.services.access).
    last_used_at: datetime | None = _time()


class RateCount(SQLModel, table=True):
    """Requests of one key in one fixed rate-limit window (``window`` = epoch s // its length):
    one row a key and window, counted by one UPSERT on every API process alike."""

    __tablename__ = "rate_counts"

    key_id: str = Field(primary_key=True, max_length=40)
    window: int = Field(primary_key=True, sa_type=sa.BigInteger)
    count: int = 0


class Job(SQLModel, table=True):
    """A job as the API shows it; its Temporal schedule has the same id."""

    __tablename__ = "jobs"
    __table_args__ = (sa.Index("ix_jobs_owner_status_created", "owner", "status", "created_at"),)

    id: str = Field(primary_key=True, max_length=40)
    owner: str = Field(index=True, max_length=200)
    name: str = Field(max_length=200)
    goal: str = Field(sa_type=sa.Text)
    agent_id: str = Field(max_length=200)
    # Agents the next attempt goes to after a transient provider error (docs/api.md, "Fallback
    # agents"), in order.
    fallback_agent_ids: list[str] | None = Field(default=None, sa_type=sa.JSON)
    schedule: dict[str, Any] = Field(sa_type=sa.JSON)
    timezone: str = Field(max_length=64)
    status: str = Field(max_length=20)
    delivery: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    condition: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    retry: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    budget: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    timeout_seconds: int
    overlap: str = Field(max_length=20)
    max_consecutive_failures: int
    # None: the deployment's ``catchup_window_seconds`` setting.
    catchup_window_seconds: int | None = None
    # The database's default only, so Core inserts written before this column still work.
    jitter_seconds: int = Field(
        default=0, sa_column_kwargs={"server_default": "0", "default": None}
    )
    consecutive_failures: int = 0
    paused_reason: str | None = Field(default=None, sa_type=sa.Text)
    # Set while the job is paused by its budget: the end of the window that paused it, when the
    # tick resumes it. A pause by the user clears it, so the tick never resumes that one.
    budget_reopens_at: datetime | None = _time()
    next_run_at: datetime | None = _time()
    last_run_at: datetime | None = _time()
    run_count: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deleted_at: datetime | None = _time()
    # Alerts (docs/alerts.md): ``alerts_from`` "owner" (the owner's default, the job's own not
    # set), "job" (``alerts``) or "off" (``alerts: null``).
    alerts: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    alerts_from: str = Field(
        default="owner",
        max_length=10,
        sa_column_kwargs={"server_default": "owner", "default": "owner"},
    )
    # None: 300 seconds (domain.alerts.DEFAULT_GRACE_SECONDS).
    grace_seconds: int | None = None
    deadline: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    max_run_seconds: int | None = None
    # The API key that created the job (docs/api.md, "Limits of a key"); None before keys
    # were recorded.
    created_by: str | None = Field(default=None, max_length=40, index=True)


class Run(SQLModel, table=True):
    """One execution of the job-run workflow (its workflow id is the run id)."""

    __tablename__ = "runs"
    __table_args__ = (
        sa.Index("ix_runs_job_started", "job_id", "started_at"),
        sa.Index("ix_runs_owner_started", "owner", "started_at"),
    )

    id: str = Field(primary_key=True, max_length=120)
    job_id: str = Field(max_length=40)
    owner: str = Field(max_length=200)
    chain_id: str | None = Field(default=None, max_length=40)
    trigger: str = Field(max_length=20)
    status: str = Field(max_length=20, index=True)
    scheduled_at: datetime | None = _time()
    started_at: datetime | None = _time()
    completed_at: datetime | None = _time()
    duration_seconds: float | None = None
    attempts: int = 0
    attempt_errors: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON)
    # How many times Temporal dispatched each attempt: [{"attempt": 1, "dispatches": 2}, …].
    attempt_dispatches: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON)
    output: str | None = Field(default=None, sa_type=sa.Text)
    data: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    error: str | None = Field(default=None, sa_type=sa.Text)
    condition_result: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    delivery: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    temporal_run_id: str | None = Field(default=None, max_length=64)
    # What the agent reported using (budgets sum these over the job's windows).
    input_tokens: int | None = Field(default=None, sa_type=sa.BigInteger)
    output_tokens: int | None = Field(default=None, sa_type=sa.BigInteger)
    cost_usd: float | None = None
    skip_reason: str | None = Field(default=None, sa_type=sa.Text)
    # The run keeps less than the agent answered (docs/api.md, "Run object"), and what changed.
    truncated: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    answer_notes: list[str] | None = Field(default=None, sa_type=sa.JSON)
    trace_id: str | None = Field(default=None, max_length=32)
    # The agent that answered (the job's, or a fallback agent); None before it finished.
    agent_id: str | None = Field(default=None, max_length=200)
    # What the run was started with: a hook delivery's body (docs/api.md, "Hooks").
    input: Any = Field(default=None, sa_type=sa.JSON, nullable=True)


class Backfill(SQLModel, table=True):
    """A backfill asked of a job's schedule: runs whose nominal time is in ``[start, end)``
    and that started after ``requested_at`` are the backfill's (``trigger: "backfill"``)."""

    __tablename__ = "backfills"
    __table_args__ = (sa.Index("ix_backfills_job_start", "job_id", "start"),)

    id: str = Field(primary_key=True, max_length=40)
    job_id: str = Field(max_length=40)
    owner: str = Field(max_length=200)
    start: datetime = Field(sa_type=UTCDateTime)
    end: datetime = Field(sa_type=UTCDateTime)
    overlap: str = Field(max_length=20)
    fires: int
    requested_at: datetime = Field(sa_type=UTCDateTime)


class JobEvent(SQLModel, table=True):
    """A job paused or resumed: when, by whom (``api``: its owner; ``auto``: the run recorder
    after failed runs) and why. ``GET /jobs/{id}/explain`` reads what state a job was in."""

    __tablename__ = "job_events"
    __table_args__ = (sa.Index("ix_job_events_job_at", "job_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=40)
    at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(max_length=20)
    by: str = Field(max_length=20)
    reason: str | None = Field(default=None, sa_type=sa.Text)


class AuditEvent(SQLModel, table=True):
    """One change to an owner's jobs, keys, hooks or incidents: what, by whom (a key, a hook or
    the system), how it came and what changed (docs/api.md, "Audit log")."""

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_owner_at", "owner", "at"),
        sa.Index("ix_audit_job_at", "job_id", "at"),
        sa.Index("ix_audit_at", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(max_length=200)
    at: datetime = Field(sa_type=UTCDateTime)
    action: str = Field(max_length=40)
    job_id: str | None = Field(default=None, max_length=40)
    target_id: str | None = Field(default=None, max_length=80)
    actor_kind: str = Field(max_length=20)
    actor_id: str = Field(max_length=80)
    actor_name: str | None = Field(default=None, max_length=200)
    transport: str | None = Field(default=None, max_length=10)
    request_id: str | None = Field(default=None, max_length=80)
    idempotency_key: str | None = Field(default=None, max_length=255)
    changes: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)


class ActivityEvent(SQLModel, table=True):
    """One unit of an owner's activity (API calls, host-platform events)."""

    __tablename__ = "activity_events"
    __table_args__ = (sa.Index("ix_activity_owner_at", "owner", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(max_length=200)
    at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(max_length=100)


class ActivityBucket(SQLModel, table=True):
    """How many activity events an owner had in one quarter hour (``bucket`` = epoch s // 900).

    Maintained with every event written; heatmaps read these instead of scanning events.
    """

    __tablename__ = "activity_buckets"

    owner: str = Field(primary_key=True, max_length=200)
    bucket: int = Field(primary_key=True)
    count: int = 0


class ActivityHour(SQLModel, table=True):
    """How many activity events an owner had in one UTC hour (``hour`` = epoch s // 3600).

    Written with the quarter-hour buckets; heatmaps in zones whose offsets are whole hours read
    these (four times fewer rows), other zones the quarter hours.
    """

    __tablename__ = "activity_hours"

    owner: str = Field(primary_key=True, max_length=200)
    hour: int = Field(primary_key=True)
    count: int = 0


class RunHour(SQLModel, table=True):
    """An owner's finished runs with an outcome per UTC hour of ``completed_at``
    (``hour`` = epoch s // 3600): how many, how many completed, their durations' count and sum.

    Kept by database triggers on ``runs`` (migration ``0005_totals``), so every write path keeps
    it exact; ``GET /stats`` sums a week of these instead of scanning a week of runs.
    """

    __tablename__ = "run_hours"

    owner: str = Field(primary_key=True, max_length=200)
    hour: int = Field(primary_key=True)
    finished: int = 0
    completed: int = 0
    durations: int = 0
    duration_sum: float = 0.0


class JobCount(SQLModel, table=True):
    """How many live (not deleted) jobs an owner has in one status.

    Kept by database triggers on ``jobs`` (migration ``0005_totals``); stats and job pages
    read their counts here instead of counting the owner's jobs.
    """

    __tablename__ = "job_counts"

    owner: str = Field(primary_key=True, max_length=200)
    status: str = Field(primary_key=True, max_length=20)
    count: int = 0


class ApiMinute(SQLModel, table=True):
    """A minute in which an owner called the API, claimed by the first API process to write it,
    so N replicas record one ``api`` event, not N (rows older than an hour are dropped)."""

    __tablename__ = "api_minutes"

    owner: str = Field(primary_key=True, max_length=200)
    minute: int = Field(primary_key=True)


class TickRecord(SQLModel, table=True):
    """What one reconciler tick checked and repaired."""

    __tablename__ = "ticks"

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(max_length=200)
    started_at: datetime = Field(sa_type=UTCDateTime, index=True)
    finished_at: datetime = Field(sa_type=UTCDateTime)
    jobs_checked: int = 0
    schedules_checked: int = 0
    runs_checked: int = 0
    repairs: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    # Stored next fires brought up to date: upkeep, not drift, so not counted in ``repairs``.
    next_run_at_refreshed: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class DeliverySent(SQLModel, table=True):
    """What a delivery (one ``delivery_id``) has already sent, written right after each post so
    a retried delivery activity skips it instead of sending it again."""

    __tablename__ = "deliveries_sent"

    delivery_id: str = Field(primary_key=True, max_length=300)
    run_id: str = Field(max_length=120)
    # Messages already accepted by the receiver, and the Slack thread the rest go to.
    posted: int = 0
    thread_ts: str | None = Field(default=None, max_length=64)
    # Set once every message went through: a retry answers this instead of sending.
    messages: int | None = None
    truncated: bool = False
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class OutboxMessage(SQLModel, table=True):
    """A delivery ``dev`` kept instead of sending it (its provider is not configured): what
    would have been sent, rendered for its channel."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_owner_created", "owner", "created_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(unique=True, max_length=300)
    owner: str = Field(max_length=200)
    run_id: str = Field(max_length=120)
    job_id: str = Field(max_length=40)
    job_name: str = Field(max_length=200)
    channel: str = Field(sa_type=sa.Text)
    provider: str = Field(max_length=20)
    format: str = Field(max_length=20)
    # Per provider: Slack {"texts", "mrkdwn", "truncated"}; e-mail {"to", "from", "subject",
    # "text", "html", "truncated"}.
    content: dict[str, Any] = Field(sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# The Core tables behind the models, for the statements on hot paths (activities, stats).
jobs: sa.Table = Job.__table__  # type: ignore[attr-defined]
runs: sa.Table = Run.__table__  # type: ignore[attr-defined]
ticks: sa.Table = TickRecord.__table__  # type: ignore[attr-defined]
activity_events: sa.Table = ActivityEvent.__table__  # type: ignore[attr-defined]
activity_buckets: sa.Table = ActivityBucket.__table__  # type: ignore[attr-defined]
activity_hours: sa.Table = ActivityHour.__table__  # type: ignore[attr-defined]
run_hours: sa.Table = RunHour.__table__  # type: ignore[attr-defined]
job_counts: sa.Table = JobCount.__table__  # type: ignore[attr-defined]
api_minutes: sa.Table = ApiMinute.__table__  # type: ignore[attr-defined]
deliveries_sent: sa.Table = DeliverySent.__table__  # type: ignore[attr-defined]
outbox: sa.Table = OutboxMessage.__table__  # type: ignore[attr-defined]
backfills: sa.Table = Backfill.__table__  # type: ignore[attr-defined]
job_events: sa.Table = JobEvent.__table__  # type: ignore[attr-defined]
audit_events: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]

# Indexes of the stats and list queries (api/core/index/stats.py, api/core/index/jobs.py).
sa.Index("ix_jobs_owner_deleted_status", jobs.c.owner, jobs.c.deleted_at, jobs.c.status)
sa.Index("ix_jobs_owner_created_id", jobs.c.owner, jobs.c.created_at, jobs.c.id)
sa.Index(
    "ix_runs_owner_completed",
    runs.c.owner,
    runs.c.completed_at,
    runs.c.status,
    runs.c.duration_seconds,
)
sa.Index("ix_runs_job_duration_status", runs.c.job_id, runs.c.duration_seconds, runs.c.status)
# Oldest rows first, for the retention prunes (api/core/index/retention.py).
sa.Index("ix_runs_completed", runs.c.completed_at)
sa.Index("ix_outbox_created", outbox.c.created_at)


class Chain(SQLModel, table=True):
    """A chain: jobs (nodes) and the edges between them (docs/api.md, "Chains")."""

    __tablename__ = "chains"
    __table_args__ = (sa.Index("ix_chains_owner_created", "owner", "created_at"),)

    id: str = Field(primary_key=True, max_length=40)
    owner: str = Field(max_length=200)
    name: str = Field(max_length=200)
    jobs: list[str] = Field(sa_type=sa.JSON)
    edges: list[dict[str, Any]] = Field(sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ChainJob(SQLModel, table=True):
    """A job's place in a chain: finds a root's chains and guards the job's deletion."""

    __tablename__ = "chain_jobs"

    chain_id: str = Field(primary_key=True, max_length=40)
    job_id: str = Field(primary_key=True, max_length=40, index=True)
    is_root: bool


class ChainRun(SQLModel, table=True):
    """One execution of the chain workflow (its workflow id is the chain run id)."""

    __tablename__ = "chain_runs"
    __table_args__ = (sa.Index("ix_chain_runs_chain_started", "chain_id", "started_at"),)

    id: str = Field(primary_key=True, max_length=120)
    chain_id: str = Field(max_length=40)
    owner: str = Field(max_length=200)
    trigger: str = Field(max_length=20)
    root_run_id: str | None = Field(default=None, max_length=120)
    status: str = Field(max_length=20)
    started_at: datetime | None = _time()
    completed_at: datetime | None = _time()
    duration_seconds: float | None = None
    nodes: list[dict[str, Any]] = Field(sa_type=sa.JSON)
    error: str | None = Field(default=None, sa_type=sa.Text)
    temporal_run_id: str | None = Field(default=None, max_length=64)


chains: sa.Table = Chain.__table__  # type: ignore[attr-defined]
chain_jobs: sa.Table = ChainJob.__table__  # type: ignore[attr-defined]
chain_runs: sa.Table = ChainRun.__table__  # type: ignore[attr-defined]


class IdempotencyKey(SQLModel, table=True):
    """An ``Idempotency-Key`` an owner sent with a create or trigger, and the first answer to it.

    The row is inserted before the request runs (the primary key makes a second request with the
    key wait for the first), and holds the answer once it is done: ``status_code`` and
    ``response`` are null while the first request is in progress. Rows older than 24 hours are
    expired: the tick deletes them, and a new request with the key takes one over.
    """

    __tablename__ = "idempotency_keys"

    owner: str = Field(primary_key=True, max_length=200)
    key: str = Field(primary_key=True, max_length=255)
    # SHA-256 of method, path and canonical JSON body: "the same request".
    fingerprint: str = Field(max_length=64)
    status_code: int | None = None
    response: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    # When the request in progress claimed the key; a claim older than the lease is abandoned.
    claimed_at: datetime = Field(sa_type=UTCDateTime)
    # The id suffix of what the request creates (its job, run or chain), drawn at the first claim
    # and kept by a retry that takes an abandoned claim over: a retry finds the first attempt's
    # job, and Temporal refuses a second start of its run.
    resource_id: str | None = Field(default=None, max_length=32)


idempotency_keys: sa.Table = IdempotencyKey.__table__  # type: ignore[attr-defined]


class OutputEmbedding(SQLModel, table=True):
    """The embedding of a delivered run's output under one model, kept so semantic only-news
    (docs/api.md, "Only news") embeds each delivered output once, not at every run."""

    __tablename__ = "output_embeddings"
    __table_args__ = (sa.Index("ix_output_embeddings_job_created", "job_id", "created_at"),)

    run_id: str = Field(primary_key=True, max_length=120)
    model: str = Field(primary_key=True, max_length=200)
    job_id: str = Field(max_length=40)
    embedding: list[float] = Field(sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


output_embeddings: sa.Table = OutputEmbedding.__table__  # type: ignore[attr-defined]


class OwnerSettings(SQLModel, table=True):
    """An owner's settings: the alert settings every job without its own uses."""

    __tablename__ = "owner_settings"

    owner: str = Field(primary_key=True, max_length=200)
    alerts: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Incident(SQLModel, table=True):
    """Something wrong with a job (failing, missed, late, paused), open until it resolves.

    ``open_key`` is ``<job id>:<kind>`` while the incident is open and null once resolved: its
    unique index holds at most one open incident per job and kind on every backend.
    """

    __tablename__ = "incidents"
    __table_args__ = (
        sa.Index("ix_incidents_owner_opened", "owner", "opened_at", "id"),
        sa.Index("ix_incidents_job_opened", "job_id", "opened_at"),
        sa.Index("ix_incidents_status_remind", "status", "next_reminder_at"),
        sa.Index("ix_incidents_resolved", "resolved_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    owner: str = Field(max_length=200)
    job_id: str = Field(max_length=40)
    job_name: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    status: str = Field(max_length=20)
    open_key: str | None = Field(default=None, unique=True, max_length=80)
    reason: str = Field(sa_type=sa.Text)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    # The fire (nominal time) or deadline it is about, where it is about one.
    fire_at: datetime | None = _time()
    opened_at: datetime = Field(sa_type=UTCDateTime)
    resolved_at: datetime | None = _time()
    resolved_reason: str | None = Field(default=None, sa_type=sa.Text)
    # The alert settings in effect when it opened (null: none, so nothing is sent).
    alerts: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    notify: bool = False
    reminders: int = 0
    next_reminder_at: datetime | None = _time()
    acked_at: datetime | None = _time()
    acked_by: str | None = Field(default=None, max_length=200)


class IncidentNotification(SQLModel, table=True):
    """One notification of an incident, written in the transaction that opened, reminded or
    resolved it; its id (``<incident id>/opened``, ``…/reminder/<n>``, ``…/resolved``) is the
    idempotency key receivers see. ``pending`` until sent (``sent``) or given up (``failed``)."""

    __tablename__ = "incident_notifications"
    __table_args__ = (
        sa.Index("ix_incident_notifications_incident", "incident_id", "created_at"),
        sa.Index("ix_incident_notifications_status", "status", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=120)
    incident_id: str = Field(max_length=40)
    owner: str = Field(max_length=200)
    event: str = Field(max_length=20)
    channel: str = Field(sa_type=sa.Text)
    status: str = Field(max_length=20)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = _time()
    attempts: int = 0
    # A sender holds the notification until then; another sends it only after.
    claimed_until: datetime | None = _time()
    error: str | None = Field(default=None, sa_type=sa.Text)
    outbox: bool = False


owner_settings: sa.Table = OwnerSettings.__table__  # type: ignore[attr-defined]
incidents: sa.Table = Incident.__table__  # type: ignore[attr-defined]
incident_notifications: sa.Table = IncidentNotification.__table__  # type: ignore[attr-defined]


class Hook(SQLModel, table=True):
    """A signed event trigger of a job: ``POST /hooks/{id}`` starts a run (docs/api.md, "Hooks").

    The secret is stored as it is, not hashed: checking an HMAC signature needs the secret
    itself. A job's hooks go with it.
    """

    __tablename__ = "hooks"

    id: str = Field(primary_key=True, max_length=40)
    job_id: str = Field(max_length=40, index=True)
    owner: str = Field(max_length=200)
    secret: str = Field(max_length=100)
    created_at: datetime = Field(sa_type=UTCDateTime)


hooks: sa.Table = Hook.__table__  # type: ignore[attr-defined]
