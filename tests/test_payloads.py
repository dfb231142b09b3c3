"""The job snapshot a run carries across Temporal: typed settings, read as the index stores them."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.conditions import Condition
from domain.delivery import Delivery
from domain.payloads import JobRunInput, JobSnapshot, RunStarted
from domain.retry import RetryPolicy

ROW: dict[str, Any] = {
    "id": "job_1",
    "owner": "alice",
    "name": "digest",
    "goal": "summarize",
    "agent_id": "echo",
    "timezone": "UTC",
    "status": "active",
    "timeout_seconds": 60,
    "max_consecutive_failures": 5,
}


def _roundtrip(value: Any) -> Any:
    """``value`` encoded and decoded by the worker's data converter (as Temporal carries it)."""
    converter = pydantic_data_converter.payload_converter
    (payload,) = converter.to_payloads([value])
    (decoded,) = converter.from_payloads([payload], [type(value)])
    return decoded


def test_snapshot_reads_the_stored_settings_as_the_domain_models() -> None:
    job = JobSnapshot.of(
        {
            **ROW,
            "retry": {"max_attempts": 3, "strategy": "fixed", "base_delay": 1.0, "max_delay": None},
            "condition": {"type": "expression", "expression": "ok", "stage": "before_run"},
            "delivery": {"channel": "slack:#alerts", "format": "text"},
        }
    )
    assert isinstance(job.retry, RetryPolicy) and job.retry.max_attempts == 3
    assert job.retry.delay_after(2) == 1.0
    assert isinstance(job.condition, Condition) and job.condition.stage == "before_run"
    assert isinstance(job.delivery, Delivery) and job.delivery.channel == "slack:#alerts"
    assert job.delivery.format == "text"
    started = _roundtrip(RunStarted(job=job))
    assert started.job == job
    run = _roundtrip(JobRunInput(job_id="job_1", owner="alice", job=job))
    assert run.job == job


def test_snapshot_tolerates_what_the_api_would_now_refuse() -> None:
    """A job saved before a field was removed or a rule tightened still runs: the snapshot does
    not validate its settings again (the API did, when the job was saved)."""
    stored = {
        "retry": {"max_attempts": 2, "jitter": True},
        "condition": {"expression": "x >", "since_removed": 1},
        "delivery": {"channel": "nosuchprovider:target", "retired": "yes"},
    }
    for name, model in (("retry", RetryPolicy), ("condition", Condition), ("delivery", Delivery)):
        with pytest.raises(ValidationError):
            model.model_validate(stored[name])
    job = _roundtrip(JobSnapshot.of({**ROW, **stored}))
    assert job.retry == RetryPolicy.model_construct(max_attempts=2)
    assert job.condition is not None and job.condition.expression == "x >"
    assert job.condition.stage == "after_run"
    assert job.delivery is not None and job.delivery.channel == "nosuchprovider:target"
    assert job.delivery.format == "markdown"
    assert "retired" not in job.model_dump()["delivery"]


def test_empty_or_missing_settings_are_no_setting() -> None:
    job = JobSnapshot.of({**ROW, "retry": {}, "condition": {}, "delivery": None})
    assert (job.retry, job.condition, job.delivery) == (None, None, None)
    assert _roundtrip(JobSnapshot.of(ROW)).retry is None
