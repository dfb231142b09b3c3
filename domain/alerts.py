"""Alerts and incidents: a job's alert settings, its deadline, and what an incident says.

Pure rules (no I/O): the settings' shapes and checks, when a deadline falls, and how one
incident notification reads on each kind of channel (Slack blocks, an HTML e-mail, a webhook
document, plain text for the other services). Where incidents are opened, reminded and
resolved is in ``api/core/index/incidents.py`` and ``activities/incidents/``
(docs/alerts.md).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.delivery import ChannelError, parse_channel
from domain.inputs import JsonBool, JsonInt, Text, checked_by
from domain.schedules import parse_duration

IncidentKind = Literal["failing", "missed", "late", "paused"]
KINDS: tuple[IncidentKind, ...] = ("failing", "missed", "late", "paused")
IncidentEvent = Literal["opened", "reminder", "resolved"]
# A fire not started this long after its time is missed, unless the job says otherwise.
DEFAULT_GRACE_SECONDS = 300
MIN_REMIND_SECONDS = 60
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def _check_remind(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise ValueError(str(exc).replace("interval", "remind_every", 1)) from None
    if seconds < MIN_REMIND_SECONDS:
        raise ValueError(f"remind_every must be at least {MIN_REMIND_SECONDS} seconds")
    return value


class AlertSettings(BaseModel):
    """Where a job's incidents are told, and which (a job's ``alerts``, the owner default)."""

    model_config = ConfigDict(extra="forbid")

    channel: Annotated[Text, checked_by(parse_channel, ChannelError)] = Field(
        max_length=2100, description="A delivery channel, e.g. `slack:#ops`."
    )
    after_failures: JsonInt = Field(
        1,
        ge=1,
        le=1000,
        description="Failed runs in a row (retries spent) that open `failing`.",
    )
    remind_every: Text | None = Field(
        None,
        max_length=20,
        description="Remind this often while open and not acknowledged (`6h`); null: never.",
    )
    recovery: JsonBool = Field(True, description="Notify when it resolves.")
    on: list[IncidentKind] = Field(
        default_factory=lambda: list(KINDS),
        max_length=4,
        description="Kinds that notify (all are recorded).",
    )

    @field_validator("remind_every")
    @classmethod
    def _remind(cls, value: str | None) -> str | None:
        return _check_remind(value)

    @field_validator("on")
    @classmethod
    def _unique(cls, value: list[IncidentKind]) -> list[IncidentKind]:
        return list(dict.fromkeys(value))

    def remind_seconds(self) -> int | None:
        """``remind_every`` in seconds, or None."""
        return None if self.remind_every is None else parse_duration(self.remind_every)


def _check_hhmm(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError(f"'{value}' is not a time of day as HH:MM (00:00 to 23:59)")
    return value


def _check_days(value: str) -> str:
    days_of(value)
    return value


class Deadline(BaseModel):
    """By when, in the job's zone, a run must have completed on the days named."""

    model_config = ConfigDict(extra="forbid")

    by: Annotated[Text, checked_by(_check_hhmm, ValueError)] = Field(
        max_length=5, description="`HH:MM` in the job's zone."
    )
    days: Annotated[Text, checked_by(_check_days, ValueError)] = Field(
        "mon-sun",
        max_length=40,
        description="`mon-fri`, `mon,wed,fri`; every day by default.",
    )


def days_of(text: str) -> frozenset[int]:
    """The weekdays (0 = Monday) of ``mon-fri``, ``mon,wed``, ``sat-sun``; raises ValueError."""
    found: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ValueError(
                f"days '{text}' must name days as mon, tue, … sun, with ranges like 'mon-fri' "
                "and commas like 'mon,wed,fri'"
            )
        start, end = _DAYS.index(first), _DAYS.index(last or first)
        span = range(start, end + 1) if start <= end else [*range(start, 7), *range(end + 1)]
        found.update(span)
    return frozenset(found)


