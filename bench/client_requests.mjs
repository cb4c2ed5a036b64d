#!/usr/bin/env node
// Requests the browser client makes per hour, in real Chromium against the real server,
// with 15-minute access tokens (the seed's 60-s check, refresh under 5 minutes left).
//
//   npm ci --prefix tests/browser && cargo build -p tessera
//   TESSERA_BIN=target/debug/tessera node bench/client_requests.mjs
//
// Three set-ups, each an hour of the browser's (fake) clock moved minute by minute after
// every tab is open and settled, /account open in every tab:
// - one tab;
// - five tabs of one browser (one session, coordinated by Web Locks and BroadcastChannel);
// - five browsers with one tab each (five sessions, nothing shared): the baseline of tabs
//   that would each keep their own token alive.
// Prints the /api/... requests of that hour by path, per tab and in all, and the ratios.

import {
  MINUTE,
  USER_PASSWORD,
  advance,
  createUser,
  loginThroughPage,
  settle,
  waitForLoggedInPage,
  withServer,
} from '../tests/browser/harness.mjs';

const HOUR_MINUTES = 60;
const SETTINGS = { TESSERA_JWT_EXPIRATION_MINUTES: '15' };

/** Opens `tabs` tabs of /account on one device (logged in once) and counts one hour. */
async function oneBrowser(ctx, username, tabs) {
  await createUser(ctx.base, username);
  const device = await ctx.device({ name: username, clock: { time: Date.now() } });
  const first = await device.newPage();
  await loginThroughPage(first, username, USER_PASSWORD);
  for (let i = 1; i < tabs; i += 1) {
    const page = await device.newPage();
    await page.goto('/account');
    await waitForLoggedInPage(page);
  }
  await settle(device);
  return [device];
}

async function hour(devices) {
  const before = devices.map((device) => device.counts());
  for (let minute = 0; minute < HOUR_MINUTES; minute += 1) {
    for (const device of devices) await advance(device, MINUTE);
  }
  const sums = {};
  devices.forEach((device, i) => {
    for (const [path, count] of Object.entries(device.counts())) {
      sums[path] = (sums[path] ?? 0) + count - (before[i][path] ?? 0);
    }
  });
  return sums;
}

function total(counts) {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

const results = {};
await withServer(SETTINGS, async (ctx) => {
  results.one = await hour(await oneBrowser(ctx, 'one-tab', 1));
  results.five = await hour(await oneBrowser(ctx, 'five-tabs', 5));
  const separate = [];
  for (let i = 0; i < 5; i += 1) separate.push(...(await oneBrowser(ctx, `separate-${i}`, 1)));
  results.separate = await hour(separate);
});

const rows = [
  ['1 tab', results.one, 1],
  ['5 tabs, one browser', results.five, 5],
  ['5 browsers, 1 tab each (baseline)', results.separate, 5],
];
console.log('| set-up (15-minute tokens, one hour) | /api requests in all | per tab | by path |');
console.log('|---|---:|---:|---|');
for (const [name, counts, tabs] of rows) {
  const all = total(counts);
  const paths = Object.entries(counts).filter(([, n]) => n > 0).map(([p, n]) => `${p} ${n}`).join(', ');
  console.log(`| ${name} | ${all} | ${(all / tabs).toFixed(2)} | ${paths || '-'} |`);
}
console.log();
console.log(`5 tabs / 1 tab: ${(total(results.five) / total(results.one)).toFixed(2)}`);
console.log(`5 tabs / 5 separate browsers: ${(total(results.five) / total(results.separate)).toFixed(2)}`);
