// The timing rule, the skew computation and the failure cap, as pure functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CHECK_INTERVAL_MS,
  FailureCap,
  REFRESH_BEFORE_MS,
  clockOffsetMs,
  refreshDue,
  remainingMs,
} from '../tessera.js';

const MINUTE = 60_000;

test('the seed: a check every 60 s, a refresh when fewer than 5 minutes remain', () => {
  assert.equal(CHECK_INTERVAL_MS, 60_000);
  assert.equal(REFRESH_BEFORE_MS, 300_000);
  assert.equal(refreshDue(5 * MINUTE + 1), false);
  assert.equal(refreshDue(5 * MINUTE), false, 'exactly 5 minutes is not fewer than 5');
  assert.equal(refreshDue(5 * MINUTE - 1), true);
  assert.equal(refreshDue(0), true);
  assert.equal(refreshDue(-MINUTE), true, 'an expired token is due');
  assert.equal(refreshDue(2 * MINUTE, 3 * MINUTE), true, 'the refresh point is settable');
  assert.equal(refreshDue(4 * MINUTE, 3 * MINUTE), false);
});

test('the offset is the server clock minus ours at the middle of the round trip', () => {
  const server = Date.parse('2026-12-03T10:00:00Z');
  // Our clock 10 minutes ahead; the answer took 200 ms.
  const sent = server + 10 * MINUTE - 100;
  const received = server + 10 * MINUTE + 100;
  assert.equal(clockOffsetMs('2026-12-03T10:00:00Z', sent, received), -10 * MINUTE);
  assert.equal(clockOffsetMs(server, sent, received), -10 * MINUTE, 'epoch milliseconds too');
  // Behind by 10 minutes.
  assert.equal(clockOffsetMs(server, server - 10 * MINUTE, server - 10 * MINUTE), 10 * MINUTE);
  // A clock that went backwards during the request counts as no round trip.
  assert.equal(clockOffsetMs(server, server + 50, server), -50);
  assert.equal(clockOffsetMs('not a time', 1, 2), 0, 'an unreadable server_time is no correction');
});

test('the remaining time comes from the server clock, whatever ours says', () => {
  const server = Date.parse('2026-12-03T10:00:00Z');
  const expiresAt = server + 15 * MINUTE;
  for (const skew of [0, 10 * MINUTE, -10 * MINUTE, 3 * 86_400_000]) {
    const local = server + skew;
    const offset = clockOffsetMs(server, local, local);
    assert.equal(remainingMs(expiresAt, offset, local), 15 * MINUTE, `skew ${skew}`);
    assert.equal(remainingMs(expiresAt, offset, local + 11 * MINUTE), 4 * MINUTE, `skew ${skew}`);
    assert.equal(refreshDue(remainingMs(expiresAt, offset, local + 10 * MINUTE - 1)), false);
    assert.equal(refreshDue(remainingMs(expiresAt, offset, local + 11 * MINUTE)), true);
  }
  // Without the correction, a clock 10 minutes ahead would refresh at once...
  const ahead = server + 10 * MINUTE;
  assert.equal(refreshDue(remainingMs(expiresAt, 0, ahead)), false, 'at 5:00 left, not yet');
  assert.equal(refreshDue(remainingMs(expiresAt, 0, ahead + 1)), true, '...a minute of use later');
});

test('the failure cap pauses after the set number of failures in a row', () => {
  const cap = new FailureCap(3);
  assert.equal(cap.paused, false);
  assert.equal(cap.fail(), false);
  assert.equal(cap.fail(), false);
  assert.equal(cap.fail(), true, 'the third failure in a row pauses');
  assert.equal(cap.paused, true);
  cap.reset();
  assert.equal(cap.paused, false, 'a success starts over');
  assert.equal(new FailureCap(0).max, 1, 'at least one try');
});
