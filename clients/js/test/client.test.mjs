// The client's loop, its tabs and its failures, against a stand-in for the server with
// a clock that moves only when told. The real server and Chromium are in the browser suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TesseraClient, TesseraError } from '../tessera.js';
import { Locks, ManualTime, Server, settle } from '../testing/fakes.mjs';

const MINUTE = 60_000;
const START = Date.parse('2026-12-03T10:00:00Z');

/** A tab: a client on the shared clock, lock manager and channel name. */
function tab(time, server, locks, extra = {}) {
  return new TesseraClient({
    fetch: server.fetch,
    now: time.clock,
    setTimeout: time.setTimeout,
    clearTimeout: time.clearTimeout,
    setInterval: time.setInterval,
    clearInterval: time.clearInterval,
    locks,
    document: null,
    channelName: extra.channelName,
    ...extra,
  });
}

let channels = 0;
function world({ lifetimeMs = 15 * MINUTE, serverAheadMs = 0 } = {}) {
  const time = new ManualTime(START);
  const server = new Server(time, { lifetimeMs, serverAheadMs });
  const locks = new Locks();
  const channelName = `tessera-test-${process.pid}-${(channels += 1)}`;
  const tabs = [];
  const open = (extra = {}) => {
    const client = tab(time, server, locks, { channelName, ...extra });
    tabs.push(client);
    return client;
  };
  const close = () => tabs.forEach((client) => client.close());
  return { time, server, locks, open, close };
}

/** Refresh calls after each of `minutes` 60-s checks. */
async function refreshesPerMinute(time, server, minutes) {
  const seen = [];
  for (let i = 0; i < minutes; i += 1) {
    await time.advance(MINUTE);
    seen.push(server.refreshes);
  }
  return seen;
}

