"""A job's own timing against a real Temporal server: jitter, catch-up window (docs/time.md,
"Runs, ids and catch-up")."""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from api.app import create_app
from api.cli.devserver import DevServer
from api.core.index.keys import create_key
from api.core.settings import Settings
from tests.helpers.api import JOBS, Api, eventually
from tests.helpers.processes import free_ports
from worker import running_worker


def body(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "timed",
        "goal": "say hi",
        "agent_id": "echo",
        "schedule": {"type": "every", "interval": "5m"},
    }
    return data | overrides


async def test_jitter_and_catchup_window_are_the_jobs_own_and_reach_the_schedule(
    api: Api, temporal_client: Client
) -> None:
    alice = await api.headers("alice")
    created = await api.http.post(
        JOBS, json=body(jitter_seconds=30, catchup_window_seconds=60), headers=alice
    )
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["jitter_seconds"] == 30 and job["catchup_window_seconds"] == 60
    described = await temporal_client.get_schedule_handle(job["id"]).describe()
    assert described.schedule.spec.jitter == timedelta(seconds=30)
    assert described.schedule.policy.catchup_window == timedelta(seconds=60)
    # next_run_at is the nominal time: on the 5-minute grid, jitter not added.
    assert job["next_run_at"].endswith(("0:00Z", "5:00Z", "0:00+00:00", "5:00+00:00"))

    plain = (await api.http.post(JOBS, json=body(), headers=alice)).json()
    assert plain["jitter_seconds"] == 0
    assert plain["catchup_window_seconds"] == api.state.settings.catchup_window_seconds == 300
    described = await temporal_client.get_schedule_handle(plain["id"]).describe()
    assert described.schedule.spec.jitter in (None, timedelta(0))
    assert described.schedule.policy.catchup_window == timedelta(seconds=300)

    # PUT changes either; a null window goes back to the deployment's setting.
    updated = await api.http.put(
        f"{JOBS}/{job['id']}",
        json={"jitter_seconds": 5, "catchup_window_seconds": None},
        headers=alice,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["jitter_seconds"] == 5
    assert updated.json()["catchup_window_seconds"] == 300
    described = await temporal_client.get_schedule_handle(job["id"]).describe()
    assert described.schedule.spec.jitter == timedelta(seconds=5)
    assert described.schedule.policy.catchup_window == timedelta(seconds=300)
    # A new schedule keeps the jitter only if the jitter still fits.
    narrow = await api.http.put(
        f"{JOBS}/{job['id']}", json={"schedule": {"type": "every", "interval": 5}}, headers=alice
    )
    assert narrow.status_code == 422
    assert narrow.json()["details"][0]["field"] == "jitter_seconds"


async def test_bad_timing_is_a_422_naming_the_field(api: Api) -> None:
    alice = await api.headers("alice")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"jitter_seconds": 300}, "jitter_seconds"),  # = the 5-minute interval
        ({"jitter_seconds": -1}, "jitter_seconds"),
        ({"jitter_seconds": "10"}, "jitter_seconds"),
        (
            {"jitter_seconds": 86_401, "schedule": {"type": "every", "interval": "7d"}},
            "jitter_seconds",
        ),
        (
            # Fires at :00 and :05 of every hour: the shortest spacing is 5 minutes.
            {"jitter_seconds": 301, "schedule": {"type": "cron", "expression": "0,5 * * * *"}},
            "jitter_seconds",
        ),
        ({"catchup_window_seconds": 9}, "catchup_window_seconds"),
        ({"catchup_window_seconds": 7 * 86_400 + 1}, "catchup_window_seconds"),
        ({"catchup_window_seconds": True}, "catchup_window_seconds"),
    ]
    for overrides, field in cases:
        response = await api.http.post(JOBS, json=body(**overrides), headers=alice)
        assert response.status_code == 422, (overrides, response.text)
        fields = [detail["field"] for detail in response.json()["details"]]
        assert any(f.endswith(field) for f in fields), (overrides, fields)
    ok = await api.http.post(
        JOBS,
        json=body(jitter_seconds=299, schedule={"type": "cron", "expression": "0,5 * * * *"}),
        headers=alice,
    )
    assert ok.status_code == 201, ok.text


async def test_validate_and_calendar_show_nominal_times_and_say_a_jitter_applies(
    api: Api,
) -> None:
    alice = await api.headers("alice")
    answer = await api.http.get(
        "/api/scheduler/validate",
        params={"type": "cron", "value": "*/15 * * * *", "jitter_seconds": 120},
        headers=alice,
    )
    assert answer.status_code == 200
    assert answer.json()["valid"] is True and answer.json()["jitter_seconds"] == 120
    assert all(
        t.endswith(("00:00Z", "15:00Z", "30:00Z", "45:00Z")) for t in answer.json()["next_runs"]
    )
    too_wide = await api.http.get(
        "/api/scheduler/validate",
        params={"type": "cron", "value": "*/15 * * * *", "jitter_seconds": 900},
        headers=alice,
    )
    assert too_wide.json()["valid"] is False
    assert "jitter_seconds" in too_wide.json()["error"]

    job = (
        await api.http.post(
            JOBS,
            json=body(jitter_seconds=45, schedule={"type": "cron", "expression": "0 * * * *"}),
            headers=alice,
        )
    ).json()
    calendar = await api.http.get(
        "/api/scheduler/calendar-data",
        params={"start": job["next_run_at"], "end": _plus_hours(job["next_run_at"], 3)},
        headers=alice,
    )
    assert calendar.status_code == 200, calendar.text
    planned = [e for e in calendar.json()["events"] if e["job_id"] == job["id"]]
    assert len(planned) == 3
    assert all(e["jitter_seconds"] == 45 and e["time"].endswith(":00:00Z") for e in planned)


