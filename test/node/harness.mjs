// harness.mjs is the small test runner the SDK scripts share: named
// checks, each under its own deadline, a watchdog over the whole run, and
// assertions whose messages say what was compared. A script registers its
// checks with check() and ends with `await run()`, which prints "ok <check>"
// or "FAIL <check>: <why>" per check and exits 1 if any failed.

import assert from 'node:assert/strict';

const CHECK_TIMEOUT_MS = 15_000; // per check
const RUN_TIMEOUT_MS = 50_000; // whole run; the Go tests allow 60 s

/** fmt shows a value in a failure message. */
export const fmt = (v) => (typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v));

/** eq asserts got === want; the message says what was compared and both values. */
export function eq(got, want, what) {
  assert.equal(got, want, `${what}: got ${fmt(got)}, want ${fmt(want)}`);
}

/** deepEq is eq for structures. */
export function deepEq(got, want, what) {
  assert.deepEqual(got, want, `${what}: got ${fmt(got)}, want ${fmt(want)}`);
}

const checks = [];
/** check registers one named async check. */
export function check(name, fn) {
  checks.push({ name, fn });
}

/** withDeadline rejects if p does not settle within ms. */
export function withDeadline(p, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (hung?)`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** expectError runs fn and asserts it throws an instance of cls with status. */
export async function expectError(fn, cls, status, what) {
  let err;
  try {
    const got = await fn();
    assert.fail(`${what}: want ${cls.name} (${status}), the call succeeded: ${JSON.stringify(got).slice(0, 300)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    err = e;
  }
  assert.ok(
    err instanceof cls,
    `${what}: want ${cls.name} (${status}), got ${err?.constructor?.name} status=${err?.status}: ${err?.message}`,
  );
  eq(err.status, status, `${what}: status`);
  return err;
}

/** run runs every registered check and exits with the result. */
export async function run() {
  const watchdog = setTimeout(() => {
    console.error(`FAIL run: not finished within ${RUN_TIMEOUT_MS} ms`);
    process.exit(1);
  }, RUN_TIMEOUT_MS);
  watchdog.unref();

  let failed = 0;
  for (const { name, fn } of checks) {
    try {
      const note = await withDeadline(fn(), CHECK_TIMEOUT_MS, name);
      console.log(`ok ${name}${note ? ` (${note})` : ''}`);
    } catch (e) {
      failed++;
      const detail = e instanceof assert.AssertionError ? e.message : `${e?.constructor?.name}: ${e?.message}${e?.status ? ` (status ${e.status})` : ''}`;
      console.log(`FAIL ${name}: ${detail}`);
    }
  }
  console.log(failed ? `${failed} of ${checks.length} checks failed` : `all ${checks.length} checks passed`);
  // Exit explicitly: a hung stream from a timed-out check must not keep us alive.
  process.exit(failed ? 1 : 0);
}
