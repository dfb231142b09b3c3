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
- 5: that run was still running when ``--timeout`` passed;
- 6: that run completed but its delivery failed (a delivery held back, ``skipped``, is 0).

Without ``--key`` or ``AGENT_SCHEDULER_API_KEY`` the key ``agent-scheduler dev`` keeps in its data
directory is used (``AGENT_SCHEDULER_DATA_DIR``, default ``.agent-scheduler``, file
``dev-api-key``), so a terminal beside ``make dev`` needs no setup.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from api.cli.helptext import plain_help

OK, REFUSED, USAGE, UNREACHABLE, RUN_FAILED, STILL_RUNNING, DELIVERY_FAILED = 0, 1, 2, 3, 4, 5, 6
DEFAULT_API_URL = "http://127.0.0.1:8787"
API_PREFIX = "/api/scheduler"
FAILED_RUN = ("failed", "timed_out", "cancelled")
# Where `agent-scheduler dev` keeps its key (api/cli/supervisor.py writes it).
DEV_KEY_FILE = "dev-api-key"

jobs_app = typer.Typer(
    help="Jobs of a running API: list, show, create, update, pause, resume, trigger, runs, "
    "run show, incidents, delete.",
    no_args_is_help=True,
)
plain_help()
run_app = typer.Typer(help="One run of a job.", no_args_is_help=True)
jobs_app.add_typer(run_app, name="run")
incidents_app = typer.Typer(
    help="Incidents: failing, missed, late and paused jobs (docs/alerts.md).", no_args_is_help=True
)
jobs_app.add_typer(incidents_app, name="incidents")
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
        "--key",
        envvar="AGENT_SCHEDULER_API_KEY",
        help="An API key (sk_…); default: the dev server's key file in the data directory.",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON (for scripts).")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
JobIdArg = Annotated[str, typer.Argument(metavar="JOB_ID", help="The job's id (job_…).")]


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
            self.key = _dev_key()
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


def dev_key_path() -> Path:
    """The key file of the dev server of this directory (or of ``AGENT_SCHEDULER_DATA_DIR``)."""
    return Path(os.environ.get("AGENT_SCHEDULER_DATA_DIR") or ".agent-scheduler") / DEV_KEY_FILE


def _dev_key() -> str:
    path = dev_key_path()
    try:
        key = path.read_text().strip()
    except OSError:
        key = ""
    if not key:
        _fail(
            USAGE,
            f"no API key: pass --key, set AGENT_SCHEDULER_API_KEY, or run `agent-scheduler dev` "
            f"here (it writes its key to {path}, which "
            f"{'is empty' if path.exists() else 'does not exist'})",
        )
    return key


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
    _print_facts(rows)


