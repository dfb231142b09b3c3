"""Retention: each tick prunes a bounded batch of each table's rows older than
``AGENT_SCHEDULER_RETENTION_DAYS`` (docs/operations.md, "Retention").

A batch per table and tick keeps a tick over a large backlog short; the next ticks go on where
it stopped. Each table is pruned in a transaction of its own, so no lock is held across them.
Audit events have their own period, ``AGENT_SCHEDULER_AUDIT_RETENTION_DAYS``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial

from activities.tick.scope import TickScope, log
from api.core import metrics
from api.core.index import retention as index_retention
from domain.delivery import SEMANTIC_COMPARED

# Rows deleted per table and tick, at most.
BATCH = 1000

# Each table's prune, in the order a tick runs them: (table, delete(conn, before=, limit=)).
_PRUNED: list[tuple[str, Callable[..., Awaitable[int]]]] = [
    ("runs", partial(index_retention.prune_runs, keep_delivered=SEMANTIC_COMPARED)),
    ("job_events", index_retention.prune_job_events),
    ("chain_runs", index_retention.prune_chain_runs),
    ("outbox", index_retention.prune_outbox),
]


async def prune(tick: TickScope) -> dict[str, int]:
    """Delete one batch of each table's rows older than the retention period; answers how many
    went, per table (only tables that lost rows). A period of 0 keeps its tables whole."""
    pruned: dict[str, int] = {}
    if audit_days := tick.settings.audit_retention_days:
        async with tick.engine.begin() as conn:
            pruned["audit_events"] = await index_retention.prune_audit_events(
                conn, before=tick.now - timedelta(days=audit_days), limit=BATCH
            )
    days = tick.settings.retention_days
    if days == 0:
        return _counted(pruned, None)
    before = tick.now - timedelta(days=days)
    for table, delete in _PRUNED:
        async with tick.engine.begin() as conn:
            pruned[table] = await delete(conn, before=before, limit=BATCH)
    async with tick.engine.begin() as conn:
        found = await index_retention.prune_incidents(conn, before=before, limit=BATCH)
        pruned["incidents"], pruned["incident_notifications"] = found
    return _counted(pruned, before)


def _counted(pruned: dict[str, int], before: datetime | None) -> dict[str, int]:
    """The tables that lost rows, counted in the metrics and logged."""
    pruned = {table: n for table, n in pruned.items() if n}
    for table, n in pruned.items():
        metrics.PRUNED_ROWS.labels(table).inc(n)
    if pruned:
        since = f" that ended before {before.date()}" if before is not None else ""
        log.info("tick pruned rows%s: %s", since, pruned)
    return pruned
