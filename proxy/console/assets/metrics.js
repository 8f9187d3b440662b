// Reading the gateway's Prometheus text at /metrics: the series, and
// quantiles of its VictoriaMetrics histograms (vmrange buckets).

// parse returns the samples of a Prometheus text exposition as
// {name, labels, value}.
export function parse(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (line === "" || line[0] === "#") continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    if (m[2]) for (const l of m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, "$1");
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

// quantile returns the q-quantile (0..1) of the histogram name among
// samples, as the upper bound of the bucket it falls in; NaN when empty.
export function quantile(samples, name, q) {
  const buckets = [];
  for (const s of samples) {
    if (s.name !== name + "_bucket" || !s.labels.vmrange) continue;
    const [lo, hi] = s.labels.vmrange.split("...").map(Number);
    buckets.push({ lo, hi, n: s.value });
  }
  buckets.sort((a, b) => a.lo - b.lo);
  const total = buckets.reduce((t, b) => t + b.n, 0);
  if (total === 0) return NaN;
  let seen = 0;
  for (const b of buckets) {
    seen += b.n;
    if (seen >= q * total) return b.hi;
  }
  return buckets[buckets.length - 1].hi;
}

// sum adds the values of the samples named name that match filter.
export function sum(samples, name, filter = () => true) {
  let t = 0;
  for (const s of samples) if (s.name === name && filter(s.labels)) t += s.value;
  return t;
}
