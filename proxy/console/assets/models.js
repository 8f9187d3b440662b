// Models: what clients can call, with provider, price and context
// window, as GET /v1/models lists them.

import { call } from "./api.js";
import { h, heading, table } from "./dom.js";
import { count } from "./format.js";

// perMillion formats a price in dollars per token (a decimal string) as
// dollars per million tokens.
function perMillion(p) {
  if (p === undefined || p === null || p === "") return "—";
  return "$" + String(Number((Number(p) * 1e6).toPrecision(6)));
}

export async function render(root) {
  const models = (await call("GET", "/ui/api/models")).data || [];
  const filter = h("input", { type: "search", name: "filter", placeholder: "gpt, claude, mock…" });
  const slot = h("div");
  const shown = h("p", { class: "muted status", role: "status" });
  const draw = () => {
    const f = filter.value.trim().toLowerCase();
    const rows = models.filter(m => !f || m.id.toLowerCase().includes(f) || (m.owned_by || "").toLowerCase().includes(f));
    shown.textContent = `${rows.length} of ${models.length} models`;
    slot.replaceChildren(table([
      { label: "Model" }, { label: "Provider" }, { label: "Input $/M", num: true }, { label: "Output $/M", num: true },
      { label: "Cache read $/M", num: true }, { label: "Context", num: true }, { label: "Max output", num: true },
    ], rows.map(m => [
      h("code", null, m.id), m.owned_by || "—", perMillion(m.pricing?.prompt), perMillion(m.pricing?.completion),
      perMillion(m.pricing?.input_cache_read), m.context_length ? count(m.context_length) : "—",
      m.max_completion_tokens ? count(m.max_completion_tokens) : "—",
    ]), "No models: enable a provider."));
  };
  filter.addEventListener("input", draw);
  root.append(heading("Models"), h("label", null, "Filter", filter), shown, slot);
  draw();
}
