// Request log: every call, newest first, filtered; and one call's page.

import { call, query } from "./api.js";
import { facts, h, heading, table } from "./dom.js";
import { count, dollars, micros, when } from "./format.js";

const filters = [
  ["key", "Key"], ["model", "Model"], ["provider", "Provider"], ["status", "Status"],
  ["user", "User"], ["session", "Session"],
];

export async function render(root, id) {
  return id ? detail(root, id) : list(root);
}

async function list(root) {
  const inputs = {};
  for (const [name] of filters) inputs[name] = h("input", { name, id: "f-" + name, inputmode: name === "status" ? "numeric" : null });
  inputs.cache_hit = h("select", { name: "cache_hit", id: "f-cache_hit" },
    h("option", { value: "" }, "any"), h("option", { value: "true" }, "hit"), h("option", { value: "false" }, "miss"));
  inputs.from = h("input", { name: "from", id: "f-from", type: "datetime-local" });
  inputs.to = h("input", { name: "to", id: "f-to", type: "datetime-local" });
  const lab = (text, el) => h("label", { for: el.id }, text, el);
  const slot = h("div");
  const count_ = h("p", { class: "muted status", role: "status" });
  const more = h("div", { class: "actions" });
  const form = h("form", { class: "panel", "aria-label": "Filters", onsubmit: e => { e.preventDefault(); rows.length = 0; load(""); } },
    h("div", { class: "grid" }, filters.map(([name, label]) => lab(label, inputs[name])),
      lab("Cache", inputs.cache_hit), lab("From (UTC)", inputs.from), lab("To (UTC)", inputs.to)),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Filter"),
      h("button", { type: "reset", class: "secondary", onclick: () => setTimeout(() => form.requestSubmit()) }, "Clear")));
  root.append(heading("Request log"), form, count_, slot, more);

  const rows = [];
  const load = async cursor => {
    const p = { limit: 50, cursor };
    for (const name of [...filters.map(f => f[0]), "cache_hit"]) p[name] = inputs[name].value.trim();
    for (const name of ["from", "to"]) if (inputs[name].value) p[name] = new Date(inputs[name].value + "Z").toISOString();
    const page = await call("GET", "/api/v1/admin/requests" + query(p));
    for (const e of page.data || []) {
      rows.push([when(e.created_at), h("a", { href: "#/requests/" + encodeURIComponent(e.id) }, e.id), e.key_id, e.model,
        e.provider_name || "—", e.status, count(e.tokens_prompt), count(e.tokens_completion), dollars(e.total_cost),
        micros(e.gateway_overhead_us), e.cache_hit ? "hit" : "", e.user || "", e.session || ""]);
    }
    count_.textContent = rows.length === 1 ? "1 request" : rows.length + " requests";
    slot.replaceChildren(table([
      { label: "Time" }, { label: "Request" }, { label: "Key" }, { label: "Model" }, { label: "Provider" }, { label: "Status", num: true },
      { label: "In", num: true }, { label: "Out", num: true }, { label: "Cost", num: true }, { label: "Overhead", num: true },
      { label: "Cache" }, { label: "User" }, { label: "Session" },
    ], rows, "No requests match."));
    more.replaceChildren(page.next_cursor ? h("button", { type: "button", class: "secondary", onclick: () => load(page.next_cursor) }, "Older") : "");
  };
  await load("");
}

async function detail(root, id) {
  const e = (await call("GET", "/api/v1/admin/requests/" + encodeURIComponent(id))).data;
  const c = e.cost_breakdown || {};
  root.append(
    h("p", null, h("a", { href: "#/requests" }, "← Request log")),
    heading("Request " + e.id),
    h("div", { class: "cards" },
      card("Cost", dollars(e.total_cost)), card("Status", String(e.status)),
      card("Latency", e.latency_ms + " ms"), card("Gateway overhead", micros(e.gateway_overhead_us))),
    h("h2", null, "Call"),
    h("div", { class: "panel" }, facts([
      ["Time", when(e.created_at)], ["Key", e.key_id], ["Account", e.account], ["Model asked", e.model],
      ["Provider", e.provider_name || "—"], ["Upstream model", e.upstream_model || "—"],
      ["Attempts", String(e.attempts)], ["Fallbacks", e.fallback_reason || "none"],
      ["Cache hit", e.cache_hit ? "yes: answered from the response cache" : "no"],
      ["Compression saved", count(e.compressed_tokens) + " tokens"],
      ["Settled", e.settled || "normally"], ["User", e.user || "—"], ["Session", e.session || "—"],
      ["Tags", (e.tags || []).join(", ") || "—"],
    ])),
    h("h2", null, "Tokens by kind"),
    table([{ label: "Kind" }, { label: "Tokens", num: true }], [
      ["prompt", count(e.tokens_prompt)], ["completion", count(e.tokens_completion)], ["cached (read)", count(e.native_tokens_cached)],
      ["cache write", count(e.native_tokens_cache_write)], ["reasoning", count(e.native_tokens_reasoning)],
    ]),
    h("h2", null, "Cost by component"),
    table([{ label: "Component" }, { label: "Cost", num: true }], [
      ["input", dollars(c.input)], ["output", dollars(c.output)], ["cache read", dollars(c.cache_read)],
      ["cache write", dollars(c.cache_write)], ["paid by plan", dollars(e.paid_by_plan)], ["total", dollars(e.total_cost)],
    ]));
}

function card(label, value) {
  return h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value));
}
