// When the client refreshes: every 60 s it checks, and it refreshes when fewer than 5
// minutes of the access token remain, by the server's clock. The browser's clock is moved
// minute by minute; the server's stays real, so every token stays valid on the server.
//
// The exact boundaries, for a 15-minute token received at browser time `tb`, with checks at
// `t0 + k min` (`t0` the start of the 60-s loop): at check k, 15 - k min - (t0 - tb) remain,
// so through the 9th check at least 6:00 remain (no refresh), and at the 11th at most 4:00
// (a refresh is due). The 10th check finds 5:00 give or take a second: the server writes
// `expires_at` and `server_time` (the token's `iat`) in whole seconds, so the token's true
// lifetime is 15 min less the fraction of a second cut from `iat`, and `t0 - tb` is the few
// milliseconds between the token's arrival and the loop's start or, for a token the loop
// fetched itself, minus the refresh's round trip. "Fewer than 5 min" cannot be decided there
// to the second, so the schedule asserted is: none through minute 9, then exactly one at
// minute 10 or 11, never two; the next token's minutes count from that refresh.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  MINUTE,
  SECOND,
  USER_PASSWORD,
  advance,
  createUser,
  loginThroughPage,
  runFor,
  settle,
  tokenRemaining,
  waitForLoggedInPage,
  withServer,
} from './harness.mjs';

const REFRESH = '/api/auth/refresh';

/** Moves the clock one minute and returns how many refreshes that minute made. */
async function oneMinute(device) {
  const before = device.count(REFRESH);
  await advance(device, MINUTE);
  return device.count(REFRESH) - before;
}

/**
 * Moves the clock minute by minute from the arrival of a 15-minute token until the one
 * refresh it calls for: none through minute 9, one at minute 10 or 11 (see the top of the
 * file). Returns the minute of the refresh.
 */
async function untilTheRefresh(device, label) {
  for (let minute = 1; minute <= 9; minute += 1) {
    const refreshes = await oneMinute(device);
    assert.equal(refreshes, 0, `${label}: ${refreshes} refreshes at minute ${minute}, with at least ${15 - minute} min left; requests ${JSON.stringify(device.counts())}`);
  }
  const atTen = await oneMinute(device);
  assert.ok(atTen <= 1, `${label}: ${atTen} refreshes at minute 10, one at most is due`);
  if (atTen === 1) return 10;
  const atEleven = await oneMinute(device);
  assert.equal(atEleven, 1, `${label}: ${atEleven} refreshes at minute 11, with 4 min left exactly one is due; requests ${JSON.stringify(device.counts())}`);
  return 11;
}

/**
 * The 15-minute schedule on `page` (already on /account, settled): for the page's first
 * token and the next two, each fetched by the loop, no refresh while more than 5 minutes
 * remain and exactly one at the check that finds fewer; the page then counts the new token
 * down.
 */
async function assertFifteenMinuteSchedule(device, page, label) {
  for (const token of ['the first token', 'the second token', 'the third token']) {
    await untilTheRefresh(device, `${label}, ${token}`);
    // The countdown ticks every second: let it tick once with the new token.
    await runFor(device, SECOND);
    const remaining = await tokenRemaining(page);
    assert.ok(remaining > 14 * 60 && remaining <= 15 * 60, `${label}: #token-remaining after refreshing ${token}: ${remaining} s`);
  }
  assert.equal(new URL(page.url()).pathname, '/account', `${label}: still on /account`);
}

/** Logs `username` in on a new device whose browser clock is `offsetMs` off the real one. */
async function accountPage({ base, device }, username, offsetMs, name) {
  await createUser(base, username);
  const laptop = await device({ name, clock: { time: Date.now() + offsetMs } });
  const page = await laptop.newPage();
  await loginThroughPage(page, username, USER_PASSWORD);
  await settle(laptop);
  return { laptop, page };
}

test('15-minute tokens: no refresh while more than 5 minutes remain, exactly one at the next check once fewer remain', async () => {
  await withServer({ TESSERA_JWT_EXPIRATION_MINUTES: '15' }, async (ctx) => {
    const { laptop, page } = await accountPage(ctx, 'erik', 0, 'laptop');
    await assertFifteenMinuteSchedule(laptop, page, 'clock right');
  });
});

