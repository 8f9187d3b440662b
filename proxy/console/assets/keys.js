// Keys: the metered gateway keys; create (the secret shown once), edit,
// revoke.

import { call } from "./api.js";
import { field, h, heading, table } from "./dom.js";
import { dollars, when } from "./format.js";

export async function render(root, _arg, session) {
  const list = h("div");
  const formSlot = h("div");
  const secretSlot = h("div", { "aria-live": "polite" });
  const status = h("p", { class: "status", role: "status" });
  root.append(heading("Keys"), secretSlot, formSlot, status, list);

  const load = async () => {
    const [ks, accs] = await Promise.all([call("GET", "/api/v1/admin/keys"), call("GET", "/api/v1/admin/accounts")]);
    const keysData = ks.data || [];
    list.replaceChildren(table([
      { label: "ID" }, { label: "Name" }, { label: "Account" }, { label: "Models" }, { label: "RPM", num: true }, { label: "TPM", num: true },
      { label: "Daily limit", num: true }, { label: "Monthly limit", num: true }, { label: "Expires" }, { label: "State" }, { label: "" },
    ], keysData.map(k => [
      h("code", null, k.id), k.name, k.account, (k.allowed_models || []).join(", ") || "all",
      k.rpm ?? "—", k.tpm ?? "—", dollars(k.daily_limit), dollars(k.monthly_limit), k.expires_at ? when(k.expires_at) : "never",
      k.revoked ? h("span", { class: "badge bad" }, "revoked") : h("span", { class: "badge good" }, "active"),
      session.read_only || k.revoked ? "" : h("span", { class: "actions" },
        h("button", { type: "button", class: "secondary", "aria-label": "Edit " + k.id, onclick: () => showForm(k) }, "Edit"),
        h("button", { type: "button", class: "danger", "aria-label": "Revoke " + k.id, onclick: () => confirmRevoke(k) }, "Revoke")),
    ]), "No keys yet."));
    accountNames = (accs.data || []).map(a => a.id);
  };
  let accountNames = [];

  const showForm = key => {
    const editing = !!key;
    const k = key || {};
    const err = h("p", { class: "error", role: "alert" });
    const inputs = {
      name: h("input", { name: "name", required: !editing, value: k.name || "" }),
      account: h("input", { name: "account", required: true, value: k.account || "", list: "account-names", disabled: editing }),
      models: h("input", { name: "allowed_models", value: (k.allowed_models || []).join(", "), placeholder: "all models" }),
      rpm: h("input", { name: "rpm", type: "number", min: "1", value: k.rpm ?? "" }),
      tpm: h("input", { name: "tpm", type: "number", min: "1", value: k.tpm ?? "" }),
      daily: h("input", { name: "daily_limit", inputmode: "decimal", value: k.daily_limit ?? "", placeholder: "none" }),
      monthly: h("input", { name: "monthly_limit", inputmode: "decimal", value: k.monthly_limit ?? "", placeholder: "none" }),
      expires: h("input", { name: "expires_at", type: "datetime-local", value: k.expires_at ? k.expires_at.slice(0, 16) : "" }),
    };
    const create = h("input", { type: "checkbox", name: "create_account" });
    const lab = (text, input) => h("label", null, text, input);
    const form = h("form", { class: "panel", "aria-label": editing ? "Edit key " + k.id : "New key", onsubmit: async e => {
      e.preventDefault();
      err.textContent = "";
      const num = el => (el.value === "" ? null : Number(el.value));
      const str = el => (el.value.trim() === "" ? null : el.value.trim());
      const body = {
        name: inputs.name.value.trim(),
        allowed_models: inputs.models.value.split(",").map(s => s.trim()).filter(Boolean),
        rpm: num(inputs.rpm), tpm: num(inputs.tpm),
        daily_limit: str(inputs.daily), monthly_limit: str(inputs.monthly),
        expires_at: inputs.expires.value ? new Date(inputs.expires.value + "Z").toISOString() : null,
      };
      if (body.allowed_models.length === 0) body.allowed_models = null;
      try {
        if (editing) {
          await call("PATCH", "/api/v1/admin/keys/" + encodeURIComponent(k.id), body);
          status.textContent = "Saved " + k.id + ".";
        } else {
          for (const f of ["rpm", "tpm", "daily_limit", "monthly_limit", "expires_at", "allowed_models"]) if (body[f] === null) delete body[f];
          body.account = inputs.account.value.trim();
          if (create.checked) body.create_account = true;
          const made = (await call("POST", "/api/v1/admin/keys", body)).data;
          showSecret(made);
          status.textContent = "Created " + made.id + ".";
        }
        formSlot.replaceChildren(newButton);
        await load();
      } catch (e2) {
        err.textContent = e2.message;
      }
    } },
      h("h2", null, editing ? "Edit key " + k.id : "New key"),
      h("div", { class: "grid" },
        lab("Name", inputs.name), lab("Account", inputs.account),
        lab("Models (comma-separated)", inputs.models),
        lab("RPM", inputs.rpm), lab("TPM", inputs.tpm),
        lab("Daily limit ($)", inputs.daily), lab("Monthly limit ($)", inputs.monthly),
        lab("Expires (UTC)", inputs.expires)),
      editing ? null : h("label", { class: "check" }, create, "Create the account if it does not exist"),
      h("datalist", { id: "account-names" }, accountNames.map(a => h("option", { value: a }))),
      h("div", { class: "actions" },
        h("button", { type: "submit" }, editing ? "Save" : "Create key"),
        h("button", { type: "button", class: "secondary", onclick: () => formSlot.replaceChildren(newButton) }, "Cancel")),
      err);
    formSlot.replaceChildren(form);
    (editing ? inputs.models : inputs.name).focus();
  };

  const showSecret = made => {
    const code = h("code", { id: "new-secret" }, made.key);
    const copied = h("span", { class: "ok", role: "status" });
    secretSlot.replaceChildren(h("div", { class: "panel" },
      h("h2", null, "Key " + made.id + " created"),
      h("p", null, "Copy the secret now: it is shown this once and never again."),
      h("div", { class: "secret" }, code,
        h("button", { type: "button", onclick: async () => {
          try {
            await navigator.clipboard.writeText(made.key);
          } catch {
            const r = document.createRange(); r.selectNodeContents(code);
            getSelection().removeAllRanges(); getSelection().addRange(r);
            document.execCommand("copy");
          }
          copied.textContent = "Copied.";
        } }, "Copy"),
        h("button", { type: "button", class: "secondary", onclick: () => secretSlot.replaceChildren() }, "Done"),
        copied)));
  };

  const confirmRevoke = k => {
    const dlg = h("dialog", { "aria-label": "Revoke " + k.id },
      h("p", null, "Revoke ", h("code", null, k.id), " (" + k.name + ")? Its next call gets 401. This cannot be undone."),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "danger", onclick: async () => {
          try {
            await call("DELETE", "/api/v1/admin/keys/" + encodeURIComponent(k.id));
            status.textContent = "Revoked " + k.id + ".";
          } catch (e) {
            status.textContent = e.message;
          }
          dlg.close();
          await load();
        } }, "Revoke key"),
        h("button", { type: "button", class: "secondary", onclick: () => dlg.close() }, "Cancel")));
    dlg.addEventListener("close", () => dlg.remove());
    root.append(dlg);
    dlg.showModal();
  };

  const newButton = h("button", { type: "button", onclick: () => showForm(null) }, "New key");
  if (!session.read_only) formSlot.append(newButton);
  await load();
}
