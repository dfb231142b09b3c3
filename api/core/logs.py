"""How every process logs (docs/operations.md, "Logs"): readable text by default, or one JSON
object a line with ``AGENT_SCHEDULER_LOG_FORMAT=json``, carrying the ids of the request, run or
workflow it was written for where they are known."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

from temporalio import activity

from api.core.tracing import current_trace_id
from domain.contract.names import RUN_WORKFLOW

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The ids a line may carry; a logging call can also pass them as ``extra``.
FIELDS = ("job_id", "run_id", "owner", "trace_id", "request_id")
# Their INFO lines carry full request URLs: webhook and Slack URLs can hold secrets.
QUIET = ("httpx", "httpcore")

# Never changed in place (bind sets a new dict), so no task sees another's ids.
_context: ContextVar[dict[str, str] | None] = ContextVar(
    "agent_scheduler_log_context", default=None
)


def bind(**ids: str | None) -> None:
    """Add ids to every line this task logs from now on (a request's owner, job and run)."""
    _context.set({**(_context.get() or {}), **{name: v for name, v in ids.items() if v}})


def bound(name: str) -> str | None:
    """An id bound to this task (the request's ``request_id``, …), or None."""
    return (_context.get() or {}).get(name)


def _temporal_ids(record: logging.LogRecord) -> dict[str, str]:
    """The run (or other workflow) a line was logged for, from Temporal's own context."""
    if activity.in_activity():
        info = activity.info()
        workflow_id, workflow_type = info.workflow_id, info.workflow_type
    elif isinstance(workflow := getattr(record, "temporal_workflow", None), dict):
        workflow_id, workflow_type = workflow.get("workflow_id"), workflow.get("workflow_type")
    else:
        return {}
    if not workflow_id:
        return {}
    return {"run_id" if workflow_type == RUN_WORKFLOW else "workflow_id": str(workflow_id)}


def _trace() -> dict[str, str]:
    """The trace the line was logged in, where traces are on (docs/operations.md, "Traces")."""
    trace_id = current_trace_id()
    return {"trace_id": trace_id} if trace_id else {}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (UTC), ``level``, ``logger``, ``message``, the known
    ids, and ``exception`` with its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= _temporal_ids(record) | _trace() | (_context.get() or {})
        line |= {name: str(v) for name in FIELDS if (v := getattr(record, name, None))}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(log_format: LogFormat) -> logging.Formatter:
    """The formatter of ``log_format``."""
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure(log_format: LogFormat) -> None:
    """Log INFO and up to stderr in ``log_format``, replacing what was configured before."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def uvicorn_formatters(config: dict[str, Any], log_format: LogFormat) -> dict[str, Any]:
    """uvicorn's logging ``config`` with its lines in ``log_format`` too (uvicorn applies it in
    each process it runs, ``--workers`` included)."""
    if log_format == "json":
        for name in config.get("formatters", {}):
            config["formatters"][name] = {"()": JsonFormatter}
        config["root"] = {"handlers": ["default"], "level": "INFO"}
    return config
