// Week calendar: planned fires and runs per local day and hour, in the viewer's zone.
//
// The week runs Monday 00:00 to the next Monday 00:00 in the browser's zone, so a DST week is
// 167 or 169 hours long; each event sits in the row of its local hour (a repeated fall-back
// hour adds into its one row, a skipped spring hour stays empty). Days whose UTC offset changes
// are marked. A job with more planned fires in a day than one an hour is drawn as one band
// with its count in that day's "all day" row; where the API cut the planned fires (at most
// 2,000 per job and 20,000 in all: docs/api.md, calendar-data) the page says so, per job and
// day. Filters: one job, one status (or planned fires only).

import { api } from "./api.js";
import { errorBox, fill, h, heading, isoDate, when, whenFull, zone } from "./util.js";

const PER_CELL = 4;
const BAND_ABOVE = 24; // planned fires of one job in one day beyond which it is a band
const PER_JOB = 2_000; // the API's cuts (api/services/time.py)
const TOTAL = 20_000;
const STATUSES = ["planned", "completed", "failed", "timed_out", "cancelled", "skipped", "running"];
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
  const jobFilter = query.get("job") || "";
  const statusFilter = STATUSES.includes(query.get("status")) ? query.get("status") : "";
  const calendarHash = (changes) => {
    const values = new URLSearchParams(query);
    for (const [name, value] of Object.entries(changes)) {
      if (value) values.set(name, value);
      else values.delete(name);
    }
    const text = values.toString();
    return `#/calendar${text ? `?${text}` : ""}`;
  };
  const week = (shift) => isoDate(new Date(monday.getFullYear(), monday.getMonth(), monday.getDate() + shift));

  const status = h("p", { class: "muted", "aria-live": "polite" }, "Loading…");
  container.replaceChildren(
    heading(`Week of ${dayName.format(monday)} ${monday.getFullYear()}`),
    h("div", { class: "toolbar" },
      h("a", { class: "button", href: calendarHash({ week: week(-7) }), rel: "prev" }, "← Previous week"),
      h("a", { class: "button", href: calendarHash({ week: "" }) }, "This week"),
      h("a", { class: "button", href: calendarHash({ week: week(7) }), rel: "next" }, "Next week →"),
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
  const names = new Map(data.events.map((e) => [e.job_id, e.job_name]));
  const events = data.events.filter((e) => (!jobFilter || e.job_id === jobFilter) && (!statusFilter
    || (statusFilter === "planned" ? e.kind === "planned" : e.kind === "run" && e.status === statusFilter)));
  const planned = events.filter((e) => e.kind === "planned").length;
  const runs = events.length - planned;
  const plural = (n, one, many) => `${n.toLocaleString()} ${n === 1 ? one : many}`;
  const cuts = cutsOf(data, jobFilter);
  fill(status,
    h("span", { id: "calendar-counts" }, `${plural(planned, "planned fire", "planned fires")}, ${plural(runs, "run", "runs")}`),
    cuts.text ? h("strong", { class: "warning", id: "calendar-cut" }, ` Not all are shown: ${cuts.text}`) : null);
  status.before(filters(names, jobFilter, statusFilter, calendarHash));

  // cells[day][hour] = events; bands[day] = the jobs drawn as one band that day, and cuts
  const dayOf = (at) => (Math.floor((mondayOf(at) - monday) / 86_400_000) === 0 ? (at.getDay() + 6) % 7 : -1);
  const perDay = days.map(() => new Map());
  for (const event of events) {
    const index = dayOf(new Date(event.time));
    if (index < 0 || event.kind !== "planned") continue;
    perDay[index].set(event.job_id, (perDay[index].get(event.job_id) || 0) + 1);
  }
  const cells = days.map(() => Array.from({ length: 24 }, () => []));
  const bands = days.map((_, i) => [...perDay[i]].filter(([, count]) => count > BAND_ABOVE)
    .map(([id, count]) => ({ id, name: names.get(id), count })));
  for (const event of events) {
    const at = new Date(event.time);
    const index = dayOf(at);
    if (index < 0) continue;
    if (event.kind === "planned" && bands[index].some((band) => band.id === event.job_id)) continue;
    cells[index][at.getHours()].push(event);
  }
  // A day after a cut point: the cut jobs (or all planned fires) have more that day, unlisted.
  const now = Date.now();
  days.forEach((day, i) => {
    const dayEnd = new Date(day.getFullYear(), day.getMonth(), day.getDate() + 1).getTime();
    if (dayEnd <= now || statusFilter && statusFilter !== "planned") return;
    for (const cut of cuts.list) {
      if (cut.after < dayEnd) {
        const band = bands[i].find((b) => b.id === cut.id);
        if (band) band.cut = cut.after;
        else bands[i].push({ id: cut.id, name: cut.name, count: null, cut: cut.after });
      }
    }
  });

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
  if (bands.some((list) => list.length)) {
    body.append(h("tr", { class: "bands" }, h("th", { scope: "row", class: "hour-col" }, "All day"),
      bands.map((list, day) => h("td", { "data-day": day }, list.map(band)))));
  }
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
    agenda(days, cells, bands),
  );
}

