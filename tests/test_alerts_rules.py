"""The pure rules of alerts (docs/alerts.md): settings, deadlines, and what a notification says
on each channel."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from domain.alerts import AlertSettings, IncidentNote, days_of, last_deadline

NEW_YORK = ZoneInfo("America/New_York")


def test_settings_defaults_and_reminder_seconds() -> None:
    settings = AlertSettings.model_validate({"channel": "slack:#ops", "remind_every": "1h30m"})
    assert settings.after_failures == 1 and settings.recovery is True
    assert settings.on == ["failing", "missed", "late", "paused"]
    assert settings.remind_seconds() == 5400
    assert AlertSettings(channel="slack:#ops", on=["late", "late"]).on == ["late"]


@pytest.mark.parametrize(
    "body",
    [
        {"channel": "slack:#ops", "remind_every": "59s"},
        {"channel": "slack:#ops", "after_failures": True},
        {"channel": "slack:#ops", "recovery": "yes"},
        {"channel": "pigeon:home"},
    ],
)
def test_bad_settings_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        AlertSettings.model_validate(body)


def test_days_take_ranges_commas_and_wrap_around() -> None:
    assert days_of("mon-fri") == {0, 1, 2, 3, 4}
    assert days_of("mon,wed,fri") == {0, 2, 4}
    assert days_of("fri-mon") == {4, 5, 6, 0}
    with pytest.raises(ValueError, match="must name days"):
        days_of("weekdays")


def test_last_deadline_is_the_latest_on_a_named_day_in_the_zone() -> None:
    deadline = {"by": "09:30", "days": "mon-fri"}
    # Monday 2026-03-09 14:00 UTC is 10:00 in New York (EDT since 8 March).
    monday = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    assert last_deadline(deadline, NEW_YORK, monday) == datetime(2026, 3, 9, 9, 30, tzinfo=NEW_YORK)
    # Monday 13:00 UTC is 09:00 there: the last one was Friday's.
    early = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    assert last_deadline(deadline, NEW_YORK, early) == datetime(2026, 3, 6, 9, 30, tzinfo=NEW_YORK)


def note(event: str) -> IncidentNote:
    return IncidentNote(
        notification_id=f"inc_1/{event}" + ("/2" if event == "reminder" else ""),
        event=event,  # type: ignore[arg-type]
        incident_id="inc_1",
        job_id="job_1",
        job_name="Nightly <report>",
        kind="late",
        status="resolved" if event == "resolved" else "open",
        reason="no run completed by the deadline",
        opened_at=datetime(2026, 3, 9, 13, 30, tzinfo=UTC),
        resolved_at=datetime(2026, 3, 9, 14, 0, tzinfo=UTC) if event == "resolved" else None,
        resolved_reason="run run_1 completed" if event == "resolved" else None,
        reminder=2 if event == "reminder" else 0,
        details={"deadline": "2026-03-09T09:30:00-04:00"},
    )


def test_each_channel_renders_the_same_notification() -> None:
    opened, reminder, resolved = note("opened"), note("reminder"), note("resolved")
    assert opened.title() == "Nightly <report> is late"
    assert reminder.title() == "Reminder 2: Nightly <report> is late"
    assert resolved.title() == "Resolved: Nightly <report> was late"
    document = resolved.webhook_document()
    assert document["event"] == "incident.resolved"
    assert document["delivery_id"] == "inc_1/resolved"
    assert document["incident"]["resolved_reason"] == "run run_1 completed"
    slack = opened.slack_body()
    assert slack["text"] == "Nightly &lt;report&gt; is late"
    assert [block["type"] for block in slack["blocks"]] == ["header", "section", "context"]
    page = reminder.email_html()
    assert "Nightly &lt;report&gt;" in page and "<report>" not in page
    assert "Acknowledge it to stop the reminders." in reminder.text()
