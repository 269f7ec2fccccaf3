// The order tab: find an order, then its A–H timeline as bars, every finding with its party and
// evidence, an as-of slider (the picture as it was known at any instant since A), the escalation
// ladder with every call, and its history with both clocks and where each event sat in Kafka.

import { api, ApiError } from "/web/signin.js";
import { el, svg, fill, instant, timeEl, duration, party, status, PARTIES } from "/desk/dom.js";

const POINTS = {
  A: "customer hung up (timing starts)",
  B: "duty chief issued the order",
  C: "order arrived at the repair center",
  D: "repair center dispatched it",
  E: "order arrived at the crew's unit",
  F: "crew accepted it",
  G: "crew set off",
  H: "crew arrived on site",
};
const RULES = {
  not_received: "rule 1: issued, not taken in by the repair center",
  not_taken: "rule 2: dispatched, not taken by the crew",
};
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const orderPath = (id) => `/v1/work-orders/${encodeURIComponent(id)}`;
const withAsOf = (path, asOf) => (asOf ? `${path}?as_of=${encodeURIComponent(asOf)}` : path);

/** Render the order tab into `view`: the search, recent breaches, and the order `id` if any. */
export async function showOrder(view, id, params) {
  const search = searchPanel(id);
  const recent = el("section", { class: "panel", "data-testid": "recent" }, el("h2", {}, "Recent breaches"));
  const order = el("div", { class: "order" });
  view.append(el("div", { class: "grid2" }, search, recent), order);
  const loadingRecent = recentBreaches(recent);
  if (id) await showOne(order, id, params.get("as_of"));
  else order.append(el("p", { class: "notice" }, "Enter a work order id, or pick a breach from the list."));
  await loadingRecent;
}

function searchPanel(id) {
  const input = el("input", {
    class: "wide", name: "order", value: id || "", placeholder: "work order id (UUID)",
    "data-testid": "order-search", autocomplete: "off", spellcheck: "false",
  });
  const error = el("p", { class: "error", role: "alert", "data-testid": "search-error" });
  const form = el("form", { class: "row", "data-testid": "order-form" },
    el("label", {}, "Work order ", input),
    el("button", { type: "submit", class: "primary", "data-testid": "order-open" }, "Open"), error);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const wanted = input.value.trim();
    if (!UUID_RE.test(wanted)) {
      error.textContent = `Not a work order id: ${JSON.stringify(wanted)} (expected a UUID).`;
      return;
    }
    location.hash = `#/order/${wanted.toLowerCase()}`;
  });
  return el("section", { class: "panel" }, el("h2", {}, "Find an order"), form);
}

