// Jobs: one page of the table at a time (limit/offset), filter by status, pause/resume/trigger,
// and the way to a new job.

import { api } from "./api.js";
import { refreshStats } from "./stats.js";
import { badge, errorBox, h, heading, timeEl, toast, zone } from "./util.js";

export const PAGE_SIZE = 25;
const STATUSES = ["active", "paused", "completed", "failed"];

// Times in the viewer's zone (""), or each in its job's zone ("job"): the page's switch.
let times = "";

function jobsHash(status, offset, inZone = times) {
  const query = new URLSearchParams();
  if (status) query.set("status", status);
  if (offset) query.set("offset", String(offset));
  if (inZone) query.set("times", inZone);
  const text = query.toString();
  return `#/jobs${text ? `?${text}` : ""}`;
}

export async function renderJobs(container, _parts, query) {
  const status = STATUSES.includes(query.get("status")) ? query.get("status") : "";
  const offset = Math.max(0, Number.parseInt(query.get("offset") || "0", 10) || 0);
  times = query.get("times") === "job" ? "job" : "";
  const zoneSwitch = h("select", { id: "jobs-zone", name: "times" },
    h("option", { value: "" }, `your zone (${zone})`),
    h("option", { value: "job", selected: times === "job" }, "each job's zone"));
  zoneSwitch.addEventListener("change", () => {
    location.hash = jobsHash(status, offset, zoneSwitch.value);
  });

  const select = h("select", { id: "status-filter", name: "status" },
    h("option", { value: "" }, "all"),
    STATUSES.map((s) => h("option", { value: s, selected: s === status }, s)));
  select.addEventListener("change", () => {
    location.hash = jobsHash(select.value, 0);
  });
  const body = h("tbody");
  const summary = h("p", { class: "muted", id: "jobs-summary", "aria-live": "polite" }, "Loading…");
  const pager = h("nav", { class: "pager", "aria-label": "Job pages" });
  const incidents = h("section", { class: "incidents", id: "open-incidents", "aria-live": "polite" });
  const create = h("button", { type: "button", class: "primary", id: "new-job" }, "New job");
  create.addEventListener("click", () => {
    location.hash = "#/jobs/new";
  });
  const hint = h("div", { class: "empty-hint", id: "jobs-hint", hidden: true },
    h("p", {}, "A job asks an agent to do something on a schedule and delivers what it answers. ",
      "Make one with ", h("a", { href: "#/jobs/new" }, "New job"), ", or from a terminal with ",
      h("code", {}, 'agent-scheduler jobs create --name … --goal … --schedule "every weekday at 9am"'),
      "."));
  container.replaceChildren(
    heading("Jobs"),
    incidents,
    h("div", { class: "toolbar" },
      create,
      h("label", { for: "status-filter" }, "Status "), select, summary,
      h("label", { for: "jobs-zone" }, "Times in "), zoneSwitch),
    hint,
    h("div", { class: "table-wrap" },
      h("table", { class: "jobs", "aria-describedby": "jobs-summary" },
        h("thead", {}, h("tr", {},
          ["Name", "Schedule", "Job's zone", "Status", "Next run", "Last run", "Runs", "Actions"]
            .map((title) => h("th", { scope: "col" }, title)))),
        body)),
    pager,
  );

  fillIncidents(incidents);
  let page;
  try {
    page = await api("/jobs", { params: { status, limit: PAGE_SIZE, offset } });
  } catch (error) {
    summary.replaceWith(errorBox(error));
    return;
  }
  const first = page.jobs.length ? offset + 1 : 0;
  const last = offset + page.jobs.length;
  summary.textContent = page.count
    ? `${first.toLocaleString()}–${last.toLocaleString()} of ${page.count.toLocaleString()} jobs`
    : status ? `No ${status} jobs.` : "No jobs yet.";
  hint.hidden = Boolean(page.count || status);
  if (!page.jobs.length) {
    body.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "Nothing on this page.")));
  }
  for (const job of page.jobs) body.append(jobRow(job));

  const prev = offset > 0 ? Math.max(0, offset - PAGE_SIZE) : null;
  const next = offset + PAGE_SIZE < page.count ? offset + PAGE_SIZE : null;
  const pages = Math.max(1, Math.ceil(page.count / PAGE_SIZE));
  pager.replaceChildren(
    pageLink("← Previous", prev === null ? null : jobsHash(status, prev), "prev"),
    h("span", { class: "muted" }, `Page ${Math.floor(offset / PAGE_SIZE) + 1} of ${pages.toLocaleString()}`),
    pageLink("Next →", next === null ? null : jobsHash(status, next), "next"),
  );
  // The last run of each row on the page, after the table is on screen.
  await Promise.all(page.jobs.map((job) => fillLastRun(body, job)));
}

/** The zone a job's times are shown in: the viewer's (null) or, switched, the job's. */
function tzOf(job) {
  return times === "job" ? job.schedule.timezone || "UTC" : null;
}

function pageLink(label, hash, rel) {
  if (hash === null) return h("span", { class: "pager-off", "aria-disabled": "true" }, label);
  return h("a", { href: hash, rel, class: "button" }, label);
}

