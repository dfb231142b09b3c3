// Run detail: status, attempts and their errors, output (Markdown, sanitized), condition,
// delivery, and the run in the Temporal Web UI.

import { api } from "./api.js";
import { renderMarkdown } from "./markdown.js";
import { incidentBadge } from "./jobs.js";
import { badge, duration, errorBox, h, heading, timeEl } from "./util.js";

export async function renderRun(container, parts) {
  const [jobId, runId] = parts;
  container.replaceChildren(heading("Run"), h("p", { class: "muted" }, "Loading…"));
  let run;
  let job = null;
  try {
    [run, job] = await Promise.all([
      api(`/jobs/${encodeURIComponent(jobId)}/runs/${encodeURIComponent(runId)}`),
      api(`/jobs/${encodeURIComponent(jobId)}`).catch(() => null),
    ]);
  } catch (error) {
    container.replaceChildren(heading("Run"), errorBox(error));
    return;
  }
  const facts = [
    ["Status", badge(run.status)],
    ["Job", job ? `${job.name} (${run.job_id})` : run.job_id],
    ["Trigger", run.trigger],
    ["Scheduled", timeEl(run.scheduled_at)],
    ["Started", timeEl(run.started_at)],
    ["Completed", timeEl(run.completed_at)],
    ["Duration", duration(run.duration_seconds)],
    ["Agent", run.agent_id ?? "—"],
    ["Attempts", String(run.attempts)],
    ["Trace", run.trace_id ? h("code", { id: "trace-id" }, run.trace_id) : "none (traces are off)"],
  ];
  const output = h("div", { class: "markdown output" });
  // Escaped before any rule runs (markdown.js): the only markup is the renderer's own.
  output.innerHTML = renderMarkdown(run.output ?? "");

  container.replaceChildren(...[
    heading(job ? `Run of ${job.name}` : "Run"),
    h("p", { class: "muted id" }, run.id),
    h("p", {},
      h("a", {
        class: "button", id: "temporal-link", href: run.temporal_ui_url,
        target: "_blank", rel: "noopener noreferrer",
      }, "Open in Temporal Web UI ↗")),
    h("dl", { class: "facts" }, facts.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
    job && job.open_incidents && job.open_incidents.length
      ? h("p", { class: "incidents", id: "job-incidents" }, "Open incidents of this job: ",
        job.open_incidents.map((incident) => [incidentBadge(incident), " "]))
      : null,
    run.error ? section("Error", h("pre", { class: "error-text" }, run.error)) : null,
    section("Attempts", attempts(run)),
    section("Output", run.output ? output : h("p", { class: "muted" }, "No output.")),
    run.data && Object.keys(run.data).length
      ? section("Data", h("pre", {}, JSON.stringify(run.data, null, 2))) : null,
    section("Condition", condition(run.condition_result)),
    section("Delivery", delivery(run.delivery)),
  ].filter(Boolean));
}

function section(title, ...content) {
  const id = `section-${title.toLowerCase()}`;
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), content);
}

function attempts(run) {
  if (!run.attempt_errors.length) {
    return h("p", { class: "muted" },
      run.attempts ? `${run.attempts} attempt(s), none failed.` : "The agent was not called.");
  }
  return h("div", { class: "table-wrap" }, h("table", { class: "attempts" },
    h("thead", {}, h("tr", {}, ["Attempt", "At", "Agent", "Kind", "Error"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, run.attempt_errors.map((e) => h("tr", {},
      h("td", { class: "num" }, String(e.attempt)), h("td", {}, timeEl(e.at)),
      h("td", {}, e.agent_id ?? "—"), h("td", {}, e.kind), h("td", { class: "error-text" }, e.error))))));
}

function condition(result) {
  if (!result) return h("p", { class: "muted" }, "No condition.");
  return h("dl", { class: "facts" },
    h("dt", {}, "Expression"), h("dd", {}, h("code", {}, result.expression)),
    h("dt", {}, "Stage"), h("dd", {}, result.stage),
    h("dt", {}, "Value"), h("dd", {}, String(result.value)),
    result.error ? [h("dt", {}, "Error"), h("dd", { class: "error-text" }, result.error)] : null);
}

function delivery(record) {
  if (!record) return h("p", { class: "muted" }, "No delivery channel.");
  return h("dl", { class: "facts" },
    h("dt", {}, "Channel"), h("dd", {}, h("code", {}, record.channel)),
    h("dt", {}, "Status"), h("dd", {}, badge(record.status),
      record.outbox ? [" ", h("a", { href: "#/outbox" }, "kept in the dev outbox")] : null,
      record.redelivered ? " (redelivered)" : null),
    record.messages ? [h("dt", {}, "Messages"), h("dd", {}, String(record.messages))] : null,
    record.reason ? [h("dt", {}, "Reason"), h("dd", {}, record.reason)] : null,
    record.error ? [h("dt", {}, "Error"), h("dd", { class: "error-text" }, record.error)] : null,
    record.at ? [h("dt", {}, "At"), h("dd", {}, timeEl(record.at))] : null);
}
