// Calls to the gateway: the admin API as the console session, with the
// session's CSRF token on every change.

let csrf = "";

// setCSRF keeps the session's CSRF token for the calls that change.
export function setCSRF(token) { csrf = token; }

// APIError is an answer other than 2xx: status, and the API's message.
export class APIError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// call sends method to path with the JSON body (if any) and returns the
// answer's JSON (null for 204). A 401 sends the console to its login.
export async function call(method, path, body) {
  const headers = {};
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 204) return null;
  const text = await r.text();
  let data = null;
  try { data = JSON.parse(text); } catch { data = null; }
  if (!r.ok) {
    const err = new APIError(r.status, (data && data.error && data.error.message) || `${r.status} ${r.statusText}`);
    if (r.status === 401 && path !== "/ui/login") window.dispatchEvent(new CustomEvent("sb-logged-out"));
    throw err;
  }
  return data === null ? text : data;
}

// query returns "?a=1&b=2" of the non-empty values of params.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? "?" + s : "";
}
