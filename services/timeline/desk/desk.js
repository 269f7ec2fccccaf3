// The auditor's desk: sign in, then the order tab (#/order/<id>[?as_of=…]) or the report tab
// (#/report[?from=…&to=…&group_by=…]). The address holds the whole view, so a link to it shows
// another auditor the same order at the same instant.

import { signIn, signOut } from "/web/signin.js";
import { el, fill } from "/desk/dom.js";
import { showOrder } from "/desk/order.js";
import { showReport } from "/desk/report.js";

const app = document.getElementById("app");

function route() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  return { tab: parts[0] || "order", id: parts[1] || null, params: new URLSearchParams(query) };
}

function mark(tab) {
  for (const link of document.querySelectorAll("nav.tabs a")) {
    link.classList.toggle("active", link.dataset.tab === tab);
  }
}

async function render() {
  const { tab, id, params } = route();
  mark(tab);
  const view = el("div", { class: "view" });
  fill(app, view);
  if (tab === "report") await showReport(view, params);
  else await showOrder(view, id, params);
}

const who = await signIn(app, { title: "Auditor's desk: sign in", roles: ["auditor", "admin"] });
const whoNode = document.querySelector("[data-testid=who]");
whoNode.textContent = `${who.role} · ${who.token_id} `;
whoNode.append(el("button", { type: "button", "data-testid": "sign-out", onclick: () => {
  signOut();
  location.reload();
} }, "Sign out"));
window.addEventListener("hashchange", () => render());
await render();
document.body.dataset.ready = "true";
