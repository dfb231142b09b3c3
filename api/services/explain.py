"""Why a job did (or did not, or will) run at an instant: read from the index and Temporal.

Every reason names the evidence it read (the evaluator's fires, the job's pause history, the
run's row, the schedule's info in Temporal); nothing is inferred from what usually happens.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from api.core.errors import Invalid
from api.core.index import incidents as index_incidents
from api.core.index import job_events
from api.core.index import runs as index_runs
from api.core.index.models import Job, Run
from api.core.schedules import catchup_window_of, parse_schedule, scheduled_run_id
from api.core.temporal import missing_ok
from api.schemas.jobs import ExplainReason, Explanation, IncidentBrief
from api.services.runs import RunService
from domain.inputs import check_instant
from domain.schedules import (
    CronSchedule,
    excluded_by,
    is_fire_time,
    next_fire_time,
    previous_fire_time,
)

_WHO = {"api": "through the API", "auto": "automatically"}


def _reason(code: Any, message: str, **details: Any) -> ExplainReason:
    return ExplainReason(code=code, message=message, details=details)


def _iso(value: datetime | None, zone: ZoneInfo) -> str | None:
    return value.astimezone(zone).isoformat() if value else None


async def explain(runs: RunService, job_id: str, at: datetime, *, now: datetime) -> Explanation:
    """Explain the job at ``at`` (a naive time is a wall time in the job's zone), naming the
    incident the fire belongs to (docs/alerts.md)."""
    found = await _explain(runs, job_id, at, now=now)
    if not found.due:
        return found
    incident = await index_incidents.incident_for_fire(
        runs.session,
        job_id=found.job_id,
        at=found.at,
        run_completed_at=found.run.completed_at if found.run is not None else None,
    )
    if incident is not None:
        found.incident = IncidentBrief(
            id=incident.id, kind=incident.kind, opened_at=incident.opened_at
        )
    return found


async def _explain(runs: RunService, job_id: str, at: datetime, *, now: datetime) -> Explanation:
    job = await runs.jobs.owned(job_id)
    zone = ZoneInfo(job.timezone)
    schedule = parse_schedule(job.schedule)
    wall = at if at.tzinfo is None else at.astimezone(zone).replace(tzinfo=None)
    instant = at.replace(tzinfo=zone) if at.tzinfo is None else at
    try:
        check_instant(instant)
    except ValueError as exc:
        raise Invalid.field("at", str(exc)) from None
    in_gap = instant.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall
    folds = [wall.replace(tzinfo=zone, fold=fold) for fold in (0, 1)]
    repeated = not in_gap and folds[0].utcoffset() != folds[1].utcoffset()
    # Whether the schedule names this wall time at all, DST aside.
    names_wall = isinstance(schedule, CronSchedule) and is_fire_time(
        CronSchedule(type="cron", expression=schedule.expression, timezone="UTC"),
        wall.replace(tzinfo=UTC),
    )
    due = not in_gap and is_fire_time(schedule, instant)
    before = previous_fire_time(schedule, before=instant)
    after = next_fire_time(schedule, after=instant)
    nearest = [t.astimezone(zone) for t in (before, after) if t is not None]
    nearest_text = " and ".join(t.isoformat() for t in nearest) or "none"
    reasons: list[ExplainReason] = []
    day = f"{wall:%Y-%m-%d}"

    def answer(verdict: Any, run: Run | None = None) -> Explanation:
        return Explanation(
            job_id=job.id,
            at=instant.astimezone(zone),
            due=due,
            nearest_fires=nearest,
            run=runs.public(run) if run is not None else None,
            verdict=verdict,
            reasons=reasons,
        )

    if in_gap:
        if names_wall:
            reasons.append(
                _reason(
                    "dst_gap",
                    f"{wall:%H:%M} does not exist in {job.timezone} on {day} (the clocks jump "
                    f"forward over it); Temporal does not fire that day",
                    wall_time=wall.isoformat(),
                )
            )
        reasons.append(
            _reason(
                "not_a_fire",
                f"{wall.isoformat()} is not a time in {job.timezone}, so not a fire time; the "
                f"nearest fires are {nearest_text}",
                nearest_fires=[t.isoformat() for t in nearest],
            )
        )
        return answer("not_due")
    if repeated and names_wall:
        fires = [t for t in folds if is_fire_time(schedule, t)]
        reasons.append(
            _reason(
                "dst_repeat",
                f"{wall:%H:%M} happens twice in {job.timezone} on {day} "
                f"({folds[0].isoformat()} and {folds[1].isoformat()}); Temporal fires at "
                + (" and ".join(t.isoformat() for t in fires) or "neither"),
                instants=[t.isoformat() for t in folds],
                fires=[t.isoformat() for t in fires],
            )
        )
    excluded = None if due else excluded_by(schedule, instant)
    if excluded is not None and is_fire_time(
        schedule.model_copy(update={"exclude": None}), instant
    ):
        reasons.append(_excluded_reason(excluded, wall, getattr(schedule, "exclude", None)))
        return answer("not_due")
    if not due:
        reasons.append(
            _reason(
                "not_a_fire",
                f"{instant.astimezone(zone).isoformat()} is not a fire time of the schedule; "
                f"the nearest fires are {nearest_text}",
                nearest_fires=[t.isoformat() for t in nearest],
            )
        )
        return answer("not_due")

    run_id = scheduled_run_id(job.id, instant)
    run = await index_runs.get_run(runs.session, job_id=job.id, run_id=run_id)
    if run is not None:
        _explain_run(run, zone, reasons)
        return answer("running" if run.status == "running" else "ran", run)
    if instant > now:
        if job.status == "active":
            jitter = f", starting up to {job.jitter_seconds} s later" if job.jitter_seconds else ""
            reasons.append(
                _reason(
                    "in_the_future",
                    f"Temporal will fire it at {instant.astimezone(zone).isoformat()}{jitter}",
                    jitter_seconds=job.jitter_seconds,
                )
            )
            return answer("will_run")
        reasons.append(
            _reason(
                "paused",
                f"the job is {job.status} ({job.paused_reason or 'no reason recorded'}); it will "
                "not fire while it is",
                status=job.status,
                paused_reason=job.paused_reason,
            )
        )
        return answer("will_not_run")
    if job.created_at > instant:
        reasons.append(
            _reason(
                "created_after",
                f"the job was created at {_iso(job.created_at, zone)}, after this instant",
                created_at=_iso(job.created_at, zone),
            )
        )
        return answer("did_not_run")
    state = await job_events.state_at(runs.session, job_id=job.id, at=instant)
    if state is not None and state.kind == "paused":
        reasons.append(
            _reason(
                "paused",
                f"the job was paused then: since {_iso(state.at, zone)}, "
                f"{_WHO.get(state.by, state.by)} ({state.reason or 'no reason given'})",
                paused_at=_iso(state.at, zone),
                paused_by=state.by,
                paused_reason=state.reason,
            )
        )
        return answer("did_not_run")
    await _explain_missing(runs, job, instant, run_id, zone, reasons)
    return answer("did_not_run")


def _excluded_reason(excluded: tuple[str, str], wall: datetime, exclude: Any) -> ExplainReason:
    """A fire of the schedule that its exclusions drop: skipped on purpose."""
    by, holiday = excluded
    what = {
        "skipped": "this fire was skipped (POST /jobs/{id}/skip)",
        "date": f"{wall:%Y-%m-%d} is one of the schedule's excluded dates",
        "holiday": f"{wall:%Y-%m-%d} is {holiday}, a holiday of the schedule's "
        f"{getattr(exclude, 'holidays', '')} calendar",
    }[by]
    details: dict[str, Any] = {"by": by}
    if holiday:
        details |= {"holiday": holiday, "calendar": exclude.holidays}
    return _reason(
        "skipped_on_purpose",
        f"skipped on purpose: {what}; Temporal does not start it",
        **details,
    )


def _explain_run(run: Run, zone: ZoneInfo, reasons: list[ExplainReason]) -> None:
    trigger = f" ({run.trigger})" if run.trigger != "schedule" else ""
    if run.status == "running":
        reasons.append(
            _reason(
                "running",
                f"run {run.id}{trigger} started at {_iso(run.started_at, zone)} and is running",
            )
        )
        return
    if run.status == "skipped":
        result = run.condition_result or {}
        why = f": {result['error']}" if result.get("error") else ""
        reasons.append(
            _reason(
                "condition_false",
                f"run {run.id}{trigger} was skipped: its before_run condition "
                f"{result.get('expression')!r} was {result.get('value')!r}{why}; the agent was "
                "not called",
                condition_result=result,
            )
        )
    elif run.status in ("failed", "timed_out", "cancelled"):
        reasons.append(
            _reason(
                run.status,
                f"run {run.id}{trigger} {run.status.replace('_', ' ')} after {run.attempts} "
                f"attempt(s): {run.error or 'no error recorded'}",
                error=run.error,
                attempt_errors=run.attempt_errors or [],
            )
        )
    else:
        reasons.append(
            _reason(
                "completed",
                f"run {run.id}{trigger} completed at {_iso(run.completed_at, zone)} after "
                f"{run.attempts} attempt(s)",
            )
        )
    delivery = run.delivery
    if delivery is None:
        reasons.append(_reason("no_delivery", "the job had no delivery channel; nothing was sent"))
    elif delivery.get("status") == "delivered":
        reasons.append(
            _reason(
                "delivered",
                f"delivered to {delivery.get('channel')} at {delivery.get('at')}",
                delivery=delivery,
            )
        )
    else:
        why = delivery.get("error") or delivery.get("reason") or "no reason recorded"
        reasons.append(
            _reason(
                "not_delivered",
                f"not delivered to {delivery.get('channel')} ({delivery.get('status')}): {why}",
                delivery=delivery,
            )
        )


async def _explain_missing(
    runs: RunService,
    job: Job,
    instant: datetime,
    run_id: str,
    zone: ZoneInfo,
    reasons: list[ExplainReason],
) -> None:
    """A past fire with no run: what Temporal's schedule info and the index say."""
    client = await runs.temporal.client()
    described = await missing_ok(client.get_schedule_handle(job.id).describe())
    info = described.info if described is not None else None
    skipped = info.num_actions_skipped_overlap if info else 0
    missed = info.num_actions_missed_catchup_window if info else 0
    counts = {"num_actions_skipped_overlap": skipped, "num_actions_missed_catchup_window": missed}
    started = {
        action.scheduled_at.astimezone(UTC) for action in (info.recent_actions if info else [])
    }
    overlapping = await index_runs.run_running_at(
        runs.session, job_id=job.id, at=instant, other_than=run_id
    )
    if overlapping is not None and job.overlap in ("skip", "buffer_one") and skipped:
        reasons.append(
            _reason(
                "skipped_overlap",
                f"run {overlapping.id} (started {_iso(overlapping.started_at, zone)}) was still "
                f"running, and the job's overlap policy is {job.overlap}: Temporal skipped this "
                f"fire (it has skipped {skipped} fire(s) of this job for overlap)",
                overlapping_run_id=overlapping.id,
                overlap=job.overlap,
                **counts,
            )
        )
    elif missed and instant.astimezone(UTC) not in started:
        window = catchup_window_of(job, runs.settings.catchup_window_seconds)
        reasons.append(
            _reason(
                "missed_catchup_window",
                "Temporal could not start this fire on time (the Temporal service was "
                f"unavailable) and, once it could, the fire was older than the job's catch-up "
                f"window of {window} s, so it was dropped (Temporal has dropped {missed} "
                "fire(s) of this job so)",
                catchup_window_seconds=window,
                **counts,
            )
        )
    else:
        reasons.append(
            _reason(
                "no_run_recorded",
                "no run of this fire is recorded, and Temporal reports no skipped or missed "
                "fire that explains it"
                + (" (the schedule no longer exists in Temporal)" if info is None else ""),
                **counts,
            )
        )
