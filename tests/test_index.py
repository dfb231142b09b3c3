"""The index on SQLite and PostgreSQL: migrations, aware UTC times, API keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from api.core.index.db import alembic_config, make_engine, make_sessionmaker, migrate, sync_url
from api.core.index.keys import create_key, hash_key, list_keys, owner_of, revoke_key
from api.core.index.models import Job, UTCDateTime, ticks


def test_migrations_create_exactly_the_models(database_url: str) -> None:
    migrate(database_url)
    migrate(database_url)  # idempotent: every start runs it
    engine = sa.create_engine(sync_url(database_url), poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert diff == []


async def test_times_come_back_aware_in_utc(database_url: str) -> None:
    migrate(database_url)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    created = datetime(2027, 3, 14, 2, 30, tzinfo=timezone(timedelta(hours=-5)))
    async with sessions() as session:
        session.add(
            Job(
                id="job_t",
                owner="o",
                name="n",
                goal="g",
                agent_id="echo",
                timezone="UTC",
                schedule={"type": "every", "interval": 60},
                status="active",
                timeout_seconds=1,
                overlap="skip",
                max_consecutive_failures=5,
                created_at=created,
                updated_at=created,
            )
        )
        await session.commit()
    async with sessions() as session:
        job = await session.get(Job, "job_t")
        assert job is not None
        assert job.created_at == created and job.created_at.tzinfo == UTC
        assert job.schedule == {"type": "every", "interval": 60}
    # Times written by hand (whole seconds, or with an offset) come back the same way.
    async with engine.begin() as conn:
        await conn.execute(
            sa.text("UPDATE jobs SET updated_at = '2027-03-14 07:30:00', last_run_at = :at"),
            {"at": "2027-03-14T09:30:00+02:00"},
        )
    async with sessions() as session:
        job = await session.get(Job, "job_t")
        assert job is not None
        assert job.updated_at == job.last_run_at == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)
        assert job.updated_at.tzinfo == job.last_run_at.tzinfo == UTC
    await engine.dispose()


async def test_keys_are_stored_hashed_and_can_be_revoked(database_url: str) -> None:
    migrate(database_url)
    engine = make_engine(database_url)
    async with make_sessionmaker(engine)() as session:
        row, plaintext = await create_key(session, owner="alice")
        assert plaintext.startswith("sk_") and len(plaintext) > 40
        assert row.id.startswith("key_") and row.key_hash == hash_key(plaintext)
        assert plaintext not in (row.key_hash, row.prefix)
        assert await owner_of(session, plaintext=plaintext) == "alice"
        assert await owner_of(session, plaintext=plaintext + "x") is None
        assert [k.id for k in await list_keys(session)] == [row.id]

        assert await revoke_key(session, key_id=row.id)
        assert await owner_of(session, plaintext=plaintext) is None
        assert not await revoke_key(session, key_id="key_missing")
    await engine.dispose()


def test_migration_0007_moves_next_fire_refreshes_out_of_tick_repairs(database_url: str) -> None:
    migrate(database_url)
    command.downgrade(alembic_config(database_url), "0006_api_minutes")
    engine = sa.create_engine(sync_url(database_url), poolclass=sa.pool.NullPool)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    old = sa.table(
        "ticks",
        *(sa.column(name) for name in ("workflow_id", "jobs_checked", "schedules_checked")),
        sa.column("runs_checked"),
        sa.column("started_at", UTCDateTime()),
        sa.column("finished_at", UTCDateTime()),
        sa.column("repairs", sa.JSON()),
    )
    recorded = [
        {"next_run_at_refreshed": 3, "runs_recorded": 0, "schedules_recreated": 1},
        {"runs_recorded": 0},
        {"runs_recorded": 2},
    ]
    with engine.begin() as conn:
        assert "next_run_at_refreshed" not in {
            c["name"] for c in sa.inspect(conn).get_columns("ticks")
        }
        conn.execute(
            old.insert(),
            [
                {
                    "workflow_id": f"t{i}",
                    "jobs_checked": 0,
                    "schedules_checked": 0,
                    "runs_checked": 0,
                    "started_at": at,
                    "finished_at": at,
                    "repairs": repairs,
                }
                for i, repairs in enumerate(recorded)
            ],
        )
    migrate(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(ticks.c.repairs, ticks.c.next_run_at_refreshed).order_by(ticks.c.workflow_id)
        ).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [
        ({"schedules_recreated": 1}, 3),
        ({}, 0),
        ({"runs_recorded": 2}, 0),
    ]
