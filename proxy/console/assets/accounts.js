// Accounts and plans: balances; one account's page with top-up
// (idempotent), its plan and its ledger.

import { call, query } from "./api.js";
import { facts, h, heading, table } from "./dom.js";
import { count, dollars, newIdempotencyKey, when } from "./format.js";

export async function render(root, id, session) {
  return id ? account(root, id, session) : list(root, session);
}

async function list(root, session) {
  const status = h("p", { class: "status", role: "status" });
  const slot = h("div");
  root.append(heading("Accounts"), status);
  if (!session.read_only) {
    const input = h("input", { name: "id", required: true, autocomplete: "off" });
    const err = h("p", { class: "error", role: "alert" });
    root.append(h("form", { class: "panel", "aria-label": "New account", onsubmit: async e => {
      e.preventDefault();
      err.textContent = "";
      try {
        await call("POST", "/api/v1/admin/accounts", { id: input.value.trim() });
        status.textContent = "Created account " + input.value.trim() + ".";
        input.value = "";
        await load();
      } catch (e2) { err.textContent = e2.message; }
    } }, h("div", { class: "actions" }, h("label", null, "New account id", input), h("button", { type: "submit" }, "Create account")), err));
  }
  root.append(slot);
  const load = async () => {
    const accs = (await call("GET", "/api/v1/admin/accounts")).data || [];
    slot.replaceChildren(table([
      { label: "Account" }, { label: "Credits", num: true }, { label: "Available", num: true }, { label: "Spent", num: true },
      { label: "Topped up", num: true }, { label: "Plan" },
    ], accs.map(a => [
      h("a", { href: "#/accounts/" + encodeURIComponent(a.id) }, a.id), dollars(a.credits), dollars(a.available),
      dollars(a.spent), dollars(a.topped_up), a.plan ? a.plan.plan + " (" + dollars(a.plan.remaining) + " left)" : "—",
    ]), "No accounts yet."));
  };
  await load();
}

async function account(root, id, session) {
  const path = "/api/v1/admin/accounts/" + encodeURIComponent(id);
  const status = h("p", { class: "status", role: "status" });
  const summary = h("div", { class: "panel" });
  const ledger = h("div");
  let planSelect = null;
  root.append(h("p", null, h("a", { href: "#/accounts" }, "← Accounts")), heading("Account " + id), summary, status);

  // load redraws the account; with showPlan, the plan control shows its
  // plan (not on a redraw after a top-up, which must leave a choice the
  // operator is making alone).
  const load = async showPlan => {
    const [a, l] = await Promise.all([call("GET", path), call("GET", path + "/ledger" + query({ limit: 100 }))]);
    const acc = a.data;
    if (planSelect && showPlan) planSelect.value = acc.plan ? acc.plan.plan : "";
    summary.replaceChildren(facts([
      ["Credits", dollars(acc.credits)], ["Available", dollars(acc.available)], ["Spent", dollars(acc.spent)],
      ["Topped up", dollars(acc.topped_up)],
      ["Plan", acc.plan ? `${acc.plan.plan}: ${dollars(acc.plan.used)} of ${dollars(acc.plan.allowance)} used, until ${when(acc.plan.period_end)}` : "none"],
    ]));
    ledger.replaceChildren(table([
      { label: "Time" }, { label: "Request" }, { label: "Key" }, { label: "Model" }, { label: "Tokens in", num: true },
      { label: "Tokens out", num: true }, { label: "Cost", num: true }, { label: "Status", num: true },
    ], (l.data || []).map(e => [
      when(e.created_at), h("a", { href: "#/requests/" + encodeURIComponent(e.id) }, e.id), e.key_id, e.model,
      count(e.tokens_prompt), count(e.tokens_completion), dollars(e.total_cost), e.status,
    ]), "No calls charged to this account yet."));
  };

  if (!session.read_only) {
    let idem = newIdempotencyKey();
    const amount = h("input", { name: "amount", required: true, inputmode: "decimal", placeholder: "10.00" });
    const errT = h("p", { class: "error", role: "alert" });
    const topup = h("form", { class: "panel", "aria-label": "Top up", onsubmit: async e => {
      e.preventDefault();
      errT.textContent = "";
      try {
        // The same idempotency key until it succeeds: a double click or a
        // retry after a lost answer adds the credits once.
        const value = amount.value.trim(), key = idem;
        await call("POST", path + "/topup", { amount: value, idempotency_key: key });
        status.textContent = "Added " + dollars(value) + " to " + id + ".";
        if (idem === key) idem = newIdempotencyKey();
        amount.value = "";
        await load();
      } catch (e2) { errT.textContent = e2.message; }
    } }, h("h2", null, "Top up"), h("div", { class: "actions" }, h("label", null, "Amount ($)", amount), h("button", { type: "submit" }, "Add credits")), errT);

    const plan = h("select", { name: "plan" }, h("option", { value: "" }, "no plan"), session.plans.map(p => h("option", { value: p }, p)));
    planSelect = plan;
    const errP = h("p", { class: "error", role: "alert" });
    const planForm = h("form", { class: "panel", "aria-label": "Plan", onsubmit: async e => {
      e.preventDefault();
      errP.textContent = "";
      try {
        await call("PUT", path + "/plan", { plan: plan.value });
        status.textContent = plan.value ? "Plan " + plan.value + " assigned to " + id + "." : "Plan removed from " + id + ".";
        await load(true);
      } catch (e2) { errP.textContent = e2.message; }
    } }, h("h2", null, "Plan"), h("div", { class: "actions" }, h("label", null, "Plan (billing.plans)", plan), h("button", { type: "submit" }, "Assign plan")), errP);
    root.append(topup, planForm);
  }
  root.append(h("h2", null, "Ledger"), ledger);
  await load(true);
}
