"""``agent-scheduler jobs …``: the jobs of a running API, from a terminal or a script.

A plain HTTP client of the REST API (``--api-url``/``--key``, or ``AGENT_SCHEDULER_API_URL`` /
``AGENT_SCHEDULER_API_KEY``): rich tables for people, ``--json`` (the API's own JSON) for
scripts. Exit codes:

- 0: done (a followed run ended ``completed`` or ``skipped``);
- 1: refused: by the API (a 4xx: not found, invalid input, conflict, bad key), its error
  message (docs/api.md, "Errors") shown; or by you, at a confirmation;
- 2: usage: bad or missing options (no key, two schedules, …);
- 3: the API is unreachable, timed out or failed (a 5xx);
- 4: the run followed by ``trigger --wait`` ended ``failed``, ``timed_out`` or ``cancelled``;
- 5: that run was still running when ``--timeout`` passed.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich import box
from rich.console import Console
from rich.table import Table

OK, REFUSED, USAGE, UNREACHABLE, RUN_FAILED, STILL_RUNNING = 0, 1, 2, 3, 4, 5
DEFAULT_API_URL = "http://127.0.0.1:8787"
API_PREFIX = "/api/scheduler"
FAILED_RUN = ("failed", "timed_out", "cancelled")

jobs_app = typer.Typer(
    help="Jobs of a running API: list, show, create, pause, resume, trigger, runs, delete.",
    no_args_is_help=True,
)
# Piped, a table is as wide as its rows (rich's 80 columns would fold ids and times).
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 250)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ApiUrl = Annotated[
    str,
    typer.Option(
        "--api-url", envvar="AGENT_SCHEDULER_API_URL", help="The API's base URL.", show_default=True
    ),
]
Key = Annotated[
    str | None,
    typer.Option(
        "--key", envvar="AGENT_SCHEDULER_API_KEY", help="An API key (sk_…).", show_default=False
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON (for scripts).")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
JobIdArg = Annotated[str, typer.Argument(help="The job's id (job_…).")]


def _fail(code: int, message: str, lines: list[str] | None = None) -> NoReturn:
    err.print(f"[bold red]Error:[/] {message}", markup=True)
    for line in lines or []:
        err.print(f"  {line}", markup=False)
    raise typer.Exit(code)


def _write_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


@dataclass
class Api:
    """The REST API, with its failures turned into messages and exit codes."""

    url: str
    key: str | None
    as_json: bool

    def __post_init__(self) -> None:
        if not self.key:
            _fail(USAGE, "no API key: pass --key or set AGENT_SCHEDULER_API_KEY")
        self.http = httpx.Client(
            base_url=self.url.rstrip("/") + API_PREFIX,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of a request; exits 1 on a 4xx (its message shown), 3 if unreachable."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            _fail(UNREACHABLE, f"the API at {self.url} did not answer in time")
        except httpx.HTTPError as exc:
            _fail(UNREACHABLE, f"cannot reach the API at {self.url}: {exc}")
        if response.status_code >= 400:
            self._refused(response)
        return response.json() if response.content else None

    def _refused(self, response: httpx.Response) -> NoReturn:
        try:
            body = response.json()
            message = str(body["message"])
        except (ValueError, KeyError, TypeError):
            body, message = None, f"HTTP {response.status_code}: {response.text[:200]}"
        if self.as_json and isinstance(body, dict):
            _write_json(body)
        details = (body or {}).get("details") or [] if isinstance(body, dict) else []
        lines = [f"{d.get('field')}: {d.get('message')}" for d in details]
        lines = [line for line in lines if line not in message]  # the message names the first
        _fail(REFUSED if response.status_code < 500 else UNREACHABLE, message, lines)


def _schedule_text(schedule: dict[str, Any], description: str | None = None) -> str:
    """A job's schedule in words when the API gave them, else its fields."""
    if description:
        return description
    kind = schedule.get("type")
    zone = schedule.get("timezone", "UTC")
    if kind == "cron":
        return f"cron {schedule.get('expression')} ({zone})"
    if kind == "every":
        return f"every {schedule.get('interval')}s"
    return f"at {schedule.get('datetime')}"


def _when(value: str | None) -> str:
    """An API time, with its offset (a job's times carry its zone's)."""
    if not value:
        return "—"
    try:
        return datetime.fromisoformat(value).isoformat(sep=" ", timespec="seconds")
    except ValueError:
        return value


