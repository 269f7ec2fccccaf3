// Sign-in and API calls for the pages (the dispatcher's console, the auditor's desk).
//
// The token a person pastes is kept in the cookie `rd_token` (path=/, SameSite=Strict), which
// the services read when a request carries no bearer header: an EventSource cannot send one.
// Every fetch made through `api` also sends it as `Authorization: Bearer`.

export const TOKEN_COOKIE = "rd_token";

/** The token held in the cookie, or null. */
export function storedToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === TOKEN_COOKIE) {
      const value = decodeURIComponent(rest.join("="));
      return value || null;
    }
  }
  return null;
}

/** Keep `token` for every page of this origin (a session cookie: gone when the browser closes). */
export function storeToken(token) {
  document.cookie = `${TOKEN_COOKIE}=${encodeURIComponent(token)}; path=/; SameSite=Strict`;
}

/** Forget the token. */
export function signOut() {
  document.cookie = `${TOKEN_COOKIE}=; path=/; SameSite=Strict; max-age=0`;
}

/** A refusal from the API: its status and the `detail` it gave. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(describeDetail(status, detail));
    this.status = status;
    this.detail = detail;
  }
}

function describeDetail(status, detail) {
  if (Array.isArray(detail)) {
    const parts = detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`);
    return `${status}: ${parts.join("; ")}`;
  }
  return `${status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`;
}

/** Call the service's JSON API with the token; the parsed body, or an ApiError. */
export async function api(path, { method = "GET", body = undefined } = {}) {
  const headers = { Accept: "application/json" };
  const token = storedToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const text = await answer.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (!answer.ok) {
    throw new ApiError(answer.status, parsed && parsed.detail !== undefined ? parsed.detail : parsed);
  }
  return parsed;
}

/** Who the stored token speaks for (`/v1/whoami`), or null without a valid one. */
export async function whoami() {
  if (!storedToken()) return null;
  try {
    return await api("/v1/whoami");
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return null;
    throw err;
  }
}

/**
 * Resolve with the signed-in person (`whoami`'s answer) once there is one: at once when the
 * cookie already holds a valid token, else after the form rendered into `root` is filled in.
 * `roles` (optional) names the roles this page is for; another role is told so.
 */
export async function signIn(root, { title = "Sign in", roles = null } = {}) {
  const known = await whoami();
  if (known && (!roles || roles.includes(known.role))) return known;
  return new Promise((resolve) => {
    root.innerHTML = "";
    const form = document.createElement("form");
    form.className = "signin";
    form.dataset.testid = "signin-form";
    form.innerHTML = `
      <h1></h1>
      <label>Token <input name="token" type="password" autocomplete="off" required
        data-testid="signin-token" placeholder="paste your token"></label>
      <button type="submit" data-testid="signin-submit">Sign in</button>
      <p class="error" data-testid="signin-error" role="alert"></p>`;
    form.querySelector("h1").textContent = title;
    const error = form.querySelector(".error");
    if (known) error.textContent = `This page is for ${roles.join(" or ")}; this token is ${known.role}.`;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const token = form.elements.token.value.trim();
      storeToken(token);
      let who = null;
      try {
        who = await whoami();
      } catch (err) {
        error.textContent = `Cannot check the token: ${err.message}`;
        return;
      }
      if (!who) {
        signOut();
        error.textContent = "The token was refused (unknown, expired or revoked).";
      } else if (roles && !roles.includes(who.role)) {
        error.textContent = `This page is for ${roles.join(" or ")}; this token is ${who.role}.`;
      } else {
        root.innerHTML = "";
        resolve(who);
      }
    });
    root.appendChild(form);
  });
}
