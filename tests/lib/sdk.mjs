// Helpers for the tests that drive the official SDKs (tests/clients/).
import assert from 'node:assert/strict';

/** Asserts `promise` rejects with an instance of `Cls` carrying `status`; returns the error. */
export async function rejectsWith(promise, Cls, status) {
  let err;
  await assert.rejects(promise, (e) => { err = e; return true; });
  assert.ok(err instanceof Cls,
    `expected ${Cls.name}, got ${err && err.constructor.name}: ${err && err.message}`);
  assert.equal(err.status, status, err.message);
  return err;
}
