"""The dashboard (``/ui``) and the offline API docs in a real browser (docs/dashboard.md).

Debian's ``chromium`` is driven headless by Playwright (never a browser of Playwright's own) on
the real app served by uvicorn, with a real worker and Temporal. Every test also checks that no
request leaves loopback, and writes a screenshot of each page it visits under its tmp dir,
checked to be more than a blank page. Where no chromium can be launched the tests are skipped
with the reason printed, except under ``CI=true``, where they fail (``.ci/run`` installs it).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image
from playwright.async_api import Browser, Page, Request, async_playwright
from playwright.async_api import Error as PlaywrightError
from temporalio.worker import Worker

from api.core.index.db import make_engine, make_sessionmaker
from api.core.index.incidents import open_incident
from api.core.index.keys import create_key
from api.core.index.models import jobs as jobs_table
from api.core.index.models import runs as runs_table
from api.core.settings import Settings
from tests.helpers.api import JOBS
from tests.helpers.served import minted_key, served

CHROMIUM = Path("/usr/bin/chromium")
NEW_YORK = ZoneInfo("America/New_York")
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


INSTALL_CHROMIUM = "install Debian's chromium (`apt-get install chromium`, as .ci/run does)"


def no_browser(reason: str, remedy: str = INSTALL_CHROMIUM) -> NoReturn:
    """Skip the browser tests saying why and what to do; under CI (``CI=true``) fail them,
    never skip quietly."""
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"CI runs the browser tests, but {reason}: {remedy}", pytrace=False)
    reason += f" ({remedy})"
    print(f"\nSKIP browser tests: {reason}")  # noqa: T201
    pytest.skip(reason)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Debian's chromium, headless; where it cannot run, the tests skip (fail under CI)."""
    if not CHROMIUM.exists():
        no_browser(f"there is no chromium at {CHROMIUM}")
    playwright = await async_playwright().start()
    try:
        # --no-sandbox: CI runs as root, where chromium's own sandbox refuses to start.
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"]
        )
    except PlaywrightError as exc:
        await playwright.stop()
        no_browser(f"chromium at {CHROMIUM} cannot be launched: {exc.message.splitlines()[0]}")
    try:
        yield launched
    finally:
        await launched.close()
        await playwright.stop()


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """As ``agent-scheduler dev`` runs: unconfigured providers go to the outbox. Besides
    ``echo``, a ``sleeper`` agent whose call lasts two minutes (a run to cancel)."""
    settings.dev_outbox = True
    settings.slack_token = None
    settings.smtp_host = None
    agents = tmp_path / "agents.toml"
    agents.write_text(
        f'[agents.sleeper]\nkind = "command"\n'
        f'command = ["{sys.executable}", "-c", "import time; time.sleep(120)"]\n'
    )
    settings.agents_file = agents
    return settings


