// The dashboard: sign-in, the stats bar, and a hash router over the pages.

import { api, key, signIn, signOut } from "./api.js";
import { renderCalendar } from "./calendar.js";
import { renderJobForm } from "./form.js";
import { renderHeatmap } from "./heatmap.js";
import { renderJob } from "./job.js";
import { renderJobs } from "./jobs.js";
import { renderOutbox } from "./outbox.js";
import { renderRun } from "./run.js";
import { refreshStats } from "./stats.js";
import { errorBox, h, heading, route, zone } from "./util.js";

const main = document.getElementById("main");
const SCOPE = "agent-scheduler-scope";
const nav = document.getElementById("nav");
const stats = document.getElementById("stats");

/** #/jobs, #/jobs/new, #/jobs/{id}, #/jobs/{id}/edit. */
function jobPages(container, parts, query) {
  if (parts[0] === "new") return renderJobForm(container, null);
  if (parts[0] && parts[1] === "edit") return renderJobForm(container, parts[0]);
  if (parts[0]) return renderJob(container, parts[0], query);
  return renderJobs(container, parts, query);
}

const PAGES = {
  jobs: jobPages,
  calendar: renderCalendar,
  heatmap: renderHeatmap,
  outbox: renderOutbox,
  runs: renderRun,
};

function signInForm() {
  const input = h("input", {
    id: "api-key", name: "api-key", type: "password", autocomplete: "off", required: true,
    spellcheck: "false", "aria-describedby": "api-key-help",
  });
  const message = h("p", { class: "error", role: "alert", hidden: true });
  const form = h(
    "form",
    { class: "sign-in", "aria-labelledby": "sign-in-title" },
    h("h1", { id: "sign-in-title", tabindex: "-1", class: "page-title" }, "Sign in"),
    h("label", { for: "api-key" }, "API key"),
    input,
    h("p", { id: "api-key-help", class: "muted" },
      "An sk_… key (agent-scheduler keys create, or the one agent-scheduler dev prints). ",
      "It is kept in this tab only and sent to this server alone."),
    message,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = input.value.trim();
    message.hidden = true;
    try {
      await api("/stats", { params: { timezone: zone }, token: value });
    } catch (error) {
      message.textContent = error.status === 401 ? "That key is not valid here." : error.message;
      message.hidden = false;
      input.focus();
      return;
    }
    signIn(value);
    if (!location.hash || location.hash === "#/sign-in") location.hash = "#/jobs";
    else show();
  });
  return form;
}

/** The signed-in key's scope as <body data-scope>: with a `read` key the pages show no write
 * action (style.css). Asked once per sign-in (GET /key); on failure nothing is hidden
 * (the API still refuses what the key may not do). */
async function markScope() {
  let scope = sessionStorage.getItem(SCOPE);
  if (!scope) {
    try {
      scope = (await api("/key")).scope;
      sessionStorage.setItem(SCOPE, scope);
    } catch {
      scope = "unknown";
    }
  }
  document.body.dataset.scope = scope;
}

async function show() {
  if (!key()) {
    sessionStorage.removeItem(SCOPE);
    delete document.body.dataset.scope;
    nav.hidden = true;
    stats.hidden = true;
    main.replaceChildren(signInForm());
    main.querySelector("input").focus();
    return;
  }
  nav.hidden = false;
  await markScope();
  const { parts, query } = route();
  const page = PAGES[parts[0]] ? parts[0] : "jobs";
  for (const link of nav.querySelectorAll("a[data-page]")) {
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  refreshStats();
  const container = h("div", { class: `page page-${page}` });
  main.replaceChildren(container);
  try {
    await PAGES[page](container, parts.slice(1), query);
  } catch (error) {
    container.replaceChildren(heading("Something went wrong"), errorBox(error));
  }
  if (document.activeElement === document.body || !main.contains(document.activeElement)) {
    const title = main.querySelector(".page-title");
    if (title && show.navigated) title.focus({ preventScroll: true });
  }
  show.navigated = true;
}

document.getElementById("sign-out").addEventListener("click", () => {
  signOut();
  show();
});
window.addEventListener("signed-out", () => show());
window.addEventListener("hashchange", () => show());
show();
