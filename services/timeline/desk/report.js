// The report tab: orders with A in a period, from the projection (/v1/reports/summary): the
// on-time rate, breaches by party and by segment, each segment's percentiles against its limit,
// and the same figures as CSV.

import { api, storedToken } from "/web/signin.js";
import { el, svg, fill, duration, PARTIES } from "/desk/dom.js";

const SEGMENTS = ["AB", "BC", "CD", "DE", "EF", "FG", "GH"];
// The limits of the policy in force (policies/2026-11-01.json; DE: a crew away from the repair
// center's office), for the percentile chart's marks: the report itself does not carry them.
const LIMITS_S = { AB: 120, BC: 240, CD: 120, DE: 240, EF: 120, FG: 180, GH: 1680 };

function defaultPeriod() {
  const to = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000);
  const from = new Date(to.getTime() - 24 * 3600_000);
  return { from: from.toISOString(), to: to.toISOString() };
}

/** Render the report tab into `view`, for the period in `params` (default: the last 24 h). */
export async function showReport(view, params) {
  const period = defaultPeriod();
  const from = el("input", { class: "instant", value: params.get("from") || period.from, "data-testid": "report-from", "aria-label": "from" });
  const to = el("input", { class: "instant", value: params.get("to") || period.to, "data-testid": "report-to", "aria-label": "to" });
  const groupBy = el("select", { "data-testid": "report-group-by", "aria-label": "group by" },
    ["", "department", "day"].map((g) => el("option", { value: g }, g || "no grouping")));
  groupBy.value = params.get("group_by") || "";
  const error = el("p", { class: "error", role: "alert", "data-testid": "report-error" });
  const quick = (label, hours) => el("button", { type: "button", onclick: () => {
    const end = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000);
    from.value = new Date(end.getTime() - hours * 3600_000).toISOString();
    to.value = end.toISOString();
    form.requestSubmit();
  } }, label);
  const form = el("form", { class: "row", "data-testid": "report-form" },
    el("label", {}, "A from ", from), el("label", {}, "to ", to), el("label", {}, "by ", groupBy),
    el("button", { type: "submit", class: "primary", "data-testid": "report-run" }, "Run"),
    quick("last hour", 1), quick("last 24 h", 24), quick("last 7 days", 24 * 7));
  const out = el("div", { class: "report-content", "data-testid": "report-content" });
  view.append(el("section", { class: "panel", "data-testid": "report-view" },
    el("h2", {}, "Period report (orders by the time of A, [from, to))"), form, error), out);

  async function run() {
    error.textContent = "";
    const query = new URLSearchParams({ from: from.value.trim(), to: to.value.trim() });
    if (groupBy.value) query.set("group_by", groupBy.value);
    const url = new URL(location.href);
    url.hash = `#/report?${query}`;
    history.replaceState(null, "", url);
    out.dataset.loading = "true";
    try {
      const report = await api(`/v1/reports/summary?${query}`);
      fill(out, figures(report), await csvLink(query));
    } catch (err) {
      error.textContent = err.message;
      fill(out);
    }
    delete out.dataset.loading;
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); run(); });
  await run();
}

/** The CSV of the same report, fetched with the token and offered as a download. */
async function csvLink(query) {
  const headers = { Accept: "text/csv" };
  const token = storedToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const answer = await fetch(`/v1/reports/summary?${query}`, { headers, credentials: "same-origin" });
  if (!answer.ok) return el("p", { class: "error" }, `CSV: ${answer.status}`);
  const blob = new Blob([await answer.text()], { type: "text/csv" });
  const name = `report_${query.get("from")}_${query.get("to")}.csv`.replace(/[:]/g, "");
  return el("p", {}, el("a", {
    href: URL.createObjectURL(blob), download: name, "data-testid": "report-csv",
  }, "Download the figures as CSV"), el("span", { class: "muted" }, ` (one line per group and segment; the API's /v1/reports/summary with Accept: text/csv)`));
}

function figures(report) {
  const parts = [el("div", { class: "grid3" },
    el("section", { class: "panel" }, el("h2", {}, "Orders"),
      el("div", { class: "figure", "data-testid": "report-orders" }, report.orders)),
    el("section", { class: "panel" }, el("h2", {}, "On time (A→H within 45 min)"),
      el("div", { class: "figure", "data-testid": "report-on-time" },
        report.on_time_rate === null ? "—" : `${(report.on_time_rate * 100).toFixed(1)} %`),
      onTimeBar(report.on_time_rate)),
    el("section", { class: "panel" }, el("h2", {}, "Breached segments"),
      el("div", { class: "figure", "data-testid": "report-breaches" },
        Object.values(report.segments).reduce((n, s) => n + s.breached, 0)))),
  el("div", { class: "grid2" },
    el("section", { class: "panel" }, el("h2", {}, "Breaches by responsible party"),
      bars("chart-party", Object.entries(report.breaches_by_responsible)
        .map(([code, n]) => ({ key: code, label: PARTIES[code] || code, value: n })))),
    el("section", { class: "panel" }, el("h2", {}, "Breaches by segment"),
      bars("chart-segment", SEGMENTS.map((s) => ({ key: s, label: s, value: report.segments[s]?.breached ?? 0 }))))),
  el("section", { class: "panel" }, el("h2", {}, "Segment durations (ended segments): p50 green, p90 amber, p99 red, against each segment's limit (orange)"),
    percentiles(report.segments))];
  if (report.groups.length) parts.push(groupsTable(report));
  return parts;
}