async function recentBreaches(panel) {
  let items;
  try {
    ({ items } = await api("/v1/breaches?limit=25"));
  } catch (err) {
    panel.append(el("p", { class: "error" }, `Breaches unavailable: ${err.message}`));
    return;
  }
  if (!items.length) {
    panel.append(el("p", { class: "muted" }, "No breaches recorded."));
    return;
  }
  const rows = items.map((b) => el("tr", {
    class: "clickable", "data-testid": "recent-breach",
    dataset: { workOrder: b.work_order_id, segment: b.segment },
    onclick: () => { location.hash = `#/order/${b.work_order_id}`; },
  },
  el("td", { class: "mono" }, el("a", { href: `#/order/${b.work_order_id}` }, b.work_order_id.slice(0, 8))),
  el("td", {}, b.segment), el("td", {}, party(b.responsible)), el("td", {}, timeEl(b.breached_at)),
  el("td", {}, status(b.status))));
  panel.append(el("div", { class: "scroll" }, el("table", { class: "compact" },
    el("thead", {}, el("tr", {}, ["order", "segment", "party", "breached at", "status"].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows))));
}

async function showOne(container, id, asOf) {
  let live;
  try {
    live = await api(`${orderPath(id)}/timeline`);
  } catch (err) {
    container.append(el("p", { class: "error", "data-testid": "order-error" }, refusal(err, id)));
    return;
  }
  const started = Date.parse(live.points.A || live.as_of);
  const now = Math.max(Date.now(), Date.parse(live.as_of));
  const content = el("div", { class: "order-content", "data-testid": "order-content" });
  const slider = asOfSlider(started, now, asOf, (chosen) => refresh(chosen));
  container.append(el("section", { class: "panel", "data-testid": "asof" },
    el("h2", {}, "As of"), slider.node), content);

  async function refresh(chosen) {
    content.dataset.loading = "true";
    const url = new URL(location.href);
    url.hash = chosen ? `#/order/${id}?as_of=${encodeURIComponent(chosen)}` : `#/order/${id}`;
    history.replaceState(null, "", url);  // the address shows the instant, without a re-render
    await renderContent(content, id, chosen);
    content.dataset.asOf = chosen || "now";
    delete content.dataset.loading;
  }
  await refresh(asOf);
}

function refusal(err, id) {
  if (err instanceof ApiError && err.status === 404) return `The timeline knows no work order ${id}.`;
  return `Cannot read work order ${id}: ${err.message}`;
}

/** A range input from A to now (milliseconds), with the chosen instant spelled out, a text
 * field for an exact instant and a "now" button. `onChoose(iso | null)` on release. */
function asOfSlider(min, max, initial, onChoose) {
  const initialMs = initial ? Date.parse(initial) : max;
  const range = el("input", {
    type: "range", min, max, step: "any", value: Math.min(Math.max(initialMs, min), max),
    "data-testid": "asof-slider", "aria-label": "as of",
  });
  const exact = el("input", {
    class: "instant", "data-testid": "asof-value", value: initial || "", placeholder: "now",
    "aria-label": "as of (ISO 8601)",
  });
  const error = el("span", { class: "error", "data-testid": "asof-error" });
  const spell = () => new Date(Number(range.value)).toISOString();
  range.addEventListener("input", () => { exact.value = spell(); });
  range.addEventListener("change", () => {
    error.textContent = "";
    exact.value = spell();
    onChoose(Number(range.value) >= max ? null : exact.value);
  });
  exact.addEventListener("change", () => {
    const text = exact.value.trim();
    if (!text) { onChoose(null); return; }
    const ms = Date.parse(text);
    if (Number.isNaN(ms) || !/(Z|[+-]\d\d:?\d\d)$/.test(text)) {
      error.textContent = "An instant with its offset, e.g. 2026-12-01T09:30:00Z.";
      return;
    }
    error.textContent = "";
    range.value = String(Math.min(Math.max(ms, min), max));
    onChoose(new Date(ms).toISOString());
  });
  const now = el("button", { type: "button", "data-testid": "asof-now", onclick: () => {
    range.value = String(max);
    exact.value = "";
    onChoose(null);
  } }, "Now");
  const node = el("div", { class: "row" },
    el("span", { class: "muted" }, "A ", timeEl(new Date(min).toISOString())), range,
    el("span", { class: "muted" }, "now"), exact, now, error);
  return { node };
}

async function renderContent(content, id, asOf) {
  const [timeline, ladder, history] = await Promise.allSettled([
    api(withAsOf(`${orderPath(id)}/timeline`, asOf)),
    api(withAsOf(`${orderPath(id)}/escalations`, asOf)),
    api(`${orderPath(id)}/events`),
  ]);
  const parts = [];
  if (timeline.status === "fulfilled") {
    const t = timeline.value;
    parts.push(summary(t, id, asOf), el("div", { class: "grid2" }, barsPanel(t), pointsPanel(t)),
      findingsPanel(t));
    if (t.gaps && t.gaps.length) parts.push(gapsPanel(t.gaps));
    if (t.attempts && t.attempts.length) parts.push(attemptsPanel(t.attempts));
    parts.push(anomaliesPanel(t.anomalies || []));
  } else if (timeline.reason instanceof ApiError && timeline.reason.status === 404 && asOf) {
    parts.push(el("p", { class: "notice", "data-testid": "asof-empty" },
      `Nothing of this order had been recorded by ${instant(asOf)}.`));
  } else {
    parts.push(el("p", { class: "error" }, `Timeline: ${timeline.reason.message}`));
  }
  parts.push(ladder.status === "fulfilled"
    ? ladderPanel(ladder.value)
    : el("p", { class: "error" }, `Escalations: ${ladder.reason.message}`));
  parts.push(history.status === "fulfilled"
    ? historyPanel(history.value, asOf)
    : el("p", { class: "error" }, `History: ${history.reason.message}`));
  fill(content, parts);
}

function summary(t, id, asOf) {
  const total = t.total;
  const svgLink = el("a", {
    href: withAsOf(`${orderPath(id)}/timeline.svg`, asOf), target: "_blank", rel: "noopener",
    "data-testid": "svg-link",
  }, "the timeline as SVG");
  return el("section", { class: "panel", "data-testid": "summary" },
    el("h2", {}, "Work order"),
    el("div", { class: "row" },
      el("strong", { class: "mono", "data-testid": "order-id" }, t.work_order_id),
      el("span", {}, "A→H ", status(total.status), " ", duration(total.duration_s),
        el("span", { class: "muted" }, ` of ${duration(total.limit_s)}`)),
      total.responsible.length
        ? el("span", {}, "answering: ", total.responsible.map((r) => party(r)))
        : null,
      el("span", { class: "muted" }, "policy ", el("span", { class: "mono" }, t.policy_version)),
      el("span", { class: "muted", "data-testid": "judged-as-of" }, "as of ", timeEl(t.as_of)),
      t.fault_cleared_at ? el("span", { class: "muted" }, "fault cleared ", timeEl(t.fault_cleared_at)) : null,
      svgLink),
    total.dispute ? el("p", { class: "warn" }, `A→H disputed: ${total.dispute}`) : null);
}

function pointsPanel(t) {
  return el("section", { class: "panel", "data-testid": "points" }, el("h2", {}, "Time points"),
    el("table", { class: "compact" }, el("tbody", {}, Object.entries(POINTS).map(([p, meaning]) =>
      el("tr", { "data-testid": `point-${p}`, dataset: { set: t.points[p] ? "yes" : "no" } },
        el("th", {}, p), el("td", {}, meaning), el("td", {}, timeEl(t.points[p])))))));
}

/** The seven segments and A→H as bars on one time axis, each against its limit. */
function barsPanel(t) {
  const rows = [...t.segments, { ...t.total, responsible: null, segment: "AH" }];
  const asOf = Date.parse(t.as_of);
  const starts = rows.map((s) => s.start && Date.parse(s.start)).filter(Boolean);
  // The axis spans the segments and their limits; A→H's 45 minutes would squeeze the rest, so
  // its limit is marked only when it falls on the axis anyway (else said in words).
  const ends = rows.flatMap((s) => s.start
    ? [s.end ? Date.parse(s.end) : asOf, ...(s.segment === "AH" ? [] : [Date.parse(s.start) + s.limit_s * 1000])]
    : []);
  const W = 860, L = 92, R = 150, ROW = 26, TOP = 30;
  const height = TOP + rows.length * ROW + 24;
  const chart = svg("svg", {
    viewBox: `0 0 ${W} ${height}`, width: W, class: "chart", role: "img", "data-testid": "bars",
    "aria-label": "segments against their limits",
  });
  if (!starts.length) {
    chart.append(svg("text", { x: 8, y: 20, class: "muted" }, "No point recorded yet."));
    return el("section", { class: "panel" }, el("h2", {}, "A–H"), chart);
  }
  const t0 = Math.min(...starts), t1 = Math.max(...ends, t0 + 60_000);
  const x = (ms) => L + ((ms - t0) / (t1 - t0)) * (W - L - R);
  // Points on the axis: where each was set.
  for (const [p, at] of Object.entries(t.points)) {
    if (!at) continue;
    const px = x(Date.parse(at));
    chart.append(svg("line", { x1: px, x2: px, y1: TOP - 6, y2: height - 20, class: "axis" }),
      svg("text", { x: px, y: TOP - 10, "text-anchor": "middle" }, p));
  }
  rows.forEach((s, i) => {
    const y = TOP + i * ROW;
    const g = svg("g", { "data-testid": `bar-${s.segment}`, dataset: { status: s.status } });
    g.append(svg("text", { x: 4, y: y + 16 }, s.segment,
      svg("tspan", { class: "muted" }, ` ≤${Math.round(s.limit_s / 60)}′`)));
    if (s.start) {
      const start = Date.parse(s.start);
      const end = s.end ? Date.parse(s.end) : asOf;
      const x0 = x(Math.min(start, end)), x1 = x(Math.max(start, end));
      g.append(svg("rect", {
        x: x0, y: y + 5, width: Math.max(x1 - x0, 2), height: ROW - 10, rx: 2,
        class: `bar-${s.status}`, "stroke-dasharray": s.end ? null : "4 2",
      }, svg("title", {}, `${s.segment} ${s.status}: ${duration(s.duration_s)} against ${duration(s.limit_s)}`)));
      const limitAt = start + s.limit_s * 1000;
      if (limitAt <= t1) {  // off the axis (A→H's, early on): the row's label gives it
        const lx = x(limitAt);
        g.append(svg("line", { x1: lx, x2: lx, y1: y + 2, y2: y + ROW - 2, class: "limit" }));
      }
    }
    g.append(svg("text", { x: W - R + 6, y: y + 16, class: s.status === "breached" ? "" : "muted" },
      s.start ? `${duration(s.duration_s)} ${s.end ? "" : "…"}` : "not started"));
    chart.append(g);
  });
  chart.append(svg("text", { x: L, y: height - 4, class: "muted" }, instant(new Date(t0).toISOString())),
    svg("text", { x: W - R, y: height - 4, class: "muted", "text-anchor": "end" }, instant(new Date(t1).toISOString())));
  return el("section", { class: "panel" }, el("h2", {}, "A–H against the limits (orange: the limit)"), chart);
}

function findingsPanel(t) {
  const rows = [...t.segments, { ...t.total, responsible: t.total.responsible }].map((s) => {
    const parties = Array.isArray(s.responsible) ? s.responsible : s.responsible ? [s.responsible] : [];
    return el("tr", {
      "data-testid": `finding-${s.segment}`,
      dataset: { status: s.status, party: parties.join(" ") },
    },
    el("th", {}, s.segment), el("td", {}, duration(s.limit_s)),
    el("td", { class: "num" }, duration(s.duration_s)), el("td", {}, status(s.status)),
    el("td", {}, parties.length ? parties.map((p) => party(p)) : party(null)),
    el("td", { class: "evidence", "data-testid": "evidence" },
      s.evidence || (s.segment === "AH" ? "" : el("span", { class: "muted" }, "—")),
      s.dispute ? el("div", { class: "warn" }, `Disputed: ${s.dispute}`) : null,
      s.skew ? el("div", { class: "warn" }, `Clock skew: ${s.skew.message}`) : null),
    el("td", {}, timeEl(s.start)), el("td", {}, timeEl(s.end)));
  });
  return el("section", { class: "panel", "data-testid": "findings" }, el("h2", {}, "Findings"),
    el("table", { class: "compact" },
      el("thead", {}, el("tr", {}, ["segment", "limit", "actual", "status", "responsible", "evidence", "start", "end"]
        .map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)));
}

function table(headers, rows) {
  return el("table", { class: "compact" },
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows));
}

function gapsPanel(gaps) {
  const rows = gaps.map((g) => el("tr", {},
    el("th", {}, `${g.start}→${g.end}`), el("td", {}, g.missing.join(", ")),
    el("td", {}, duration(g.duration_s)), el("td", {}, duration(g.limit_s)), el("td", {}, status(g.status)),
    el("td", {}, g.responsible_candidates.map((p) => party(p))),
    el("td", { class: "evidence" }, g.evidence, g.dispute ? el("div", { class: "warn" }, g.dispute) : null)));
  return el("section", { class: "panel", "data-testid": "gaps" }, el("h2", {}, "Gaps (points passed without)"),
    table(["span", "missing", "actual", "limit", "status", "could have lost the time", "evidence"], rows));
}

function attemptsPanel(attempts) {
  const rows = attempts.map((a) => el("tr", { dataset: { current: a.current } },
    el("th", {}, `${a.number}${a.current ? " (followed)" : ""}`), el("td", { class: "mono" }, a.vehicle_id),
    el("td", { class: "mono" }, a.crew_id), el("td", {}, timeEl(a.dispatched_at)), el("td", {}, timeEl(a.recalled_at)),
    el("td", {}, a.recall_reason || "—"), el("td", {}, a.requested_by || "—"),
    el("td", {}, Object.entries(a.points).filter(([, v]) => v).map(([p]) => p).join(" ") || "—"),
    el("td", {}, a.segments.map((s) => el("span", {}, `${s.segment} `, status(s.status), " ")))));
  return el("section", { class: "panel", "data-testid": "attempts" }, el("h2", {}, "Dispatch attempts"),
    table(["#", "vehicle", "crew", "dispatched", "recalled", "reason", "asked by", "points reached", "segments"], rows));
}

function anomaliesPanel(anomalies) {
  return el("section", { class: "panel", "data-testid": "anomalies" }, el("h2", {}, "Anomalies"),
    anomalies.length
      ? el("ul", {}, anomalies.map((a) => el("li", { dataset: { code: a.code } },
        el("span", { class: "badge" }, a.code), " ", [a.point, a.segment].filter(Boolean).join(" "), " ", a.message)))
      : el("p", { class: "muted" }, "None."));
}

function kafka(where) {
  return el("span", { class: "mono muted" }, `${where.topic}[${where.kafka_partition}]@${where.kafka_offset}`);
}

function ladderPanel(ladder) {
  const panel = el("section", { class: "panel", "data-testid": "ladder" }, el("h2", {}, "Escalation ladder (rules 1 and 2)"));
  if (!ladder.items.length) {
    panel.append(el("p", { class: "muted", "data-testid": "ladder-empty" }, "No escalation was raised for this order."));
    return panel;
  }
  for (const rung of ladder.items) {
    const calls = rung.calls.length
      ? el("table", { class: "compact" }, el("thead", {}, el("tr", {},
        ["called at", "phone", "who", "reached", "note", "recorded", "by", "Kafka"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rung.calls.map((c) => el("tr", {
        "data-testid": "ladder-call", dataset: { reached: c.reached, phone: c.phone },
      },
      el("td", {}, timeEl(c.called_at)), el("td", { class: "mono" }, c.phone),
      el("td", {}, c.contact ? `${c.contact.name} (${c.contact.role})` : el("span", { class: "warn" }, "a number the rung does not name")),
      el("td", {}, c.reached ? el("span", { class: "ok" }, "reached") : el("span", { class: "late" }, "not reached")),
      el("td", {}, c.note || "—"), el("td", {}, timeEl(c.recorded_at)), el("td", { class: "mono" }, c.source),
      el("td", {}, kafka(c.where))))))
      : el("p", { class: "muted" }, "No call recorded.");
    panel.append(el("div", {
      class: "rung", "data-testid": "rung",
      dataset: { rule: rung.rule, level: rung.level, status: rung.status, escalation: rung.escalation_id },
    },
    el("h3", {}, `Level ${rung.level}: ${RULES[rung.rule] || rung.rule} `, status(rung.status)),
    el("div", { class: "row" },
      el("span", {}, "due ", timeEl(rung.due_at)), el("span", {}, "raised ", timeEl(rung.raised_at)),
      el("span", {}, "tells ", rung.notify === "repair_center" ? PARTIES.repair_center : PARTIES.customer_service_center),
      el("span", { class: "mono muted" }, rung.repair_center_id, rung.crew_id ? ` / ${rung.crew_id}` : ""),
      kafka(rung.where)),
    el("div", {}, "to phone: ", rung.contacts.map((c, i) => el("span", { "data-testid": "rung-contact" },
      i ? "; " : "", `${c.name} (${c.role}) `, el("span", { class: "mono" }, c.phone)))),
    rung.status === "closed"
      ? el("div", { class: "muted" }, "closed ", timeEl(rung.closed_at), `: ${rung.close_reason}`)
      : null,
    calls));
  }
  return panel;
}

function historyPanel(events, asOf) {
  const cut = asOf ? Date.parse(asOf) : Infinity;
  const shown = events.filter((e) => Date.parse(e.recorded_at) <= cut);
  const hidden = events.length - shown.length;
  return el("section", { class: "panel", "data-testid": "history" },
    el("h2", {}, "History (by the source's clock)"),
    hidden ? el("p", { class: "muted", "data-testid": "history-hidden" },
      `${hidden} event(s) recorded after ${instant(asOf)} not shown.`) : null,
    el("div", { class: "scroll" }, el("table", { class: "compact" },
      el("thead", {}, el("tr", {}, ["occurred at (source)", "recorded at (ours)", "event", "source", "topic", "partition", "offset", "body"]
        .map((h) => el("th", {}, h)))),
      el("tbody", {}, shown.map((e) => el("tr", { "data-testid": "history-row", dataset: { type: e.event_type } },
        el("td", {}, timeEl(e.occurred_at)), el("td", {}, timeEl(e.recorded_at)), el("td", {}, e.event_type),
        el("td", { class: "mono" }, e.body.source || "—"), el("td", { class: "mono" }, e.topic),
        el("td", { class: "num" }, e.kafka_partition), el("td", { class: "num" }, e.kafka_offset),
        el("td", {}, el("details", {}, el("summary", {}, "body"),
          el("pre", { class: "body" }, JSON.stringify(e.body.payload ?? e.body, null, 2))))))))));
}