def _print_facts(rows: list[tuple[str, str]]) -> None:
    """Print ``(name, value)`` rows as a two-column table, names in bold."""
    table = Table(box=box.SIMPLE, show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
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
    text: Annotated[
        str,
        typer.Argument(metavar="TEXT", help='A schedule in words, e.g. "every friday at 5pm".'),
    ],
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


# The options create and update share.
FallbackAgents = Annotated[
    list[str] | None,
    typer.Option(
        "--fallback-agent",
        help="An agent that takes the next attempt after a 429, 5xx or timeout; repeat "
        "the option for several, in order.",
    ),
]
Words = Annotated[
    str | None,
    typer.Option(
        "--schedule", help='In words, e.g. "every weekday at 9am Pacific" (shown to confirm).'
    ),
]
Cron = Annotated[str | None, typer.Option(help='A 5-field cron, e.g. "0 9 * * 1-5".')]
Every = Annotated[str | None, typer.Option(help='An interval: seconds, "30m", "2h".')]
At = Annotated[str | None, typer.Option(help="Once, at an ISO 8601 datetime.")]
Delivery = Annotated[
    str | None, typer.Option(help="Where results go: slack:#chan, webhook:https://…, …")
]
DeliveryFormat = Annotated[
    str, typer.Option("--format", help="Delivery format: markdown, text or json.")
]
Condition = Annotated[
    str | None, typer.Option(help="Deliver only when this expression holds (after the run).")
]
MaxAttempts = Annotated[
    int | None, typer.Option(min=1, help="Attempts of the agent call (retry policy).")
]
TimeoutSeconds = Annotated[int | None, typer.Option(min=1, help="Per attempt.")]
Overlap = Annotated[str | None, typer.Option(help="skip, buffer_one, allow_all or cancel_other.")]


@jobs_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="The job's name.")],
    goal: Annotated[str, typer.Option(help="What the agent is asked to do.")],
    agent: Annotated[str, typer.Option(help="A configured agent's id (`echo` always is).")],
    fallback_agent: FallbackAgents = None,
    schedule: Words = None,
    cron: Cron = None,
    every: Every = None,
    at: At = None,
    timezone: Annotated[
        str, typer.Option(help="The schedule's IANA zone (for --schedule: when it names none).")
    ] = "UTC",
    delivery: Delivery = None,
    delivery_format: DeliveryFormat = "markdown",
    condition: Condition = None,
    max_attempts: MaxAttempts = None,
    timeout_seconds: TimeoutSeconds = None,
    overlap: Overlap = None,
    paused: Annotated[bool, typer.Option("--paused", help="Create it paused.")] = False,
    yes: Yes = False,
    api_url: ApiUrl = DEFAULT_API_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Create a job: a schedule from --cron, --every, --at, or --schedule in words."""
    flags = ScheduleFlags(schedule, cron, every, at)
    if len(flags.given()) != 1:
        _fail(USAGE, "give exactly one of " + flags.named())
    api = Api(api_url, key, as_json)
    body: dict[str, Any] = {
        "name": name,
        "goal": goal,
        "agent_id": agent,
        "schedule": flags.schedule(api, timezone, yes),
        "enabled": not paused,
        **_optional_fields(
            fallback_agent,
            delivery,
            delivery_format,
            condition,
            max_attempts,
            timeout_seconds,
            overlap,
        ),
    }
    job = api.call("POST", "/jobs", json=body)
    if as_json:
        _write_json(job)
        return
    out.print(f"Created {job['id']} ({job['name']}), next run {_when(job.get('next_run_at'))}")


@jobs_app.command("update")
def update(
    job_id: JobIdArg,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    goal: Annotated[str | None, typer.Option(help="A new goal.")] = None,
    agent: Annotated[str | None, typer.Option(help="Another configured agent's id.")] = None,
    fallback_agent: FallbackAgents = None,
    schedule: Words = None,
    cron: Cron = None,
    every: Every = None,
    at: At = None,
    timezone: Annotated[
        str | None,
        typer.Option(help="The schedule's IANA zone; without it a new schedule keeps the job's."),
    ] = None,
    delivery: Delivery = None,
    delivery_format: DeliveryFormat = "markdown",
    no_delivery: Annotated[
        bool, typer.Option("--no-delivery", help="Stop delivering results.")
    ] = False,
    condition: Condition = None,
    no_condition: Annotated[
        bool, typer.Option("--no-condition", help="Deliver every completed run.")
    ] = False,
    max_attempts: MaxAttempts = None,
    timeout_seconds: TimeoutSeconds = None,
    overlap: Overlap = None,
    yes: Yes = False,
    api_url: ApiUrl = DEFAULT_API_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Change a job: only the options given change; a new schedule applies from the next fire."""
    flags = ScheduleFlags(schedule, cron, every, at)
    if len(flags.given()) > 1:
        _fail(USAGE, "give at most one of " + flags.named())
    if (delivery and no_delivery) or (condition and no_condition):
        _fail(USAGE, "--delivery with --no-delivery, or --condition with --no-condition")
    api = Api(api_url, key, as_json)
    body: dict[str, Any] = _optional_fields(
        fallback_agent, delivery, delivery_format, condition, max_attempts, timeout_seconds, overlap
    )
    for field, value in (("name", name), ("goal", goal), ("agent_id", agent)):
        if value is not None:
            body[field] = value
    if no_delivery:
        body["delivery"] = None
    if no_condition:
        body["condition"] = None
    if flags.given():
        zone = timezone
        if flags.words and zone is None:  # words are read in the job's own zone
            zone = api.call("GET", f"/jobs/{job_id}")["schedule"].get("timezone")
        body["schedule"] = flags.schedule(api, zone, yes)
    elif timezone:
        _fail(USAGE, "--timezone goes with a new schedule (--schedule, --cron, --every or --at)")
    if not body:
        _fail(USAGE, "nothing to change: give at least one option (see --help)")
    job = api.call("PUT", f"/jobs/{job_id}", json=body)
    if as_json:
        _write_json(job)
        return
    out.print(f"Updated {job['id']} ({job['name']})", markup=False)
    _show_job(job)


