// A job's page (#/jobs/{id}): its status, schedule in words and next runs, its runs (paged,
// filtered by status, refreshed while one runs), pause/resume, run now, edit, delete, "why
// didn't it run at …" (explain), its retry, budget (and its use) and alerts, backfill of a range,
// and its incidents.

import { api } from "./api.js";
import { incidentBadge } from "./jobs.js";
import { refreshStats } from "./stats.js";
import { badge, duration, errorBox, fill, h, heading, poll, sleep, timeEl, toast, zone } from "./util.js";

const RUNS_PAGE = 10;
const RUN_STATUSES = ["running", "completed", "failed", "cancelled", "timed_out", "skipped"];

/** `#/jobs/{id}` with its query (run status, offset, times zone). */
function jobHash(id, values) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value) query.set(name, String(value));
  const text = query.toString();
  return `#/jobs/${encodeURIComponent(id)}${text ? `?${text}` : ""}`;
}

export function runHash(jobId, runId) {
  return `#/runs/${encodeURIComponent(jobId)}/${encodeURIComponent(runId)}`;
}

export async function renderJob(container, jobId, query) {
  const status = RUN_STATUSES.includes(query.get("status")) ? query.get("status") : "";
  const offset = Math.max(0, Number.parseInt(query.get("offset") || "0", 10) || 0);
  const inJobZone = query.get("times") === "job";
  container.replaceChildren(heading("Job"), h("p", { class: "muted" }, "Loading…"));
  let job;
  try {
    job = await api(`/jobs/${encodeURIComponent(jobId)}`);
  } catch (error) {
    container.replaceChildren(heading("Job"), errorBox(error));
    return;
  }
  const tz = job.schedule.timezone || "UTC";
  const state = { status, offset, times: inJobZone ? "job" : "" };
  const here = (changes) => jobHash(job.id, { ...state, ...changes });
  const at = (iso) => timeEl(iso, inJobZone ? tz : null);

  // Times in the viewer's zone or the job's: a switch, kept in the address.
  const times = h("select", { id: "times-zone", name: "times" },
    h("option", { value: "" }, `your zone (${zone})`),
    h("option", { value: "job", selected: inJobZone }, `the job's zone (${tz})`));
  times.addEventListener("change", () => {
    location.hash = here({ times: times.value });
  });

  const finished = job.status === "completed" || job.status === "failed";
  const toggle = h("button", { type: "button", id: "toggle", disabled: finished },
    job.status === "paused" ? "Resume" : "Pause");
  toggle.addEventListener("click", () => act(job.status === "paused" ? "resume" : "pause"));
  // Why it is paused, said in its paused_reason and history (optional; only while active).
  const reason = h("input", { id: "pause-reason", type: "text", maxlength: 500,
    placeholder: "optional", "aria-label": "Pause reason" });
  const reasonField = job.status === "active"
    ? h("span", { class: "pause-reason" }, h("label", { for: "pause-reason" }, "Pause reason "), reason)
    : null;
  const trigger = h("button", { type: "button", id: "run-now" }, "Run now");
  trigger.addEventListener("click", () => act("trigger"));
  const edit = h("a", { class: "button", href: `#/jobs/${encodeURIComponent(job.id)}/edit` }, "Edit job");
  const remove = h("button", { type: "button", class: "danger", id: "delete-job" }, "Delete job");
  const dialog = deleteDialog(job);
  remove.addEventListener("click", () => dialog.showModal());

  const runsBody = h("tbody");
  const runsSummary = h("p", { class: "muted", id: "runs-summary", "aria-live": "polite" }, "Loading…");
  const runsPager = h("nav", { class: "pager", "aria-label": "Run pages" });
  const runFilter = h("select", { id: "run-status", name: "status" },
    h("option", { value: "" }, "all"),
    RUN_STATUSES.map((s) => h("option", { value: s, selected: s === status }, s.replace("_", " "))));
  runFilter.addEventListener("change", () => {
    location.hash = here({ status: runFilter.value, offset: 0 });
  });

  const facts = [
    ["Status", h("span", {}, badge(job.status),
      job.paused_reason ? [" ", h("span", { class: "muted", id: "paused-reason" }, job.paused_reason)] : null,
      (job.open_incidents || []).map((incident) => [" ", incidentBadge(incident)]))],
    ["Schedule", h("span", { id: "schedule-words" }, job.schedule_description)],
    ["Job's zone", tz],
    job.schedule.start_at ? ["Starts", at(job.schedule.start_at)] : null,
    job.schedule.end_at ? ["Ends", at(job.schedule.end_at)] : null,
    ["Agent", h("code", {}, job.agent_id)],
    ["Goal", h("span", { class: "goal" }, job.goal)],
    ["Channel", job.delivery ? h("code", {}, job.delivery.channel) : h("span", { class: "muted" }, "none")],
    ["Condition", job.condition
      ? h("span", {}, h("code", {}, job.condition.expression), ` (${job.condition.stage})`)
      : h("span", { class: "muted" }, "none")],
    ["Retry", job.retry
      ? `${job.retry.max_attempts} attempts, ${job.retry.strategy} from ${job.retry.base_delay} s`
        + (job.retry.max_delay !== null && job.retry.max_delay !== undefined ? ` up to ${job.retry.max_delay} s` : "")
      : h("span", { class: "muted" }, "none (1 attempt)")],
    ["Budget", hasBudget(job)
      ? h("span", { id: "budget-use" }, budgetLimits(job.budget))
      : h("span", { class: "muted" }, "none")],
    ["Alerts", job.alerts_from === "job" && job.alerts
      ? h("span", {}, h("code", {}, job.alerts.channel), ` after ${job.alerts.after_failures} failure(s)`,
        job.alerts.remind_every ? `, reminders every ${job.alerts.remind_every}` : "")
      : h("span", { class: "muted" }, job.alerts_from === "off" ? "off" : "the owner's default")],
    ["Next run", at(job.next_run_at)],
    ["Last run", at(job.last_run_at)],
    ["Runs", job.run_count.toLocaleString()],
    ["Created", at(job.created_at)],
  ];
  const nextRuns = h("div", { id: "next-runs" }, h("p", { class: "muted" }, "…"));
  const incidents = h("div", { id: "job-incident-list" });
  const history = h("div", { id: "job-history" });

  fill(container,
    heading(job.name),
    h("p", { class: "muted id" }, job.id),
    h("div", { class: "actions-bar" }, toggle, reasonField, trigger, edit, remove,
      h("a", { class: "button", href: job.temporal_ui_url, target: "_blank", rel: "noopener noreferrer" },
        "Schedule in Temporal ↗")),
    h("div", { class: "toolbar" }, h("label", { for: "times-zone" }, "Times in "), times),
    h("dl", { class: "facts" }, facts.filter(Boolean).flatMap(([term, value]) =>
      [h("dt", {}, term), h("dd", { "data-fact": term }, value)])),
    panel("Next runs", nextRuns),
    panel("Runs",
      h("div", { class: "toolbar" }, h("label", { for: "run-status" }, "Status "), runFilter, runsSummary),
      h("div", { class: "table-wrap" }, h("table", { class: "runs", "aria-describedby": "runs-summary" },
        h("thead", {}, h("tr", {}, ["Run", "Status", "Trigger", "Scheduled", "Started", "Duration", "Delivery"]
          .map((title) => h("th", { scope: "col" }, title)))),
        runsBody)),
      runsPager),
    panel("Why didn't it run?", explainForm(job, at)),
    job.schedule.type === "at" ? null : panel("Backfill", backfillForm(job, at, (fires) => awaitRuns(fires))),
    panel("Incidents", incidents),
    panel("History", history),
    dialog,
  );

  fillNextRuns(nextRuns, job, at);
  if (hasBudget(job)) fillBudgetUse(container, job, at);
  fillIncidents(incidents, job);
  fillHistory(history, job, at);
  let runCount = 0;
  /** After a backfill of `fires`: refresh the runs until they are recorded and finished. */
  const awaitRuns = async (fires) => {
    const until = (status ? 0 : runCount) + fires;
    const deadline = Date.now() + 60_000;
    while (container.isConnected && Date.now() < deadline) {
      if (!(await fillRuns()) && (status || runCount >= until)) break;
      await sleep(500);
    }
    refreshStats();
    await refreshFacts();
  };
  const fillRuns = async () => {
    let page;
    try {
      page = await api(`/jobs/${encodeURIComponent(job.id)}/runs`,
        { params: { status, limit: RUNS_PAGE, offset } });
    } catch (error) {
      runsSummary.textContent = error.message;
      return false;
    }
    runCount = page.count;
    runsSummary.textContent = page.count
      ? `${(offset + 1).toLocaleString()}–${(offset + page.runs.length).toLocaleString()} of ${page.count.toLocaleString()} runs`
      : status ? `No ${status.replace("_", " ")} runs.` : "No runs yet: Run now starts one.";
    runsBody.replaceChildren(...page.runs.map((run) => runRow(run, at)));
    fill(runsPager,
      offset > 0 ? h("a", { class: "button", rel: "prev", href: here({ offset: Math.max(0, offset - RUNS_PAGE) }) }, "← Newer") : null,
      offset + RUNS_PAGE < page.count ? h("a", { class: "button", rel: "next", href: here({ offset: offset + RUNS_PAGE }) }, "Older →") : null);
    // Keep refreshing while a run on the page runs or its delivery is pending.
    return page.runs.some((run) => run.status === "running" || run.delivery?.status === "pending");
  };
  poll(container, fillRuns, 500);

  /** The facts a run changes (its count, the last run), read again once it ended. */
  async function refreshFacts() {
    let fresh;
    try {
      fresh = await api(`/jobs/${encodeURIComponent(job.id)}`);
    } catch {
      return;
    }
    const set = (term, value) => {
      const dd = container.querySelector(`dd[data-fact="${term}"]`);
      if (dd) fill(dd, value);
    };
    set("Runs", fresh.run_count.toLocaleString());
    set("Last run", at(fresh.last_run_at));
    set("Next run", at(fresh.next_run_at));
    if (hasBudget(fresh)) fillBudgetUse(container, fresh, at);
  }

  async function act(action) {
    const button = action === "trigger" ? trigger : toggle;
    button.disabled = true;
    try {
      const said = action === "pause" ? reason.value.trim() : "";
      const answer = await api(`/jobs/${encodeURIComponent(job.id)}/${action}`,
        { method: "POST", body: said ? { reason: said } : undefined });
      refreshStats();
      if (action === "trigger") {
        toast(`Started ${answer.run_id}`);
        button.disabled = false;
        await poll(container, fillRuns, 500);
        await refreshFacts();
      } else {
        toast(`${job.name} is ${answer.status}`);
        await renderJob(container, job.id, query);
        container.querySelector("#toggle")?.focus();
      }
    } catch (error) {
      button.disabled = false;
      toast(`${job.name}: ${error.message}`);
    }
  }
}

