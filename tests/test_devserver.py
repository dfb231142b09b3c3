"""The embedded Temporal dev server keeps its state in a write-ahead-logged SQLite file."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
)

from api.cli.devserver import DevServer
from tests.helpers.processes import free_ports

pytestmark = pytest.mark.server  # starts the Temporal dev server (tests/README.md)


async def test_the_dev_server_logs_ahead_and_keeps_schedules_across_a_restart(
    tmp_path: Path,
) -> None:
    temporal_port, ui_port = free_ports(2)
    server = DevServer(tmp_path / "dev", port=temporal_port, ui_port=ui_port)
    await server.start()
    try:
        client = await Client.connect(server.address)
        await client.create_schedule(
            "kept",
            Schedule(
                action=ScheduleActionStartWorkflow("Nothing", id="nothing", task_queue="none"),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
            ),
        )
        with sqlite3.connect(server.db_path) as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        await server.stop()
    await server.start()
    try:
        client = await Client.connect(server.address)
        described = await client.get_schedule_handle("kept").describe()
        assert described.schedule.spec.intervals[0].every == timedelta(hours=1)
    finally:
        await server.stop()
