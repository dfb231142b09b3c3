// Small helpers: a DOM builder that only ever sets text (never HTML), times in the viewer's zone.

/** The viewer's IANA time zone (the browser's). */
export const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

/**
 * Build an element. `attrs` values: strings/numbers become attributes, functions on* become
 * listeners, `class` a class list, false/null/undefined are skipped. Children: nodes or text.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

/** Replace `el`'s children with `children` (nodes, text, arrays; null and false skipped). */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// Every time shown says its zone ("Thu 3 Dec, 14:05 GMT"): the viewer's unless told otherwise.
const dateTime = new Intl.DateTimeFormat(undefined, {
  weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  timeZoneName: "short",
});
const fullTime = new Intl.DateTimeFormat(undefined, {
  weekday: "short", year: "numeric", day: "numeric", month: "short",
  hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
});

/** "Thu 3 Dec, 14:05 GMT" in the viewer's zone, or "—". */
export function when(iso) {
  return iso ? dateTime.format(new Date(iso)) : "—";
}

/** The same in the IANA zone `tz` (a job's), with that zone's name after it. */
export function whenIn(iso, tz) {
  if (!iso) return "—";
  const format = new Intl.DateTimeFormat(undefined, {
    weekday: "short", year: "numeric", day: "numeric", month: "short",
    hour: "2-digit", minute: "2-digit", timeZone: tz,
  });
  return `${format.format(new Date(iso))} ${tz}`;
}

/** The full instant with seconds and zone, for details and tooltips. */
export function whenFull(iso) {
  return iso ? fullTime.format(new Date(iso)) : "—";
}

/** A `<time>` element showing `when(iso)` (or `whenIn(iso, tz)`) with the full instant as
 * its title. */
export function timeEl(iso, tz = null) {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: iso, title: whenFull(iso) }, tz ? whenIn(iso, tz) : when(iso));
}

/** "1.2 s", "3 min 4 s", or "—". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A status badge (its colour comes from `status-<name>` in the style sheet). */
export function badge(status) {
  return h("span", { class: `badge status-${status}` }, status.replace("_", " "));
}

/** Local calendar date "YYYY-MM-DD" of a Date. */
export function isoDate(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** The hash route's path parts and query: "#/jobs?status=paused" → {parts, query}. */
export function route() {
  const [path, search = ""] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(search) };
}

/** Announce a message (polite live region) and show it briefly. */
export function toast(message) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.classList.add("shown");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove("shown"), 4000);
}

/** A page heading that takes focus after navigation (screen readers hear the new page). */
export function heading(text) {
  return h("h1", { tabindex: "-1", class: "page-title" }, text);
}

/** Wait `ms` milliseconds. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Call `step` every `ms` while it answers true and `el` (the page) is still shown. */
export async function poll(el, step, ms = 1000) {
  while (el.isConnected && (await step())) await sleep(ms);
}

/** An error box for a failed request. */
export function errorBox(error) {
  return h("p", { class: "error", role: "alert" }, error.message || String(error));
}
