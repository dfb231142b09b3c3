"""The incidents API and alert settings (docs/api.md, "Incidents"): owner scoping, filters,
paging, acknowledgement, and the 422s of bad alerts and deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from api.core.index import incidents as index_incidents
from api.core.index.models import jobs
from tests.helpers.api import JOBS, Api, create

INCIDENTS = "/api/scheduler/incidents"
ALERTS = "/api/scheduler/settings/alerts"
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def open_incident(api: Api, job_id: str, kind: str, minutes: int) -> str:
    """Open an incident as the recorder or the tick would, ``minutes`` after ``AT``."""
    async with api.state.sessions() as session:
        job = (await session.execute(sa.select(jobs).where(jobs.c.id == job_id))).one()
        alerts = await index_incidents.alerts_of(session, job)
        incident_id = await index_incidents.open_incident(
            session,
            job=job,
            kind=kind,
            reason=f"{kind} on purpose",
            at=AT + timedelta(minutes=minutes),
            alerts=alerts,
        )
        await session.commit()
    assert incident_id is not None
    return incident_id


class TestListIncidents:
    async def test_newest_first_filtered_and_paged(self, api: Api) -> None:
        alice = await api.headers("alice")
        one = await create(api, alice, name="one")
        two = await create(api, alice, name="two")
        first = await open_incident(api, one["id"], "failing", 0)
        second = await open_incident(api, one["id"], "missed", 1)
        third = await open_incident(api, two["id"], "failing", 2)
        page = (await api.http.get(INCIDENTS, headers=alice)).json()
        assert [i["id"] for i in page["incidents"]] == [third, second, first]
        assert page["count"] == 3
        page = await api.http.get(INCIDENTS, params={"limit": 1, "offset": 1}, headers=alice)
        assert [i["id"] for i in page.json()["incidents"]] == [second]
        assert page.json()["count"] == 3
        by_job = await api.http.get(INCIDENTS, params={"job_id": one["id"]}, headers=alice)
        assert [i["id"] for i in by_job.json()["incidents"]] == [second, first]
        by_kind = await api.http.get(INCIDENTS, params={"kind": "failing"}, headers=alice)
        assert [i["id"] for i in by_kind.json()["incidents"]] == [third, first]
        resolved = await api.http.get(INCIDENTS, params={"status": "resolved"}, headers=alice)
        assert resolved.json()["count"] == 0

    async def test_at_most_one_open_per_job_and_kind(self, api: Api) -> None:
        alice = await api.headers("alice")
        job = await create(api, alice)
        await open_incident(api, job["id"], "failing", 0)
        async with api.state.sessions() as session:
            row = (await session.execute(sa.select(jobs).where(jobs.c.id == job["id"]))).one()
            again = await index_incidents.open_incident(
                session, job=row, kind="failing", reason="again", at=AT, alerts=None
            )
            assert again is None
            resolved = await index_incidents.resolve_incidents(
                session, job_id=job["id"], kinds=("failing",), reason="fixed", at=AT
            )
            assert len(resolved) == 1
            reopened = await index_incidents.open_incident(
                session, job=row, kind="failing", reason="again", at=AT, alerts=None
            )
            assert reopened is not None
            await session.commit()
        assert (await api.http.get(INCIDENTS, headers=alice)).json()["count"] == 2

    async def test_bad_filters_are_422(self, api: Api) -> None:
        alice = await api.headers("alice")
        for params in ({"status": "closed"}, {"kind": "slow"}, {"limit": 0}):
            response = await api.http.get(INCIDENTS, params=params, headers=alice)
            assert response.status_code == 422, params


class TestGetAndAck:
    async def test_another_owners_incident_is_404(self, api: Api) -> None:
        alice, bob = await api.headers("alice"), await api.headers("bob")
        job = await create(api, alice)
        incident = await open_incident(api, job["id"], "failing", 0)
        assert (await api.http.get(f"{INCIDENTS}/{incident}", headers=alice)).status_code == 200
        assert (await api.http.get(f"{INCIDENTS}/{incident}", headers=bob)).status_code == 404
        ack = await api.http.post(f"{INCIDENTS}/{incident}/ack", headers=bob)
        assert ack.status_code == 404
        assert (await api.http.get(INCIDENTS, headers=bob)).json()["count"] == 0
        missing = await api.http.get(f"{INCIDENTS}/inc_nothing", headers=alice)
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"

    async def test_ack_records_who_and_stops_reminders(self, api: Api) -> None:
        alice = await api.headers("alice")
        await api.http.put(
            ALERTS,
            json={"channel": "webhook:https://example.com/h", "remind_every": "6h"},
            headers=alice,
        )
        job = await create(api, alice)
        incident = await open_incident(api, job["id"], "failing", 0)
        before = (await api.http.get(f"{INCIDENTS}/{incident}", headers=alice)).json()
        assert before["next_reminder_at"] is not None and before["channel"].startswith("webhook")
        assert [n["event"] for n in before["notifications"]] == ["opened"]
        response = await api.http.post(f"{INCIDENTS}/{incident}/ack", headers=alice)
        assert response.status_code == 200
        acked = response.json()
        assert acked["acked_by"] == "alice" and acked["acked_at"] is not None
        assert acked["next_reminder_at"] is None
        again = (await api.http.post(f"{INCIDENTS}/{incident}/ack", headers=alice)).json()
        assert again["acked_at"] == acked["acked_at"], "the first acknowledgement stays"
        async with api.state.sessions() as session:
            queued = await index_incidents.remind_due(session, now=AT + timedelta(days=2))
            await session.commit()
        assert queued == []


class TestJobsShowIncidents:
    async def test_job_stats_and_deleted_job(self, api: Api) -> None:
        alice = await api.headers("alice")
        job = await create(api, alice)
        incident = await open_incident(api, job["id"], "missed", 0)
        shown = (await api.http.get(f"{JOBS}/{job['id']}", headers=alice)).json()
        assert shown["open_incidents"] == [
            {"id": incident, "kind": "missed", "opened_at": shown["open_incidents"][0]["opened_at"]}
        ]
        listed = (await api.http.get(JOBS, headers=alice)).json()["jobs"][0]
        assert [i["id"] for i in listed["open_incidents"]] == [incident]
        stats = (await api.http.get("/api/scheduler/stats", headers=alice)).json()
        assert stats["open_incidents"] == 1
        assert (await api.http.delete(f"{JOBS}/{job['id']}", headers=alice)).status_code == 204
        assert (await api.http.get(INCIDENTS, headers=alice)).json()["count"] == 0


class TestAlertSettings:
    async def test_owner_default_round_trip(self, api: Api) -> None:
        alice, bob = await api.headers("alice"), await api.headers("bob")
        assert (await api.http.get(ALERTS, headers=alice)).json() is None
        body = {"channel": "webhook:https://example.com/hook", "remind_every": "6h"}
        response = await api.http.put(ALERTS, json=body, headers=alice)
        assert response.status_code == 200, response.text
        expected = {
            "channel": body["channel"],
            "after_failures": 1,
            "remind_every": "6h",
            "recovery": True,
            "on": ["failing", "missed", "late", "paused"],
        }
        assert (await api.http.get(ALERTS, headers=alice)).json() == expected
        assert (await api.http.get(ALERTS, headers=bob)).json() is None
        assert (await api.http.delete(ALERTS, headers=alice)).status_code == 204
        assert (await api.http.get(ALERTS, headers=alice)).json() is None

    async def test_job_alerts_not_set_own_and_off(self, api: Api) -> None:
        alice = await api.headers("alice")
        job = await create(api, alice)
        assert job["alerts_from"] == "owner" and job["alerts"] is None
        assert job["grace_seconds"] == 300 and job["deadline"] is None
        url = f"{JOBS}/{job['id']}"
        own = {"channel": "webhook:https://127.0.0.1/h", "after_failures": 3}
        updated = (await api.http.put(url, json={"alerts": own}, headers=alice)).json()
        assert updated["alerts_from"] == "job" and updated["alerts"]["after_failures"] == 3
        other = (await api.http.put(url, json={"name": "renamed"}, headers=alice)).json()
        assert other["alerts_from"] == "job", "an update without alerts keeps them"
        off = (await api.http.put(url, json={"alerts": None}, headers=alice)).json()
        assert off["alerts_from"] == "off" and off["alerts"] is None
        back = (await api.http.put(url, json={"alerts_from": "owner"}, headers=alice)).json()
        assert back["alerts_from"] == "owner" and back["alerts"] is None
        both = await api.http.put(url, json={"alerts": own, "alerts_from": "owner"}, headers=alice)
        assert both.status_code == 422 and both.json()["details"][0]["field"] == "alerts_from"
        for refused in (None, "job"):
            answer = await api.http.put(url, json={"alerts_from": refused}, headers=alice)
            assert answer.status_code == 422, refused
        assert (await api.http.get(url, headers=alice)).json()["alerts_from"] == "owner"
        timed = await api.http.put(
            url,
            json={"deadline": {"by": "09:30", "days": "mon-fri"}, "grace_seconds": 60},
            headers=alice,
        )
        assert timed.json()["deadline"] == {"by": "09:30", "days": "mon-fri"}
        assert timed.json()["grace_seconds"] == 60

    @pytest.mark.parametrize(
        ("field", "value", "where"),
        [
            ("alerts", {"channel": "nope"}, "alerts.channel"),
            ("alerts", {"channel": "webhook:https://127.0.0.1/h"}, "alerts.channel"),
            ("alerts", {"channel": "slack:#ops", "after_failures": 0}, "alerts.after_failures"),
            ("alerts", {"channel": "slack:#ops", "remind_every": "10s"}, "alerts.remind_every"),
            ("alerts", {"channel": "slack:#ops", "remind_every": "soon"}, "alerts.remind_every"),
            ("alerts", {"channel": "slack:#ops", "on": ["late", "angry"]}, "alerts.on"),
            ("alerts", {"channel": "slack:#ops", "extra": 1}, "alerts.extra"),
            ("deadline", {"by": "25:00"}, "deadline.by"),
            ("deadline", {"by": "09:30", "days": "mon-funday"}, "deadline.days"),
            ("grace_seconds", -1, "grace_seconds"),
            ("max_run_seconds", 0, "max_run_seconds"),
        ],
    )
    async def test_bad_alerts_and_deadlines_are_422(
        self, api: Api, field: str, value: Any, where: str
    ) -> None:
        api.state.settings.allow_private_targets = False
        alice = await api.headers("alice")
        response = await api.http.post(
            JOBS,
            json={
                "name": "x",
                "goal": "y",
                "agent_id": "echo",
                "schedule": {"type": "every", "interval": "1h"},
                field: value,
            },
            headers=alice,
        )
        assert response.status_code == 422, response.text
        fields = [detail["field"] for detail in response.json()["details"]]
        assert any(name.startswith(where) for name in fields), fields
        if field == "alerts":
            put = await api.http.put(ALERTS, json=value, headers=alice)
            assert put.status_code == 422, put.text