def _plus_hours(iso: str, hours: int) -> str:
    return (datetime.fromisoformat(iso) + timedelta(hours=hours)).isoformat()


async def test_jittered_runs_start_between_the_nominal_time_and_the_jitter(
    api: Api, worker: Any
) -> None:
    alice = await api.headers("alice")
    job = (
        await api.http.post(
            JOBS,
            json=body(jitter_seconds=4, schedule={"type": "every", "interval": 5}),
            headers=alice,
        )
    ).json()

    async def runs() -> list[dict[str, Any]]:
        page = await api.http.get(f"{JOBS}/{job['id']}/runs", headers=alice)
        return [r for r in page.json()["runs"] if r["status"] != "running"]

    async def three() -> bool:
        return len(await runs()) >= 3

    await eventually(three, "three scheduled runs", timeout=40)
    await api.http.post(f"{JOBS}/{job['id']}/pause", headers=alice)
    lateness = []
    for run in await runs():
        nominal = datetime.fromisoformat(run["scheduled_at"])
        started = datetime.fromisoformat(run["started_at"])
        assert nominal.timestamp() % 5 == 0, run  # the nominal time is on the grid
        late = (started - nominal).total_seconds()
        assert 0 <= late <= 4 + 1, run  # within the jitter (plus a start's latency)
        lateness.append(late)
    # Jitter applies: with 0..4 s drawn per fire, three starts all within 0.1 s is ~1e-5.
    assert max(lateness) > 0.1, lateness


async def test_after_a_temporal_outage_missed_fires_run_within_the_catchup_window_only(
    settings: Settings, tmp_path: Path
) -> None:
    """Temporal frozen (SIGSTOP) across several fires of two every-10 s jobs: the one with a
    10-minute window runs every missed fire once Temporal is back, the one with a 10 s window
    drops those older than 10 s (Temporal counts them missed)."""
    temporal_port, ui_port = free_ports(2)
    server = DevServer(tmp_path / "outage", port=temporal_port, ui_port=ui_port)
    await server.start()
    own = settings.model_copy(update={"temporal_address": server.address})
    client = await Client.connect(server.address, data_converter=pydantic_data_converter)
    app = create_app(own)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test"
            ) as http,
            running_worker(client, own),
        ):
            async with app.state.app.sessions() as session:
                _, key = await create_key(session, owner="alice")
            alice = {"Authorization": f"Bearer {key}"}
            every_10s = {"type": "every", "interval": 10}
            ids = {}
            for name, window in (("short", 10), ("long", 600)):
                answer = await http.post(
                    JOBS,
                    # allow_all: the caught-up fires start together, none skipped as overlap.
                    json=body(
                        name=name,
                        schedule=every_10s,
                        catchup_window_seconds=window,
                        overlap="allow_all",
                    ),
                    headers=alice,
                )
                assert answer.status_code == 201, answer.text
                ids[name] = answer.json()["id"]

            async def nominal_times(name: str) -> set[datetime]:
                page = await http.get(f"{JOBS}/{ids[name]}/runs?limit=100", headers=alice)
                return {
                    datetime.fromisoformat(r["scheduled_at"])
                    for r in page.json()["runs"]
                    if r["status"] == "completed"
                }

            async def both_ran() -> bool:
                return all([await nominal_times("short"), await nominal_times("long")])

            await eventually(both_ran, "a first run of each job", timeout=30)
            assert server.process is not None
            frozen_at = datetime.now().astimezone()
            server.process.send_signal(signal.SIGSTOP)
            await asyncio.sleep(35)
            server.process.send_signal(signal.SIGCONT)
            thawed_at = datetime.now().astimezone()
            missed = [
                datetime.fromtimestamp(second).astimezone()
                for second in range(int(frozen_at.timestamp()) + 1, int(thawed_at.timestamp()))
                if second % 10 == 0
            ]
            assert len(missed) >= 3

            async def long_caught_up() -> bool:
                return set(missed) <= await nominal_times("long")

            try:
                await eventually(long_caught_up, "every missed fire of the 600 s window", 30)
            except AssertionError:
                raise AssertionError((missed, sorted(await nominal_times("long")))) from None
            short = await nominal_times("short")
            # Older than the 10 s window when Temporal came back: never run.
            stale = [t for t in missed if t < thawed_at - timedelta(seconds=12)]
            assert stale and not (set(stale) & short), (stale, short)
            info = {
                name: (await client.get_schedule_handle(ids[name]).describe()).info for name in ids
            }
            assert info["short"].num_actions_missed_catchup_window >= len(stale)
            assert info["long"].num_actions_missed_catchup_window == 0

            # explain names the cause of each.
            async def explain(name: str, at: datetime) -> dict[str, Any]:
                answer = await http.get(
                    f"{JOBS}/{ids[name]}/explain", params={"at": at.isoformat()}, headers=alice
                )
                assert answer.status_code == 200, answer.text
                return dict(answer.json())

            dropped = await explain("short", stale[0])
            assert dropped["verdict"] == "did_not_run"
            assert [r["code"] for r in dropped["reasons"]] == ["missed_catchup_window"]
            assert dropped["reasons"][0]["details"]["catchup_window_seconds"] == 10
            caught_up = await explain("long", stale[0])
            assert caught_up["verdict"] == "ran" and caught_up["run"]["status"] == "completed"
    finally:
        await server.stop()
