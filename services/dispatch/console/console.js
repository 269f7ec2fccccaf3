// The dispatcher's console: a repair center's inbox (waiting for C, waiting for D, dispatched),
// its vehicles and their positions, open escalations and capacity alerts, updated live.
//
// The page holds no state of its own: on every `changed` event of the repair center's stream
// it fetches the JSON again and redraws, keeping rows (and half-filled forms) by their ids.
// Countdowns run between fetches from the `time_left_s` each inbox row was fetched with.

import { ApiError, api, signIn, signOut } from "/web/signin.js";

const ROLES = ["dispatcher", "admin", "auditor"];
const SEGMENT_NAMES = { BC: "to receipt", CD: "to dispatch", DE: "to the crew" };
const $ = (testid, root = document) => root.querySelector(`[data-testid="${testid}"]`);

/** An element with attributes (`dataset` and `class` too) and children (text or nodes). */
function el(tag, attrs = {}, ...children) {
  const node = tag === "svg" || attrs.svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag)
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false || name === "svg") continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "testid") node.setAttribute("data-testid", value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const short = (id) => String(id).slice(0, 8);
const clockOf = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : "");
const nowIso = () => new Date().toISOString();

function mmss(seconds) {
  const s = Math.abs(Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

/** ok, warn (half the limit gone) or late (overdue), for a row's colour. */
function urgency(left, limit) {
  if (left === null || left === undefined) return "";
  if (left <= 0) return "late";
  return limit && left <= limit / 2 ? "warn" : "ok";
}

/** Keep `container`'s children in step with `items`, one per key, in the items' order:
 *  an existing child is updated in place (a half-typed form survives a refresh). */
function reconcile(container, items, key, create, update) {
  const existing = new Map([...container.children].map((c) => [c.dataset.key, c]));
  const wanted = new Set();
  let previous = null;
  for (const item of items) {
    const k = String(key(item));
    wanted.add(k);
    let node = existing.get(k);
    if (!node) {
      node = create(item);
      node.dataset.key = k;
    }
    update(node, item);
    const expected = previous ? previous.nextSibling : container.firstChild;
    if (node !== expected) container.insertBefore(node, expected);
    previous = node;
  }
  for (const [k, node] of existing) if (!wanted.has(k)) node.remove();
}

class Console {
  constructor(who, center) {
    this.who = who;
    this.center = center;
    this.canAct = who.role === "dispatcher";
    this.inbox = { items: [] };
    this.fetchedAt = performance.now();
    this.refreshing = null;
    this.again = false;
  }

  start() {
    $("center-id").textContent = this.center;
    $("who").textContent = `${this.who.role} ${this.who.token_id}`;
    const id = $("dispatcher-id");
    id.value = localStorage.getItem("rd_dispatcher_id") || this.who.token_id;
    id.addEventListener("change", () => localStorage.setItem("rd_dispatcher_id", id.value.trim()));
    $("signout").addEventListener("click", () => {
      signOut();
      location.reload();
    });
    this.wireRecall();
    document.getElementById("console").hidden = false;
    setInterval(() => this.tick(), 1000);
    this.tick();
    this.listen();
  }

  dispatcherId() {
    return $("dispatcher-id").value.trim() || this.who.token_id;
  }

  notice(text, isError = false) {
    const node = $("notice");
    node.textContent = text;
    node.classList.toggle("error", isError);
  }

  listen() {
    const url = `/v1/repair-centers/${encodeURIComponent(this.center)}/stream`;
    const source = new EventSource(url); // the rd_token cookie goes with it
    const live = $("live");
    const text = $("live-text");
    source.addEventListener("open", () => {
      live.className = "live on";
      text.textContent = "live";
    });
    source.addEventListener("changed", () => this.refresh());
    source.addEventListener("error", () => {
      live.className = "live off";
      if (source.readyState === EventSource.CLOSED) {
        text.textContent = "stream refused: reload or sign in again";
      } else {
        text.textContent = "reconnecting…";
      }
    });
  }

  /** Fetch everything the page shows; a change during a fetch fetches once more after it. */
  async refresh() {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        try {
          await this.fetchAll();
        } catch (err) {
          this.notice(`Could not refresh: ${err.message}`, true);
          if (err instanceof ApiError && err.status === 401) location.reload();
        }
      } while (this.again);
    })();
    try {
      await this.refreshing;
    } finally {
      this.refreshing = null;
    }
  }

  async fetchAll() {
    const c = encodeURIComponent(this.center);
    const [inbox, vehicles, escalations, alerts] = await Promise.all([
      api(`/v1/repair-centers/${c}/orders`),
      api(`/v1/repair-centers/${c}/vehicles`),
      api(`/v1/escalations?open=true`),
      api(`/v1/capacity-alerts?repair_center_id=${c}&limit=20`),
    ]);
    this.inbox = inbox;
    this.fetchedAt = performance.now();
    this.drawOrders();
    this.drawVehicles(vehicles);
    this.drawMap(vehicles);
    this.drawEscalations(escalations.items.filter((e) => e.repair_center_id === this.center));
    this.drawAlerts(alerts.items);
    this.tick();
  }

  /** The countdowns, once a second, from the rows as last fetched. */
  tick() {
    $("clock").textContent = new Date().toLocaleTimeString([], { hour12: false });
    const gone = (performance.now() - this.fetchedAt) / 1000;
    for (const row of document.querySelectorAll("tr[data-time-left]")) {
      const left = Number(row.dataset.timeLeft) - gone;
      const limit = Number(row.dataset.limit) || null;
      const cell = $("time-left", row);
      const label = SEGMENT_NAMES[row.dataset.segment] || row.dataset.segment || "";
      cell.replaceChildren(
        left > 0 ? mmss(left) : `overdue ${mmss(left)}`,
        el("div", { class: "muted small" }, label));
      const level = urgency(left, limit);
      row.classList.toggle("overdue", level === "late");
      row.classList.toggle("running-out", level === "warn");
      cell.className = `left ${level}`;
    }
  }

  drawOrders() {
    const groups = { issued: [], received: [], dispatched: [] };
    for (const order of this.inbox.items) (groups[order.status] || []).push(order);
    const tables = { issued: "waiting-c", received: "waiting-d", dispatched: "dispatched" };
    for (const [status, testid] of Object.entries(tables)) {
      const tbody = $(testid).tBodies[0];
      reconcile(tbody, groups[status], (o) => o.work_order_id, (o) => this.orderRow(o), (row, o) =>
        this.updateOrderRow(row, o));
      $(`${testid}-count`).textContent = groups[status].length;
    }
    // Seen from another tab or a glance across the room: what waits, in the window's title.
    document.title = `(${groups.issued.length} C · ${groups.received.length} D) Dispatch console`;
  }

  orderRow(order) {
    const action = {
      issued: ["receive", "Receive", () => this.receive(order.work_order_id)],
      received: ["dispatch", "Dispatch", () => this.openCandidates(order.work_order_id)],
      dispatched: ["recall", "Recall", () => this.openRecall(order.work_order_id)],
    }[order.status];
    const button = el("button", {
      type: "button",
      testid: action[0],
      class: action[0] === "recall" ? "" : "primary",
      disabled: !this.canAct,
      title: this.canAct ? "" : "only the repair center's dispatcher may",
      onclick: action[2],
    }, action[1]);
    const row = el("tr", {
      testid: "order-row", class: "arrived", dataset: { workOrderId: order.work_order_id },
    },
      el("td", { class: "mono id", title: order.work_order_id }, short(order.work_order_id)),
      el("td", { testid: "order-what" }),
      el("td", { testid: "order-where" }),
      el("td", { testid: "time-left", class: "left" }),
      el("td", { class: "actions" }, button));
    setTimeout(() => row.classList.remove("arrived"), 4000);
    return row;
  }

  updateOrderRow(row, order) {
    const [, what, where] = row.cells;
    what.textContent = order.status === "dispatched"
      ? order.vehicle_id
      : [order.fault_category, order.trade].filter(Boolean).join(" · ");
    what.title = order.status === "dispatched" ? `crew ${order.crew_id}` : order.department || "";
    where.textContent = order.address || "";
    if (order.time_left_s === null) {
      delete row.dataset.timeLeft;
      $("time-left", row).textContent = "";
    } else {
      row.dataset.timeLeft = order.time_left_s;
      row.dataset.limit = order.limit_s ?? "";
      row.dataset.segment = order.running_segment ?? "";
    }
  }

  async receive(wo) {
    try {
      await api(`/v1/work-orders/${wo}/receipt`, {
        method: "POST",
        body: { received_at: nowIso(), repair_center_id: this.center },
      });
      this.notice(`Received ${short(wo)} (C).`);
    } catch (err) {
      this.notice(`Receipt of ${short(wo)} refused: ${err.message}`, true);
    }
    await this.refresh();
  }

  async openCandidates(wo) {
    const dialog = $("candidates-dialog");
    $("candidates-order").textContent = short(wo);
    $("candidates-error").textContent = "";
    const tbody = $("candidates").tBodies[0];
    tbody.replaceChildren(el("tr", {}, el("td", { colspan: 8, class: "muted" }, "ranking…")));
    dialog.showModal();
    let ranked;
    try {
      ranked = await api(`/v1/work-orders/${wo}/candidates`);
    } catch (err) {
      $("candidates-error").textContent = err.message;
      tbody.replaceChildren();
      return;
    }
    $("candidates-summary").textContent =
      `${ranked.department || "any department"} · ${ranked.trade || "any trade"}` +
      (ranked.fault_location ? ` · fault at ${ranked.fault_location.lat.toFixed(4)}, ` +
        `${ranked.fault_location.lon.toFixed(4)}` : "");
    tbody.replaceChildren(...ranked.items.map((c) => el("tr", {
      testid: "candidate", dataset: { vehicleId: c.vehicle_id },
    },
      el("td", {}, c.rank),
      el("td", { class: "mono" }, c.vehicle_id),
      el("td", { class: "mono" }, c.crew_id),
      el("td", { class: `state ${c.state}` }, c.state),
      el("td", { class: c.device_faulty ? "late" : "muted" }, c.device_faulty ? "faulty" : "ok"),
      el("td", { class: "mono" }, c.distance_km === null ? "—" : `${c.distance_km.toFixed(1)} km`),
      el("td", { class: "muted small" }, c.reason),
      el("td", {}, el("button", {
        type: "button", class: c.rank === 1 ? "primary" : "", testid: "candidate-dispatch",
        disabled: !this.canAct, onclick: () => this.dispatch(wo, c),
      }, "Send")))));
    if (!ranked.items.length) {
      tbody.replaceChildren(el("tr", {}, el("td", { colspan: 8, class: "late" },
        "No vehicle of this repair center can take it.")));
    }
  }

  async dispatch(wo, candidate) {
    try {
      const answer = await api(`/v1/work-orders/${wo}/dispatch`, {
        method: "POST",
        body: {
          dispatched_at: nowIso(),
          crew_id: candidate.crew_id,
          vehicle_id: candidate.vehicle_id,
          dispatcher_id: this.dispatcherId(),
        },
      });
      $("candidates-dialog").close();
      const warnings = answer.warnings && answer.warnings.length ? ` Note: ${answer.warnings.join("; ")}` : "";
      this.notice(`Dispatched ${short(wo)} to ${candidate.vehicle_id} (D).${warnings}`);
    } catch (err) {
      $("candidates-error").textContent = err.message;
    }
    await this.refresh();
  }

  openRecall(wo) {
    const dialog = $("recall-dialog");
    dialog.dataset.workOrderId = wo;
    $("recall-order").textContent = short(wo);
    $("recall-error").textContent = "";
    $("recall-form").reset();
    dialog.showModal();
  }

  wireRecall() {
    const dialog = $("recall-dialog");
    $("recall-cancel").addEventListener("click", () => dialog.close());
    $("recall-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const wo = dialog.dataset.workOrderId;
      try {
        await api(`/v1/work-orders/${wo}/recall`, {
          method: "POST",
          body: {
            recalled_at: nowIso(),
            reason: $("recall-reason").value.trim(),
            requested_by: this.dispatcherId(),
          },
        });
        dialog.close();
        this.notice(`Recalled ${short(wo)}: dispatch it again from "Waiting for dispatch".`);
      } catch (err) {
        $("recall-error").textContent = err.message;
      }
      await this.refresh();
    });
  }

  drawVehicles(vehicles) {
    const tbody = $("vehicles").tBodies[0];
    reconcile(tbody, vehicles, (v) => v.vehicle_id, (v) => el("tr", {
      testid: "vehicle-row", dataset: { vehicleId: v.vehicle_id },
    },
      el("td", { class: "mono" }, v.vehicle_id, v.plate ? el("div", { class: "muted small" }, v.plate) : null),
      el("td", { class: "mono" }, v.crew_id),
      el("td", { testid: "vehicle-state" }),
      el("td", { testid: "vehicle-queue", class: "mono" }),
      el("td", { testid: "vehicle-position", class: "mono" }),
      el("td", { testid: "vehicle-fault" })), (row, v) => {
      const state = $("vehicle-state", row);
      state.className = `state ${v.state}`;
      state.textContent = v.unavailable
        ? `${v.state}: ${v.unavailable.reason || ""}` +
          (v.unavailable.expected_return_at ? ` (back ${clockOf(v.unavailable.expected_return_at)})` : "")
        : v.state;
      $("vehicle-queue", row).textContent = v.queue.length ? v.queue.map(short).join(", ") : "—";
      $("vehicle-position", row).textContent = v.position
        ? `${v.position.lat.toFixed(5)}, ${v.position.lon.toFixed(5)} at ${clockOf(v.position.at)}`
        : "no report yet";
      const fault = $("vehicle-fault", row);
      fault.className = v.device_fault ? "late" : "muted";
      fault.textContent = v.device_fault
        ? `faulty since ${clockOf(v.device_fault.since || v.device_fault.reported_at)} ${v.device_fault.description || ""}`
        : "ok";
    });
  }

  /** Vehicles on a plain SVG, scaled to the bounding box of their positions (no map tiles). */
  drawMap(vehicles) {
    const svg = $("map");
    const placed = vehicles.filter((v) => v.position);
    const W = 400, H = 300, PAD = 24;
    svg.replaceChildren();
    if (!placed.length) {
      svg.append(el("text", { svg: true, x: W / 2, y: H / 2, "text-anchor": "middle" }, "no positions reported yet"));
      $("map-extent").textContent = "";
      return;
    }
    const lats = placed.map((v) => v.position.lat);
    const lons = placed.map((v) => v.position.lon);
    const [south, north, west, east] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
    // Degrees of longitude shrink with latitude: keep the picture's proportions true.
    const squash = Math.cos(((south + north) / 2) * Math.PI / 180);
    const spanX = Math.max((east - west) * squash, 1e-4);
    const spanY = Math.max(north - south, 1e-4);
    const scale = Math.min((W - 2 * PAD) / spanX, (H - 2 * PAD) / spanY);
    const x = (lon) => W / 2 + ((lon - (west + east) / 2) * squash) * scale;
    const y = (lat) => H / 2 - (lat - (south + north) / 2) * scale;
    for (const v of placed) {
      const cx = x(v.position.lon).toFixed(1);
      const cy = y(v.position.lat).toFixed(1);
      svg.append(el("g", { svg: true, testid: "map-vehicle", dataset: {
        vehicleId: v.vehicle_id, lat: v.position.lat, lon: v.position.lon,
      } },
        el("circle", { svg: true, cx, cy, r: 7, class: `vehicle ${v.state}${v.device_fault ? " faulty" : ""}` },
          el("title", { svg: true }, `${v.vehicle_id} ${v.state} ${v.position.lat}, ${v.position.lon}`)),
        el("text", { svg: true, x: Number(cx) + 10, y: Number(cy) + 4 }, v.vehicle_id)));
    }
    $("map-extent").textContent =
      `${south.toFixed(4)}…${north.toFixed(4)} N, ${west.toFixed(4)}…${east.toFixed(4)} E`;
  }

  drawEscalations(items) {
    $("escalations-count").textContent = items.length;
    reconcile($("escalations"), items, (e) => e.escalation_id, (e) => this.escalationCard(e), (card, e) => {
      const overdue = (Date.now() - new Date(e.due_at).getTime()) / 1000;
      $("escalation-facts", card).textContent =
        `${e.rule === "not_received" ? "Not received (C)" : "Not taken (D)"} · level ${e.level} · ` +
        `order ${short(e.work_order_id)} · notify ${e.notify.replaceAll("_", " ")} · ` +
        `due ${clockOf(e.due_at)}${overdue > 0 ? ` (overdue ${mmss(overdue)})` : ""}`;
      $("escalation-calls", card).replaceChildren(...e.calls.map((c) => el("li", { testid: "escalation-call" },
        `${clockOf(c.called_at)} ${c.phone} — ${c.reached ? "reached" : "no answer"}${c.note ? `: ${c.note}` : ""}`)));
    });
  }

  escalationCard(e) {
    const phones = e.contacts.map((c) => c.phone);
    const form = el("form", { testid: "call-form" },
      el("select", { name: "phone", testid: "call-phone" },
        ...e.contacts.map((c) => el("option", { value: c.phone }, `${c.name} ${c.phone}`)),
        el("option", { value: "" }, "another number…")),
      el("input", { name: "other", placeholder: "+86 …", size: 14, testid: "call-other" }),
      el("label", {}, el("input", { type: "checkbox", name: "reached", testid: "call-reached" }), " reached"),
      el("input", { name: "note", placeholder: "note", maxlength: 500, testid: "call-note" }),
      el("button", { type: "submit", class: "primary", testid: "call-record", disabled: !this.canAct }, "Record call"),
      el("span", { class: "error", testid: "call-error" }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const phone = form.elements.phone.value || form.elements.other.value.trim();
      try {
        await api(`/v1/escalations/${e.escalation_id}/calls`, {
          method: "POST",
          body: {
            called_at: nowIso(),
            phone,
            reached: form.elements.reached.checked,
            note: form.elements.note.value.trim() || null,
          },
        });
        form.reset();
        $("call-error", form).textContent = "";
        this.notice(`Call to ${phone} recorded.`);
      } catch (err) {
        $("call-error", form).textContent = err.message;
      }
      await this.refresh();
    });
    return el("li", { testid: "escalation", dataset: { escalationId: e.escalation_id } },
      el("div", { testid: "escalation-facts" }),
      el("div", { class: "contacts" }, ...e.contacts.map((c) => el("div", {},
        `${c.name} (${c.role.replaceAll("_", " ")}) `,
        el("a", { href: `tel:${c.phone.replaceAll(" ", "")}`, testid: "escalation-phone" }, c.phone)))),
      el("ul", { testid: "escalation-calls", class: "small" }),
      phones.length ? form : null);
  }

  drawAlerts(items) {
    const list = $("capacity-alerts");
    if (!items.length) {
      list.replaceChildren(el("li", { class: "muted" }, "none"));
      return;
    }
    list.replaceChildren(...items.map((a) => el("li", { testid: "capacity-alert", class: "warn" },
      `${clockOf(a.raised_at)} · ${a.department || "any department"} · ${a.trade || "any trade"}: ` +
      `${a.blocked_work_order_ids.length} orders found no standby vehicle within ${Math.round(a.window_s / 60)} min. `,
      el("span", { class: "muted" }, "Tell: "),
      ...(a.leaders || []).map((l) => el("a", { href: `tel:${String(l.phone).replaceAll(" ", "")}` }, `${l.name} ${l.phone} `)))));
  }
}

async function chooseCenter(who) {
  const asked = new URLSearchParams(location.search).get("center");
  if (who.role === "dispatcher") return who.repair_center_id;
  if (asked) return asked;
  const form = document.getElementById("pick-center");
  form.hidden = false;
  return new Promise((resolve) => form.addEventListener("submit", (event) => {
    event.preventDefault();
    form.hidden = true;
    resolve(form.elements.center.value.trim());
  }));
}

async function main() {
  const who = await signIn(document.getElementById("signin"), { title: "Dispatch console", roles: ROLES });
  const center = await chooseCenter(who);
  new Console(who, center).start();
}

main().catch((err) => {
  document.body.prepend(el("p", { class: "error", role: "alert" }, `The console cannot start: ${err.message}`));
});