def _show_job(job: dict[str, Any]) -> None:
    table = Table(box=box.SIMPLE, show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    status = job["status"] + (f" ({job['paused_reason']})" if job.get("paused_reason") else "")
    rows = [
        ("id", job["id"]),
        ("name", job["name"]),
        ("status", status),
        ("agent", job["agent_id"]),
        ("fallback agents", ", ".join(job.get("fallback_agent_ids") or []) or "—"),
        ("goal", job["goal"]),
        ("schedule", _schedule_text(job["schedule"], job.get("schedule_description"))),
        ("next run", _when(job.get("next_run_at"))),
        ("last run", _when(job.get("last_run_at"))),
        ("runs", str(job["run_count"])),
        ("delivery", (job.get("delivery") or {}).get("channel", "—")),
        ("condition", (job.get("condition") or {}).get("expression", "—")),
        ("Temporal", job["temporal_ui_url"]),
    ]
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)


@jobs_app.command("list")
def list_jobs(
    status: Annotated[str | None, typer.Option(help="active, paused, completed or failed.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    api_url: ApiUrl = DEFAULT_API_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Your jobs, newest first."""
    api = Api(api_url, key, as_json)
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if status:
        params["status"] = status
    page = api.call("GET", "/jobs", params=params)
    if as_json:
        _write_json(page)
        return
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("ID", "NAME", "STATUS", "AGENT", "SCHEDULE", "NEXT RUN", "RUNS"):
        table.add_column(column, no_wrap=column != "NAME")
    for job in page["jobs"]:
        table.add_row(
            job["id"],
            job["name"],
            job["status"],
            job["agent_id"],
            _schedule_text(job["schedule"], job.get("schedule_description")),
            _when(job.get("next_run_at")),
            str(job["run_count"]),
        )
    out.print(table)
    out.print(f"{len(page['jobs'])} of {page['count']} job(s)")


@jobs_app.command("show")
def show(
    job_id: JobIdArg, api_url: ApiUrl = DEFAULT_API_URL, key: Key = None, as_json: AsJson = False
) -> None:
    """One job."""
    job = Api(api_url, key, as_json).call("GET", f"/jobs/{job_id}")
    if as_json:
        _write_json(job)
    else:
        _show_job(job)


def _preview(api: Api, text: str, timezone: str) -> dict[str, Any]:
    """What parse-nl reads from ``text``, with the next runs and DST warnings of that whole
    schedule (``POST /validate``: its offset, exclusions and expressions included)."""
    parsed: dict[str, Any] = api.call(
        "POST", "/parse-nl", json={"text": text, "timezone": timezone}
    )
    checked = api.call("POST", "/validate", json={"schedule": parsed["schedule"], "count": 3})
    return {
        **parsed,
        "next_runs": checked.get("next_runs") or [],
        "dst_warnings": checked.get("warnings") or [],
    }


def _show_preview(preview: dict[str, Any]) -> None:
    schedule = preview["schedule"]
    err.print(f"Schedule: {preview['human_readable']}", markup=False)
    err.print(
        f"  as {_schedule_fields(schedule)}; read by {preview['parse_method']}, "
        f"confidence {preview['confidence']:.2f}",
        markup=False,
    )
    for moment in preview["next_runs"]:
        err.print(f"  next: {moment}", markup=False)
    for warning in preview.get("warnings") or []:
        err.print(f"  note: {warning}", markup=False)
    for warning in preview["dst_warnings"]:
        err.print(f"  DST: {warning['message']}", markup=False)


def _schedule_fields(schedule: dict[str, Any]) -> str:
    text = _schedule_text(schedule)
    if schedule.get("type") == "every" and schedule.get("offset"):
        text += f" offset {schedule['offset']}s"
    if schedule.get("exclude"):
        text += f" except {json.dumps(schedule['exclude'])}"
    return text


def _confirm_schedule(api: Api, text: str, timezone: str, yes: bool) -> dict[str, Any]:
    """The schedule parse-nl reads from ``text``, shown with its next runs and confirmed."""
    preview = _preview(api, text, timezone)
    _show_preview(preview)
    if not yes and not typer.confirm("Create the job with this schedule?", err=True):
        _fail(REFUSED, "not created")
    schedule: dict[str, Any] = preview["schedule"]
    return schedule


@jobs_app.command("preview")
def preview(
    text: Annotated[str, typer.Argument(help='A schedule in words, e.g. "every friday at 5pm".')],
    timezone: Annotated[
        str, typer.Option(help="The IANA zone assumed when the text names none.")
    ] = "UTC",
    api_url: ApiUrl = DEFAULT_API_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Show what `create --schedule TEXT` would confirm: the schedule, next runs, warnings."""
    shown = _preview(Api(api_url, key, as_json), text, timezone)
    if as_json:
        _write_json(shown)
    else:
        _show_preview(shown)


@jobs_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="The job's name.")],
    goal: Annotated[str, typer.Option(help="What the agent is asked to do.")],
    agent: Annotated[str, typer.Option(help="A configured agent's id (`echo` always is).")],
    fallback_agent: Annotated[
        list[str] | None,
        typer.Option(
            help="An agent that takes the next attempt after a 429, 5xx or timeout; repeat "
            "the option for several, in order."
        ),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(help='In words, e.g. "every weekday at 9am Pacific" (shown to confirm).'),
    ] = None,
    cron: Annotated[str | None, typer.Option(help='A 5-field cron, e.g. "0 9 * * 1-5".')] = None,
    every: Annotated[str | None, typer.Option(help='An interval: seconds, "30m", "2h".')] = None,
    at: Annotated[str | None, typer.Option(help="Once, at an ISO 8601 datetime.")] = None,
    timezone: Annotated[
        str, typer.Option(help="The schedule's IANA zone (for --schedule: when it names none).")
    ] = "UTC",
    delivery: Annotated[
        str | None, typer.Option(help="Where results go: slack:#chan, webhook:https://…, …")
    ] = None,
    delivery_format: Annotated[
        str, typer.Option("--format", help="Delivery format: markdown, text or json.")
    ] = "markdown",
    condition: Annotated[
        str | None, typer.Option(help="Deliver only when this expression holds (after the run).")
    ] = None,
    max_attempts: Annotated[
        int | None, typer.Option(min=1, help="Attempts of the agent call (retry policy).")
    ] = None,
    timeout_seconds: Annotated[int | None, typer.Option(min=1, help="Per attempt.")] = None,
    overlap: Annotated[
        str | None, typer.Option(help="skip, buffer_one, allow_all or cancel_other.")
    ] = None,
    paused: Annotated[bool, typer.Option("--paused", help="Create it paused.")] = False,
    yes: Yes = False,
    api_url: ApiUrl = DEFAULT_API_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Create a job: a schedule from --cron, --every, --at, or --schedule in words."""
    given = [
        flag
        for flag, value in (
            ("--schedule", schedule),
            ("--cron", cron),
            ("--every", every),
            ("--at", at),
        )
        if value
    ]
    if len(given) != 1:
        _fail(
            USAGE,
            "give exactly one of --schedule, --cron, --every, --at"
            + (f" (got {', '.join(given)})" if given else ""),
        )
    api = Api(api_url, key, as_json)
    if schedule:
        body_schedule = _confirm_schedule(api, schedule, timezone, yes)
    elif cron:
        body_schedule = {"type": "cron", "expression": cron, "timezone": timezone}
    elif every:
        interval: int | str = int(every) if every.isdigit() else every
        body_schedule = {"type": "every", "interval": interval, "timezone": timezone}
    else:
        body_schedule = {"type": "at", "datetime": at, "timezone": timezone}
    body: dict[str, Any] = {
        "name": name,
        "goal": goal,
        "agent_id": agent,
        "schedule": body_schedule,
        "enabled": not paused,
    }
    if fallback_agent:
        body["fallback_agent_ids"] = fallback_agent
    if delivery:
        body["delivery"] = {"channel": delivery, "format": delivery_format}
    if condition:
        body["condition"] = {"type": "expression", "expression": condition}
    if max_attempts is not None:
        body["retry"] = {"max_attempts": max_attempts}
    if timeout_seconds is not None:
        body["timeout_seconds"] = timeout_seconds
    if overlap:
        body["overlap"] = overlap
    job = api.call("POST", "/jobs", json=body)
    if as_json:
        _write_json(job)
        return
    out.print(f"Created {job['id']} ({job['name']}), next run {_when(job.get('next_run_at'))}")


def _transition(action: str, job_id: str, api_url: str, key: str | None, as_json: bool) -> None:
    job = Api(api_url, key, as_json).call("POST", f"/jobs/{job_id}/{action}")
    if as_json:
        _write_json(job)
        return
    out.print(f"{job['id']} ({job['name']}) is {job['status']}", markup=False)


@jobs_app.command("pause")
def pause(
    job_id: JobIdArg, api_url: ApiUrl = DEFAULT_API_URL, key: Key = None, as_json: AsJson = False
) -> None:
    """Pause a job: its schedule stops firing."""
    _transition("pause", job_id, api_url, key, as_json)


@jobs_app.command("resume")
def resume(
    job_id: JobIdArg, api_url: ApiUrl = DEFAULT_API_URL, key: Key = None, as_json: AsJson = False
) -> None:
    """Resume a paused job."""
    _transition("resume", job_id, api_url, key, as_json)


@jobs_app.command("trigger")
def trigger(
    job_id: JobIdArg,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the run to its end.")] = False,
    timeout: Annotated[
        float, typer.Option(min=1, help="With --wait: give up after this many seconds.")
    ] = 600,
    api_url: ApiUrl = DEFAULT_API_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Run a job now; with --wait, follow the run (exit 4 if it fails)."""
    api = Api(api_url, key, as_json)
    accepted = api.call("POST", f"/jobs/{job_id}/trigger")
    run_id = accepted["run_id"]
    if not wait:
        if as_json:
            _write_json(accepted)
        else:
            out.print(f"Started {run_id}", markup=False)
        return
    if not as_json:
        err.print(f"Started {run_id}; waiting for it to end…", markup=False)
    deadline = time.monotonic() + timeout
    while True:
        run = api.call("GET", f"/jobs/{job_id}/runs/{run_id}")
        if run["status"] != "running":
            break
        if time.monotonic() > deadline:
            if as_json:
                _write_json(run)
            _fail(STILL_RUNNING, f"{run_id} still running after {timeout:g} s")
        time.sleep(0.5)
    if as_json:
        _write_json(run)
    else:
        out.print(f"{run_id} {run['status']}", markup=False)
        if run.get("output"):
            out.print(run["output"], markup=False)
    if run["status"] in FAILED_RUN:
        _fail(RUN_FAILED, f"{run_id} {run['status']}: {run.get('error') or 'no error recorded'}")


@jobs_app.command("runs")
def runs(
    job_id: JobIdArg,
    status: Annotated[
        str | None,
        typer.Option(help="running, completed, failed, cancelled, timed_out or skipped."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    api_url: ApiUrl = DEFAULT_API_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """A job's runs, newest first."""
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if status:
        params["status"] = status
    page = Api(api_url, key, as_json).call("GET", f"/jobs/{job_id}/runs", params=params)
    if as_json:
        _write_json(page)
        return
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("RUN", "TRIGGER", "STATUS", "STARTED", "SECONDS", "OUTPUT / ERROR"):
        table.add_column(column, no_wrap=column != "OUTPUT / ERROR")
    for run in page["runs"]:
        said = run.get("error") or run.get("output") or ""
        seconds = run.get("duration_seconds")
        table.add_row(
            run["id"],
            run["trigger"],
            run["status"],
            _when(run.get("started_at")),
            "—" if seconds is None else f"{seconds:.1f}",
            said if len(said) <= 60 else said[:59] + "…",
        )
    out.print(table)
    out.print(f"{len(page['runs'])} of {page['count']} run(s)")


@jobs_app.command("delete")
def delete(
    job_id: JobIdArg,
    cancel_running: Annotated[
        bool, typer.Option("--cancel-running", help="Also cancel its running runs.")
    ] = False,
    yes: Yes = False,
    api_url: ApiUrl = DEFAULT_API_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Delete a job and its schedule (asks first, unless --yes)."""
    api = Api(api_url, key, as_json)
    if not yes:
        job = api.call("GET", f"/jobs/{job_id}")
        if not typer.confirm(f"Delete {job['id']} ({job['name']})?", err=True):
            _fail(REFUSED, "not deleted")
    api.call("DELETE", f"/jobs/{job_id}", params={"cancel_running": cancel_running})
    if as_json:
        _write_json({"job_id": job_id, "deleted": True})
        return
    out.print(f"Deleted {job_id}", markup=False)