/** Narrow screens: the same week as a list of days, each with the hours that have entries. */
function agenda(days, cells, bands) {
  return h("div", { class: "calendar-agenda" }, days.map((day, i) => {
    const change = dstChange(day);
    const hours = cells[i].map((events, hour) => [hour, events]).filter(([, events]) => events.length);
    return h("section", { class: `agenda-day${change ? " dst" : ""}`, "data-date": isoDate(day) },
      h("h2", {}, dayName.format(day),
        change ? h("span", { class: "dst-mark" }, `DST: ${change.text} (${change.hours} h)`) : null),
      bands[i].map(band),
      hours.length || bands[i].length
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


/** A job drawn as one band for a day: its count of planned fires, and where the list was cut. */
function band(item) {
  const cutAt = item.cut ? when(new Date(item.cut).toISOString()) : "";
  const text = item.count === null ? `${item.name}: fires not listed`
    : `${item.name}: ${item.count.toLocaleString()}${item.cut ? "+" : ""} planned fires`;
  return h("span", {
    class: `band${item.cut ? " cut" : ""}`, "data-job-id": item.id, "data-count": item.count ?? "",
    title: item.cut ? `The API listed this job's fires until ${cutAt} only` : null,
  }, text);
}

/** Where the API cut the planned fires: per job (PER_JOB listed) and in all (TOTAL listed). */
function cutsOf(data, jobFilter) {
  const byJob = new Map();
  let lastPlanned = 0;
  for (const event of data.events) {
    if (event.kind !== "planned") continue;
    const at = new Date(event.time).getTime();
    const entry = byJob.get(event.job_id) || { id: event.job_id, name: event.job_name, count: 0, after: 0 };
    entry.count += 1;
    entry.after = Math.max(entry.after, at);
    byJob.set(event.job_id, entry);
    lastPlanned = Math.max(lastPlanned, at);
  }
  const list = [...byJob.values()].filter((e) => e.count >= PER_JOB && (!jobFilter || e.id === jobFilter));
  const texts = list.map((e) => `${e.name} has more planned fires after ${when(new Date(e.after).toISOString())}`);
  if (data.truncated && [...byJob.values()].reduce((n, e) => n + e.count, 0) >= TOTAL) {
    texts.push(`planned fires after ${when(new Date(lastPlanned).toISOString())} are not listed`);
  }
  if (!data.truncated || (!texts.length && jobFilter)) return { text: "", list: [] };
  const text = `${texts.join("; ") || "some planned fires are not listed"} (the API lists at most ` +
    `${PER_JOB.toLocaleString()} per job and ${TOTAL.toLocaleString()} in all).`;
  return { text, list };
}

/** The job and status filters (kept in the address, with the week). */
function filters(names, jobFilter, statusFilter, calendarHash) {
  const jobSelect = h("select", { id: "calendar-job", name: "job" },
    h("option", { value: "" }, "all jobs"),
    [...names].sort((a, b) => a[1].localeCompare(b[1])).map(([id, name]) =>
      h("option", { value: id, selected: id === jobFilter }, name)));
  const statusSelect = h("select", { id: "calendar-status", name: "status" },
    h("option", { value: "" }, "all"),
    STATUSES.map((s) => h("option", { value: s, selected: s === statusFilter }, s.replace("_", " "))));
  jobSelect.addEventListener("change", () => {
    location.hash = calendarHash({ job: jobSelect.value });
  });
  statusSelect.addEventListener("change", () => {
    location.hash = calendarHash({ status: statusSelect.value });
  });
  return h("div", { class: "toolbar" },
    h("label", { for: "calendar-job" }, "Job "), jobSelect,
    h("label", { for: "calendar-status" }, "Status "), statusSelect);
}