function panel(title, ...content) {
  const id = `section-${title.toLowerCase().replace(/[^a-z]+/g, "-").replace(/-$/, "")}`;
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), content);
}

function runRow(run, at) {
  const cell = (label, ...content) => h("td", { "data-label": label }, content);
  return h("tr", { "data-run-id": run.id, "data-status": run.status },
    cell("Run", h("a", { href: runHash(run.job_id, run.id), class: "run-link" }, run.id)),
    cell("Status", badge(run.status)),
    cell("Trigger", run.trigger),
    cell("Scheduled", at(run.scheduled_at)),
    cell("Started", at(run.started_at)),
    cell("Duration", duration(run.duration_seconds)),
    cell("Delivery", run.delivery ? badge(run.delivery.status) : h("span", { class: "muted" }, "—")));
}

/** The next five fires, from POST /validate on the job's schedule, and its DST warnings. */
async function fillNextRuns(box, job, at) {
  if (job.status !== "active") {
    box.replaceChildren(h("p", { class: "muted" }, `None while the job is ${job.status}.`));
    return;
  }
  let preview;
  try {
    preview = await api("/validate", { method: "POST", body: { schedule: job.schedule, count: 5 } });
  } catch (error) {
    box.replaceChildren(errorBox(error));
    return;
  }
  const warnings = job.schedule_warnings || [];
  fill(box,
    preview.valid
      ? h("ol", { class: "next-runs" }, preview.next_runs.map((iso) => h("li", {}, at(iso))))
      : h("p", { class: "muted" }, preview.error),
    warnings.length
      ? h("ul", { class: "warnings" }, warnings.map((w) => h("li", { class: "warning" }, w.message)))
      : null);
}

