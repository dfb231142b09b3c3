"""totals: run outcomes per hour and live jobs per status kept by triggers; activity per hour

Revision ID: 0005_totals
Revises: 0004_insight

``run_hours`` and ``job_counts`` are kept by triggers on ``runs`` and ``jobs`` (below, one set
per backend), so every write path — the API, the run recorder, the tick's repairs, purges —
keeps them exact without knowing of them. Existing rows are counted in when the tables are made.

On SQLite a later batch migration that recreates ``runs`` or ``jobs`` drops their triggers:
such a migration must create them again (``_create_sqlite_triggers``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_totals"
down_revision: str | None = "0004_insight"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Runs whose outcome the agent decided (index/stats.py OUTCOMES), frozen as of this revision.
_OUTCOME = "{row}.completed_at IS NOT NULL AND {row}.status IN ('completed', 'failed', 'timed_out')"
_SQLITE_HOUR = "CAST(strftime('%s', {row}.completed_at) AS INTEGER) / 3600"
_POSTGRES_HOUR = "floor(extract(epoch FROM {row}.completed_at) / 3600)::integer"


def _run_hours_add(hour: str, row: str) -> str:
    return f"""
        INSERT INTO run_hours (owner, hour, finished, completed, durations, duration_sum)
        SELECT {row}.owner, {hour.format(row=row)}, 1,
               CASE WHEN {row}.status = 'completed' THEN 1 ELSE 0 END,
               CASE WHEN {row}.duration_seconds IS NULL THEN 0 ELSE 1 END,
               COALESCE({row}.duration_seconds, 0)
        WHERE {_OUTCOME.format(row=row)}
        ON CONFLICT (owner, hour) DO UPDATE SET
            finished = run_hours.finished + excluded.finished,
            completed = run_hours.completed + excluded.completed,
            durations = run_hours.durations + excluded.durations,
            duration_sum = run_hours.duration_sum + excluded.duration_sum;"""


def _run_hours_remove(hour: str, row: str) -> str:
    return f"""
        UPDATE run_hours SET
            finished = finished - 1,
            completed = completed - CASE WHEN {row}.status = 'completed' THEN 1 ELSE 0 END,
            durations = durations - CASE WHEN {row}.duration_seconds IS NULL THEN 0 ELSE 1 END,
            duration_sum = duration_sum - COALESCE({row}.duration_seconds, 0)
        WHERE owner = {row}.owner AND hour = {hour.format(row=row)}
          AND {_OUTCOME.format(row=row)};"""


def _job_counts_add(row: str) -> str:
    return f"""
        INSERT INTO job_counts (owner, status, count)
        SELECT {row}.owner, {row}.status, 1 WHERE {row}.deleted_at IS NULL
        ON CONFLICT (owner, status) DO UPDATE SET count = job_counts.count + 1;"""


def _job_counts_remove(row: str) -> str:
    return f"""
        UPDATE job_counts SET count = count - 1
        WHERE owner = {row}.owner AND status = {row}.status AND {row}.deleted_at IS NULL;"""


_RUN_COLUMNS = "owner, status, completed_at, duration_seconds"
_JOB_COLUMNS = "owner, status, deleted_at"


def _create_sqlite_triggers() -> None:
    h = _SQLITE_HOUR
    for name, event, body in [
        ("run_hours_insert", "INSERT ON runs", _run_hours_add(h, "NEW")),
        ("run_hours_delete", "DELETE ON runs", _run_hours_remove(h, "OLD")),
        (
            "run_hours_update",
            f"UPDATE OF {_RUN_COLUMNS} ON runs",
            _run_hours_remove(h, "OLD") + _run_hours_add(h, "NEW"),
        ),
        ("job_counts_insert", "INSERT ON jobs", _job_counts_add("NEW")),
        ("job_counts_delete", "DELETE ON jobs", _job_counts_remove("OLD")),
        (
            "job_counts_update",
            f"UPDATE OF {_JOB_COLUMNS} ON jobs",
            _job_counts_remove("OLD") + _job_counts_add("NEW"),
        ),
    ]:
        op.execute(f"CREATE TRIGGER {name} AFTER {event} FOR EACH ROW BEGIN {body} END")


def _create_postgres_triggers() -> None:
    h = _POSTGRES_HOUR
    for table, name, columns, remove, add in [
        ("runs", "run_hours", _RUN_COLUMNS, _run_hours_remove(h, "OLD"), _run_hours_add(h, "NEW")),
        ("jobs", "job_counts", _JOB_COLUMNS, _job_counts_remove("OLD"), _job_counts_add("NEW")),
    ]:
        op.execute(
            f"""CREATE FUNCTION {name}_apply() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP <> 'INSERT' THEN {remove} END IF;
                IF TG_OP <> 'DELETE' THEN {add} END IF;
                RETURN NULL;
            END $$"""
        )
        op.execute(
            f"CREATE TRIGGER {name} AFTER INSERT OR DELETE OR UPDATE OF {columns} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {name}_apply()"
        )


def upgrade() -> None:
    op.create_table(
        "activity_hours",
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("owner", "hour"),
    )
    op.create_table(
        "run_hours",
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("finished", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("durations", sa.Integer(), nullable=False),
        sa.Column("duration_sum", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("owner", "hour"),
    )
    op.create_table(
        "job_counts",
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("owner", "status"),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    hour = (_POSTGRES_HOUR if postgres else _SQLITE_HOUR).format(row="runs")
    op.execute(
        f"""INSERT INTO run_hours (owner, hour, finished, completed, durations, duration_sum)
        SELECT owner, {hour}, count(*), sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END),
               count(duration_seconds), COALESCE(sum(duration_seconds), 0)
        FROM runs WHERE {_OUTCOME.format(row="runs")} GROUP BY owner, {hour}"""
    )
    op.execute(
        """INSERT INTO job_counts (owner, status, count)
        SELECT owner, status, count(*) FROM jobs WHERE deleted_at IS NULL GROUP BY owner, status"""
    )
    op.execute(
        """INSERT INTO activity_hours (owner, hour, count)
        SELECT owner, bucket / 4, sum(count) FROM activity_buckets GROUP BY owner, bucket / 4"""
    )
    if postgres:
        _create_postgres_triggers()
    else:
        _create_sqlite_triggers()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, name in [("runs", "run_hours"), ("jobs", "job_counts")]:
            op.execute(f"DROP TRIGGER {name} ON {table}")
            op.execute(f"DROP FUNCTION {name}_apply()")
    else:
        for name in ["run_hours", "job_counts"]:
            for event in ["insert", "delete", "update"]:
                op.execute(f"DROP TRIGGER {name}_{event}")
    op.drop_table("job_counts")
    op.drop_table("run_hours")
    op.drop_table("activity_hours")
