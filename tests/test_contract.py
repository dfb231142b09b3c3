"""What the worker and the API exchange through Temporal (``domain/contract/``): the names and
models every workflow and activity has, and the job snapshot a run carries (typed settings,
read as the index stores them)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio import activity, workflow
from temporalio.contrib.pydantic import pydantic_data_converter

import activities
from domain.conditions import Condition
from domain.contract import names
from domain.contract.runs import JobRunInput, JobSnapshot, RunStarted
from domain.delivery import Delivery
from domain.retry import RetryPolicy
from worker import WORKFLOWS

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


ACTIVITY_NAMES = {
    names.CALL_AGENT,
    names.RECORD_RUN_START,
    names.CHECK_RUN_BUDGET,
    names.RECORD_RUN_FINISH,
    names.EVALUATE_CONDITION,
    names.DELIVER_RUN,
    names.PLAN_REDELIVERY,
    names.RECORD_DELIVERY,
    names.RECORD_CHAIN_RUN_START,
    names.RECORD_CHAIN_RUN_PROGRESS,
    names.RECORD_CHAIN_RUN_FINISH,
    names.RECONCILE,
}


def _activity_definitions() -> Iterator[Any]:
    """Every activity defined under ``activities/`` (methods of the classes the worker builds)."""
    for info in pkgutil.walk_packages(activities.__path__, "activities."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            for _, method in inspect.getmembers(cls, inspect.isfunction):
                if (found := activity._Definition.from_callable(method)) is not None:
                    yield found


def _in_contract(types: list[Any]) -> bool:
    return all(
        t in (None, type(None)) or t.__module__.startswith("domain.contract.") for t in types
    )


def test_every_workflow_is_named_and_typed_by_the_contract() -> None:
    found = [workflow._Definition.must_from_class(cls) for cls in WORKFLOWS]
    assert {d.name for d in found} == {
        names.RUN_WORKFLOW,
        names.CHAIN_WORKFLOW,
        names.REDELIVER_WORKFLOW,
        names.TICK_WORKFLOW,
    }
    for definition in found:
        assert len(definition.arg_types or []) == 1, definition.name
        assert _in_contract([*(definition.arg_types or []), definition.ret_type]), definition.name


def test_every_activity_is_named_and_typed_by_the_contract() -> None:
    found = list(_activity_definitions())
    assert sorted(d.name for d in found) == sorted(ACTIVITY_NAMES)
    for definition in found:
        assert len(definition.arg_types or []) == 1, definition.name
        assert _in_contract([*(definition.arg_types or []), definition.ret_type]), definition.name