function onTimeBar(rate) {
  const W = 300, chart = svg("svg", { viewBox: `0 0 ${W} 18`, width: W, class: "chart", "data-testid": "chart-on-time" });
  chart.append(svg("rect", { x: 0, y: 2, width: W, height: 14, class: "bar-incomplete", rx: 2 }));
  if (rate !== null) chart.append(svg("rect", { x: 0, y: 2, width: W * rate, height: 14, class: "bar-met", rx: 2 }));
  return chart;
}

/** Horizontal bars, one per item: `[{key, label, value}]`. */
function bars(testid, items) {
  const W = 520, L = 230, ROW = 24;
  const max = Math.max(1, ...items.map((i) => i.value));
  const chart = svg("svg", { viewBox: `0 0 ${W} ${items.length * ROW + 6}`, width: W, class: "chart", "data-testid": testid, role: "img" });
  items.forEach((item, i) => {
    const y = i * ROW + 3;
    const width = ((W - L - 40) * item.value) / max;
    chart.append(svg("g", { "data-testid": "bar", dataset: { key: item.key, value: item.value } },
      svg("text", { x: L - 6, y: y + 15, "text-anchor": "end" }, item.label),
      svg("rect", { x: L, y: y + 3, width: Math.max(width, item.value ? 2 : 0), height: ROW - 8, rx: 2, class: item.value ? "bar-breached" : "bar-incomplete" }),
      svg("text", { x: L + width + 6, y: y + 15 }, item.value)));
  });
  return chart;
}

/** Each segment's p50/p90/p99 as a share of its own limit (the orange mark, the same place on
 * every row), so that a 2-minute segment reads as well as the 28-minute one; up to 3× the limit,
 * beyond that the bar ends in an arrow. The values themselves are written beside. */
function percentiles(segments) {
  const W = 1000, L = 64, R = 400, ROW = 34, SPAN = 3;
  const x = (v, limit) => L + ((W - L - R) * Math.min(v / limit, SPAN)) / SPAN;
  const chart = svg("svg", {
    viewBox: `0 0 ${W} ${SEGMENTS.length * ROW + 8}`, width: W, class: "chart",
    "data-testid": "chart-percentiles", role: "img",
  });
  SEGMENTS.forEach((s, i) => {
    const y = i * ROW + 4;
    const stats = segments[s] || {};
    const limit = LIMITS_S[s];
    const g = svg("g", { "data-testid": "percentile", dataset: { segment: s } },
      svg("text", { x: 4, y: y + 20 }, s, svg("tspan", { class: "muted" }, ` ≤${limit / 60}′`)));
    ["p50", "p90", "p99"].forEach((p, j) => {
      const v = stats[`${p}_s`];
      if (v !== null && v !== undefined) {
        const over = v / limit > SPAN ? " ▶" : "";
        g.append(svg("rect", { x: L, y: y + 3 + j * 9, width: Math.max(x(v, limit) - L, 1), height: 8, class: p },
          svg("title", {}, `${s} ${p}: ${duration(v)}${over ? " (beyond 3× the limit)" : ""}`)));
      }
    });
    const lx = x(limit, limit);
    g.append(svg("line", { x1: lx, x2: lx, y1: y, y2: y + 30, class: "limit" }),
      svg("text", { x: W - R + 12, y: y + 20, class: "muted" },
        stats.p50_s === null || stats.p50_s === undefined ? "no ended segment"
          : `p50 ${duration(stats.p50_s)} · p90 ${duration(stats.p90_s)} · p99 ${duration(stats.p99_s)}`));
    chart.append(g);
  });
  return chart;
}

function groupsTable(report) {
  const parties = Object.keys(report.breaches_by_responsible);
  return el("section", { class: "panel", "data-testid": "report-groups" }, el("h2", {}, `By ${report.group_by}`),
    el("table", { class: "compact" }, el("thead", {}, el("tr", {},
      ["group", "orders", "on time", ...parties.map((p) => PARTIES[p] || p), ...SEGMENTS.map((s) => `${s} breached`)].map((h) => el("th", {}, h)))),
    el("tbody", {}, report.groups.map((g) => el("tr", {},
      el("th", {}, g.key ?? "(none)"), el("td", { class: "num" }, g.orders),
      el("td", { class: "num" }, g.on_time_rate === null ? "—" : `${(g.on_time_rate * 100).toFixed(1)} %`),
      parties.map((p) => el("td", { class: "num" }, g.breaches_by_responsible[p] ?? 0)),
      SEGMENTS.map((s) => el("td", { class: "num" }, g.segments[s]?.breached ?? 0)))))));
}
