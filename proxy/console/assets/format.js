// How the console writes numbers, money and times.

// dollars formats an amount in dollars (a number or a decimal string as
// the API answers), with up to 6 decimals for small amounts.
export function dollars(v) {
  if (v === null || v === undefined || v === "") return "—";
  const n = Number(v);
  if (n === 0) return "$0";
  const digits = Math.abs(n) >= 100 ? 2 : Math.abs(n) >= 1 ? 4 : 6;
  return "$" + n.toFixed(digits).replace(/(\.\d*?[1-9])0+$|\.0+$/, "$1");
}

// count formats a whole number with thousands separators.
export function count(n) {
  return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
}

// when formats an RFC 3339 time in UTC, to the second.
export function when(t) {
  if (!t) return "—";
  return new Date(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// micros formats a duration in microseconds.
export function micros(us) {
  if (us === null || us === undefined || Number.isNaN(us)) return "—";
  return us >= 10000 ? (us / 1000).toFixed(1) + " ms" : Math.round(us) + " µs";
}

// percent formats a share from 0 to 1.
export function percent(x) {
  return Number.isFinite(x) ? (x * 100).toFixed(x < 0.1 ? 2 : 1) + "%" : "—";
}

// newIdempotencyKey returns a fresh random key for a top-up.
export function newIdempotencyKey() {
  const b = crypto.getRandomValues(new Uint8Array(12));
  return "console-" + Array.from(b, x => x.toString(16).padStart(2, "0")).join("");
}
