// New job (#/jobs/new) and edit job (#/jobs/{id}/edit): name, goal, agent, a schedule in
// English or as cron / every / at with a live preview of its next runs in the job's zone and
// its DST warnings, time zone, channel, condition, retry, budget and alerts. The API's 422
// details are shown on their fields; a new job is sent with an Idempotency-Key, so a retried
// submit makes one job; an edit sends retry, budget and alerts only when they were changed.

import { api, idempotencyKey } from "./api.js";
import { refreshStats } from "./stats.js";
import { errorBox, fill, h, heading, sleep, toast, whenIn, zone } from "./util.js";

const MODES = [
  ["en", "In English", 'e.g. "every weekday at 9am" or "first monday of the month at 8:30"'],
  ["cron", "Cron", "5 fields: minute hour day-of-month month day-of-week, e.g. 0 9 * * 1-5"],
  ["every", "Every", "an interval: 30m, 2h, 1h30m, or seconds"],
  ["at", "Once, at", "a date and time in the job's zone, e.g. 2027-01-04T09:00"],
];

const RETRY_FIELDS = ["max_attempts", "strategy", "base_delay", "max_delay"];
const BUDGET_FIELDS = ["max_runs_per_day", "max_tokens_per_day", "max_cost_usd_per_month"];
const ALERTS_FROM = [["owner", "the owner's default"], ["job", "this job's own"], ["off", "off"]];

/** A number field's value: a number, or null when empty. */
function numberOf(input) {
  return input.value.trim() === "" ? null : Number(input.value);
}

/** Which input shows an API error on `field` (a dotted path of the body). */
function fieldOf(path) {
  const top = path.split(".")[0];
  if (path === "schedule.timezone") return "timezone";
  if (top === "schedule" || path === "text" || path === "jitter_seconds") return "schedule";
  if (top === "delivery") return "channel";
  if (top === "agent_id") return "agent";
  if (top === "retry") return RETRY_FIELDS.includes(path.slice(6)) ? path.slice(6) : "max_attempts";
  if (top === "budget") return BUDGET_FIELDS.includes(path.slice(7)) ? path.slice(7) : "max_runs_per_day";
  if (top === "alerts_from") return "alerts";
  if (top === "alerts") return { after_failures: "after_failures", remind_every: "remind_every" }[path.slice(7)] || "alerts_channel";
  return ["name", "goal", "condition"].includes(top) ? top : null;
}

function zones() {
  const all = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return ["UTC", ...all.filter((name) => name !== "UTC")];
}

/** The form's schedule fields for an existing schedule: [mode, text]. */
function scheduleText(schedule) {
  if (schedule.type === "cron" && typeof schedule.expression === "string") return ["cron", schedule.expression];
  if (schedule.type === "every") return ["every", String(schedule.interval)];
  if (schedule.type === "at") return ["at", wallTime(schedule.datetime, schedule.timezone || "UTC")];
  return ["en", ""];
}

