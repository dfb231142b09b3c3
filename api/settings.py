"""Settings, read once from the environment (prefix ``AGENT_SCHEDULER_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    port: int = Field(8787, description="API port.")
    public_url: str | None = Field(None, description="Base URL the API is reached at.")

    temporal_address: str = Field("127.0.0.1:7233", description="Temporal frontend host:port.")
    temporal_namespace: str = Field("default", description="Temporal namespace.")
    temporal_tls_cert: Path | None = Field(None, description="Client certificate (mTLS).")
    temporal_tls_key: Path | None = Field(None, description="Client key (mTLS).")
    temporal_api_key: str | None = Field(None, description="Temporal Cloud API key.")
    temporal_ui_url: str = Field(
        "http://127.0.0.1:8233", description="Temporal Web UI base URL, for run links."
    )
    task_queue: str = Field("agent-scheduler", description="Task queue of the worker.")

    agents_file: Path | None = Field(None, description="TOML file that configures agents.")
    allow_private_targets: bool = Field(
        False, description="Allow http and private/loopback delivery targets (dev turns it on)."
    )
    catchup_window_seconds: int = Field(
        300, description="How late a missed fire may still run after an outage (Temporal min 10)."
    )

    slack_token: str | None = None
    slack_api_url: str = "https://slack.com/api"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "agent-scheduler@localhost"
    smtp_starttls: bool = True
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    tick_interval_seconds: int = Field(30, ge=1)

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