async function fillIncidents(box, job) {
  let page;
  try {
    page = await api("/incidents", { params: { job_id: job.id, limit: 10 } });
  } catch (error) {
    box.replaceChildren(errorBox(error));
    return;
  }
  if (!page.count) {
    box.replaceChildren(h("p", { class: "muted" }, "None."));
    return;
  }
  box.replaceChildren(h("ul", {}, page.incidents.map((incident) => h("li", { "data-incident-id": incident.id },
    badge(incident.kind), " ", badge(incident.status), " ", incident.reason, " ",
    h("span", { class: "muted" }, "since "), timeEl(incident.opened_at)))));
}

/** Who made a change: a key (its name, else its id, and `via MCP`), a hook, or the system. */
function actorText(event) {
  if (event.actor_kind === "system") return `the system (${event.actor_id})`;
  if (event.actor_kind === "hook") return `hook ${event.actor_id}`;
  const who = event.actor_name ? `${event.actor_name} (${event.actor_id})` : event.actor_id;
  return event.transport === "mcp" ? `${who} via MCP` : who;
}

/** What an update changed: "name: a → b; goal: …"; other events' details as they are. */
function changesText(event) {
  const changes = event.changes || {};
  const shown = (value) => (typeof value === "string" ? value : JSON.stringify(value));
  return Object.entries(changes).map(([field, change]) =>
    change && typeof change === "object" && "before" in change
      ? `${field}: ${shown(change.before)} → ${shown(change.after)}`
      : `${field}: ${shown(change)}`).join("; ");
}

