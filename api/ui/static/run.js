// Run detail: status, attempts and their errors, usage, output (Markdown, sanitized),
// condition, delivery, the run in the Temporal Web UI; cancel, redeliver, run again. The page
// refreshes itself while the run goes.

import { api } from "./api.js";
import { renderMarkdown } from "./markdown.js";
import { incidentBadge } from "./jobs.js";
import { refreshStats } from "./stats.js";
import { badge, duration, errorBox, h, heading, poll, sleep, timeEl, toast } from "./util.js";

export async function renderRun(container, parts) {
  const [jobId, runId] = parts;
  const path = `/jobs/${encodeURIComponent(jobId)}/runs/${encodeURIComponent(runId)}`;
  container.replaceChildren(heading("Run"), h("p", { class: "muted" }, "Loading…"));
  let run;
  let job = null;
  try {
    [run, job] = await Promise.all([
      api(path),
      api(`/jobs/${encodeURIComponent(jobId)}`).catch(() => null),
    ]);
  } catch (error) {
    container.replaceChildren(heading("Run"), errorBox(error));
    return;
  }
  draw(container, run, job);
  // While the run goes (or its delivery is pending) the page follows it, no reload needed.
  poll(container, async () => {
    if (!going(run)) return false;
    try {
      run = await api(path);
    } catch {
      return false;
    }
    const focused = document.activeElement?.id;
    draw(container, run, job);
    if (focused) document.getElementById(focused)?.focus();
    return going(run);
  }, 500);
}

function going(run) {
  return run.status === "running" || run.delivery?.status === "pending";
}

function draw(container, run, job) {
  const jobHash = `#/jobs/${encodeURIComponent(run.job_id)}`;
  const facts = [
    ["Status", badge(run.status)],
    ["Job", h("a", { href: jobHash, id: "job-link" }, job ? job.name : run.job_id)],
    ["Trigger", run.trigger],
    ["Scheduled", timeEl(run.scheduled_at)],
    ["Started", timeEl(run.started_at)],
    ["Completed", timeEl(run.completed_at)],
    ["Duration", duration(run.duration_seconds)],
    ["Agent", run.agent_id ?? "—"],
    ["Attempts", String(run.attempts)],
    ["Usage", usage(run.usage)],
    ["Trace", run.trace_id ? h("code", { id: "trace-id" }, run.trace_id) : "none (traces are off)"],
  ];
  if (run.skip_reason) facts.push(["Skipped because", run.skip_reason]);
  const output = h("div", { class: "markdown output" });
  // Escaped before any rule runs (markdown.js): the only markup is the renderer's own.
  output.innerHTML = renderMarkdown(run.output ?? "");

  container.replaceChildren(...[
    heading(job ? `Run of ${job.name}` : "Run"),
    h("p", { class: "muted id" }, run.id),
    actions(run, job),
    h("dl", { class: "facts" }, facts.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
    job && job.open_incidents && job.open_incidents.length
      ? h("p", { class: "incidents", id: "job-incidents" }, "Open incidents of this job: ",
        job.open_incidents.map((incident) => [incidentBadge(incident), " "]))
      : null,
    run.input !== null && run.input !== undefined
      ? section("Input", h("pre", { id: "run-input" },
        typeof run.input === "string" ? run.input : JSON.stringify(run.input, null, 2)))
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

/** Cancel run (while it runs), Redeliver (a delivered or failed delivery, to the job's channel
 * now), Run again (a new run of the job, whose page opens), and the run in Temporal. */
function actions(run, job) {
  const base = `/jobs/${encodeURIComponent(run.job_id)}`;
  const button = (id, label, enabled, title, onclick) => {
    const el = h("button", { type: "button", id, disabled: !enabled, title }, label);
    el.addEventListener("click", async () => {
      el.disabled = true;
      try {
        await onclick();
      } catch (error) {
        el.disabled = false;
        toast(error.message);
      }
    });
    return el;
  };
  const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const deliverable = ["delivered", "failed"].includes(run.delivery?.status) && Boolean(job?.delivery);
  return h("div", { class: "actions-bar" },
    button("cancel-run", "Cancel run", run.status === "running", "Stop the agent call; the run ends cancelled",
      async () => {
        await api(`${base}/runs/${encodeURIComponent(run.id)}/cancel`, { method: "POST" });
        toast("Cancelling…");
        reload();
      }),
    button("redeliver", "Redeliver", deliverable && run.status !== "running",
      deliverable ? `Send the result again to ${job.delivery.channel}` : "Only a delivered or failed delivery can be sent again",
      async () => {
        const path = `${base}/runs/${encodeURIComponent(run.id)}`;
        await api(`${path}/redeliver`, { method: "POST" });
        toast(`Redelivering to ${job.delivery.channel}`);
        // Its outcome replaces the delivery shown (a new `at`), within the delivery's retries.
        for (let i = 0; i < 120; i++) {
          const fresh = (await api(path)).delivery;
          if (fresh && fresh.status !== "pending" && fresh.at !== run.delivery.at) break;
          await sleep(500);
        }
        reload();
      }),
    button("run-again", "Run again", Boolean(job), "Start a new run of the job now", async () => {
      const answer = await api(`${base}/trigger`, { method: "POST" });
      refreshStats();
      toast(`Started ${answer.run_id}`);
      location.hash = `#/runs/${encodeURIComponent(run.job_id)}/${encodeURIComponent(answer.run_id)}`;
    }),
    h("a", {
      class: "button", id: "temporal-link", href: run.temporal_ui_url,
      target: "_blank", rel: "noopener noreferrer",
    }, "Open in Temporal Web UI ↗"));
}

function usage(value) {
  if (!value) return h("span", { class: "muted" }, "not reported");
  const parts = [];
  if (value.input_tokens !== null) parts.push(`${value.input_tokens.toLocaleString()} in`);
  if (value.output_tokens !== null) parts.push(`${value.output_tokens.toLocaleString()} out`);
  if (value.total_tokens !== null) parts.push(`${value.total_tokens.toLocaleString()} tokens`);
  if (value.cost_usd !== null) parts.push(`$${value.cost_usd.toFixed(4)}`);
  return parts.join(" · ") || "not reported";
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
