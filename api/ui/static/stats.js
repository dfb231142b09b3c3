// The stats bar at the top of every page (GET /stats in the viewer's zone).

import { api } from "./api.js";
import { duration, h, zone } from "./util.js";

/** Refresh the stats bar: runs today, success rate, mean duration, jobs by status. */
export async function refreshStats() {
  let data;
  try {
    data = await api("/stats", { params: { timezone: zone } });
  } catch {
    return;
  }
  const rate = data.success_rate === null ? "—" : `${(data.success_rate * 100).toFixed(1)} %`;
  const byStatus = Object.entries(data.jobs_by_status);
  const stats = document.getElementById("stats");
  stats.replaceChildren(
    stat("Runs today", data.total_runs_today.toLocaleString(), "runs-today"),
    stat(`Success rate (${data.days} d)`, rate, "success-rate"),
    stat(`Mean duration (${data.days} d)`, duration(data.avg_duration_seconds), "avg-duration"),
    stat(
      "Jobs",
      byStatus.length
        ? byStatus.map(([status, count]) => `${count.toLocaleString()} ${status}`).join(" · ")
        : "none",
      "jobs-by-status",
    ),
    stat("Open incidents", (data.open_incidents ?? 0).toLocaleString(), "open-incidents"),
  );
  stats.hidden = false;
}

function stat(label, value, name) {
  return h("div", { class: "stat", "data-stat": name },
    h("div", { class: "stat-label" }, label), h("div", { class: "stat-value" }, value));
}

