// Small helpers for building the desk's DOM and SVG without innerHTML: every value shown comes
// from the API (a fault's description, a note typed by a dispatcher) and is set as text only.

const SVG_NS = "http://www.w3.org/2000/svg";

/** An HTML element: `el("td", {class: "num", dataset: {testid: "x"}}, "text", child, ...)`. */
export function el(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, the same way. */
export function svg(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") {
      for (const [key, v] of Object.entries(value)) node.dataset[key] = String(v);
    } else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An instant as the desk shows it: UTC to the second, `Z` (the full value in the title). */
export function instant(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** A `<time>` element for an instant. */
export function timeEl(iso) {
  return iso ? el("time", { datetime: iso, title: iso }, instant(iso)) : el("span", { class: "muted" }, "—");
}

/** Seconds as "6 min 02 s" (negative kept: an end before its start is evidence too). */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const sign = seconds < 0 ? "−" : "";
  let s = Math.abs(seconds);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const sec = s.toFixed(s % 1 ? 1 : 0).padStart(2, "0");
  if (h) return `${sign}${h} h ${String(m).padStart(2, "0")} min`;
  if (m) return `${sign}${m} min ${sec} s`;
  return `${sign}${sec} s`;
}

export const PARTIES = {
  customer_service_center: "95598 customer service center",
  network: "network (communications dept.)",
  repair_center: "repair center",
  crew_receiver: "crew member who receives orders",
  crew_repair_staff: "crew's repair staff",
  unknown: "unknown",
};

/** A responsible party: its plain name, with the code the API uses. */
export function party(code) {
  if (!code) return el("span", { class: "muted" }, "—");
  return el("span", { class: "party", dataset: { party: code } }, PARTIES[code] || code,
    el("span", { class: "muted mono" }, ` (${code})`));
}

/** A status badge (met, breached, running, indeterminate, …). */
export function status(value) {
  return el("span", { class: `status ${value}`, dataset: { status: value } }, value);
}

/** Remove every child of `node`, then append `children`. */
export function fill(node, ...children) {
  node.replaceChildren();
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}