@dataclass
class ScheduleFlags:
    """The schedule options of ``create`` and ``update``: at most one of them is used."""

    words: str | None
    cron: str | None
    every: str | None
    at: str | None

    def given(self) -> list[str]:
        """The options given, by name."""
        named = zip(("--schedule", "--cron", "--every", "--at"), self._values(), strict=True)
        return [flag for flag, value in named if value]

    def named(self) -> str:
        """``--schedule, --cron, --every, --at``, and which of them were given."""
        given = self.given()
        return "--schedule, --cron, --every, --at" + (f" (got {', '.join(given)})" if given else "")

    def _values(self) -> tuple[str | None, ...]:
        return (self.words, self.cron, self.every, self.at)

    def schedule(self, api: Api, timezone: str | None, yes: bool) -> dict[str, Any]:
        """The schedule object of the one option given (words confirmed first); without
        ``timezone`` an update keeps the job's zone."""
        zone = {"timezone": timezone} if timezone else {}
        if self.words:
            return _confirm_schedule(api, self.words, timezone or "UTC", yes)
        if self.cron:
            return {"type": "cron", "expression": self.cron, **zone}
        if self.every:
            interval: int | str = int(self.every) if self.every.isdigit() else self.every
            return {"type": "every", "interval": interval, **zone}
        return {"type": "at", "datetime": self.at, **zone}


def _optional_fields(
    fallback_agent: list[str] | None,
    delivery: str | None,
    delivery_format: str,
    condition: str | None,
    max_attempts: int | None,
    timeout_seconds: int | None,
    overlap: str | None,
) -> dict[str, Any]:
    """The fields of ``create`` and ``update`` that are sent only when their option is given."""
    body: dict[str, Any] = {}
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
    return body


def _transition(
    action: str,
    job_id: str,
    api_url: str,
    key: str | None,
    as_json: bool,
    body: dict[str, Any] | None = None,
) -> None:
    job = Api(api_url, key, as_json).call("POST", f"/jobs/{job_id}/{action}", json=body)
    if as_json:
        _write_json(job)
        return
    out.print(f"{job['id']} ({job['name']}) is {job['status']}", markup=False)