/** The job's last changes, newest first, from its audit log (`GET /jobs/{id}/history`). */
async function fillHistory(box, job, at) {
  let page;
  try {
    page = await api(`/jobs/${encodeURIComponent(job.id)}/history`, { params: { limit: 20 } });
  } catch (error) {
    box.replaceChildren(errorBox(error));
    return;
  }
  if (!page.count) {
    box.replaceChildren(h("p", { class: "muted" }, "No changes recorded."));
    return;
  }
  fill(box,
    h("ul", { class: "history" }, page.events.map((event) => h("li", { "data-event": event.action },
      at(event.at), " ", h("strong", {}, event.action), " by ", actorText(event),
      event.changes ? h("span", { class: "muted" }, ` — ${changesText(event)}`) : null))),
    page.count > page.events.length
      ? h("p", { class: "muted" }, `The last ${page.events.length} of ${page.count.toLocaleString()}.`)
      : null);
}

const LIMITS = [
  ["max_runs_per_day", "runs_today", "runs today", (n) => n.toLocaleString()],
  ["max_tokens_per_day", "tokens_today", "tokens today", (n) => n.toLocaleString()],
  ["max_cost_usd_per_month", "cost_usd_this_month", "this month", (n) => `$${Number(n).toFixed(2)}`],
];

/** Whether the job has a budget with any limit. */
function hasBudget(job) {
  return Object.values(job.budget || {}).some((limit) => limit !== null && limit !== undefined);
}

/** A budget's limits: "24 runs today, 200,000 tokens today, $5.00 this month" (at most). */
function budgetLimits(budget) {
  return LIMITS.filter(([limit]) => budget[limit] !== null && budget[limit] !== undefined)
    .map(([limit, , words, show]) => `at most ${show(budget[limit])} ${words}`).join(", ");
}

/** The budget's use in its current windows (GET …/stats `budget`), beside its limits. */
async function fillBudgetUse(container, job, at) {
  let stats;
  try {
    stats = await api(`/jobs/${encodeURIComponent(job.id)}/stats`);
  } catch {
    return;
  }
  const use = stats.budget;
  const dd = container.querySelector('dd[data-fact="Budget"]');
  if (!use || !dd) return;
  const parts = LIMITS.filter(([limit]) => use[limit] !== null && use[limit] !== undefined)
    .map(([limit, used, words, show]) => `${show(use[used] ?? 0)} of ${show(use[limit])} ${words}`);
  fill(dd, h("span", { id: "budget-use" }, `${parts.join(", ")} (${use.day}, ${use.timezone})`),
    job.budget_reopens_at ? [h("br"), h("span", { class: "warning" }, "Used up: resumes at "), at(job.budget_reopens_at)] : null);
}

