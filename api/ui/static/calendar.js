// Week calendar: planned fires and runs per local day and hour, in the viewer's zone.
//
// The week runs Monday 00:00 to the next Monday 00:00 in the browser's zone, so a DST week is
// 167 or 169 hours long; each event sits in the row of its local hour (a repeated fall-back
// hour adds into its one row, a skipped spring hour stays empty). Days whose UTC offset changes
// are marked.

import { api } from "./api.js";
import { errorBox, h, heading, isoDate, when, whenFull, zone } from "./util.js";

const PER_CELL = 4;
const dayName = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });
const hourName = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

/** A chip's time: hours and minutes (the column says the day), the full instant as title. */
function chipTime(iso) {
  return h("time", { datetime: iso, title: whenFull(iso) }, hourName.format(new Date(iso)));
}

/** Monday 00:00 (local) of the week holding `date`. */
function mondayOf(date) {
  const day = new Date(date.getFullYear(), date.getMonth(), date.getDate());
  const shift = (day.getDay() + 6) % 7;
  return new Date(day.getFullYear(), day.getMonth(), day.getDate() - shift);
}

function parseWeek(text) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text || "");
  if (!match) return mondayOf(new Date());
  return mondayOf(new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
}

/** How a day's clocks change: null, or {text, hours}. */
function dstChange(day) {
  const next = new Date(day.getFullYear(), day.getMonth(), day.getDate() + 1);
  const before = day.getTimezoneOffset();
  const after = next.getTimezoneOffset();
  if (before === after) return null;
  const hours = Math.round((next - day) / 3_600_000);
  return { text: after < before ? "clocks go forward" : "clocks go back", hours };
}

export async function renderCalendar(container, _parts, query) {
  const monday = parseWeek(query.get("week"));
  const days = Array.from({ length: 7 }, (_, i) =>
    new Date(monday.getFullYear(), monday.getMonth(), monday.getDate() + i));
  const end = new Date(monday.getFullYear(), monday.getMonth(), monday.getDate() + 7);
  const week = (shift) => isoDate(new Date(monday.getFullYear(), monday.getMonth(), monday.getDate() + shift));

  const status = h("p", { class: "muted", "aria-live": "polite" }, "Loading…");
  container.replaceChildren(
    heading(`Week of ${dayName.format(monday)} ${monday.getFullYear()}`),
    h("div", { class: "toolbar" },
      h("a", { class: "button", href: `#/calendar?week=${week(-7)}`, rel: "prev" }, "← Previous week"),
      h("a", { class: "button", href: "#/calendar" }, "This week"),
      h("a", { class: "button", href: `#/calendar?week=${week(7)}`, rel: "next" }, "Next week →"),
      h("span", { class: "muted" }, `Times in ${zone}`),
      h("span", { class: "legend" },
        h("span", { class: "chip planned" }, "planned"),
        ["completed", "failed", "timed_out", "cancelled", "skipped", "running"].map((s) =>
          h("span", { class: `chip run status-${s}` }, s.replace("_", " "))))),
    status,
  );

  let data;
  try {
    data = await api("/calendar-data", {
      params: { start: monday.toISOString(), end: end.toISOString(), timezone: zone },
    });
  } catch (error) {
    status.replaceWith(errorBox(error));
    return;
  }
  const planned = data.events.filter((e) => e.kind === "planned").length;
  const runs = data.events.length - planned;
  const plural = (n, one, many) => `${n.toLocaleString()} ${n === 1 ? one : many}`;
  status.textContent = `${plural(planned, "planned fire", "planned fires")}, ${plural(runs, "run", "runs")}` +
    (data.truncated ? " (planned fires cut at the API's limit)" : "");

  // cells[day][hour] = events
  const cells = days.map(() => Array.from({ length: 24 }, () => []));
  for (const event of data.events) {
    const at = new Date(event.time);
    const index = Math.floor((mondayOf(at) - monday) / 86_400_000) === 0
      ? (at.getDay() + 6) % 7
      : -1;
    if (index >= 0) cells[index][at.getHours()].push(event);
  }

  const head = h("tr", {}, h("th", { scope: "col", class: "hour-col" }, "Hour"),
    days.map((day, i) => {
      const change = dstChange(day);
      return h("th", {
        scope: "col",
        class: change ? "dst" : null,
        "data-day": i,
        "data-date": isoDate(day),
      },
      dayName.format(day),
      change ? h("span", { class: "dst-mark", title: `${change.hours}-hour day` },
        `DST: ${change.text} (${change.hours} h)`) : null);
    }));
  const body = h("tbody");
  for (let hour = 0; hour < 24; hour++) {
    const label = hourName.format(new Date(2000, 0, 1, hour));
    const row = h("tr", { "data-hour": hour }, h("th", { scope: "row", class: "hour-col" }, label));
    for (let day = 0; day < 7; day++) {
      row.append(cell(cells[day][hour], day, hour));
    }
    body.append(row);
  }
  container.append(
    h("div", { class: "table-wrap calendar-wrap" },
      h("table", { class: "calendar" }, h("thead", {}, head), body)),
    agenda(days, cells),
  );
}

/** Narrow screens: the same week as a list of days, each with the hours that have entries. */
function agenda(days, cells) {
  return h("div", { class: "calendar-agenda" }, days.map((day, i) => {
    const change = dstChange(day);
    const hours = cells[i].map((events, hour) => [hour, events]).filter(([, events]) => events.length);
    return h("section", { class: `agenda-day${change ? " dst" : ""}`, "data-date": isoDate(day) },
      h("h2", {}, dayName.format(day),
        change ? h("span", { class: "dst-mark" }, `DST: ${change.text} (${change.hours} h)`) : null),
      hours.length
        ? h("ul", { class: "agenda-hours" }, hours.map(([hour, events]) => h("li", {},
          h("span", { class: "hour-col" }, hourName.format(new Date(2000, 0, 1, hour))),
          cell(events, i, hour, "div"))))
        : h("p", { class: "muted" }, "Nothing."));
  }));
}

function cell(events, day, hour, tag = "td") {
  const td = h(tag, { "data-day": day, "data-hour": hour, class: events.length ? null : "empty" });
  if (!events.length) return td;
  const list = h("ul", { class: "chips" });
  for (const event of events.slice(0, PER_CELL)) list.append(h("li", {}, chip(event)));
  td.append(list);
  if (events.length > PER_CELL) {
    const more = h("details", {}, h("summary", {}, `+${events.length - PER_CELL} more`));
    more.addEventListener("toggle", () => {
      if (more.open && more.children.length === 1) {
        more.append(h("ul", { class: "chips" },
          events.slice(PER_CELL).map((event) => h("li", {}, chip(event)))));
      }
    }, { once: false });
    td.append(more);
  }
  return td;
}

function chip(event) {
  const title = `${event.job_name}: ${event.kind === "planned" ? "planned" : event.status} at ${when(event.time)}`;
  if (event.kind === "planned" || !event.run_id) {
    return h("span", { class: "chip planned", title, "data-kind": "planned", "data-job-id": event.job_id },
      chipTime(event.time), " ", event.job_name);
  }
  return h("a", {
    class: `chip run status-${event.status}`,
    href: `#/runs/${encodeURIComponent(event.job_id)}/${encodeURIComponent(event.run_id)}`,
    title,
    "data-kind": "run",
    "data-run-id": event.run_id,
    "data-status": event.status,
  }, chipTime(event.time), " ", event.job_name, h("span", { class: "visually-hidden" }, ` (${event.status})`));
}

