// The dashboard: sign-in, the stats bar, and a hash router over the pages.

import { api, key, signIn, signOut } from "./api.js";
import { renderCalendar } from "./calendar.js";
import { renderHeatmap } from "./heatmap.js";
import { renderJobs } from "./jobs.js";
import { renderOutbox } from "./outbox.js";
import { renderRun } from "./run.js";
import { refreshStats } from "./stats.js";
import { errorBox, h, heading, route, zone } from "./util.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const stats = document.getElementById("stats");

const PAGES = {
  jobs: renderJobs,
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

async function show() {
  if (!key()) {
    nav.hidden = true;
    stats.hidden = true;
    main.replaceChildren(signInForm());
    main.querySelector("input").focus();
    return;
  }
  nav.hidden = false;
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
