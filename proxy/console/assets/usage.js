// Usage: spend or tokens over time, stacked by model, key, provider,
// user, session or tag, from GET /api/v1/admin/usage.

import { call, query } from "./api.js";
import { h, heading, table } from "./dom.js";
import { color, stackedBars } from "./chart.js";
import { count, dollars } from "./format.js";

const dims = ["model", "key", "provider", "user", "session", "tag"];
const ranges = { "24h": [24 * 3600e3, "hour"], "7d": [7 * 24 * 3600e3, "day"], "30d": [30 * 24 * 3600e3, "day"] };
const maxGroups = 9; // more are summed as "other"

export async function render(root) {
  const by = h("select", { id: "u-by", name: "group_by" }, dims.map(d => h("option", { value: d }, d)));
  const range = h("select", { id: "u-range", name: "range" },
    h("option", { value: "24h" }, "last 24 hours, by hour"), h("option", { value: "7d" }, "last 7 days, by day"),
    h("option", { value: "30d" }, "last 30 days, by day"));
  const measure = h("select", { id: "u-measure", name: "measure" },
    h("option", { value: "cost" }, "spend ($)"), h("option", { value: "tokens" }, "tokens (in + out)"));
  const chart = h("div", { class: "chart panel" });
  const legend = h("div", { class: "legend" });
  const totals = h("div");
  const lab = (text, el) => h("label", { for: el.id }, text, el);
  root.append(heading("Usage"),
    h("form", { class: "panel", "aria-label": "Usage view", onsubmit: e => e.preventDefault() },
      h("div", { class: "grid" }, lab("Stack by", by), lab("Range", range), lab("Show", measure))),
    chart, legend, h("h2", null, "Totals"), totals);

  const draw = async () => {
    const [span, bucket] = ranges[range.value];
    const stepMs = bucket === "hour" ? 3600e3 : 24 * 3600e3;
    const to = Math.ceil((Date.now() + 1) / stepMs) * stepMs;
    const from = to - Math.round(span / stepMs) * stepMs;
    const dim = by.value;
    const rows = (await call("GET", "/api/v1/admin/usage" + query({
      group_by: dim, bucket, from: new Date(from).toISOString(), to: new Date(to).toISOString(),
    }))).data || [];
    const val = measure.value === "cost" ? r => Number(r.cost) : r => r.input_tokens + r.output_tokens;
    const fmt = measure.value === "cost" ? dollars : v => count(Math.round(v));

    // Groups by their total, the biggest first; past maxGroups, "other".
    const byGroup = new Map();
    for (const r of rows) {
      const g = r[dim] ?? "";
      const t = byGroup.get(g) || { group: g, requests: 0, input: 0, output: 0, cost: 0, v: 0 };
      t.requests += r.requests; t.input += r.input_tokens; t.output += r.output_tokens; t.cost += Number(r.cost); t.v += val(r);
      byGroup.set(g, t);
    }
    const ranked = [...byGroup.values()].sort((a, b) => b.v - a.v);
    const shown = ranked.slice(0, maxGroups).map(t => t.group);
    const groupOf = g => (shown.includes(g) ? g : "other");
    const groups = ranked.length > maxGroups ? [...shown, "other"] : shown;

    const cells = new Map();
    for (const r of rows) {
      const k = Date.parse(r.bucket) + "|" + groupOf(r[dim] ?? "");
      cells.set(k, (cells.get(k) || 0) + val(r));
    }
    const buckets = [];
    for (let t = from; t < to; t += stepMs) {
      const d = new Date(t).toISOString();
      buckets.push({ t, label: bucket === "hour" ? d.slice(11, 16) : d.slice(5, 10) });
    }
    chart.replaceChildren(rows.length ? stackedBars(chart.clientWidth - 30, buckets, groups, (b, g) => cells.get(b.t + "|" + g) || 0, fmt)
      : h("p", { class: "muted" }, "No usage in this range."));
    legend.replaceChildren(...groups.map((g, i) => {
      const swatch = h("i", { "aria-hidden": "true" });
      swatch.style.background = color(i); // CSSOM, which the console's CSP allows where a style attribute is not
      return h("span", null, swatch, g || "(none)");
    }));
    totals.replaceChildren(table([
      { label: dim }, { label: "Requests", num: true }, { label: "Tokens in", num: true }, { label: "Tokens out", num: true }, { label: "Spend", num: true },
    ], ranked.map(t => [t.group || "(none)", count(t.requests), count(t.input), count(t.output), dollars(t.cost)]), "No usage in this range."));
  };
  for (const s of [by, range, measure]) s.addEventListener("change", () => draw().catch(e => chart.replaceChildren(h("p", { class: "error" }, e.message))));
  await draw();
}