/** Backfill a past range: POST …/backfill with wall times in the job's zone; runs refresh. */
function backfillForm(job, at, refreshRuns) {
  const tz = job.schedule.timezone || "UTC";
  const start = h("input", { id: "backfill-start", name: "start", type: "datetime-local", required: true });
  const end = h("input", { id: "backfill-end", name: "end", type: "datetime-local", required: true });
  const answer = h("div", { id: "backfill-answer", "aria-live": "polite" });
  const button = h("button", { type: "submit", id: "backfill" }, "Backfill");
  const form = h("form", { class: "explain", "data-action": "backfill" },
    h("div", { class: "field" }, h("label", { for: "backfill-start" }, `From (in ${tz})`), start),
    h("div", { class: "field" }, h("label", { for: "backfill-end" }, "Until, not included"), end),
    button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    let result;
    try {
      result = await api(`/jobs/${encodeURIComponent(job.id)}/backfill`,
        { method: "POST", body: { start: start.value, end: end.value } });
    } catch (error) {
      answer.replaceChildren(errorBox(error));
      return;
    } finally {
      button.disabled = false;
    }
    fill(answer, h("p", {}, h("strong", {}, `${result.fires.toLocaleString()} fire(s) will run`),
      result.already_run ? `, ${result.already_run.toLocaleString()} already ran` : "",
      result.first_fire ? [": ", at(result.first_fire), " to ", at(result.last_fire)] : "."));
    refreshStats();
    await refreshRuns(result.fires);
  });
  return h("div", {}, h("p", { class: "hint" }, "Runs the schedule's past fires in the range, one after another; a time that already ran is not run again."),
    form, answer);
}

/** "Why didn't it run at …": a wall time in the job's zone, answered by GET …/explain. */
function explainForm(job, at) {
  const tz = job.schedule.timezone || "UTC";
  const input = h("input", { id: "explain-at", name: "at", type: "datetime-local", required: true });
  const answer = h("div", { id: "explain-answer", "aria-live": "polite" });
  const form = h("form", { class: "explain" },
    h("div", { class: "field" }, h("label", { for: "explain-at" }, `Time (in ${tz})`), input),
    h("button", { type: "submit" }, "Explain"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let result;
    try {
      result = await api(`/jobs/${encodeURIComponent(job.id)}/explain`, { params: { at: input.value } });
    } catch (error) {
      answer.replaceChildren(errorBox(error));
      return;
    }
    fill(answer,
      h("p", {}, h("strong", {}, result.verdict.replaceAll("_", " ")),
        result.run ? [" — ", h("a", { href: runHash(job.id, result.run.id) }, "its run")] : null),
      h("ul", {}, result.reasons.map((reason) => h("li", {}, reason.message))),
      result.nearest_fires?.length
        ? h("p", { class: "muted" }, "Nearest fires: ", result.nearest_fires.map((iso, i) => [i ? ", " : "", at(iso)]))
        : null);
  });
  return h("div", {}, form, answer);
}

/** The confirmation before a delete: what goes, and whether running runs are cancelled. */
function deleteDialog(job) {
  const cancelRunning = h("input", { type: "checkbox", id: "cancel-running" });
  const keep = h("button", { type: "button", autofocus: true }, "Keep it");
  const confirm = h("button", { type: "submit", class: "danger primary" }, "Delete");
  const message = h("p", { class: "error", role: "alert", hidden: true });
  const form = h("form", { method: "dialog" },
    h("h2", { id: "delete-title" }, `Delete ${job.name}?`),
    h("p", {}, `Its schedule stops and its ${job.run_count.toLocaleString()} runs leave the history. This cannot be undone.`),
    h("p", {}, cancelRunning, " ", h("label", { for: "cancel-running" }, "Also cancel its runs in flight")),
    message,
    h("div", { class: "actions-bar" }, keep, confirm));
  const dialog = h("dialog", { id: "delete-dialog", "aria-labelledby": "delete-title" }, form);
  keep.addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    confirm.disabled = true;
    try {
      await api(`/jobs/${encodeURIComponent(job.id)}`,
        { method: "DELETE", params: { cancel_running: cancelRunning.checked ? "true" : "" } });
    } catch (error) {
      message.textContent = error.message;
      message.hidden = false;
      confirm.disabled = false;
      return;
    }
    dialog.close();
    toast(`Deleted ${job.name}`);
    refreshStats();
    location.hash = "#/jobs";
  });
  return dialog;
}