@jobs_app.command("pause")
def pause(
    job_id: JobIdArg,
    reason: Annotated[
        str | None, typer.Option(help="Why: kept in its paused_reason (and audit log).")
    ] = None,
    api_url: ApiUrl = DEFAULT_API_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Pause a job: its schedule stops firing."""
    _transition("pause", job_id, api_url, key, as_json, {"reason": reason} if reason else None)


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
    run = _ended(api, job_id, run_id, timeout)
    delivery = run.get("delivery") or {}
    if as_json:
        _write_json(run)
    else:
        out.print(f"{run_id} {run['status']}", markup=False)
        if run.get("output"):
            out.print(run["output"], markup=False)
        if delivery:
            out.print(_delivery_text(delivery), markup=False)
    if run["status"] in FAILED_RUN:
        _fail(RUN_FAILED, f"{run_id} {run['status']}: {run.get('error') or 'no error recorded'}")
    if delivery.get("status") == "failed":
        _fail(DELIVERY_FAILED, f"{run_id}: {_delivery_text(delivery)}")


def _ended(api: Api, job_id: str, run_id: str, timeout: float) -> dict[str, Any]:
    """The run once it ended and, when its job delivers, its delivery was recorded (exits 5
    after ``timeout``)."""
    deadline = time.monotonic() + timeout
    delivers = None
    while True:
        run: dict[str, Any] = api.call("GET", f"/jobs/{job_id}/runs/{run_id}")
        if run["status"] != "running":
            if delivers is None:
                delivers = bool(api.call("GET", f"/jobs/{job_id}").get("delivery"))
            if run.get("delivery") or not delivers:
                return run
        if time.monotonic() > deadline:
            if api.as_json:
                _write_json(run)
            state = "still running" if run["status"] == "running" else "not delivered yet"
            _fail(STILL_RUNNING, f"{run_id} {state} after {timeout:g} s")
        time.sleep(0.5)


def _delivery_text(delivery: dict[str, Any]) -> str:
    """``delivery to <channel>: <status>``, with its reason or error."""
    why = delivery.get("reason") or delivery.get("error")
    return f"delivery to {delivery.get('channel')}: {delivery.get('status')}" + (
        f" ({why})" if why else ""
    )


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


@run_app.command("show")
def show_run(
    job_id: JobIdArg,
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The run's id (run_…).")],
    api_url: ApiUrl = DEFAULT_API_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """One run: its status, times, attempts and their errors, usage, output and delivery."""
    run = Api(api_url, key, as_json).call("GET", f"/jobs/{job_id}/runs/{run_id}")
    if as_json:
        _write_json(run)
        return
    seconds = run.get("duration_seconds")
    usage = run.get("usage") or {}
    rows = [
        ("run", run["id"]),
        ("job", run["job_id"]),
        ("status", run["status"] + (f" ({run['skip_reason']})" if run.get("skip_reason") else "")),
        ("trigger", run["trigger"]),
        ("scheduled", _when(run.get("scheduled_at"))),
        ("started", _when(run.get("started_at"))),
        ("ended", _when(run.get("completed_at"))),
        ("seconds", "—" if seconds is None else f"{seconds:.1f}"),
        ("agent", run.get("agent_id") or "—"),
        ("attempts", str(run.get("attempts", 0))),
    ]
    for failed in run.get("attempt_errors") or []:
        rows.append((f"attempt {failed['attempt']}", f"{failed['kind']}: {failed['error']}"))
    if usage:
        rows.append(("usage", ", ".join(f"{k} {v}" for k, v in usage.items() if v is not None)))
    if run.get("error"):
        rows.append(("error", run["error"]))
    if run.get("delivery"):
        rows.append(("delivery", _delivery_text(run["delivery"])))
    rows.append(("Temporal", run["temporal_ui_url"]))
    _print_facts(rows)
    if run.get("output"):
        out.print(run["output"], markup=False)


@incidents_app.command("list")
def list_incidents(
    job: Annotated[str | None, typer.Option(help="Only this job's (job_…).")] = None,
    status: Annotated[str | None, typer.Option(help="open or resolved.")] = None,
    kind: Annotated[str | None, typer.Option(help="failing, missed, late or paused.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    api_url: ApiUrl = DEFAULT_API_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Your incidents, newest first."""
    filters = {"job_id": job, "status": status, "kind": kind}
    params: dict[str, Any] = {"limit": limit, **{k: v for k, v in filters.items() if v}}
    page = Api(api_url, key, as_json).call("GET", "/incidents", params=params)
    if as_json:
        _write_json(page)
        return
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("INCIDENT", "JOB", "KIND", "STATUS", "OPENED", "REASON"):
        table.add_column(column, no_wrap=column != "REASON")
    for incident in page["incidents"]:
        status_text = incident["status"] + (" (acked)" if incident.get("acked_at") else "")
        table.add_row(
            incident["id"],
            f"{incident['job_name']} ({incident['job_id']})",
            incident["kind"],
            status_text,
            _when(incident["opened_at"]),
            incident["reason"],
        )
    out.print(table)
    out.print(f"{len(page['incidents'])} of {page['count']} incident(s)")


@incidents_app.command("ack")
def ack_incident(
    incident_id: Annotated[str, typer.Argument(metavar="INCIDENT_ID", help="inc_…")],
    api_url: ApiUrl = DEFAULT_API_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Acknowledge an open incident: no more reminders for it."""
    incident = Api(api_url, key, as_json).call("POST", f"/incidents/{incident_id}/ack")
    if as_json:
        _write_json(incident)
        return
    out.print(f"{incident['id']} ({incident['kind']}, {incident['job_name']}) acknowledged")


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
