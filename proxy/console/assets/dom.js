// Building the page: elements from data, never HTML from strings, so
// nothing the gateway stores (a key name, a user id) can run as script.

// h returns a new element: attrs are properties or attributes (on* are
// listeners), children are nodes, strings, or arrays of either; null and
// false are skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// table returns a scrollable table of rows, each a list of cells; a
// column with num: true aligns right.
export function table(columns, rows, empty = "Nothing yet.") {
  if (rows.length === 0) return h("p", { class: "muted" }, empty);
  return h("div", { class: "scroll" },
    h("table", null,
      h("thead", null, h("tr", null, columns.map(c => h("th", { scope: "col", class: c.num ? "num" : null }, c.label)))),
      h("tbody", null, rows.map(r => h("tr", null, r.map((cell, i) => h("td", { class: columns[i].num ? "num" : null }, cell)))))));
}

// facts returns a definition list of [term, value] pairs.
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

// field returns a labelled input; attrs go to the input.
export function field(label, attrs) {
  return h("label", null, label, h("input", attrs));
}

// heading returns the page's h1, which takes focus after navigation.
export function heading(text) {
  return h("h1", { tabindex: "-1" }, text);
}
