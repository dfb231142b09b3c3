"""Queries on runs, scoped to an owner's job."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col, select

from api.core.index.db import upsert_insert
from api.core.index.models import Job, Run, chain_jobs, jobs, runs, utcnow
from api.core.tracing import current_trace_id
from domain.contract.runs import RunFinish, RunStart, Trigger
from domain.limits import storable


async def get_run(session: AsyncSession, *, job_id: str, run_id: str) -> Run | None:
    """A run of the job, or None."""
    result = await session.execute(
        select(Run).where(col(Run.id) == run_id, col(Run.job_id) == job_id)
    )
    return result.scalar_one_or_none()


async def list_runs(
    session: AsyncSession, *, job_id: str, status: str | None, limit: int, offset: int
) -> tuple[list[Run], int]:
    """A page of the job's runs, newest first, and how many match in total."""
    where: list[sa.ColumnElement[bool]] = [col(Run.job_id) == job_id]
    if status is not None:
        where.append(col(Run.status) == status)
    total = await session.execute(select(sa.func.count()).select_from(Run).where(*where))
    rows = await session.execute(
        select(Run)
        .where(*where)
        .order_by(col(Run.started_at).desc(), col(Run.id).desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.scalars()), int(total.scalar_one())


async def running_run_ids(session: AsyncSession, *, job_id: str) -> list[str]:
    """Ids of the job's runs still running."""
    rows = await session.execute(
        select(Run.id).where(col(Run.job_id) == job_id, col(Run.status) == "running")
    )
    return list(rows.scalars())


async def insert_manual_run(
    session: AsyncSession,
    *,
    run_id: str,
    job_id: str,
    owner: str,
    trigger: Trigger = "manual",
    input: Any = None,
) -> None:
    """Record a triggered run (``manual`` or ``hook``, with its ``input``) as ``running`` unless
    it is there already (its worker, or an earlier attempt of a keyed trigger, recorded it), and
    commit (one Core statement: it is on every trigger's path)."""
    await session.execute(
        upsert_insert(session)(runs)
        .values(
            id=run_id,
            job_id=job_id,
            owner=owner,
            trigger=trigger,
            input=input,
            status="running",
            attempts=0,
            started_at=utcnow(),
            # The request's trace, which its workflow continues (docs/operations.md, "Traces").
            trace_id=current_trace_id(),
        )
        .on_conflict_do_nothing(index_elements=[runs.c.id])
    )
    await session.commit()


async def forget_run(session: AsyncSession, *, run_id: str) -> None:
    """Remove a run whose workflow never started, and commit."""
    await session.execute(sa.delete(Run).where(col(Run.id) == run_id))
    await session.commit()


# The worker's queries: Core statements on a connection the caller's transaction owns.


async def upsert_started_run(conn: AsyncConnection, *, start: RunStart) -> None:
    """Insert the run as ``running``, or only fill in its Temporal run id if it is there
    already (the API inserted a triggered one)."""
    values = start.model_dump(exclude={"run_id"}) | {"id": start.run_id}
    await conn.execute(
        upsert_insert(conn)(runs)
        .values(status="running", attempts=0, **values)
        .on_conflict_do_update(
            index_elements=[runs.c.id],
            set_={
                "temporal_run_id": sa.func.coalesce(runs.c.temporal_run_id, start.temporal_run_id),
                "trace_id": sa.func.coalesce(runs.c.trace_id, start.trace_id),
            },
        )
    )


async def runs_with_jobs(conn: AsyncConnection, *, run_ids: Iterable[str]) -> list[sa.Row[Any]]:
    """One row a run found: its ``run_id``, ``run_status``, ``run_started_at`` and
    ``run_trigger``, whether its job roots a chain (``chain_root``), and its job's columns
    (None where the job is gone).

    The runs and their jobs are locked until the transaction ends, so two recorders ending
    the same run (a worker's and a tick's) or runs of one job cannot both read it ``running``,
    nor both count from the same job counters. PostgreSQL locks the rows, jobs first and in id
    order so two batches cannot deadlock; SQLite takes its one write lock before the read
    (pysqlite would begin the transaction only at the first write, after the read).
    """
    ids = sorted(set(run_ids))
    their_jobs = jobs.c.id.in_(sa.select(runs.c.job_id).where(runs.c.id.in_(ids)))
    if conn.dialect.name == "sqlite":
        # A write no trigger watches: it begins the transaction and takes the write lock.
        await conn.execute(jobs.update().where(their_jobs).values(run_count=jobs.c.run_count))
    else:
        await conn.execute(
            sa.select(jobs.c.id).where(their_jobs).order_by(jobs.c.id).with_for_update()
        )
    rows = await conn.execute(
        sa.select(
            runs.c.id.label("run_id"),
            runs.c.status.label("run_status"),
            runs.c.started_at.label("run_started_at"),
            runs.c.trigger.label("run_trigger"),
            sa.exists()
            .where(chain_jobs.c.job_id == runs.c.job_id, chain_jobs.c.is_root)
            .label("chain_root"),
            jobs,
        )
        .select_from(runs.outerjoin(jobs, jobs.c.id == runs.c.job_id))
        .where(runs.c.id.in_(ids))
        .order_by(runs.c.id)
        .with_for_update(of=runs)
    )
    return list(rows.all())


async def end_runs(
    conn: AsyncConnection, *, ends: Sequence[tuple[RunFinish, datetime | None]]
) -> None:
    """Write each ``(finish, started_at)`` run end, all in one statement (executemany)."""
    if ends:
        await conn.execute(_END_RUN, [_ended(finish, started_at) for finish, started_at in ends])


def _ended(finish: RunFinish, started_at: datetime | None) -> dict[str, Any]:
    """Parameters of ``_END_RUN`` for one run: its id and the columns its end sets.

    Every text is made storable here, whatever it came from (an agent's answer is cleaned at
    the agent boundary, but an error can quote any server's answer): a NUL or a lone
    surrogate would fail the write on PostgreSQL or SQLite on every retry.
    """
    duration = (finish.completed_at - started_at).total_seconds() if started_at else None
    texts: dict[str, Any]
    texts, _ = storable(
        {
            "attempt_errors": [e.model_dump(mode="json") for e in finish.attempt_errors],
            "output": finish.output,
            "data": finish.data,
            "error": finish.error,
            "condition_result": finish.condition_result,
            "delivery": finish.delivery,
            "skip_reason": finish.skip_reason,
            "answer_notes": finish.answer_notes or None,
        }
    )
    return texts | {
        "b_run_id": finish.run_id,
        "status": finish.status,
        "temporal_run_id": finish.temporal_run_id,
        "completed_at": finish.completed_at,
        "duration_seconds": duration,
        "attempts": finish.attempts,
        "attempt_dispatches": [d.model_dump(mode="json") for d in finish.attempt_dispatches],
        "input_tokens": finish.usage.input_tokens if finish.usage else None,
        "output_tokens": finish.usage.output_tokens if finish.usage else None,
        "cost_usd": finish.usage.cost_usd if finish.usage else None,
        "truncated": bool(finish.cut),
        "agent_id": finish.agent_id,
    }


# One statement for every run of a batch (executemany); the SET columns are the parameters'.
_END_RUN = runs.update().where(runs.c.id == sa.bindparam("b_run_id"))


async def stale_running_runs(
    conn: AsyncConnection, *, started_before: datetime, limit: int
) -> dict[str, tuple[str, datetime | None]]:
    """Runs of any job that are still running and started before ``started_before``, the
    oldest ``limit`` of them: run id -> (job id, started at)."""
    rows = await conn.execute(
        sa.select(runs.c.id, runs.c.job_id, runs.c.started_at)
        .where(runs.c.status == "running", runs.c.started_at < started_before)
        .order_by(runs.c.started_at)
        .limit(limit)
    )
    return {row.id: (row.job_id, row.started_at) for row in rows}


async def finished_run_ids(conn: AsyncConnection, *, run_ids: list[str]) -> set[str]:
    """Which of ``run_ids`` are in the index and no longer running."""
    rows = await conn.execute(
        sa.select(runs.c.id).where(runs.c.id.in_(run_ids), runs.c.status != "running")
    )
    return set(rows.scalars())


async def run_job_id(conn: AsyncConnection, *, run_id: str) -> str | None:
    """The job id of the run, or None if the run is not in the index."""
    row = (await conn.execute(sa.select(runs.c.job_id).where(runs.c.id == run_id))).first()
    return row.job_id if row is not None else None


async def previous_run(
    conn: AsyncConnection, *, job_id: str, run_id: str, statuses: Sequence[str]
) -> dict[str, Any] | None:
    """The ``status``, ``output`` and ``data`` of the job's latest run other than ``run_id``
    that ended with one of ``statuses``, or None."""
    rows = await conn.execute(
        sa.select(runs.c.status, runs.c.output, runs.c.data)
        .where(runs.c.job_id == job_id, runs.c.id != run_id, runs.c.status.in_(statuses))
        .order_by(runs.c.started_at.desc(), runs.c.id.desc())
        .limit(1)
    )
    row = rows.first()
    return dict(row._mapping) if row is not None else None


async def run_row(conn: AsyncConnection, *, job_id: str, run_id: str) -> sa.Row[Any] | None:
    """The row of a run of the job, or None."""
    rows = await conn.execute(sa.select(runs).where(runs.c.id == run_id, runs.c.job_id == job_id))
    return rows.first()


async def set_run_delivery(conn: AsyncConnection, *, run_id: str, delivery: dict[str, Any]) -> None:
    """Write the run's ``delivery`` field."""
    await conn.execute(runs.update().where(runs.c.id == run_id).values(delivery=delivery))


async def runs_in_range(
    session: AsyncSession, *, owner: str, start: datetime, end: datetime
) -> Sequence[sa.Row[str, str, str, datetime | None, str, str]]:
    """The owner's runs of live jobs that happened in ``[start, end)``: their ``id``,
    ``job_id``, ``status``, ``started_at``, the job's ``name`` and the run's ``trigger``.

    A backfilled run happened at its nominal time (``scheduled_at``), and ``started_at`` is
    that time for it here; every other run at its ``started_at``."""
    backfilled = col(Run.trigger) == "backfill"
    when = sa.case((backfilled, col(Run.scheduled_at)), else_=col(Run.started_at))
    rows = await session.execute(
        sa.select(
            col(Run.id),
            col(Run.job_id),
            col(Run.status),
            when.label("started_at"),
            col(Job.name),
            col(Run.trigger),
        )
        .join(Job, col(Job.id) == col(Run.job_id))
        .where(
            col(Run.owner) == owner,
            col(Job.deleted_at).is_(None),
            sa.or_(
                sa.and_(~backfilled, col(Run.started_at) >= start, col(Run.started_at) < end),
                sa.and_(backfilled, col(Run.scheduled_at) >= start, col(Run.scheduled_at) < end),
            ),
        )
    )
    return rows.all()


def _tokens() -> sa.ColumnElement[Any]:
    return sa.func.coalesce(runs.c.input_tokens, 0) + sa.func.coalesce(runs.c.output_tokens, 0)


async def budget_spent(
    conn: AsyncConnection,
    *,
    job_id: str,
    run_id: str,
    at: datetime,
    day: tuple[datetime, datetime],
    month: tuple[datetime, datetime],
) -> tuple[int, int, float]:
    """What the job used in a run's budget windows, the run itself excluded: ``(runs started
    earlier in the day, not skipped; tokens of the day's runs; cost of the month's runs)``.

    "Earlier" is by start (then id), so of runs starting together the first ones count against
    the later ones, never each against the other. A run's start is its index row's, or ``at``.
    """
    started = await conn.execute(sa.select(runs.c.started_at).where(runs.c.id == run_id))
    mine = started.scalar() or at
    in_day = sa.and_(runs.c.started_at >= day[0], runs.c.started_at < day[1])
    earlier = sa.or_(
        runs.c.started_at < mine, sa.and_(runs.c.started_at == mine, runs.c.id < run_id)
    )
    other = runs.c.id != run_id
    counted = sa.and_(in_day, earlier, runs.c.status != "skipped")

    def total(when: sa.ColumnElement[bool], value: Any, zero: Any) -> sa.ColumnElement[Any]:
        return sa.func.coalesce(sa.func.sum(sa.case((when, value), else_=zero)), zero)

    row = (
        await conn.execute(
            sa.select(
                total(counted, 1, 0),
                total(sa.and_(in_day, other), _tokens(), 0),
                total(other, sa.func.coalesce(runs.c.cost_usd, 0.0), 0.0),
            ).where(
                runs.c.job_id == job_id,
                runs.c.started_at >= month[0],
                runs.c.started_at < month[1],
            )
        )
    ).one()
    return int(row[0]), int(row[1]), float(row[2])


async def usage_totals(session: AsyncSession, *, job_id: str) -> Any:
    """The job's reported usage over all its runs: ``input_tokens``, ``output_tokens``,
    ``cost_usd`` (each None when no run reported it) and ``runs`` (how many reported any)."""
    reported = sa.or_(
        col(Run.input_tokens).is_not(None),
        col(Run.output_tokens).is_not(None),
        col(Run.cost_usd).is_not(None),
    )
    rows = await session.execute(
        sa.select(
            sa.func.sum(col(Run.input_tokens)).label("input_tokens"),
            sa.func.sum(col(Run.output_tokens)).label("output_tokens"),
            sa.func.sum(col(Run.cost_usd)).label("cost_usd"),
            sa.func.count().label("runs"),
        ).where(col(Run.job_id) == job_id, reported)
    )
    return rows.one()


async def last_delivered_output(
    conn: AsyncConnection, *, job_id: str, run_id: str
) -> tuple[str, str | None] | None:
    """The ``(id, output)`` of the job's latest run other than ``run_id`` whose delivery went
    through (``delivery.status`` is ``delivered``), or None."""
    rows = await conn.execute(
        sa.select(runs.c.id, runs.c.output)
        .where(
            runs.c.job_id == job_id,
            runs.c.id != run_id,
            runs.c.delivery["status"].as_string() == "delivered",
        )
        .order_by(runs.c.started_at.desc(), runs.c.id.desc())
        .limit(1)
    )
    row = rows.first()
    return None if row is None else (row.id, row.output)


async def last_delivered_outputs(
    conn: AsyncConnection, *, job_id: str, run_id: str, limit: int
) -> list[tuple[str, str | None]]:
    """The ``(id, output)`` of the job's latest ``limit`` runs other than ``run_id`` whose
    delivery went through, newest first."""
    rows = await conn.execute(
        sa.select(runs.c.id, runs.c.output)
        .where(
            runs.c.job_id == job_id,
            runs.c.id != run_id,
            runs.c.delivery["status"].as_string() == "delivered",
        )
        .order_by(runs.c.started_at.desc(), runs.c.id.desc())
        .limit(limit)
    )
    return [(row.id, row.output) for row in rows]


async def run_running_at(
    session: AsyncSession, *, job_id: str, at: datetime, other_than: str
) -> Run | None:
    """A run of the job (not ``other_than``) that had started and not ended at ``at``."""
    rows = await session.execute(
        sa.select(Run)
        .where(
            col(Run.job_id) == job_id,
            col(Run.id) != other_than,
            col(Run.started_at) <= at,
            sa.or_(col(Run.completed_at).is_(None), col(Run.completed_at) > at),
        )
        .order_by(col(Run.started_at).desc())
        .limit(1)
    )
    return rows.scalars().first()