test('15-minute tokens: no refresh while 5 minutes or more remain, one at the next check', async () => {
  const { time, server, open, close } = world();
  const client = open();
  client.start();
  await client.login('ada', 'pw');
  const seen = await refreshesPerMinute(time, server, 15);
  // Minutes 1–10 leave 14…5 minutes; minute 11 leaves 4: the one refresh; the new token
  // then lasts until minute 26 and is refreshed at minute 22.
  assert.deepEqual(seen, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  assert.equal(client.expiresInMs(), 11 * MINUTE);
  close();
});

test('5-minute tokens: one refresh per check, as the seed notes', async () => {
  const { time, server, open, close } = world({ lifetimeMs: 5 * MINUTE });
  const client = open();
  client.start();
  await client.login('ada', 'pw');
  assert.deepEqual(await refreshesPerMinute(time, server, 6), [1, 2, 3, 4, 5, 6]);
  close();
});

for (const [name, serverAheadMs] of [
  ['10 minutes ahead of the server', -10 * MINUTE],
  ['10 minutes behind the server', 10 * MINUTE],
  ['a day ahead of the server', -1440 * MINUTE],
]) {
  test(`a browser clock ${name} refreshes at the same check`, async () => {
    const { time, server, open, close } = world({ serverAheadMs });
    const client = open();
    client.start();
    await client.login('ada', 'pw');
    const seen = await refreshesPerMinute(time, server, 12);
    assert.deepEqual(seen, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    close();
  });
}

test('five tabs reaching the refresh point together make one refresh call', async () => {
  const { time, server, open, close } = world();
  const tabs = [open(), open(), open(), open(), open()];
  await tabs[0].login('ada', 'pw');
  await settle();
  for (const client of tabs) {
    assert.equal(client.state?.user.username, 'ada', 'the login reached every tab');
    client.start();
  }
  await time.advance(11 * MINUTE);
  assert.equal(server.refreshes, 1);
  for (const client of tabs) {
    assert.equal(client.expiresInMs(), 15 * MINUTE, 'every tab holds the new token');
    const answer = await client.fetch('/api/resource');
    assert.equal(answer.status, 200);
  }
  assert.equal(server.refreshes, 1, 'and none refreshed to make its request');
  close();
});

test('five tabs opened at once restore the session with one refresh call', async () => {
  for (const [channel, expected] of [
    [true, 1],
    // Without a channel each tab must refresh for itself, one after the other under the lock.
    [false, 5],
  ]) {
    const { server, open, close } = world();
    const first = open();
    await first.login('ada', 'pw');
    first.close(); // the tab that logged in is closed: the others need the cookie
    await settle();
    const tabs = [1, 2, 3, 4, 5].map(() => open(channel ? {} : { BroadcastChannel: undefined }));
    const restored = await Promise.all(tabs.map((client) => client.restore()));
    close();
    assert.deepEqual(restored, [true, true, true, true, true]);
    assert.equal(server.refreshes, expected, channel ? 'with the channel' : 'without');
  }
});

test('a refresh refused for good logs every tab out once, and nothing refreshes again', async () => {
  const { time, server, open, close } = world();
  const [a, b] = [open(), open()];
  const outs = [];
  a.onLoggedOut((reason) => outs.push(['a', reason]));
  b.onLoggedOut((reason) => outs.push(['b', reason]));
  await a.login('ada', 'pw');
  await settle();
  a.start();
  b.start();
  server.alive = false; // deactivated by an administrator
  await time.advance(11 * MINUTE);
  await settle();
  assert.equal(server.refreshes, 1);
  assert.deepEqual(outs.sort(), [['a', 'session_ended'], ['b', 'session_ended']]);
  assert.equal(a.state, null);
  assert.equal(b.state, null);
  await time.advance(60 * MINUTE);
  assert.equal(server.refreshes, 1, 'no refresh loop');
  await assert.rejects(b.fetch('/api/resource'), (error) => error instanceof TesseraError && error.status === 401);
  close();
});

test('a request refused with 401 refreshes once and is sent again once', async () => {
  const { server, open, close } = world();
  const client = open();
  await client.login('ada', 'pw');
  server.current = 'rotated-elsewhere'; // the server no longer takes token-1
  const answer = await client.fetch('/api/resource');
  assert.equal(answer.status, 200);
  assert.equal(server.refreshes, 1);
  assert.deepEqual(
    server.requests.filter((r) => r.path === '/api/resource').map((r) => r.auth),
    ['Bearer token-1', 'Bearer token-2'],
  );
  // A user deactivated meanwhile: the refresh is refused, the session ends, the call throws.
  server.current = 'gone';
  server.alive = false;
  const outs = [];
  client.onLoggedOut((reason) => outs.push(reason));
  await assert.rejects(client.fetch('/api/resource'), (error) => error.status === 401);
  assert.deepEqual(outs, ['session_ended']);
  assert.equal(server.refreshes, 2, 'one refresh per refused request, no loop');
  close();
});

test('failed refreshes are capped, then a person acting tries again', async () => {
  const { time, server, open, close } = world();
  const client = open({ maxFailures: 3 });
  const errors = [];
  client.onError((error) => errors.push(error.status));
  client.start();
  await client.login('ada', 'pw');
  server.failWith = 503;
  const seen = await refreshesPerMinute(time, server, 14);
  // Tries at minutes 11, 12 and 13, then pauses.
  assert.deepEqual(seen, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 3]);
  assert.deepEqual(errors, [503, 503, 503]);
  assert.equal(client.paused, true);
  assert.notEqual(client.state, null, 'a failure that may pass does not log out');
  server.failWith = null;
  assert.equal(await client.check(true), true, 'a person acting tries once more');
  assert.equal(server.refreshes, 4);
  assert.equal(client.paused, false, 'a success ends the pause');
  await time.advance(11 * MINUTE);
  assert.equal(server.refreshes, 5, 'the loop runs again');
  close();
});

test('a refresh that gets no answer is given up after the request timeout and counted', async () => {
  const { time, server, open, close } = world();
  const client = open({ requestTimeoutMs: 15_000 });
  client.start();
  await client.login('ada', 'pw');
  server.hang = true;
  await time.advance(11 * MINUTE);
  assert.equal(server.refreshes, 1);
  await time.advance(15_000);
  server.hang = false;
  await time.advance(MINUTE);
  assert.equal(server.refreshes, 2, 'the lock was let go: the next check refreshed');
  assert.equal(client.expiresInMs(), 15 * MINUTE - 15_000, 'a fresh token from the check at minute 12');
  close();
});

test('a tab that hangs holding the lock is overtaken after the lock timeout', async () => {
  const { time, server, locks, open, close } = world();
  const client = open({ lockTimeoutMs: 20_000 });
  await client.login('ada', 'pw');
  // A frozen tab holds the lock and never lets go.
  locks.request('tessera-refresh', {}, () => new Promise(() => {}));
  await settle();
  client.start();
  await time.advance(11 * MINUTE);
  assert.equal(server.refreshes, 0, 'waiting for the other tab');
  await time.advance(20_000);
  assert.equal(server.refreshes, 1, 'the lock was taken over');
  assert.equal(client.expiresInMs(), 15 * MINUTE);
  close();
});

test('a hidden tab shown again refreshes at once when due', async () => {
  const { time, server, open, close } = world();
  const document = new EventTarget();
  document.visibilityState = 'hidden';
  const client = open({ document });
  client.start();
  await client.login('ada', 'pw');
  await time.advance(10 * MINUTE + 30_000); // 4:30 left, the next check is 30 s away
  assert.equal(server.refreshes, 0);
  document.visibilityState = 'visible';
  document.dispatchEvent(new Event('visibilitychange'));
  await settle();
  assert.equal(server.refreshes, 1);
  close();
});

test('logout ends the session on the server and in every tab', async () => {
  const { server, open, close } = world();
  const [a, b] = [open(), open()];
  const outs = [];
  b.onLoggedOut((reason) => outs.push(reason));
  await a.login('ada', 'pw');
  await settle();
  await a.logout();
  await settle();
  assert.equal(server.alive, false);
  assert.equal(a.state, null);
  assert.equal(b.state, null);
  assert.deepEqual(outs, ['logout']);
  close();
});

test('bad settings are refused with the setting named', () => {
  assert.throws(() => new TesseraClient({ checkIntervalMs: 0, BroadcastChannel: undefined }), /checkIntervalMs/);
  assert.throws(() => new TesseraClient({ refreshBeforeMs: Number.NaN, BroadcastChannel: undefined }), /refreshBeforeMs/);
});

test('a tab opened next to a logged-in tab takes its session without a refresh', async () => {
  const { server, open, close } = world();
  const first = open();
  await first.login('ada', 'pw');
  await settle();
  const late = open();
  assert.equal(late.state, null, 'it missed the login');
  assert.equal(await late.restore(), true);
  assert.equal(server.refreshes, 0, 'it asked the other tab');
  assert.equal(late.expiresInMs(), 15 * MINUTE);
  assert.equal((await late.fetch('/api/resource')).status, 200);
  close();
});
