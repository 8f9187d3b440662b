// Overview: traffic, spend, overhead and errors, and each provider
// target's breaker and latency, refreshed every few seconds.

import { call, query } from "./api.js";
import { h, heading, table } from "./dom.js";
import { dollars, micros, percent, when } from "./format.js";
import { parse, quantile, sum } from "./metrics.js";

const refreshMs = 5000;
const breakerNames = ["closed", "open", "half-open"];
const breakerClass = ["good", "bad", "warn"];

export async function render(root) {
  const cards = h("div", { class: "cards", "aria-live": "polite" });
  const targets = h("div");
  const updated = h("p", { class: "muted" });
  root.append(heading("Overview"), cards, h("h2", null, "Providers"), targets, updated);
  let last = null;
  const refresh = async () => {
    const now = new Date();
    const day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const [text, today, thisMonth] = await Promise.all([
      fetch("/metrics", { credentials: "same-origin" }).then(r => r.text()),
      call("GET", "/api/v1/admin/usage" + query({ from: day.toISOString(), to: new Date(now.getTime() + 60000).toISOString() })),
      call("GET", "/api/v1/admin/usage" + query({ from: month.toISOString(), to: new Date(now.getTime() + 60000).toISOString() })),
    ]);
    const samples = parse(text);
    const total = sum(samples, "switchboard_requests_total");
    const errors = sum(samples, "switchboard_requests_total", l => Number(l.status) >= 500);
    const rate = last && now > last.at ? (total - last.total) / ((now - last.at) / 1000) : NaN;
    last = { at: now, total };
    const p50 = quantile(samples, "switchboard_overhead_seconds", 0.5) * 1e6;
    const p99 = quantile(samples, "switchboard_overhead_seconds", 0.99) * 1e6;
    const card = (label, value, note) => h("div", { class: "card" },
      h("div", { class: "label" }, label), h("div", { class: "value" }, value), note ? h("div", { class: "muted" }, note) : null);
    const cost = u => (u.data && u.data[0] ? u.data[0].cost : "0");
    cards.replaceChildren(
      card("Requests/s", Number.isFinite(rate) ? rate.toFixed(2) : "…", `${total} since start`),
      card("Spend today", dollars(cost(today)), "UTC day"),
      card("Spend this month", dollars(cost(thisMonth)), "UTC month"),
      card("Overhead p50", micros(p50), "time in the gateway"),
      card("Overhead p99", micros(p99)),
      card("Error rate", total ? percent(errors / total) : "—", `${errors} answered 5xx`));
    const rows = samples.filter(s => s.name === "switchboard_target_breaker_state")
      .sort((a, b) => (a.labels.provider + a.labels.model).localeCompare(b.labels.provider + b.labels.model))
      .map(s => {
        const lat = samples.find(x => x.name === "switchboard_target_first_byte_seconds" &&
          x.labels.provider === s.labels.provider && x.labels.model === s.labels.model);
        return [s.labels.provider, s.labels.model,
          h("span", { class: "badge " + (breakerClass[s.value] || "") }, breakerNames[s.value] || String(s.value)),
          lat && lat.value > 0 ? micros(lat.value * 1e6) : "—"];
      });
    targets.replaceChildren(table([{ label: "Provider" }, { label: "Model" }, { label: "Breaker" }, { label: "First byte (avg)", num: true }],
      rows, "No provider targets are tracked yet."));
    updated.textContent = "Updated " + when(now.toISOString()) + ", every " + refreshMs / 1000 + " s.";
  };
  await refresh();
  const timer = setInterval(() => refresh().catch(e => { updated.textContent = "Refresh failed: " + e.message; }), refreshMs);
  return () => clearInterval(timer);
}
