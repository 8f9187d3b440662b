// Audit log: every admin change, newest first: who, what, when, and the
// record before and after.

import { call, query } from "./api.js";
import { h, heading, table } from "./dom.js";
import { when } from "./format.js";

export async function render(root) {
  const slot = h("div");
  const more = h("div", { class: "actions" });
  root.append(heading("Audit log"), slot, more);
  const rows = [];
  const load = async cursor => {
    const page = await call("GET", "/api/v1/admin/audit" + query({ limit: 100, cursor }));
    for (const e of page.data || []) {
      rows.push([when(e.time), e.principal, h("code", null, e.action), e.target,
        e.before || e.after ? h("details", null, h("summary", null, "before / after"),
          h("pre", null, "before: " + JSON.stringify(e.before, null, 1)), h("pre", null, "after: " + JSON.stringify(e.after, null, 1))) : ""]);
    }
    slot.replaceChildren(table([{ label: "Time" }, { label: "Who" }, { label: "Action" }, { label: "Target" }, { label: "Change" }],
      rows, "No admin changes yet."));
    more.replaceChildren(page.next_cursor ? h("button", { type: "button", class: "secondary", onclick: () => load(page.next_cursor) }, "Older") : "");
  };
  await load("");
}
