"""Settings, read once from the environment (prefix ``AGENT_SCHEDULER_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.contract.names import TASK_QUEUE

# The shortest retention: a budget's month and a job's 30 days of runs per day read runs.
MIN_RETENTION_DAYS = 32


class Settings(BaseSettings):
    """Every knob of the service; nothing else reads ``os.environ``."""

    model_config = SettingsConfigDict(env_prefix="AGENT_SCHEDULER_", extra="ignore")

    data_dir: Path = Field(
        Path(".agent-scheduler"), description="Local state: SQLite index, dev server, dev key."
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the index; default SQLite file in the data dir."
    )
    host: str = Field("127.0.0.1", description="API bind address.")
    log_format: Literal["text", "json"] = Field(
        "text",
        description="Log lines as readable text, or one JSON object a line with the ids of the "
        "request or run (docs/operations.md, Logs).",
    )
    port: int = Field(8787, description="API port.")
    public_url: str | None = Field(None, description="Base URL the API is reached at.")
    # Connection and body limits of the API (docs/operations.md, "Limits and timeouts").
    max_connections: int = Field(
        4096,
        ge=1,
        description="Open connections per API process at most; lowered to fit the process's "
        "open-file limit. Past it the oldest idle connection is closed for a new one.",
    )
    keep_alive_seconds: int = Field(
        5, ge=1, description="An idle connection is closed this long after its last answer."
    )
    header_timeout_seconds: float = Field(
        10,
        gt=0,
        description="A connection whose request headers are not all in this long after it "
        "opened (or after its last answer) is closed.",
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1, description="Largest request body of a REST route (413 past it)."
    )
    body_timeout_seconds: float = Field(
        15,
        gt=0,
        le=25,
        description="How long a REST request's body may take to arrive (408 past it; below "
        "the 30 s request deadline).",
    )
    # Prometheus metrics (docs/operations.md, "Metrics"): off unless a port is set (0 picks a
    # free one); `dev` turns both on.
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Port of the API's /metrics page; unset: no page."
    )
    worker_metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Port of the worker's /metrics page; unset: no page."
    )
    metrics_host: str = Field("127.0.0.1", description="Address the metrics pages bind to.")
    metrics_job_labels: bool = Field(
        False,
        description="Also count runs per job (agent_scheduler_job_runs_total{job_id,status}): "
        "one series per job and status.",
    )

    temporal_address: str = Field("127.0.0.1:7233", description="Temporal frontend host:port.")
    temporal_namespace: str = Field("default", description="Temporal namespace.")
    temporal_tls_cert: Path | None = Field(None, description="Client certificate (mTLS).")
    temporal_tls_key: Path | None = Field(None, description="Client key (mTLS).")
    temporal_api_key: str | None = Field(None, description="Temporal Cloud API key.")
    temporal_ui_url: str = Field(
        "http://127.0.0.1:8233", description="Temporal Web UI base URL, for run links."
    )
    task_queue: str = Field(TASK_QUEUE, description="Task queue of the worker.")

    agents_file: Path | None = Field(None, description="TOML file that configures agents.")
    allow_private_targets: bool = Field(
        False, description="Allow http and private/loopback delivery targets (dev turns it on)."
    )
    sqlite_one_hop: bool = Field(
        False,
        description="SQLite index only: one thread hop per statement (faster; relies on private "
        "names of aiosqlite and SQLAlchemy, checked at connect). See BENCHMARKS.md.",
    )
    dev_outbox: bool = Field(
        False,
        description="Keep deliveries to a provider that is not configured (Slack without a "
        "token, e-mail without SMTP) in the index's outbox instead of refusing them (dev turns "
        "it on).",
    )
    catchup_window_seconds: int = Field(
        300, description="How late a missed fire may still run after an outage (Temporal min 10)."
    )

    slack_token: str | None = Field(None, description="Slack bot token for `slack:` delivery.")
    slack_api_url: str = Field("https://slack.com/api", description="Slack Web API base URL.")
    smtp_host: str | None = Field(None, description="SMTP server for `email:` delivery.")
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "agent-scheduler@localhost"
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_ssl: bool = Field(False, description="Implicit TLS (SMTPS, usually port 465).")
    smtp_ca_file: Path | None = Field(
        None,
        description="CA bundle to trust for the SMTP server's certificate, e.g. a private CA; "
        "default: the system's.",
    )
    smtp_timeout_seconds: float = Field(30, gt=0, description="SMTP connect/command timeout.")
    delivery_timeout_seconds: float = Field(
        30, gt=0, description="Timeout of one delivery request (Slack, webhook, notifications)."
    )
    webhook_signing_key: str | None = Field(
        None,
        description="Server secret from which each owner's webhook secret is derived; default "
        "a random key kept in the data dir (set it when API and workers do not share one).",
    )
    silent_marker: str = Field(
        "[SILENT]",
        description="An agent output that is exactly this (trimmed) is never delivered; empty: "
        "no marker.",
    )
    # Semantic only-news (docs/api.md, "Only news"; docs/operations.md, "Embeddings").
    embeddings_url: str | None = Field(
        None,
        description="Base URL of an OpenAI-compatible embeddings API (`POST {url}/embeddings`); "
        'unset: `only_if_changed: "semantic"` is refused.',
    )
    embeddings_model: str = Field(
        "text-embedding-3-small", description="The `model` sent to the embeddings API."
    )
    embeddings_api_key: str | None = Field(
        None, description="Bearer token of the embeddings API; unset: no Authorization header."
    )
    embeddings_timeout_seconds: float = Field(
        10, gt=0, description="Timeout of one embeddings request; past it, the exact comparison."
    )
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    tick_interval_seconds: int = Field(
        30, ge=0, description="Seconds between reconciler ticks; 0 disables the tick."
    )
    retention_days: int = Field(
        90,
        ge=0,
        description="Runs, their events, outbox messages, chain runs and resolved incidents "
        "older than this many days are pruned by the tick; 0 keeps everything; at least "
        f'{MIN_RETENTION_DAYS} (docs/operations.md, "Retention").',
    )
    audit_retention_days: int = Field(
        365,
        ge=0,
        description="Audit events older than this many days are pruned by the tick; 0 keeps "
        'them all (docs/api.md, "Audit log").',
    )
    idempotency_wait_seconds: float = Field(
        20,
        ge=0,
        le=25,
        description="How long a request waits for the first request with its Idempotency-Key "
        "to answer before a 409 (below the 30 s request deadline).",
    )
    rate_limit: str | None = Field(
        None,
        pattern=r"^[1-9][0-9]{0,8}/(second|minute|hour|day)$",
        description="Requests per key and window, e.g. `600/minute`, counted in the index "
        'across every API process; unset: no rate limit (docs/api.md, "Rate limit").',
    )

    @field_validator("retention_days")
    @classmethod
    def _month_of_runs_kept(cls, days: int) -> int:
        if 0 < days < MIN_RETENTION_DAYS:
            raise ValueError(
                f"must be 0 (keep everything) or at least {MIN_RETENTION_DAYS} days: budgets "
                "and job stats read the runs of the last month"
            )
        return days

    @property
    def resolved_database_url(self) -> str:
        """The index URL: the setting, or a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'index.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