@dataclass
class Dashboard:
    url: str
    key: str
    http: httpx.AsyncClient
    settings: Settings
    shots: Path

    async def job(self, **body: Any) -> dict[str, Any]:
        body = {"goal": "say hi", "agent_id": "echo", **body}
        response = await self.http.post(JOBS, json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def finished_run(self, job_id: str) -> dict[str, Any]:
        response = await self.http.post(f"{JOBS}/{job_id}/trigger")
        assert response.status_code == 202, response.text
        url = f"{JOBS}/{job_id}/runs/{response.json()['run_id']}"
        deadline = time.monotonic() + 30
        while True:
            run = (await self.http.get(url)).json()
            if run["status"] != "running" and (run["delivery"] or {}).get("status") != "pending":
                return dict(run)
            assert time.monotonic() < deadline, run
            await asyncio.sleep(0.1)


async def owner_key(settings: Settings, owner: str) -> str:
    engine = make_engine(settings.resolved_database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            _, plaintext = await create_key(session, owner=owner)
    finally:
        await engine.dispose()
    return plaintext


@pytest.fixture
async def dashboard(settings: Settings, tmp_path: Path) -> AsyncIterator[Dashboard]:
    """The app served on loopback, a key of owner ``alice`` and a client with it."""
    with served(settings) as url:
        key = await owner_key(settings, "alice")
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
            yield Dashboard(url, key, http, settings, tmp_path / "screenshots")


@dataclass
class Tab:
    page: Page
    # Every request the page made that did not go to loopback (must stay empty).
    outside: list[str] = field(default_factory=list)
    api_calls: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def _watch(tab: Tab, request: Request) -> None:
    parts = urlsplit(request.url)
    if parts.scheme in ("data", "about", "blob"):
        return
    if parts.hostname not in LOOPBACK:
        tab.outside.append(request.url)
    if parts.path.startswith("/api/"):
        tab.api_calls.append(request.url)


def _refused(tab: Tab, request: Request) -> None:
    """A request the page's Content-Security-Policy refused never left the browser."""
    failure = request.failure or ""
    if (failure == "csp" or "BLOCKED_BY_CSP" in failure) and request.url in tab.outside:
        tab.outside.remove(request.url)
        tab.refused.append(request.url)


async def open_tab(
    browser: Browser, *, width: int = 1280, height: int = 900, zone: str = "UTC"
) -> Tab:
    context = await browser.new_context(
        viewport={"width": width, "height": height}, timezone_id=zone, locale="en-GB"
    )
    page = await context.new_page()
    tab = Tab(page)
    page.on("request", lambda request: _watch(tab, request))
    page.on("requestfailed", lambda request: _refused(tab, request))
    return tab


async def sign_in(tab: Tab, dashboard: Dashboard, hash_: str = "#/jobs") -> None:
    await tab.page.goto(f"{dashboard.url}/ui{hash_}")
    await tab.page.fill("#api-key", dashboard.key)
    await tab.page.click("form.sign-in button[type=submit]")
    await tab.page.wait_for_selector("#nav:not([hidden])")


async def screenshot(tab: Tab, dashboard: Dashboard, name: str, *, full_page: bool = True) -> Path:
    """A screenshot under the test's tmp dir, checked to be more than blank."""
    dashboard.shots.mkdir(parents=True, exist_ok=True)
    path = dashboard.shots / f"{name}.png"
    await tab.page.screenshot(path=str(path), full_page=full_page)
    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50, f"{name}: a blank page"
    # No single colour (the background) covers nearly all of it.
    assert max(count for count, _ in colours) < 0.97 * sum(c for c, _ in colours), name
    return path


async def horizontal_overflow(page: Page) -> list[str]:
    """What sticks out past the viewport's right edge (empty when the page fits its width)."""
    found: list[str] = await page.evaluate(
        """() => document.documentElement.scrollWidth <= innerWidth ? [] :
            [...document.querySelectorAll('body *')]
              .filter(e => e.getBoundingClientRect().right > innerWidth + 1)
              .filter(e => !e.closest('.table-wrap') || e.classList.contains('table-wrap'))
              .map(e => `${e.tagName}.${e.className} ${e.getBoundingClientRect().right}`)
              .concat([`scrollWidth ${document.documentElement.scrollWidth}`])"""
    )
    return found


REPORT = (
    "# Weekly report\n\n**All green** <img src=x onerror=alert(1)> see "
    "[the docs](https://example.com/docs) and [this](javascript:alert(1))\n\n- one\n- two"
)


async def test_sign_in_see_jobs_pause_one_open_a_run_and_its_temporal_link(
    browser: Browser, dashboard: Dashboard, worker: Worker
) -> None:
    report = await dashboard.job(
        name="Weekly report",
        goal=REPORT,
        schedule={"type": "cron", "expression": "0 8 * * 1-5", "timezone": "America/New_York"},
        delivery={"channel": "slack:#ops"},
        condition={"type": "expression", "expression": "len(output) > 10"},
    )
    hourly = await dashboard.job(name="Hourly sync", schedule={"type": "every", "interval": 3600})
    await dashboard.job(name="Nightly", schedule={"type": "cron", "expression": "30 2 * * *"})
    run = await dashboard.finished_run(report["id"])
    assert run["status"] == "completed" and run["delivery"]["outbox"] is True

    tab = await open_tab(browser)
    page = tab.page
    await page.goto(f"{dashboard.url}/ui")
    # Keyboard only: the key field has the focus, Tab reaches the button, Enter signs in.
    await page.wait_for_selector("#api-key:focus")
    # Signed out: no pages to go to, nothing to sign out of.
    assert not await page.locator("#nav").is_visible()
    assert not await page.get_by_role("button", name="Sign out").is_visible()
    await page.keyboard.type("sk_not_a_key")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Sign in"
    await page.keyboard.press("Enter")
    await page.wait_for_selector("form.sign-in .error:not([hidden])")
    assert "not valid" in await page.inner_text("form.sign-in .error")
    await sign_in(tab, dashboard)
    # The key is in this tab's sessionStorage only (beside the scope the dashboard may have
    # asked for by now): no cookie, no localStorage.
    stored = await page.evaluate("Object.fromEntries(Object.entries(sessionStorage))")
    assert stored["agent-scheduler-api-key"] == dashboard.key
    assert set(stored) <= {"agent-scheduler-api-key", "agent-scheduler-scope"}
    assert await page.evaluate("localStorage.length + document.cookie.length") == 0

    await page.wait_for_selector("table.jobs tbody tr[data-job-id]")
    assert await page.inner_text("#jobs-summary") == "1–3 of 3 jobs"
    names = await page.locator("table.jobs tbody th.name > a.job-link").all_inner_texts()
    assert names == ["Nightly", "Hourly sync", "Weekly report"]  # newest first
    row = page.locator(f'tr[data-job-id="{report["id"]}"]')
    assert "Monday through Friday" in await row.locator("td.schedule").inner_text()
    assert await row.locator("td.zone").inner_text() == "America/New_York"
    assert await row.locator("td.count").inner_text() == "1"
    await row.locator("td.last a.run-link").wait_for()
    assert await row.locator("td.last .badge").inner_text() == "completed"
    await page.wait_for_selector('[data-stat="runs-today"] .stat-value')
    assert await page.inner_text('[data-stat="runs-today"] .stat-value') == "1"
    assert "3 active" in await page.inner_text('[data-stat="jobs-by-status"]')
    await screenshot(tab, dashboard, "jobs")

    # Pause with the mouse: the row shows it, and so does the API.
    hourly_row = page.locator(f'tr[data-job-id="{hourly["id"]}"]')
    await hourly_row.locator('button[data-action="pause"]').click()
    await page.wait_for_selector(f'tr[data-job-id="{hourly["id"]}"][data-status="paused"]')
    assert await hourly_row.locator("td.status .badge").inner_text() == "paused"
    assert (await dashboard.http.get(f"{JOBS}/{hourly['id']}")).json()["status"] == "paused"
    # Resume with the keyboard: the focused button, Enter.
    await hourly_row.locator('button[data-action="resume"]').focus()
    await page.keyboard.press("Enter")
    await page.wait_for_selector(f'tr[data-job-id="{hourly["id"]}"][data-status="active"]')
    await hourly_row.locator('button[data-action="pause"]').click()
    await page.wait_for_selector(f'tr[data-job-id="{hourly["id"]}"][data-status="paused"]')

    # Run now: the row shows the new run as its last at once, no reload.
    nightly_row = page.locator("table.jobs tbody tr[data-job-id]").first
    await nightly_row.locator("button[data-action=trigger]").click()
    await nightly_row.locator("td.last a.run-link").wait_for()
    assert await nightly_row.locator("td.last .badge").inner_text() in ("running", "completed")
    assert (await nightly_row.locator("td.last time").inner_text()).endswith("UTC")

    # Filter by status.
    await page.select_option("#status-filter", "paused")
    await page.wait_for_function("location.hash === '#/jobs?status=paused'")
    await page.wait_for_selector("#jobs-summary:has-text('1–1 of 1 jobs')")
    assert await page.locator("table.jobs tbody tr[data-job-id]").count() == 1
    await page.select_option("#status-filter", "")
    await page.wait_for_selector("#jobs-summary:has-text('of 3 jobs')")

    # The run: its Temporal link, its output rendered (and defused), its delivery.
    await page.locator(f'tr[data-job-id="{report["id"]}"] td.last a.run-link').click()
    await page.wait_for_selector("#temporal-link")
    href = await page.get_attribute("#temporal-link", "href")
    assert href == run["temporal_ui_url"]
    assert href is not None and run["id"] in href and href.startswith("http://127.0.0.1:8233/")
    assert await page.get_attribute("#temporal-link", "rel") == "noopener noreferrer"
    # Traces are off here: the run page says so where a trace id would be.
    assert "Trace\nnone (traces are off)" in await page.inner_text("dl.facts")
    output = page.locator(".markdown.output")
    assert await output.locator("h3").inner_text() == "Weekly report"
    assert await output.locator("strong").inner_text() == "All green"
    assert await output.locator("li").all_inner_texts() == ["one", "two"]
    assert await output.locator("img").count() == 0
    assert "<img src=x onerror=alert(1)>" in await output.inner_text()
    links = output.locator("a")
    assert await links.count() == 1 and await links.get_attribute("href") == (
        "https://example.com/docs"
    )
    assert await page.locator("a[href^='javascript']").count() == 0
    condition = await page.inner_text("#section-condition + dl")
    assert "len(output) > 10" in condition and "after_run" in condition and "true" in condition
    delivery = await page.inner_text("#section-delivery + dl")
    assert "slack:#ops" in delivery and "kept in the dev outbox" in delivery
    assert "completed" in await page.inner_text(".facts dd .badge")
    await screenshot(tab, dashboard, "run")

    # The outbox shows what Slack and e-mail would have received, rendered per channel.
    mail = await dashboard.job(
        name="Mail digest",
        goal="# Today\n\nAll <b>fine</b>",
        schedule={"type": "every", "interval": 86400},
        delivery={"channel": "email:ops@example.com"},
    )
    mail_run = await dashboard.finished_run(mail["id"])
    await page.click("#nav a[data-page=outbox]")
    letter = page.locator(f'article.outbox-email[data-run-id="{mail_run["id"]}"]')
    await letter.wait_for()
    assert await letter.locator("dd.subject").inner_text() == "Mail digest (completed)"
    frame = letter.locator("iframe.email-html")
    assert await frame.get_attribute("sandbox") == "allow-same-origin"  # no scripts
    body = page.frame_locator(f'article[data-run-id="{mail_run["id"]}"] iframe')
    assert await body.locator("h1").inner_text() == "Today"
    # The e-mail's own style applies (the page's policy refuses it as markup) and the frame is
    # as tall as the e-mail: nothing clipped.
    assert await body.locator("body").evaluate("b => getComputedStyle(b).fontFamily") == (
        "sans-serif"
    )
    shown = await frame.evaluate(
        "f => f.clientHeight >= f.contentDocument.documentElement.scrollHeight"
    )
    assert shown is True
    assert (
        await body.locator("b").count() == 0
        and "<b>fine</b>" in await body.locator("body").inner_text()
    )
    item = page.locator(f'article.outbox-slack[data-run-id="{run["id"]}"]')
    await item.wait_for()
    message = item.locator(".slack-message.first")
    assert await message.locator("strong").first.inner_text() == "Weekly report"
    assert await message.locator("img").count() == 0
    assert await message.locator("a").get_attribute("href") == "https://example.com/docs"
    await screenshot(tab, dashboard, "outbox")

    # Activity on the last 14 days around 09:00 UTC: a hot hour, and suggestions beside it.
    now = datetime.now(UTC)
    events = [
        {"at": (now - timedelta(days=day)).replace(hour=9, minute=m).isoformat(), "kind": "web"}
        for day in range(1, 15)
        for m in (0, 10, 20, 30)
    ]
    answer = await dashboard.http.post("/api/scheduler/smart/activity", json={"events": events})
    assert answer.status_code == 201, answer.text
    await page.click("#nav a[data-page=heatmap]")
    await page.wait_for_selector("table.heatmap tbody tr")
    counts = await page.eval_on_selector_all(
        "table.heatmap tbody tr", "rows => rows.map(r => Number(r.children[10].dataset.count))"
    )
    assert all(count >= 8 for count in counts), counts  # 09:00 on every weekday, twice or more
    assert await page.locator(".suggestions li").count() >= 1
    assert "09:" in await page.inner_text(".suggestions") or "08:" in await page.inner_text(
        ".suggestions"
    )
    assert await page.locator("table.heatmap tbody tr").count() == 7
    assert await page.locator("table.heatmap tbody td.heat").count() == 7 * 24
    assert await page.locator("#suggestions-title").inner_text() == "Suggested times"
    assert "Events per hour" in await page.inner_text("#heat-legend")
    await screenshot(tab, dashboard, "heatmap")

    await page.click("#nav a[data-page=calendar]")
    await page.wait_for_selector("table.calendar tbody tr[data-hour='23']")
    await screenshot(tab, dashboard, "calendar-this-week")
    assert tab.outside == []

    # A phone's width: every page fits, nothing scrolls sideways.
    phone = await open_tab(browser, width=390, height=844)
    await sign_in(phone, dashboard)
    run_hash = f"#/runs/{report['id']}/{run['id']}"
    for name, hash_, ready in (
        ("jobs", "#/jobs", "table.jobs tbody tr[data-job-id]"),
        ("calendar", "#/calendar", ".calendar-agenda .agenda-day"),
        ("heatmap", "#/heatmap", "table.heatmap tbody tr"),
        ("run", run_hash, "#temporal-link"),
        ("job", f"#/jobs/{report['id']}", "table.runs tbody tr[data-run-id]"),
        ("new-job", "#/jobs/new", "#schedule-preview"),
        ("outbox", "#/outbox", "article.outbox-slack"),
    ):
        await phone.page.goto(f"{dashboard.url}/ui{hash_}")
        await phone.page.wait_for_selector(ready)
        assert await horizontal_overflow(phone.page) == [], f"{name} overflows at 390 px"
        if name == "calendar":  # a list of days there, today's run in it
            assert await phone.page.locator(".calendar-agenda a[data-kind=run]").first.is_visible()
            assert not await phone.page.locator("table.calendar").is_visible()
        await screenshot(phone, dashboard, f"{name}-390")
    assert phone.outside == []

    # Another tab (a new browser session) is not signed in.
    other = await open_tab(browser)
    await other.page.goto(f"{dashboard.url}/ui#/jobs")
    await other.page.wait_for_selector("form.sign-in")


BRIEF = "# Brief\n\n| city | temp |\n|---|--:|\n| Paris | 12 |\n| Oslo | 3 |"


async def test_a_job_from_new_to_deleted_as_a_user_does_it(
    browser: Browser, dashboard: Dashboard, worker: Worker
) -> None:
    """New job with an English schedule and its live preview, a refused channel shown on its
    field, Create job, the job page, Run now (the run completes on the page, no reload), the
    run with its Markdown table, Redeliver, Pause, Delete job: all by name, as a screen reader
    finds them."""
    tab = await open_tab(browser, width=1366, zone="America/New_York")
    page = tab.page
    await sign_in(tab, dashboard)
    await page.wait_for_selector("#jobs-summary:has-text('No jobs yet.')")
    assert "New job" in await page.inner_text("#jobs-hint")
    assert await page.locator("#jobs-zone option:checked").inner_text() == (
        "your zone (America/New_York)"
    )

    # The form with the keyboard alone: Tab from field to field, Enter submits.
    await page.get_by_role("button", name="New job").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_selector("h1.page-title:focus")
    keys = page.keyboard
    await keys.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "field-name"
    await keys.type("Morning brief")
    await keys.press("Tab")
    await keys.type(BRIEF)  # the Goal, a text area: Enter is a new line there
    await keys.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "field-agent"
    assert await page.get_by_label("Agent").input_value() == "echo"
    await keys.press("Tab")  # the schedule's form: "In English" is chosen
    await keys.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "field-schedule"
    await keys.type("every weekday at 9am")
    await keys.press("Tab")
    await keys.press("Control+a")
    await keys.type("Europe/Paris")
    await keys.press("Tab")
    preview = page.locator("#preview-runs li")
    await preview.nth(4).wait_for()
    fires = await preview.all_inner_texts()
    assert len(fires) == 5 and all("09:00 Europe/Paris" in fire for fire in fires), fires
    assert "Monday through Friday" in await page.inner_text("#schedule-preview")
    await screenshot(tab, dashboard, "new-job-1366")  # docs/dashboard-new-job.png
    assert await page.get_by_role("button", name="Create job").is_visible()
    # A channel the API refuses: its 422 detail shows on the Channel field, nothing is made.
    assert await page.evaluate("document.activeElement.id") == "field-channel"
    await keys.type("slack:#Not A Channel")
    async with page.expect_request(lambda r: r.method == "POST" and r.url.endswith(JOBS)) as sent:
        await keys.press("Enter")
    key = (await sent.value).headers["idempotency-key"]
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    await page.wait_for_selector("#error-channel:not([hidden])")
    assert await page.get_attribute("#field-channel", "aria-invalid") == "true"
    assert await page.evaluate("document.activeElement.id") == "field-channel"
    assert (await dashboard.http.get(JOBS)).json()["count"] == 0
    await keys.press("Control+a")
    await keys.type("slack:#ops")
    async with page.expect_request(lambda r: r.method == "POST" and r.url.endswith(JOBS)) as sent:
        await keys.press("Enter")
    assert (await sent.value).headers["idempotency-key"] == key  # the refusal freed it
    await page.wait_for_url(re.compile(r"#/jobs/job_[^/?]+$"))
    [job] = (await dashboard.http.get(JOBS)).json()["jobs"]
    assert job["schedule"] == {
        "type": "cron",
        "expression": "0 9 * * 1-5",
        "timezone": "Europe/Paris",
    }
    assert job["delivery"]["channel"] == "slack:#ops"

    # The job page: its schedule in words, next runs, no runs yet; Run now, no reload.
    await page.wait_for_selector("h1.page-title:has-text('Morning brief')")
    assert "Monday through Friday" in await page.inner_text("#schedule-words")
    await page.locator("#next-runs li").nth(4).wait_for()
    await page.wait_for_selector("#runs-summary:has-text('No runs yet')")
    await page.evaluate("window.notReloaded = true")
    await page.get_by_role("button", name="Run now").click()
    done = page.locator("table.runs tbody tr[data-status=completed]")
    await done.wait_for(timeout=30_000)
    assert await page.evaluate("window.notReloaded") is True
    await page.wait_for_selector("table.runs tbody tr .badge.status-delivered")
    await page.wait_for_selector("dd[data-fact=Runs]:text-is('1')")
    # "Why didn't it run at …" for its next fire, a wall time in the job's zone.
    nxt = datetime.fromisoformat(job["next_run_at"]).astimezone(ZoneInfo("Europe/Paris"))
    await page.get_by_label("Time (in Europe/Paris)").fill(nxt.strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_role("button", name="Explain").click()
    await page.wait_for_selector("#explain-answer strong:text-is('will run')")
    await page.evaluate("document.getElementById('toast').classList.remove('shown')")
    await page.wait_for_timeout(300)  # the toast fades out
    await screenshot(tab, dashboard, "job-1366")  # docs/dashboard-job.png

    # The run: its output's table, Redeliver, then back to the job through its link.
    await done.locator("a.run-link").click()
    await page.wait_for_selector("#redeliver:not([disabled])")
    cells = await page.locator(".markdown.output table tbody tr").all_inner_texts()
    assert cells == ["Paris\t12", "Oslo\t3"]
    assert not await page.get_by_role("button", name="Cancel run").is_enabled()
    await page.get_by_role("button", name="Redeliver").click()
    await page.wait_for_selector("#section-delivery + dl:has-text('(redelivered)')", timeout=30_000)
    first_run = page.url
    await page.get_by_role("button", name="Run again").click()
    await page.wait_for_url(lambda url: url != first_run)
    await page.wait_for_selector("dl.facts dd .badge.status-completed")  # follows it, no reload
    await page.get_by_role("link", name="Morning brief").click()
    await page.get_by_label("Pause reason").fill("team offsite")
    await page.get_by_role("button", name="Pause").click()
    await page.get_by_role("button", name="Resume").wait_for()
    assert (await dashboard.http.get(f"{JOBS}/{job['id']}")).json()["status"] == "paused"
    assert await page.inner_text("#paused-reason") == "paused by user: team offsite"

    # Edit: the form holds the job as it is; a new name is saved, the schedule not resent.
    await page.get_by_role("link", name="Edit job").click()
    assert await page.get_by_label("Schedule", exact=True).input_value() == "0 9 * * 1-5"
    assert await page.get_by_label("Time zone").input_value() == "Europe/Paris"
    await page.get_by_label("Name").fill("Morning brief, Paris")
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_selector("h1.page-title:has-text('Morning brief, Paris')")
    edited = (await dashboard.http.get(f"{JOBS}/{job['id']}")).json()
    assert edited["schedule"] == job["schedule"] and edited["status"] == "paused"
    # The job's history (its audit log): the rename field by field, the pause, the creation.
    await page.wait_for_selector("#job-history li[data-event='job.update']")
    renamed = await page.inner_text("#job-history li[data-event='job.update']")
    assert "name: Morning brief → Morning brief, Paris" in renamed
    for action in ("job.pause", "job.create"):
        assert await page.locator(f"#job-history li[data-event='{action}']").count() == 1
    assert "team offsite" in await page.inner_text("#job-history li[data-event='job.pause']")
    # The jobs list, its times switched to the job's zone.
    await page.goto(f"{dashboard.url}/ui#/jobs?times=job")
    next_cell = page.locator(f'tr[data-job-id="{job["id"]}"] td.last time')
    assert (await next_cell.inner_text()).endswith("Europe/Paris")
    await page.go_back()

    # Delete job asks first; keeping it keeps it, the keyboard confirms.
    await page.get_by_role("button", name="Delete job").click()
    dialog = page.get_by_role("dialog", name="Delete Morning brief, Paris?")
    await page.wait_for_selector("#delete-dialog button:focus:text-is('Keep it')")
    await page.keyboard.press("Enter")
    assert not await dialog.is_visible()
    await page.get_by_role("button", name="Delete job").click()
    await dialog.get_by_role("button", name="Delete").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#jobs-summary:has-text('No jobs yet.')")
    assert (await dashboard.http.get(f"{JOBS}/{job['id']}")).status_code == 404
    assert tab.outside == []


def transitions(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The instants (UTC, to the hour) in [start, end) at which ``zone``'s offset changes."""
    found = []
    at = start.replace(minute=0, second=0, microsecond=0)
    before = at.astimezone(zone).utcoffset()
    while at < end:
        at += timedelta(hours=1)
        offset = at.astimezone(zone).utcoffset()
        if offset != before:
            found.append(at)
            before = offset
    return found


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


async def cell_of(page: Page, selector: str) -> list[tuple[int, int, str]]:
    """(day column, hour row, ISO time) of each calendar chip matching ``selector``."""
    places = await page.eval_on_selector_all(
        selector,
        """chips => chips.map(chip => {
            const td = chip.closest('td');
            return [Number(td.dataset.day), Number(td.dataset.hour),
                    chip.querySelector('time').getAttribute('datetime')];
        })""",
    )
    return [(int(day), int(hour), str(at)) for day, hour, at in places]


def local_place(at: datetime, week: date) -> tuple[int, int]:
    local = at.astimezone(NEW_YORK)
    return (local.date() - week).days, local.hour


async def test_open_incidents_on_the_jobs_page_and_the_run_page(
    browser: Browser, dashboard: Dashboard, worker: Worker
) -> None:
    job = await dashboard.job(name="Flaky", schedule={"type": "every", "interval": 3600})
    run = await dashboard.finished_run(job["id"])
    engine = make_engine(dashboard.settings.resolved_database_url)
    try:
        async with engine.begin() as conn:
            row = (
                await conn.execute(sa.select(jobs_table).where(jobs_table.c.id == job["id"]))
            ).one()
            incident_id = await open_incident(
                conn,
                job=row,
                kind="failing",
                reason="3 runs in a row failed",
                at=datetime.now(UTC),
                alerts=None,
            )
    finally:
        await engine.dispose()
    tab = await open_tab(browser)
    page = tab.page
    await sign_in(tab, dashboard)
    item = page.locator(f'#open-incidents li[data-incident-id="{incident_id}"]')
    await item.wait_for()
    assert "3 runs in a row failed" in await item.inner_text()
    assert await page.inner_text("#open-incidents h2") == "1 open incident"
    badge = page.locator(f'tr[data-job-id="{job["id"]}"] td.status .badge.incident')
    assert await badge.inner_text() == "⚠ failing"
    assert await page.inner_text('[data-stat="open-incidents"] .stat-value') == "1"
    await item.locator('button[data-action="ack"]').click()
    await item.locator('button:has-text("Acknowledged")').wait_for()
    acked = (await dashboard.http.get(f"/api/scheduler/incidents/{incident_id}")).json()
    assert acked["acked_by"] == "alice"
    await page.goto(f"{dashboard.url}/ui#/runs/{job['id']}/{run['id']}")
    await page.wait_for_selector("#job-incidents .badge.incident")
    assert "failing" in await page.inner_text("#job-incidents")
    assert tab.outside == []


async def test_calendar_shows_planned_fires_and_runs_at_local_hours_across_dst_changes(
    browser: Browser, dashboard: Dashboard, worker: Worker
) -> None:
    """In New York: a 14:00 UTC job fires at 10:00 local in summer time and 09:00 in winter
    time, in the week of each change; a 09:00 New York job stays at 09:00; the change's day is
    marked; runs are coloured by status and open their run."""
    utc_job = await dashboard.job(
        name="UTC 14:00", schedule={"type": "cron", "expression": "0 14 * * *", "timezone": "UTC"}
    )
    ny_job = await dashboard.job(
        name="New York 09:00",
        schedule={"type": "cron", "expression": "0 9 * * *", "timezone": "America/New_York"},
    )
    now = datetime.now(UTC)
    [past, *_] = transitions(NEW_YORK, now - timedelta(days=380), now - timedelta(days=8))[-1:]
    [future, *_] = transitions(NEW_YORK, now + timedelta(days=8), now + timedelta(days=380))

    # Runs of the past change's week, one a day at 14:00 UTC, in the index as the worker
    # would have recorded them.
    past_week = monday(past.astimezone(NEW_YORK).date())
    statuses = ["completed", "failed", "completed", "timed_out", "completed", "failed", "skipped"]
    seeded = []
    for i, status in enumerate(statuses):
        day = past_week + timedelta(days=i)
        started = datetime(day.year, day.month, day.day, 14, tzinfo=UTC)
        seeded.append(
            {
                "id": f"run_dst{i:02d}",
                "job_id": utc_job["id"],
                "owner": "alice",
                "trigger": "schedule",
                "status": status,
                "scheduled_at": started,
                "started_at": started,
                "completed_at": started + timedelta(seconds=3),
                "duration_seconds": 3.0,
                "attempts": 2 if status == "failed" else 1,
                "attempt_errors": [
                    {
                        "attempt": n,
                        "at": (started + timedelta(seconds=n)).isoformat(),
                        "kind": "http_status",
                        "error": f"agent answered HTTP 50{n}",
                    }
                    for n in (1, 2)
                ]
                if status == "failed"
                else [],
                "error": "agent answered HTTP 502" if status == "failed" else None,
                "output": f"run {i}",
            }
        )
    engine = make_engine(dashboard.settings.resolved_database_url)
    async with engine.begin() as conn:
        await conn.execute(runs_table.insert(), seeded)
    await engine.dispose()

    tab = await open_tab(browser, zone="America/New_York")
    page = tab.page
    await sign_in(tab, dashboard, f"#/calendar?week={past_week.isoformat()}")
    await page.wait_for_selector("table.calendar [data-kind=run]")
    runs = await cell_of(page, "table.calendar a[data-kind=run]")
    assert len(runs) == 7
    expected = sorted(local_place(row["started_at"], past_week) for row in seeded)
    assert sorted((column, row) for column, row, _ in runs) == expected
    assert {hour for _, hour in expected} == {9, 10}  # the same UTC hour, two local hours
    change_day = past.astimezone(NEW_YORK).date().isoformat()
    marked = await page.eval_on_selector_all("thead th.dst", "ths => ths.map(t => t.dataset.date)")
    assert marked == [change_day]
    assert "DST" in await page.inner_text("thead th.dst .dst-mark")
    # Coloured by status: completed and failed chips differ.
    colours = await page.eval_on_selector_all(
        "table.calendar a[data-kind=run]:is([data-status=completed], [data-status=failed])",
        "chips => chips.map(c => c.dataset.status + ' ' + getComputedStyle(c).backgroundColor)",
    )
    assert len(set(colours)) == 2, colours
    await screenshot(tab, dashboard, "calendar-past-dst")
    # A run opens its detail.
    await page.click("table.calendar a[data-run-id=run_dst01]")
    await page.wait_for_selector("#temporal-link")
    assert await page.inner_text(".facts dd .badge") == "failed"
    assert await page.locator("table.attempts tbody tr").all_inner_texts() == [
        f"{n}\t{await page.locator('table.attempts tbody tr time').nth(n - 1).inner_text()}"
        f"\t—\thttp_status\tagent answered HTTP 50{n}"  # the rows name no agent_id
        for n in (1, 2)
    ]
    assert await page.inner_text("#section-error + pre") == "agent answered HTTP 502"
    assert "run_dst01" in (await page.get_attribute("#temporal-link", "href") or "")

    # The week of the next change, reached through the week navigation from this week.
    future_week = monday(future.astimezone(NEW_YORK).date())
    await page.goto(f"{dashboard.url}/ui#/calendar")
    await page.wait_for_selector("table.calendar tbody tr[data-hour='23']")
    for _ in range((future_week - monday(now.astimezone(NEW_YORK).date())).days // 7):
        current = await page.inner_text("h1.page-title")
        await page.click("a[rel=next]")
        await page.wait_for_function(
            "t => document.querySelector('h1.page-title')?.textContent !== t", arg=current
        )
    await page.wait_for_selector("table.calendar [data-kind=planned]")
    planned_chips = f"table.calendar [data-kind=planned][data-job-id={utc_job['id']}]"
    planned = await cell_of(page, planned_chips)
    assert len(planned) == 7
    for column, row, at in planned:
        assert (column, row) == local_place(datetime.fromisoformat(at), future_week)
    assert {hour for _, hour, _ in planned} == {9, 10}
    ny = await cell_of(page, f"table.calendar [data-kind=planned][data-job-id={ny_job['id']}]")
    assert sorted(day for day, _, _ in ny) == list(range(7))
    assert {hour for _, hour, _ in ny} == {9}
    marked = await page.eval_on_selector_all("thead th.dst", "ths => ths.map(t => t.dataset.date)")
    assert marked == [future.astimezone(NEW_YORK).date().isoformat()]
    await screenshot(tab, dashboard, "calendar-next-dst")
    assert tab.outside == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_cancel_run_on_a_running_run_and_the_page_follows_it(
    browser: Browser, dashboard: Dashboard, worker: Worker
) -> None:
    """A run still calling its agent: Cancel run stops it, and its page shows it cancelled
    without a reload; Redeliver stays off (nothing was delivered)."""
    job = await dashboard.job(
        name="Slow", agent_id="sleeper", schedule={"type": "every", "interval": 3600}
    )
    started = await dashboard.http.post(f"{JOBS}/{job['id']}/trigger")
    run_id = started.json()["run_id"]
    tab = await open_tab(browser, width=1366)
    page = tab.page
    await sign_in(tab, dashboard, f"#/runs/{job['id']}/{run_id}")
    await page.wait_for_selector("dl.facts dd .badge.status-running")
    await page.evaluate("window.notReloaded = true")
    await page.get_by_role("button", name="Cancel run").click()
    await page.wait_for_selector("dl.facts dd .badge.status-cancelled", timeout=20_000)
    assert await page.evaluate("window.notReloaded") is True
    assert not await page.get_by_role("button", name="Cancel run").is_enabled()
    assert not await page.get_by_role("button", name="Redeliver").is_enabled()
    run = (await dashboard.http.get(f"{JOBS}/{job['id']}/runs/{run_id}")).json()
    assert run["status"] == "cancelled"
    assert tab.outside == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_retry_budget_and_alerts_through_the_form_then_a_backfill(
    browser: Browser, dashboard: Dashboard, worker: Worker
) -> None:
    """New job with retry, a budget and its own alerts (a refused alerts channel shown on its
    field), shown on the job page with the budget's use; an edit sends only what changed; a
    backfill of two past hours answers its fires and its runs appear with no reload."""
    tab = await open_tab(browser, width=1366)
    page = tab.page
    await sign_in(tab, dashboard, "#/jobs/new")
    await page.get_by_label("Name").fill("Hourly digest")
    await page.get_by_label("Goal").fill("digest")
    await page.get_by_label("Cron").check()
    await page.get_by_label("Schedule", exact=True).fill("0 * * * *")
    await page.locator("#preview-runs li").nth(4).wait_for()
    await page.get_by_label("Max attempts").fill("3")
    await page.get_by_label("Backoff").select_option("linear")
    await page.get_by_label("Base delay (s)").fill("5")
    budget = page.get_by_role("group", name="Budget")
    await budget.get_by_label("Runs a day").fill("50")
    assert await page.get_by_label("Alerts channel").is_hidden()  # the owner's default
    await page.get_by_label("Alerts", exact=True).select_option("job")
    await page.get_by_label("Alerts channel").fill("slack:#Not A Channel")
    await page.get_by_label("Remind every").fill("6h")
    await page.get_by_role("button", name="Create job").click()
    await page.wait_for_selector("#error-alerts_channel:not([hidden])")
    assert await page.evaluate("document.activeElement.id") == "field-alerts_channel"
    await page.get_by_label("Alerts channel").fill("slack:#ops")
    assert await page.locator("#error-alerts_channel").is_hidden()  # changed: the error goes
    await screenshot(tab, dashboard, "new-job-filled-1366")  # docs/dashboard-new-job.png
    await page.get_by_role("button", name="Create job").click()
    await page.wait_for_selector("h1.page-title:has-text('Hourly digest')")
    [job] = (await dashboard.http.get(JOBS)).json()["jobs"]
    assert job["retry"] == {
        "max_attempts": 3,
        "strategy": "linear",
        "base_delay": 5,
        "max_delay": None,
    }
    assert job["budget"] == {
        "max_runs_per_day": 50,
        "max_tokens_per_day": None,
        "max_cost_usd_per_month": None,
    }
    assert job["alerts_from"] == "job" and job["alerts"]["channel"] == "slack:#ops"
    assert job["alerts"]["remind_every"] == "6h"
    assert "3 attempts, linear" in await page.inner_text("dd[data-fact=Retry]")
    await page.wait_for_selector("#budget-use:has-text('0 of 50 runs today')")
    assert "slack:#ops" in await page.inner_text("dd[data-fact=Alerts]")

    # An edit of the budget sends the budget, not the retry or alerts it left as they were.
    await page.get_by_role("link", name="Edit job").click()
    await budget.get_by_label("Runs a day").fill("40")
    async with page.expect_request(lambda r: r.method == "PUT") as sent:
        await page.get_by_role("button", name="Save").click()
    body = (await sent.value).post_data_json
    assert isinstance(body, dict)
    assert body["budget"] == {"max_runs_per_day": 40}
    assert not {"retry", "alerts", "alerts_from", "schedule"} & body.keys(), body
    await page.wait_for_selector("#budget-use:has-text('0 of 40 runs today')")

    # Backfill the last two whole hours (wall times in the job's zone, UTC here).
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    await page.get_by_label("From (in UTC)").fill(
        (hour - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    )
    await page.get_by_label("Until, not included").fill(hour.strftime("%Y-%m-%dT%H:%M"))
    await page.evaluate("window.notReloaded = true")
    await page.get_by_role("button", name="Backfill").click()
    await page.wait_for_selector("#backfill-answer strong:text-is('2 fire(s) will run')")
    rows = page.locator("table.runs tbody tr[data-status=completed]")
    await rows.nth(1).wait_for(timeout=30_000)
    assert await rows.count() == 2
    assert await page.locator("table.runs tbody td[data-label=Trigger]").all_inner_texts() == [
        "backfill",
        "backfill",
    ]
    assert await page.evaluate("window.notReloaded") is True
    await page.wait_for_selector("#budget-use:has-text('2 of 40 runs today')")
    await page.evaluate("document.getElementById('toast').classList.remove('shown')")
    await page.wait_for_timeout(300)  # the toast fades out
    await screenshot(tab, dashboard, "job-budget-1366")  # docs/dashboard-job.png
    await page.set_viewport_size({"width": 390, "height": 844})
    assert await horizontal_overflow(page) == []
    await screenshot(tab, dashboard, "job-budget-390")
    await page.get_by_role("link", name="Edit job").click()
    await page.get_by_label("Alerts channel").wait_for()
    assert await horizontal_overflow(page) == []
    await screenshot(tab, dashboard, "edit-job-390")
    assert tab.outside == []


# The bands are the page's own drawing of calendar-data, which runs on both indexes elsewhere.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_calendar_draws_a_busy_job_as_bands_and_says_what_was_left_out(
    browser: Browser, dashboard: Dashboard
) -> None:
    """An every-minute job: one band a day with its count, not 1,440 chips; past the API's
    2,000 fires per job each day still has its band, marked as not listed, and the page says
    so in words. The job and status filters narrow the week."""
    minute = await dashboard.job(name="Every minute", schedule={"type": "every", "interval": 60})
    hourly = await dashboard.job(name="Hourly", schedule={"type": "every", "interval": 3600})
    tab = await open_tab(browser, width=1366)
    page = tab.page
    next_week = monday(datetime.now(UTC).date()) + timedelta(days=7)
    await sign_in(tab, dashboard, f"#/calendar?week={next_week.isoformat()}")
    await page.wait_for_selector("table.calendar tr.bands")
    bands = page.locator(f"table.calendar tr.bands .band[data-job-id={minute['id']}]")
    assert await bands.count() == 7
    assert "cut" in (await bands.nth(6).get_attribute("class") or "")
    assert "not listed" in await bands.nth(6).inner_text()
    assert await page.locator(f"[data-kind=planned][data-job-id={minute['id']}]").count() == 0
    cut = await page.inner_text("#calendar-cut")
    assert "Every minute has more planned fires after" in cut and "2,000 per job" in cut
    planned = f"table.calendar [data-kind=planned][data-job-id={hourly['id']}]"
    assert await page.locator(planned).count() == 168
    await screenshot(tab, dashboard, "calendar-bands")
    # Only the hourly job: no bands, no cut, its 168 fires.
    await page.select_option("#calendar-job", hourly["id"])
    await page.wait_for_selector("#calendar-counts:has-text('168 planned fires')")
    assert await page.locator("table.calendar tr.bands").count() == 0
    assert await page.locator("#calendar-cut").count() == 0
    assert f"week={next_week.isoformat()}" in await page.evaluate("location.hash")
    await page.select_option("#calendar-status", "failed")
    await page.wait_for_selector("#calendar-counts:has-text('0 planned fires, 0 runs')")
    assert tab.outside == []
    # On a phone: the same bands head each day of the list.
    phone = await open_tab(browser, width=390, height=844)
    await sign_in(phone, dashboard, f"#/calendar?week={next_week.isoformat()}")
    agenda = phone.page.locator(f".calendar-agenda .band[data-job-id={minute['id']}]")
    await agenda.first.wait_for()
    assert await agenda.count() == 7
    assert await horizontal_overflow(phone.page) == []
    await screenshot(phone, dashboard, "calendar-bands-390")


async def test_the_first_page_of_ten_thousand_jobs(
    browser: Browser, dashboard: Dashboard, capsys: pytest.CaptureFixture[str]
) -> None:
    """10,000 jobs in the index: the dashboard asks for one page (25), never all of them."""
    now = datetime.now(UTC)
    rows = [
        {
            "id": f"job_{i:012d}",
            "owner": "alice",
            "name": f"job {i}",
            "goal": "load",
            "agent_id": "echo",
            "schedule": {"type": "cron", "expression": f"{i % 60} * * * *", "timezone": "UTC"},
            "timezone": "UTC",
            "status": "paused" if i % 10 == 0 else "active",
            "timeout_seconds": 60,
            "overlap": "skip",
            "max_consecutive_failures": 5,
            "consecutive_failures": 0,
            "run_count": 0,
            "created_at": now - timedelta(seconds=i),
            "updated_at": now - timedelta(seconds=i),
        }
        for i in range(10_000)
    ]
    engine = make_engine(dashboard.settings.resolved_database_url)
    async with engine.begin() as conn:
        await conn.execute(jobs_table.insert(), rows)
    await engine.dispose()

    tab = await open_tab(browser)
    page = tab.page
    await sign_in(tab, dashboard, "#/heatmap")
    await page.wait_for_selector("table.heatmap")
    timings = []
    # A whole load each time (page, scripts, styles, the API calls), signed in already.
    for _ in range(3):
        await page.goto("about:blank")
        tab.api_calls.clear()
        started = time.perf_counter()
        await page.goto(f"{dashboard.url}/ui#/jobs")
        await page.wait_for_selector("#jobs-summary:has-text('of 10,000 jobs')")
        timings.append(time.perf_counter() - started)
    assert await page.inner_text("#jobs-summary") == "1–25 of 10,000 jobs"
    assert await page.locator("table.jobs tbody tr[data-job-id]").count() == 25
    # The keyboard's first stops on a fresh load: the skip link, then the pages, in order.
    focused = "document.activeElement.textContent"
    await page.keyboard.press("Tab")
    assert await page.evaluate(focused) == "Skip to content"
    stops = []
    for _ in range(6):
        await page.keyboard.press("Tab")
        stops.append(await page.evaluate(focused))
    assert stops == ["Jobs", "Calendar", "Activity", "Outbox", "API docs", "Sign out"]
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "new-job"
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "status-filter"
    await screenshot(tab, dashboard, "jobs-10000-focus", full_page=False)
    lists = [parse_qs(urlsplit(u).query) for u in tab.api_calls if urlsplit(u).path == JOBS]
    assert lists == [{"limit": ["25"], "offset": ["0"]}]
    await page.click("a[rel=next]")
    await page.wait_for_selector("#jobs-summary:has-text('26–50 of 10,000 jobs')")
    await page.goto(f"{dashboard.url}/ui#/jobs?offset=9975")
    await page.wait_for_selector("#jobs-summary:has-text('9,976–10,000 of 10,000 jobs')")
    assert await page.locator("a[rel=next]").count() == 0
    await page.select_option("#status-filter", "paused")
    await page.wait_for_selector("#jobs-summary:has-text('1–25 of 1,000 jobs')")
    # The week's calendar of 9,000 active jobs: the API cuts the planned fires at 20,000. The
    # first load works out every job's fires; the second finds them kept.
    calendars: list[tuple[float, float]] = []
    for _ in range(2):
        await page.goto(f"{dashboard.url}/ui#/jobs")
        await page.wait_for_selector("#jobs-summary:has-text('of 10,000 jobs')")
        started = time.perf_counter()
        await page.goto(f"{dashboard.url}/ui#/calendar")
        await page.wait_for_selector("table.calendar [data-kind=planned]")
        api_ms = await page.evaluate(
            """performance.getEntriesByType('resource')
                .filter(e => e.name.includes('/calendar-data')).map(e => e.duration).at(-1)"""
        )
        calendars.append((time.perf_counter() - started, api_ms))
        assert "Not all are shown" in await page.inner_text("#calendar-cut")
        assert await page.locator("table.calendar details").count() > 0  # "+N more" per hour
    with capsys.disabled():
        print(  # noqa: T201
            "\nfirst jobs page with 10,000 jobs, navigation to table rendered: "
            + ", ".join(f"{t * 1000:.0f} ms" for t in timings)
            + "; the week's calendar, first and second load: "
            + ", ".join(f"{t * 1000:.0f} ms (its /calendar-data {a:.0f} ms)" for t, a in calendars)
        )
    assert tab.outside == []


# axe-core (npm, pinned in the Makefile's install step, which puts it beside the venv).
AXE = Path(sys.prefix) / "node" / "node_modules" / "axe-core" / "axe.min.js"


async def axe_violations(page: Page) -> list[str]:
    """The serious and critical axe-core violations of the page as it is now."""
    await page.add_script_tag(url="/ui/static/axe.min.js")
    found: list[str] = await page.evaluate(
        """axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => `${v.id} (${v.impact}): ` +
                 v.nodes.map(n => n.target.join(' ')).join(', ')))"""
    )
    return found


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_no_page_has_a_serious_accessibility_violation(
    browser: Browser, dashboard: Dashboard, worker: Worker
) -> None:
    """axe-core, served to each page by the test (the page's policy allows its own origin
    only), finds nothing serious or critical on any page, at both widths."""
    if not AXE.exists():
        no_browser(f"there is no axe-core at {AXE}", "run `make install`, which puts it there")
    job = await dashboard.job(
        name="Report",
        goal="# Report\n\n| a | b |\n|---|---|\n| 1 | 2 |",
        schedule={
            "type": "cron",
            "expression": "0 9 * * 1-5",
            "timezone": "Europe/Paris",
            "start_at": "2026-01-05T00:00:00",
        },
        delivery={"channel": "email:ops@example.com"},
        retry={"max_attempts": 2},
        budget={"max_runs_per_day": 5, "max_cost_usd_per_month": 2},
        alerts={"channel": "slack:#ops"},
    )
    run = await dashboard.finished_run(job["id"])
    pages = [
        ("jobs", "#/jobs", "table.jobs tbody tr[data-job-id] td.last a"),
        ("job", f"#/jobs/{job['id']}", "#budget-use:has-text('1 of 5 runs today')"),
        ("new-job", "#/jobs/new", "#field-agent"),
        ("run", f"#/runs/{job['id']}/{run['id']}", "#temporal-link"),
        ("calendar", "#/calendar", "table.calendar tbody tr[data-hour='23']"),
        ("activity", "#/heatmap", "table.heatmap tbody tr"),
        ("outbox", "#/outbox", "article.outbox-email"),
    ]
    body = AXE.read_bytes()
    for width, height in ((1366, 900), (390, 844)):
        tab = await open_tab(browser, width=width, height=height)
        await tab.page.route(
            "**/ui/static/axe.min.js",
            lambda route: route.fulfill(body=body, content_type="text/javascript"),
        )
        await tab.page.goto(f"{dashboard.url}/ui")
        await tab.page.wait_for_selector("#api-key")
        assert await axe_violations(tab.page) == [], f"sign-in at {width} px"
        await sign_in(tab, dashboard)
        for name, hash_, ready in pages:
            await tab.page.goto(f"{dashboard.url}/ui{hash_}")
            await tab.page.wait_for_selector(ready, state="attached")
            assert await axe_violations(tab.page) == [], f"{name} at {width} px"
            if name == "job":  # the schedule's start, in the viewer's zone (UTC here)
                starts = await tab.page.inner_text("dd[data-fact=Starts]")
                assert starts == "Sun 4 Jan, 23:00 UTC", starts
        assert tab.outside == []


URL_ATTRIBUTE = re.compile(r"""(?:src|href)\s*[=:]\s*["']([^"']+)["']""")


async def test_docs_and_redoc_work_offline(browser: Browser, dashboard: Dashboard) -> None:
    """/docs and /redoc load Swagger UI and ReDoc from this server, and render the API."""
    for path in ("/docs", "/redoc", "/ui"):
        page = await dashboard.http.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        urls = URL_ATTRIBUTE.findall(page.text)
        assert urls, path
        assert all(url[0] in "/#" or url.startswith("data:") for url in urls), (path, urls)
        for url in urls:
            if url.startswith("/") and not url.startswith("/openapi"):
                asset = await dashboard.http.get(url)
                assert asset.status_code == 200, url
                assert int(asset.headers["content-length"]) > 100, url
    assert "'self'" in (await dashboard.http.get("/ui")).headers["content-security-policy"]

    tab = await open_tab(browser)
    await tab.page.goto(f"{dashboard.url}/docs")
    await tab.page.wait_for_selector(".swagger-ui .info .title")
    assert "agent-scheduler" in await tab.page.inner_text(".swagger-ui .info .title")
    await tab.page.wait_for_selector(".opblock-summary-path")
    await screenshot(tab, dashboard, "docs", full_page=False)
    await tab.page.goto(f"{dashboard.url}/redoc")
    await tab.page.wait_for_selector("h1")
    await tab.page.wait_for_function(
        "document.body.innerText.includes('/api/scheduler/jobs')", timeout=30_000
    )
    await screenshot(tab, dashboard, "redoc", full_page=False)
    assert tab.outside == []


MARKDOWN_CASES = [
    # (source, HTML the dashboard's renderer must produce)
    (
        "# T\n\n**b** _i_ `c_d` [x](https://a.com/x_y_z_) [j](javascript:alert(1)) <img src=x>",
        '<h3>T</h3>\n<p><strong>b</strong> <em>i</em> <code>c_d</code> <a href="https://a.com/'
        'x_y_z_" rel="noopener noreferrer" target="_blank">x</a> j &lt;img src=x&gt;</p>',
    ),
    ('"><script>alert(1)</script>', "<p>&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
    (
        "- a\n- b\n\n> quote\n\n```\n<b>code</b>\n```",
        "<ul><li>a</li><li>b</li></ul>\n<blockquote><p>quote</p></blockquote>\n"
        "<pre><code>&lt;b&gt;code&lt;/b&gt;</code></pre>",
    ),
    ("[x](data:text/html,hi) ![i](https://a.com/i.png)", "<p>x i</p>"),
]


async def test_the_markdown_renderer_escapes_first(browser: Browser, dashboard: Dashboard) -> None:
    """Run outputs are agents' text: only the renderer's own markup may come out."""
    tab = await open_tab(browser)
    await tab.page.goto(f"{dashboard.url}/ui")
    for source, expected in MARKDOWN_CASES:
        rendered = await tab.page.evaluate(
            "async s => (await import('/ui/static/markdown.js')).renderMarkdown(s)", source
        )
        assert rendered == expected, source
    slack = await tab.page.evaluate(
        "async s => (await import('/ui/static/markdown.js')).renderMrkdwn(s)",
        "*b* <https://a.com?a=1&amp;b=2|l> &lt;img src=x&gt; <javascript:x|y>",
    )
    assert slack == (
        '<strong>b</strong> <a href="https://a.com?a=1&amp;b=2" rel="noopener noreferrer" '
        'target="_blank">l</a> &lt;img src=x&gt; y'
    )
    assert tab.outside == []


async def test_a_read_key_sees_no_write_action(browser: Browser, dashboard: Dashboard) -> None:
    """A wall screen's key (docs/dashboard.md): the pages show nothing it may not do."""
    job = await dashboard.job(name="wall", schedule={"type": "cron", "expression": "0 8 * * *"})
    read = replace(dashboard, key=await minted_key(dashboard.settings, "alice", scope="read"))
    for signed_in, hidden in ((read, True), (dashboard, False)):
        tab = await open_tab(browser)
        await sign_in(tab, signed_in)
        await tab.page.wait_for_selector("[data-action=trigger]", state="attached")
        for action in ("#new-job", "[data-action=trigger]", "[data-action=pause]"):
            assert await tab.page.is_visible(action) is not hidden, action
        await tab.page.goto(f"{dashboard.url}/ui#/jobs/{job['id']}")
        await tab.page.wait_for_selector("#run-now", state="attached")
        for action in ("#run-now", "#toggle", "#delete-job", "a[href$='/edit']"):
            assert await tab.page.is_visible(action) is not hidden, action
        assert tab.outside == []
