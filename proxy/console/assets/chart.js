// A stacked bar chart in SVG: one bar per bucket, one colored segment per
// group. Small on purpose: it is the only chart the console draws.

const palette = ["#2456c8", "#e07b00", "#1e9a5a", "#b3261e", "#7a4cc2", "#00838f", "#c2185b", "#6d7a00", "#5d4037", "#546e7a"];
const svgNS = "http://www.w3.org/2000/svg";

// color is the color of the i-th group; past the palette, "other" gray.
export function color(i) { return palette[i] || "#9e9e9e"; }

function el(tag, attrs, text) {
  const e = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// stackedBars returns an <svg> width pixels wide of buckets (labels
// along x), groups (in stacking order) and value(bucket, group), with
// format for the y axis and the tooltips.
export function stackedBars(width, buckets, groups, value, format) {
  const W = Math.max(300, Math.round(width)), H = W < 600 ? 220 : 300, L = 76, B = 30, T = 10, R = 10;
  const totals = buckets.map(b => groups.reduce((t, g) => t + value(b, g), 0));
  const max = Math.max(...totals, 0) || 1;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${groups.length} series over ${buckets.length} buckets` });
  for (let i = 0; i <= 4; i++) {
    const y = T + (H - T - B) * (1 - i / 4);
    svg.append(el("line", { x1: L, x2: W - R, y1: y, y2: y }), el("text", { x: L - 6, y: y + 4, "text-anchor": "end", class: "axis" }, format(max * i / 4)));
  }
  const step = (W - L - R) / Math.max(buckets.length, 1);
  const bw = Math.max(2, Math.min(40, step * 0.7));
  const every = Math.ceil(buckets.length / Math.max(2, Math.floor((W - L) / 60)));
  buckets.forEach((b, i) => {
    const x = L + i * step + (step - bw) / 2;
    let y = H - B;
    groups.forEach((g, gi) => {
      const v = value(b, g);
      if (v <= 0) return;
      const hgt = (H - T - B) * v / max;
      y -= hgt;
      const r = el("rect", { x, y, width: bw, height: Math.max(hgt, 0.5), fill: color(gi), class: "bar", "data-group": g });
      r.append(el("title", {}, `${b.label} ${g || "(none)"}: ${format(v)}`));
      svg.append(r);
    });
    if (i % every === 0) svg.append(el("text", { x: x + bw / 2, y: H - B + 16, "text-anchor": "middle", class: "axis" }, b.label));
  });
  return svg;
}