function jobRow(job) {
  const finished = job.status === "completed" || job.status === "failed";
  const toggle = h("button", {
    type: "button",
    class: "small",
    "data-action": job.status === "paused" ? "resume" : "pause",
    disabled: finished,
    "aria-label": `${job.status === "paused" ? "Resume" : "Pause"} ${job.name}`,
  }, job.status === "paused" ? "Resume" : "Pause");
  const trigger = h("button", {
    type: "button", class: "small", "data-action": "trigger", "aria-label": `Run now: ${job.name}`,
  }, "Run now");
  const row = h("tr", { "data-job-id": job.id, "data-status": job.status },
    h("th", { scope: "row", class: "name" },
      h("a", { href: `#/jobs/${encodeURIComponent(job.id)}`, class: "job-link" }, job.name),
      h("span", { class: "muted id" }, job.id)),
    h("td", { class: "schedule", "data-label": "Schedule" }, job.schedule_description),
    h("td", { class: "zone", "data-label": "Job's zone" }, zoneText(job.schedule.timezone || "UTC")),
    h("td", { class: "status", "data-label": "Status" }, h("span", {}, badge(job.status),
      (job.open_incidents || []).map((incident) => [" ", incidentBadge(incident)]),
      job.paused_reason ? h("span", { class: "muted reason" }, job.paused_reason) : null)),
    h("td", { class: "next", "data-label": "Next run" }, timeEl(job.next_run_at, tzOf(job))),
    h("td", { class: "last", "data-label": "Last run" },
      job.last_run_at ? timeEl(job.last_run_at, tzOf(job)) : h("span", { class: "muted" }, "never")),
    h("td", { class: "count num", "data-label": "Runs" }, job.run_count.toLocaleString()),
    h("td", { class: "actions", "data-label": "Actions" }, toggle, trigger),
  );
  toggle.addEventListener("click", () => act(row, job, toggle.dataset.action, toggle));
  trigger.addEventListener("click", () => act(row, job, "trigger", trigger));
  return row;
}

async function act(row, job, action, button) {
  button.disabled = true;
  try {
    const answer = await api(`/jobs/${encodeURIComponent(job.id)}/${action}`, { method: "POST" });
    // The row is drawn again from the job as it is now: its status, and after "Run now" its
    // last run (the new one, running) and count.
    const fresh = jobRow(action === "trigger"
      ? await api(`/jobs/${encodeURIComponent(job.id)}`) : answer);
    row.replaceWith(fresh);
    await fillLastRun(fresh.parentElement, action === "trigger" ? job : answer, action === "trigger");
    fresh.querySelector(`[data-action="${action === "trigger" ? "trigger" : toggleOf(fresh)}"]`)?.focus();
    toast(action === "trigger" ? `Started ${answer.run_id} for ${job.name}` : `${job.name} is ${answer.status}`);
    refreshStats();
  } catch (error) {
    toast(`${job.name}: ${error.message}`);
  } finally {
    if (action === "trigger") button.disabled = false;
  }
}

function toggleOf(row) {
  return row.dataset.status === "paused" ? "resume" : "pause";
}

async function fillLastRun(body, job, force = false) {
  if (!force && !job.last_run_at && job.run_count === 0) return;
  let runs;
  try {
    runs = await api(`/jobs/${encodeURIComponent(job.id)}/runs`, { params: { limit: 1 } });
  } catch {
    return;
  }
  const run = runs.runs[0];
  const cell = body?.querySelector(`tr[data-job-id="${CSS.escape(job.id)}"] td.last`);
  if (!run || !cell) return;
  cell.replaceChildren(h("span", {},
    h("a", { href: `#/runs/${encodeURIComponent(job.id)}/${encodeURIComponent(run.id)}`, class: "run-link" },
      timeEl(run.started_at || run.scheduled_at, tzOf(job))),
    " ",
    badge(run.status),
  ));
}

/** An open incident's badge: its kind, its id and since when in the tooltip. */
export function incidentBadge(incident) {
  return h("span", {
    class: "badge incident", "data-incident-id": incident.id,
    title: `${incident.id}, open since ${incident.opened_at}`,
  }, `⚠ ${incident.kind}`);
}

/** The owner's open incidents (newest 10) above the table, each with an Acknowledge button. */
async function fillIncidents(section) {
  let page;
  try {
    page = await api("/incidents", { params: { status: "open", limit: 10 } });
  } catch {
    return;
  }
  if (!page.count) return;
  section.replaceChildren(
    h("h2", {}, `${page.count.toLocaleString()} open incident${page.count === 1 ? "" : "s"}`),
    h("ul", {}, page.incidents.map((incident) => incidentItem(incident))));
}

function incidentItem(incident) {
  const ack = h("button", {
    type: "button", class: "small", "data-action": "ack", disabled: Boolean(incident.acked_at),
    "aria-label": `Acknowledge the ${incident.kind} incident of ${incident.job_name}`,
  }, incident.acked_at ? "Acknowledged" : "Acknowledge");
  ack.addEventListener("click", async () => {
    ack.disabled = true;
    try {
      await api(`/incidents/${encodeURIComponent(incident.id)}/ack`, { method: "POST" });
      ack.textContent = "Acknowledged";
      toast(`Acknowledged: reminders stop for ${incident.job_name}`);
    } catch (error) {
      ack.disabled = false;
      toast(`${incident.job_name}: ${error.message}`);
    }
  });
  return h("li", { "data-incident-id": incident.id },
    badge(incident.kind), " ", h("strong", {}, incident.job_name), " ",
    h("span", {}, incident.reason), " ", h("span", { class: "muted" }, "since "),
    timeEl(incident.opened_at), " ", ack);
}

/** A zone name that may wrap after its slashes ("America/<wbr>New_York"), never inside words. */
function zoneText(name) {
  const parts = name.split("/");
  return h("span", {}, parts.flatMap((part, i) => (i ? ["/", h("wbr"), part] : [part])));
}
