// Heatmap: activity per local weekday and hour (GET /smart/heatmap), suggestions beside it.

import { api } from "./api.js";
import { errorBox, fill, h, heading, zone } from "./util.js";

/** The colour of a cell holding `level` (0–1) of the busiest hour's count. */
function shade(level) {
  return level ? `rgba(37, 99, 235, ${0.12 + 0.88 * level})` : "";
}

/** What the colours mean: none, then a few steps up to the busiest hour's count. */
function legend(max) {
  const steps = [0, 0.25, 0.5, 0.75, 1];
  return h("div", { class: "heat-legend", id: "heat-legend" },
    h("span", {}, "Events per hour:"),
    steps.map((level) => {
      const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
      swatch.style.backgroundColor = shade(level) || "#f1f3f6";
      const count = Math.round(level * max);
      return h("span", { class: "heat-step" }, swatch, " ", level ? count.toLocaleString() : "0");
    }));
}

export async function renderHeatmap(container) {
  container.replaceChildren(heading("Activity"), h("p", { class: "muted" }, "Loading…"));
  let heat;
  let ideas;
  try {
    [heat, ideas] = await Promise.all([
      api("/smart/heatmap", { params: { timezone: zone } }),
      api("/smart/suggestions", { params: { timezone: zone } }),
    ]);
  } catch (error) {
    container.replaceChildren(heading("Activity"), errorBox(error));
    return;
  }
  const head = h("tr", {}, h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Day")),
    heat.hours.map((hour) => h("th", { scope: "col", class: "hour" }, String(hour).padStart(2, "0"))));
  const body = h("tbody");
  heat.grid.forEach((counts, row) => {
    const tr = h("tr", {}, h("th", { scope: "row" }, heat.days[row]));
    counts.forEach((count, hour) => {
      const level = heat.max ? count / heat.max : 0;
      const td = h("td", {
        class: "heat",
        "data-count": count,
        title: `${heat.days[row]} ${String(hour).padStart(2, "0")}:00 — ${count} events`,
      }, h("span", { class: "visually-hidden" }, `${heat.days[row]} ${hour}:00: ${count}`));
      // CSSOM, not a style attribute: the page's policy allows no inline style markup.
      td.style.backgroundColor = shade(level);
      if (level > 0.6) td.classList.add("hot");
      tr.append(td);
    });
    body.append(tr);
  });
  const since = new Date(heat.since);
  const suggestions = ideas.suggestions.length
    ? h("ul", { class: "suggestions" }, ideas.suggestions.map((s) => h("li", {},
      h("div", { class: "suggestion-time" }, `${s.time} · ${s.days}`),
      h("div", {}, s.reason),
      h("code", {}, s.schedule.expression))))
    : h("p", { class: "muted" }, ideas.note || "No suggestions yet.");
  fill(container,
    heading("Activity"),
    h("p", { class: "muted" },
      `${heat.total.toLocaleString()} events since ${since.toLocaleDateString()} (${zone}); the busiest hour had ${heat.max.toLocaleString()}.`),
    heat.total ? null : h("p", { class: "empty-hint", id: "activity-hint" },
      "Nothing recorded yet. Activity is what you send to POST /api/scheduler/smart/activity ",
      "(times you were active); the suggested times come from it."),
    h("div", { class: "heat-layout" },
      h("div", {},
        h("div", { class: "table-wrap" },
          h("table", { class: "heatmap", "aria-label": "Events per weekday and hour" },
            h("thead", {}, head), body)),
        legend(heat.max)),
      h("aside", { class: "panel", "aria-labelledby": "suggestions-title" },
        h("h2", { id: "suggestions-title" }, "Suggested times"), suggestions)),
  );
}
