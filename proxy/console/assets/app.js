// The console's shell: login, the session, and the hash routes
// (#/keys, #/requests/<id>, ...) that pick a page module.

import { call, setCSRF } from "./api.js";
import { h, heading } from "./dom.js";
import * as overview from "./overview.js";
import * as keys from "./keys.js";
import * as accounts from "./accounts.js";
import * as usage from "./usage.js";
import * as requests from "./requests.js";
import * as models from "./models.js";
import * as audit from "./audit.js";

// pages maps the first segment of the hash route to its module; each has
// render(root, arg, session) and may return a function that stops it.
const pages = { overview, keys, accounts, usage, requests, models, audit };

const view = document.getElementById("view");
let session = null;
let stop = null;

async function start() {
  try {
    setSession(await call("GET", "/ui/api/session"));
  } catch {
    showLogin();
    return;
  }
  route();
}

function setSession(s) {
  session = s;
  setCSRF(s.csrf);
  document.getElementById("top").hidden = false;
  document.getElementById("who").textContent = s.principal + (s.read_only ? " (read-only)" : "");
  document.body.classList.toggle("read-only", s.read_only);
}

function showLogin(message) {
  if (stop) { stop(); stop = null; }
  session = null;
  document.getElementById("top").hidden = true;
  const err = h("p", { class: "error", role: "alert" }, message || "");
  const input = h("input", { type: "password", name: "key", id: "login-key", autocomplete: "current-password", required: true });
  const form = h("form", { class: "panel login", onsubmit: async e => {
    e.preventDefault();
    err.textContent = "";
    try {
      setSession(await call("POST", "/ui/login", { key: input.value }));
      input.value = "";
      if (!location.hash || location.hash === "#/login") location.hash = "#/overview";
      route();
    } catch (e2) {
      err.textContent = e2.message;
      input.focus();
    }
  } },
    heading("Log in to Switchboard"),
    h("p", { class: "muted" }, "With the master key (auth.master_key), or the viewer key (auth.viewer_key) to look without changing anything."),
    h("label", { for: "login-key" }, "Admin key", input),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Log in")),
    err);
  view.replaceChildren(form);
  input.focus();
}

async function route() {
  if (!session) return;
  if (stop) { stop(); stop = null; }
  const [name, ...rest] = (location.hash.replace(/^#\/?/, "") || "overview").split("/");
  const page = pages[name] || overview;
  for (const a of document.querySelectorAll("nav a")) {
    if (a.getAttribute("href") === "#/" + (pages[name] ? name : "overview")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const root = h("div", { class: "page", "data-page": pages[name] ? name : "overview" });
  view.replaceChildren(root);
  try {
    stop = (await page.render(root, rest.map(decodeURIComponent).join("/"), session)) || null;
  } catch (e) {
    root.append(h("p", { class: "error", role: "alert" }, e.message));
  }
  root.dataset.ready = "";
  const h1 = root.querySelector("h1");
  if (h1 && document.activeElement === document.body) h1.focus({ preventScroll: true });
}

window.addEventListener("hashchange", () => { route().then(() => root()?.focus({ preventScroll: true })); });
window.addEventListener("sb-logged-out", () => showLogin("Your session has ended: log in again."));
document.getElementById("logout").addEventListener("click", async () => {
  try { await call("POST", "/ui/logout"); } catch { /* the session is gone either way */ }
  showLogin("Logged out.");
});

function root() { return view.querySelector("h1"); }

start();