def last_deadline(deadline: dict[str, Any], zone: ZoneInfo, now: datetime) -> datetime | None:
    """The latest deadline instant at or before ``now`` (within the last week), or None."""
    hour, minute = (int(part) for part in deadline["by"].split(":"))
    days = days_of(deadline.get("days") or "mon-sun")
    local = now.astimezone(zone)
    for back in range(8):
        day: date = local.date() - timedelta(days=back)
        if day.weekday() not in days:
            continue
        # A wall time a DST gap skips is read as the same instant fold=0 gives (an hour on).
        at = datetime.combine(day, time(hour, minute), tzinfo=zone)
        if at <= local:
            return at
    return None


# ---------------------------------------------------------------------------------------------
# What a notification says


_TITLES = {
    "failing": "is failing",
    "missed": "missed a run",
    "late": "is late",
    "paused": "paused itself",
}


@dataclass(frozen=True)
class IncidentNote:
    """One incident notification, as every channel renders it."""

    notification_id: str
    event: IncidentEvent
    incident_id: str
    job_id: str
    job_name: str
    kind: IncidentKind
    status: str
    reason: str
    opened_at: datetime
    resolved_at: datetime | None
    resolved_reason: str | None
    reminder: int
    details: dict[str, Any]
    url: str | None = None

    def title(self) -> str:
        """One line: what happened to which job."""
        name = " ".join(self.job_name.split())[:150]
        if self.event == "resolved":
            return f"Resolved: {name} {_TITLES[self.kind].replace('is ', 'was ', 1)}"
        prefix = f"Reminder {self.reminder}: " if self.event == "reminder" else ""
        return f"{prefix}{name} {_TITLES[self.kind]}"[:200]

    def lines(self) -> list[str]:
        """The body as plain lines."""
        out = [self.reason]
        if self.event == "resolved" and self.resolved_reason:
            out.append(f"Resolved: {self.resolved_reason}")
        out.append(f"Opened {self.opened_at.isoformat()} · incident {self.incident_id}")
        if self.event == "reminder":
            out.append("Acknowledge it to stop the reminders.")
        if self.url:
            out.append(self.url)
        return out

    def text(self) -> str:
        """Plain text (Apprise services, the e-mail's text part)."""
        return "\n".join([self.title(), "", *self.lines()])

    def webhook_document(self) -> dict[str, Any]:
        """The signed webhook's JSON body."""
        return {
            "event": f"incident.{self.event}",
            "delivery_id": self.notification_id,
            "text": self.text(),
            "incident": {
                "id": self.incident_id,
                "job_id": self.job_id,
                "job_name": self.job_name,
                "kind": self.kind,
                "status": self.status,
                "reason": self.reason,
                "opened_at": self.opened_at.isoformat(),
                "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
                "resolved_reason": self.resolved_reason,
                "reminders": self.reminder,
                "details": self.details,
            },
        }

    def slack_body(self) -> dict[str, Any]:
        """``chat.postMessage`` fields: blocks and the fallback text."""
        icon = ":white_check_mark:" if self.event == "resolved" else ":rotating_light:"
        context = " · ".join(_slack(line) for line in self.lines()[1:])
        return {
            "text": _slack(self.title()),
            "blocks": [
                {
                    "type": "header",
                    "text": {"type": "plain_text", "text": self.title()[:150], "emoji": True},
                },
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": f"{icon} {_slack(self.lines()[0])}"},
                },
                {"type": "context", "elements": [{"type": "mrkdwn", "text": context[:2900]}]},
            ],
        }

    def email_html(self) -> str:
        """The e-mail's HTML part."""
        rows = "".join(f"<p>{html.escape(line)}</p>" for line in self.lines())
        return (
            '<!DOCTYPE html><html><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title())}</title></head>"
            f'<body style="font-family: sans-serif"><h2>{html.escape(self.title())}</h2>'
            f"{rows}</body></html>"
        )


def _slack(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