/** An instant as the wall time "YYYY-MM-DDTHH:MM" in the zone `tz` (an `at` job's time). */
function wallTime(iso, tz) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(iso)).map((part) => [part.type, part.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

export async function renderJobForm(container, jobId) {
  const title = jobId ? "Edit job" : "New job";
  container.replaceChildren(heading(title), h("p", { class: "muted" }, "Loading…"));
  let job = null;
  let agents;
  try {
    [job, agents] = await Promise.all([
      jobId ? api(`/jobs/${encodeURIComponent(jobId)}`) : null,
      api("/agents"),
    ]);
  } catch (error) {
    container.replaceChildren(heading(title), errorBox(error));
    return;
  }
  const [startMode, startText] = job ? scheduleText(job.schedule) : ["en", ""];
  const startZone = job ? job.schedule.timezone || "UTC" : zone;
  const errors = {};
  const inputs = {};

  const field = (name, label, control, hint) => {
    control.id = `field-${name}`;
    errors[name] = h("p", { class: "field-error", id: `error-${name}`, hidden: true });
    inputs[name] = control;
    const described = [hint ? `hint-${name}` : null, `error-${name}`].filter(Boolean).join(" ");
    control.setAttribute("aria-describedby", described);
    return h("div", { class: "field" }, h("label", { for: control.id }, label), control,
      hint ? h("p", { class: "hint", id: `hint-${name}` }, hint) : null, errors[name]);
  };

  const name = h("input", { name: "name", required: true, maxlength: 200, autocomplete: "off", value: job?.name ?? "" });
  const goal = h("textarea", { name: "goal", required: true, maxlength: 20000 });
  goal.value = job?.goal ?? "";
  const agent = h("select", { name: "agent_id", required: true },
    agents.agents.map((a) => h("option", { value: a.id, selected: job ? a.id === job.agent_id : a.id === "echo" },
      `${a.id} (${a.kind})`)));
  const schedule = h("input", { name: "schedule", required: true, autocomplete: "off", value: startText });
  const timezone = h("input", { name: "timezone", required: true, list: "zones", autocomplete: "off", value: startZone });
  const channel = h("input", { name: "channel", autocomplete: "off", value: job?.delivery?.channel ?? "",
    placeholder: "slack:#ops, email:you@example.com, webhook:https://…" });
  const condition = h("input", { name: "condition", autocomplete: "off", value: job?.condition?.expression ?? "",
    placeholder: "len(output) > 10" });
  const stage = h("select", { id: "field-stage", name: "stage" },
    ["after_run", "before_run"].map((s) => h("option", { value: s, selected: job?.condition?.stage === s }, s)));

  const number = (key, value, attrs = {}) => h("input", { name: key, type: "number", inputmode: "decimal",
    autocomplete: "off", value: value ?? "", ...attrs });
  const retry = job?.retry || {};
  const maxAttempts = number("max_attempts", job?.retry ? retry.max_attempts : "", { min: 1, max: 100, step: 1, placeholder: "1" });
  const strategy = h("select", { name: "strategy" }, ["exponential", "linear", "fixed"]
    .map((s) => h("option", { value: s, selected: (retry.strategy || "exponential") === s }, s)));
  const baseDelay = number("base_delay", retry.base_delay ?? 60, { min: 0, step: "any" });
  const maxDelay = number("max_delay", retry.max_delay, { min: 0, step: "any", placeholder: "no cap" });
  const budget = job?.budget || {};
  const budgetInputs = {
    max_runs_per_day: number("max_runs_per_day", budget.max_runs_per_day, { min: 1, step: 1, placeholder: "no limit" }),
    max_tokens_per_day: number("max_tokens_per_day", budget.max_tokens_per_day, { min: 1, step: 1, placeholder: "no limit" }),
    max_cost_usd_per_month: number("max_cost_usd_per_month", budget.max_cost_usd_per_month, { min: 0, step: "any", placeholder: "no limit" }),
  };
  const alerts = job?.alerts || {};
  const alertsFrom = h("select", { name: "alerts_from" }, ALERTS_FROM.map(([value, label]) =>
    h("option", { value, selected: (job?.alerts_from || "owner") === value }, label)));
  const alertsChannel = h("input", { name: "alerts_channel", autocomplete: "off", value: alerts.channel ?? "",
    placeholder: "slack:#ops, email:oncall@example.com" });
  const afterFailures = number("after_failures", alerts.after_failures ?? 1, { min: 1, max: 1000, step: 1 });
  const remindEvery = h("input", { name: "remind_every", autocomplete: "off", value: alerts.remind_every ?? "",
    placeholder: "no reminders; e.g. 6h" });
  const ownAlerts = h("div", { id: "own-alerts" },
    field("alerts_channel", "Alerts channel", alertsChannel, "Any delivery channel."),
    field("after_failures", "Failures before an incident", afterFailures),
    field("remind_every", "Remind every", remindEvery, "While an incident is open and not acknowledged."));
  const showOwnAlerts = () => { ownAlerts.hidden = alertsFrom.value !== "job"; };
  alertsFrom.addEventListener("change", showOwnAlerts);
  showOwnAlerts();

  /** The retry, budget and alerts the form says (`undefined`: leave as the API defaults). */
  const retryBody = () => maxAttempts.value.trim() === "" ? null : {
    max_attempts: numberOf(maxAttempts), strategy: strategy.value,
    base_delay: numberOf(baseDelay) ?? 60, max_delay: numberOf(maxDelay),
  };
  const budgetBody = () => {
    const set = Object.entries(budgetInputs).filter(([, input]) => input.value.trim() !== "");
    return set.length ? Object.fromEntries(set.map(([key, input]) => [key, numberOf(input)])) : null;
  };
  const alertsBody = () => alertsFrom.value === "off" ? { alerts: null }
    : alertsFrom.value === "owner" ? { alerts_from: "owner" }
      : { alerts: { ...alerts, channel: alertsChannel.value.trim(), after_failures: numberOf(afterFailures),
        remind_every: remindEvery.value.trim() || null } };

  const modeHint = h("p", { class: "hint", id: "hint-schedule" });
  const modes = h("div", { class: "modes", role: "radiogroup", "aria-label": "Schedule written as" },
    MODES.map(([value, label]) => h("label", {},
      h("input", { type: "radio", name: "mode", value, checked: value === startMode }), label)));
  const mode = () => modes.querySelector("input:checked").value;
  const preview = h("div", { class: "preview", id: "schedule-preview", "aria-live": "polite" });
  const formError = h("div", { class: "error", role: "alert", hidden: true, id: "form-error" });
  const submit = h("button", { type: "submit", class: "primary" }, job ? "Save" : "Create job");
  const back = job ? `#/jobs/${encodeURIComponent(job.id)}` : "#/jobs";

  const scheduleField = field("schedule", "Schedule", schedule);
  scheduleField.querySelector(".hint")?.remove();
  scheduleField.insertBefore(modeHint, errors.schedule);
  const form = h("form", { class: "job-form", novalidate: true },
    field("name", "Name", name),
    field("goal", "Goal", goal, "What the agent is asked to do, in its words."),
    field("agent", "Agent", agent),
    h("fieldset", {}, h("legend", {}, "When"), modes, scheduleField,
      field("timezone", "Time zone", timezone, "Type to search, e.g. New_York or Europe/"),
      h("datalist", { id: "zones" }, zones().map((z) => h("option", { value: z }))),
      preview),
    field("channel", "Channel", channel, "Where the result goes; empty: nowhere."),
    field("condition", "Condition", condition, "Deliver (after_run) or run (before_run) only when it holds; empty: always."),
    h("div", { class: "field" }, h("label", { for: "field-stage" }, "Condition stage"), stage),
    h("fieldset", {}, h("legend", {}, "Retry"),
      field("max_attempts", "Max attempts", maxAttempts, "Attempts of the agent call in all, the first included; empty: 1."),
      h("div", { class: "field-row" },
        field("strategy", "Backoff", strategy),
        field("base_delay", "Base delay (s)", baseDelay),
        field("max_delay", "Max delay (s)", maxDelay))),
    h("fieldset", { id: "budget" }, h("legend", {}, "Budget"),
      h("p", { class: "hint" }, "Runs over a limit are skipped and the job pauses until the next local day or month; empty: no limit."),
      h("div", { class: "field-row" },
        field("max_runs_per_day", "Runs a day", budgetInputs.max_runs_per_day),
        field("max_tokens_per_day", "Tokens a day", budgetInputs.max_tokens_per_day),
        field("max_cost_usd_per_month", "Cost a month (USD)", budgetInputs.max_cost_usd_per_month))),
    h("fieldset", {}, h("legend", {}, "Alerts"),
      field("alerts", "Alerts", alertsFrom, "Who is told of this job's incidents (failing, missed, late, paused)."),
      ownAlerts),
    formError,
    h("div", { class: "actions-bar" }, submit, h("a", { class: "button", href: back }, "Cancel")),
  );
  container.replaceChildren(heading(title), form);
  // A refusal shown on a field goes once the field is changed.
  for (const [key, input] of Object.entries(inputs)) input.addEventListener("input", () => clearError(key));
  // What retry, budget and alerts were when the form opened: an edit sends only what changed.
  const started = JSON.stringify([retryBody(), budgetBody(), alertsBody()]);

  // The live preview: the schedule as the API reads it, its next runs in its zone, warnings.
  let parsed = null; // {key, schedule, words, warnings} of the last English text read
  let asked = 0;
  const readSchedule = async () => {
    const text = schedule.value.trim();
    const tz = timezone.value.trim() || "UTC";
    if (!text) return null;
    if (mode() === "en") {
      const key = `${text}\u0000${tz}`;
      if (parsed?.key !== key) {
        const answer = await api("/parse-nl", { method: "POST", body: { text, timezone: tz } });
        parsed = { key, schedule: answer.schedule, words: answer.human_readable, warnings: answer.warnings };
      }
      return parsed;
    }
    const built = mode() === "cron" ? { type: "cron", expression: text, timezone: tz }
      : mode() === "every" ? { type: "every", interval: /^\d+$/.test(text) ? Number(text) : text, timezone: tz }
        : { type: "at", datetime: text, timezone: tz };
    return { schedule: built, words: null, warnings: [] };
  };
  const showPreview = async () => {
    const ask = ++asked;
    modeHint.textContent = MODES.find(([value]) => value === mode())[2];
    // What was previewed no longer holds: only the answer to the latest text is shown.
    fill(preview, h("p", { class: "muted" }, "Reading the schedule…"));
    await sleep(300); // typing: only the last keystroke's text is asked about
    if (ask !== asked) return;
    clearError("schedule");
    clearError("timezone");
    let read;
    let check;
    try {
      read = await readSchedule();
      if (!read) {
        preview.replaceChildren(h("p", { class: "muted" }, "The next runs show here."));
        return;
      }
      check = await api("/validate", { method: "POST", body: { schedule: read.schedule, count: 5 } });
    } catch (error) {
      if (ask !== asked) return;
      preview.replaceChildren();
      const zoneError = detailOf(error, ["timezone"]);
      if (zoneError) showError("timezone", zoneError);
      else showError("schedule", detailOf(error, ["text", "schedule"]) || error.message);
      return;
    }
    if (ask !== asked) return;
    if (!check.valid) {
      preview.replaceChildren();
      showError("schedule", check.error);
      return;
    }
    const tz = read.schedule.timezone || "UTC";
    const warnings = [...read.warnings, ...check.warnings.map((w) => w.message)];
    fill(preview,
      h("p", {}, h("strong", {}, check.description || read.words || "")),
      h("p", { class: "muted" }, `Next runs (${tz}):`),
      h("ol", { id: "preview-runs" }, check.next_runs.map((iso) => h("li", {}, whenIn(iso, tz)))),
      warnings.length ? h("ul", {}, warnings.map((w) => h("li", { class: "warning" }, w))) : null);
  };
  schedule.addEventListener("input", showPreview);
  timezone.addEventListener("input", showPreview);
  modes.addEventListener("change", showPreview);
  showPreview();

  function clearError(key) {
    errors[key].hidden = true;
    inputs[key].removeAttribute("aria-invalid");
  }
  function showError(key, message) {
    errors[key].textContent = message;
    errors[key].hidden = false;
    inputs[key].setAttribute("aria-invalid", "true");
  }

  const idempotency = idempotencyKey(); // one per form: a refused request frees it (docs/api.md)
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const key of Object.keys(errors)) clearError(key);
    formError.hidden = true;
    const [startedAs, text] = job ? scheduleText(job.schedule) : [];
    // An edit that leaves the schedule as it was does not send it (a list of cron expressions
    // has no text form here).
    const unchanged = job && mode() === startedAs && schedule.value.trim() === text
      && timezone.value.trim() === (job.schedule.timezone || "UTC");
    const missing = [["name", name], ["goal", goal], ["schedule", schedule], ["timezone", timezone]]
      .filter(([key, input]) => !input.value.trim() && !(key === "schedule" && unchanged));
    for (const [key] of missing) showError(key, "Required.");
    if (missing.length) {
      inputs[missing[0][0]].focus();
      return;
    }
    submit.disabled = true;
    try {
      const body = {
        name: name.value.trim(),
        goal: goal.value,
        agent_id: agent.value,
        delivery: channel.value.trim() ? { ...(job?.delivery || {}), channel: channel.value.trim() } : null,
        condition: condition.value.trim()
          ? { type: "expression", expression: condition.value.trim(), stage: stage.value } : null,
      };
      const [retryNow, budgetNow, alertsNow] = [retryBody(), budgetBody(), alertsBody()];
      const [retryThen, budgetThen, alertsThen] = JSON.parse(started);
      const changed = (now, then) => !job || JSON.stringify(now) !== JSON.stringify(then);
      if (changed(retryNow, retryThen) && (job || retryNow)) body.retry = retryNow;
      if (changed(budgetNow, budgetThen) && (job || budgetNow)) body.budget = budgetNow;
      if (changed(alertsNow, alertsThen) && (job || !alertsNow.alerts_from)) Object.assign(body, alertsNow);
      if (!unchanged) {
        try {
          body.schedule = (await readSchedule()).schedule;
        } catch (error) {
          showError("schedule", detailOf(error, ["text"]) || error.message);
          schedule.focus();
          return;
        }
      }
      const saved = job
        ? await api(`/jobs/${encodeURIComponent(job.id)}`, { method: "PUT", body })
        : await api("/jobs", { method: "POST", body, headers: { "Idempotency-Key": idempotency } });
      toast(job ? `Saved ${saved.name}` : `Created ${saved.name}`);
      refreshStats();
      location.hash = `#/jobs/${encodeURIComponent(saved.id)}`;
    } catch (error) {
      const details = error.body?.details || [];
      const placed = details.filter((d) => fieldOf(d.field));
      for (const detail of placed) showError(fieldOf(detail.field), detail.message);
      const rest = details.filter((d) => !fieldOf(d.field));
      if (!placed.length || rest.length) {
        fill(formError, h("p", {}, error.message),
          rest.length ? h("ul", {}, rest.map((d) => h("li", {}, `${d.field}: ${d.message}`))) : null);
        formError.hidden = false;
      }
      (placed.length ? inputs[fieldOf(placed[0].field)] : submit).focus();
    } finally {
      submit.disabled = false;
    }
  });
}

/** The message of a 422's detail on one of `fields`, if it has one. */
function detailOf(error, fields) {
  const detail = (error.body?.details || []).find((d) => fields.some((f) => d.field === f || d.field.startsWith(`${f}.`)));
  return detail?.message;
}