test('5-minute tokens: one refresh at every 60-s check', async () => {
  await withServer({ TESSERA_JWT_EXPIRATION_MINUTES: '5' }, async (ctx) => {
    const { laptop, page } = await accountPage(ctx, 'fiona', 0, 'laptop');
    // Every check finds at most 4:00 (plus a round trip) left: always fewer than 5 min.
    for (let minute = 1; minute <= 6; minute += 1) {
      assert.equal(await oneMinute(laptop), 1, `minute ${minute} with 5-minute tokens must make exactly one refresh`);
    }
    await runFor(laptop, SECOND);
    const remaining = await tokenRemaining(page);
    assert.ok(remaining > 4 * 60 && remaining <= 5 * 60, `#token-remaining with 5-minute tokens: ${remaining} s`);
    assert.equal(new URL(page.url()).pathname, '/account');
  });
});

for (const [direction, offsetMs] of [
  ['ahead', 10 * MINUTE],
  ['behind', -10 * MINUTE],
]) {
  test(`a browser clock 10 minutes ${direction} refreshes at the same point, by the server's clock`, async () => {
    await withServer({ TESSERA_JWT_EXPIRATION_MINUTES: '15' }, async (ctx) => {
      const { laptop, page } = await accountPage(ctx, `skew-${direction}`, offsetMs, `laptop ${direction}`);
      // The countdown is by the server's clock too: a fresh 15-minute token, not 5 or 25.
      const remaining = await tokenRemaining(page);
      assert.ok(remaining > 14 * 60 && remaining <= 15 * 60, `#token-remaining with the clock ${direction}: ${remaining} s`);
      await assertFifteenMinuteSchedule(laptop, page, `clock ${direction}`);
    });
  });
}

test('five tabs reaching the refresh point together make exactly one refresh call and all stay logged in', async () => {
  await withServer({ TESSERA_JWT_EXPIRATION_MINUTES: '15' }, async ({ base, device }) => {
    await createUser(base, 'gus');
    const laptop = await device({ name: 'laptop', clock: { time: Date.now() } });
    const tabs = [await laptop.newPage()];
    await loginThroughPage(tabs[0], 'gus', USER_PASSWORD);
    for (let i = 1; i < 5; i += 1) {
      const tab = await laptop.newPage();
      await tab.goto('/account');
      await waitForLoggedInPage(tab);
      tabs.push(tab);
    }
    await settle(laptop);

    // Every tab now holds the same token (the last one fetched, handed to every tab), so
    // all five loops find it due within the same minute: minute 10 or 11 (see the top).
    let refreshes = 0;
    let minute = 0;
    while (refreshes === 0 && minute < 12) {
      minute += 1;
      refreshes = await oneMinute(laptop);
    }
    assert.ok(minute === 10 || minute === 11, `the tabs refreshed first at minute ${minute}; it is due at minute 10 or 11`);
    assert.equal(refreshes, 1, `five tabs due together made ${refreshes} refresh calls at minute ${minute}; requests ${JSON.stringify(laptop.counts())}`);
    // And the other tabs did not refresh a minute later either: they all got the new token.
    assert.equal(await oneMinute(laptop), 0, 'a refresh in the minute after the shared one');

    for (const [i, tab] of tabs.entries()) {
      assert.equal(new URL(tab.url()).pathname, '/account', `tab ${i + 1} left /account`);
      const remaining = await tokenRemaining(tab);
      assert.ok(remaining > 13 * 60, `tab ${i + 1} shows ${remaining} s left: it did not get the new token`);
    }
    // Each tab's next action works: the sessions page loads, with this one session, current.
    for (const [i, tab] of tabs.entries()) {
      await tab.locator('#nav a[href="/sessions"]').click();
      await tab.waitForURL((url) => url.pathname === '/sessions');
      await tab.locator('#sessions tr[data-current="true"]').waitFor();
      assert.equal(await tab.locator('#sessions tr[data-session-id]').count(), 1, `tab ${i + 1}: five tabs, one session`);
    }
    await settle(laptop);
    for (const [i, tab] of tabs.entries()) {
      assert.equal(new URL(tab.url()).pathname, '/sessions', `tab ${i + 1} was logged out`);
    }
  });
});
