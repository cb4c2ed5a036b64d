// Hostile conditions: the server going away and coming back, a tab hidden while its timers
// stood still, Swagger UI under its own CSP, and another site's page trying to use the
// refresh cookie.
//
// Time, as in the rest of the suite: the server's clock is real and only the browser's
// moves, so a token the browser believes expired is still valid on the server.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';

import {
  MINUTE,
  SECOND,
  USER_PASSWORD,
  advance,
  createUser,
  loginThroughPage,
  openLoginPage,
  runFor,
  setVisibility,
  settle,
  startProxy,
  tokenRemaining,
  unexpectedProblems,
  waitForLoggedInPage,
  withServer,
} from './harness.mjs';

const REFRESH = '/api/auth/refresh';

/** Swagger UI's CSP, as `UI_CSP` in crates/tessera/src/http/openapi.rs writes it. */
const UI_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/** The answers to `/api/auth/refresh` that `device` received after the first `from`. */
function refreshAnswers(device, from) {
  return device.answers.slice(from).filter((answer) => answer.path === REFRESH);
}

/** The problems of `device` other than Chromium's line for a refresh that could not reach
 * the server (`net::ERR_CONNECTION_REFUSED` / `RESET`), which a server away makes. */
function problemsBesidesUnreachable(device) {
  return unexpectedProblems(device).filter(
    (problem) =>
      !(
        problem.kind === 'console' &&
        /^Failed to load resource: net::ERR_CONNECTION_(REFUSED|RESET|CLOSED)\b/.test(problem.text) &&
        problem.where.includes(REFRESH)
      ),
  );
}

test('the server going away is not a logout: three refresh attempts, then none, and a person acting gets a working page once it is back', async () => {
  await withServer({ TESSERA_JWT_EXPIRATION_MINUTES: '15' }, async ({ base, server, device }) => {
    await createUser(base, 'ivan');
    const laptop = await device({ name: 'laptop', clock: { time: Date.now() } });
    const page = await laptop.newPage();
    await loginThroughPage(page, 'ivan', USER_PASSWORD);
    const sessionId = (await page.locator('#session-id').innerText()).trim();
    await settle(laptop);

    await server.kill();
    const refreshesBefore = laptop.count(REFRESH);
    const requestsBefore = laptop.total();

    // The 15-minute token is due at the check of minute 10 or 11 (see refresh.test.mjs);
    // from there every check tries once, and the third failure in a row pauses the loop.
    const attempts = [];
    for (let minute = 1; minute <= 13; minute += 1) {
      const before = laptop.count(REFRESH);
      await advance(laptop, MINUTE);
      const made = laptop.count(REFRESH) - before;
      assert.ok(made <= 1, `${made} refresh attempts at the check of minute ${minute}: one per check at most`);
      if (made === 1) attempts.push(minute);
    }
    assert.ok(
      attempts.length === 3 && (attempts[0] === 10 || attempts[0] === 11) && attempts[2] - attempts[0] === 2,
      `refresh attempts with the server away at minutes ${JSON.stringify(attempts)}: three in a row from minute 10 or 11 are due`,
    );
    assert.equal(laptop.total() - requestsBefore, 3, `API requests with the server away: ${JSON.stringify(laptop.counts())}`);

    // Paused: 30 more minutes (the token long expired by the browser's clock), no request.
    for (let minute = 1; minute <= 30; minute += 1) await advance(laptop, MINUTE);
    assert.equal(laptop.count(REFRESH) - refreshesBefore, 3, `refresh attempts after 30 more minutes: ${JSON.stringify(laptop.counts())}`);
    assert.equal(laptop.total() - requestsBefore, 3, `API requests after 30 more minutes: ${JSON.stringify(laptop.counts())}`);
    // A server away is not a logout: still on /account, still naming the user.
    assert.equal(new URL(page.url()).pathname, '/account', 'the page left /account while the server was away');
    assert.equal((await page.locator('#who').innerText()).trim(), 'ivan');
    assert.deepEqual(problemsBesidesUnreachable(laptop), [], 'uncaught exceptions or console errors while the server was away');
    // The person is told, and told the renewal is paused.
    const notice = page.locator('#connection-status');
    assert.equal(await notice.isVisible(), true, 'no notice that the server cannot be reached');
    assert.match(await notice.innerText(), /cannot be reached.*paused/s);

    await server.restart();

    // A person comes back to the tab: one refresh, even though the loop paused, and a new
    // token for the same session.
    const answersBefore = laptop.answers.length;
    await setVisibility(page, 'hidden');
    await setVisibility(page, 'visible');
    await settle(laptop);
    assert.deepEqual(
      refreshAnswers(laptop, answersBefore).map((answer) => answer.status),
      [200],
      'showing the tab again with the server back: one refresh, granted',
    );
    await runFor(laptop, SECOND);
    const remaining = await tokenRemaining(page);
    assert.ok(remaining > 14 * 60 && remaining <= 15 * 60, `#token-remaining once the server is back: ${remaining} s`);
    assert.equal((await page.locator('#session-id').innerText()).trim(), sessionId, 'the same session');
    assert.equal(await notice.isVisible(), false, 'the notice stays once the server is back');

    // And the next page works without logging in: the sessions list, this session current.
    await page.locator('#nav a[href="/sessions"]').click();
    await page.waitForURL((url) => url.pathname === '/sessions');
    await page.locator(`#sessions tr[data-current="true"][data-session-id="${sessionId}"]`).waitFor();
    await settle(laptop);
    assert.equal(new URL(page.url()).pathname, '/sessions', 'sent to /login after the server came back');
    assert.equal((await page.locator('#sessions-error').innerText()).trim(), '', '#sessions-error is empty');
    assert.deepEqual(problemsBesidesUnreachable(laptop), [], 'uncaught exceptions or console errors');
  });
});

test('a hidden tab whose checks did not run refreshes at once when shown, when due, and once', async () => {
  await withServer({ TESSERA_JWT_EXPIRATION_MINUTES: '15' }, async ({ base, device }) => {
    await createUser(base, 'jade');
    const laptop = await device({ name: 'laptop', clock: { time: Date.now() } });
    const page = await laptop.newPage();
    await loginThroughPage(page, 'jade', USER_PASSWORD);
    await settle(laptop);
    // The pages' own restore() calls (/login's, then /account's) so far.
    const restores = laptop.count(REFRESH);

    // Checks 1 to 9 find at least 6:00 left: nothing to do (see refresh.test.mjs).
    for (let minute = 1; minute <= 9; minute += 1) await advance(laptop, MINUTE);
    assert.equal(laptop.count(REFRESH) - restores, 0, `refreshes through minute 9: ${JSON.stringify(laptop.counts())}`);

    // The tab is hidden, and 90 s pass while its timers stand still (a frozen tab, a
    // sleeping laptop): the browser's date moves to 10:30 after the token arrived, about
    // 4:30 left, and no check runs; the last one, at minute 9, found about 6:00 left.
    // The check of minute 10 would find 5:00 give or take a second, a boundary this test
    // stays clear of.
    await setVisibility(page, 'hidden');
    const now = await page.evaluate(() => Date.now());
    await laptop.context.clock.setSystemTime(now + 90 * SECOND);
    await settle(laptop);
    assert.equal(laptop.count(REFRESH) - restores, 0, 'a refresh while the tab was hidden and no check ran');
    assert.equal(await page.evaluate(() => document.visibilityState), 'hidden', 'the page believes it is hidden');

    // Shown again: the token is due, so one refresh at once, before any check.
    const answersBefore = laptop.answers.length;
    await setVisibility(page, 'visible');
    await settle(laptop);
    assert.deepEqual(
      refreshAnswers(laptop, answersBefore).map((answer) => answer.status),
      [200],
      `showing the tab with about 4:30 left: exactly one refresh, granted; requests ${JSON.stringify(laptop.counts())}`,
    );
    // The countdown shows the new token at its next tick (1 s; the loop's next check is most of a minute away).
    await runFor(laptop, SECOND);
    const remaining = await tokenRemaining(page);
    assert.ok(remaining > 14 * 60 && remaining <= 15 * 60, `#token-remaining after the refresh on showing: ${remaining} s`);

    // Shown once more, and the next check: nothing left to do with a fresh token.
    await setVisibility(page, 'hidden');
    await setVisibility(page, 'visible');
    await advance(laptop, MINUTE);
    assert.equal(laptop.count(REFRESH) - restores, 1, `refreshes after showing again and the next check: ${JSON.stringify(laptop.counts())}`);
    assert.equal(new URL(page.url()).pathname, '/account');
    assert.deepEqual(unexpectedProblems(laptop), [], 'uncaught exceptions or console errors');
  });
});

test('Swagger UI at /api/docs/ renders the operations under its CSP, with no violation and no console error', async () => {
  await withServer({}, async ({ device }) => {
    const desk = await device({ name: 'desk' });
    const page = await desk.newPage();
    const response = await page.goto('/api/docs/');
    assert.equal(response.status(), 200, '/api/docs/ answers 200');
    assert.equal(response.headers()['content-security-policy'], UI_CSP, '/api/docs/ is served under its CSP');
    // The operations come from /api/openapi.json, fetched by the bundle: login among them.
    await page.locator('.opblock').first().waitFor();
    const login = page.locator('.opblock', { hasText: '/api/auth/login' });
    await login.first().waitFor();
    assert.ok((await page.locator('.opblock').count()) >= 10, 'Swagger UI lists the operations');
    // Opening an operation works too (its parameters and responses are rendered).
    await login.first().locator('.opblock-summary').click();
    await login.first().locator('.responses-wrapper').waitFor();
    await settle(desk);
    assert.deepEqual(desk.problems, [], `console errors, exceptions or CSP violations on /api/docs/:\n${JSON.stringify(desk.problems, null, 2)}`);
  });
});

/**
 * A server of pages foreign to tessera on 127.0.0.1:PORT, whose page `/` runs a script (no
 * inline code) that posts to `target`'s refresh endpoint with `credentials: 'include'` and
 * keeps what became of it in `window.attempt`. Its `sites` are two origins of it:
 * `http://localhost:PORT/`, another site than 127.0.0.1 (the refresh cookie is
 * `SameSite=Strict`: it stays home), and `http://127.0.0.1:PORT/`, another origin of the
 * same site (ports do not make sites: the cookie goes along, as it would from a sibling
 * subdomain).
 */
async function foreignPages(target) {
  const html = '<!doctype html><title>not tessera</title><p>Nothing to see.</p><script src="/attack.js"></script>';
  const script = `
window.attempt = fetch(${JSON.stringify(new URL(REFRESH, target).href)}, { method: 'POST', credentials: 'include' })
  .then((response) => ({ status: response.status }), (error) => ({ error: String(error) }));
`;
  const server = createServer((request, response) => {
    if (request.url === '/attack.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' });
      response.end(script);
    } else if (request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(html);
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    anotherSite: `http://localhost:${port}/`,
    sameSite: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

test("another site's page cannot refresh the session with the cookie, nor can another origin of the same site, and the logged-in tab keeps working", async () => {
  await withServer({ TESSERA_JWT_EXPIRATION_MINUTES: '15' }, async ({ base, device }) => {
    // The real origin is a recording proxy in front of the server: it sees every request
    // as the server does, cookies included, and the server's answer.
    const proxy = await startProxy(base);
    const foreign = await foreignPages(proxy.base);
    try {
      await createUser(base, 'kim');
      const laptop = await device({ name: 'laptop' });
      const real = laptop.context;
      const page = await real.newPage();
      // Logged in on the proxy's origin (loginThroughPage goes to the device's base).
      await loginOn(page, proxy.base, 'kim');
      const sessionId = (await page.locator('#session-id').innerText()).trim();
      const cookieUrl = new URL(REFRESH, proxy.base).href;
      const refreshCookie = async () =>
        (await real.cookies(cookieUrl)).filter((cookie) => cookie.name === 'tessera_refresh').map((cookie) => cookie.value);
      const cookie = await refreshCookie();
      assert.equal(cookie.length, 1, 'the login set the refresh cookie');

      for (const [what, url, cookieGoesAlong] of [
        ['another site', foreign.anotherSite, false],
        ['another origin of the same site', foreign.sameSite, true],
      ]) {
        const seenBefore = proxy.to(REFRESH).length;
        const evil = await real.newPage();
        await evil.goto(url);
        const attempt = await evil.evaluate(() => window.attempt);
        await settle(laptop);
        await evil.close();

        // What reached the server from the foreign page: its refresh, without the cookie or
        // refused 403, never granted.
        const arrived = proxy.to(REFRESH).slice(seenBefore);
        const described = `${what}: ${JSON.stringify({
          attempt,
          arrived: arrived.map(({ headers, status, body }) => ({ origin: headers.origin, site: headers['sec-fetch-site'], cookie: hasRefreshCookie(headers), status, body: status === 200 ? '(a token answer, not shown)' : body })),
        })}`;
        assert.equal(arrived.length, 1, `the foreign page's one refresh and nothing else reached the server; ${described}`);
        assert.equal(arrived[0].headers.origin, new URL(url).origin, `the request came from the foreign page; ${described}`);
        assert.notEqual(arrived[0].status, 200, `the foreign page's refresh was granted; ${described}`);
        if (hasRefreshCookie(arrived[0].headers)) {
          assert.equal(arrived[0].status, 403, `the foreign page's refresh carried the cookie and was not refused 403; ${described}`);
          assert.equal(JSON.parse(arrived[0].body).error, 'cross_site_request', `the refusal's code; ${described}`);
        }
        if (cookieGoesAlong) {
          // What makes this case worth having: the cookie did go along, the server refused.
          assert.ok(hasRefreshCookie(arrived[0].headers), `SameSite=Strict lets the cookie go along within the site; ${described}`);
        }
        // The foreign page learns nothing either: the answer is not readable across origins.
        assert.ok(attempt.error || attempt.status !== 200, `the foreign page's fetch; ${described}`);
        // And the cookie of the real origin is untouched (not replaced, not cleared).
        assert.deepEqual(await refreshCookie(), cookie, `the refresh cookie after the attempt from ${what}`);
      }

      // The logged-in tab keeps its session: a reload restores it through the cookie.
      const answersBeforeReload = laptop.answers.length;
      await page.reload();
      await waitForLoggedInPage(page);
      assert.equal(new URL(page.url()).pathname, '/account', 'the real tab was sent to /login after the foreign attempts');
      assert.equal((await page.locator('#session-id').innerText()).trim(), sessionId, 'the same session, restored');
      assert.deepEqual(
        refreshAnswers(laptop, answersBeforeReload).map((answer) => answer.status),
        [200],
        'the reload restored the session with one granted refresh',
      );
      // The reload's refresh reached the server with the cookie, same-origin, and was granted.
      const last = proxy.to(REFRESH).at(-1);
      assert.ok(
        hasRefreshCookie(last.headers) && last.headers['sec-fetch-site'] === 'same-origin' && last.status === 200,
        `the reload's refresh: ${JSON.stringify({ site: last.headers['sec-fetch-site'], status: last.status })}`,
      );
    } finally {
      await foreign.close();
      await proxy.close();
    }
  });
});

/** Whether request `headers` carry the refresh cookie. */
function hasRefreshCookie(headers) {
  return /(^|;\s*)tessera_refresh=/.test(headers.cookie ?? '');
}

/** Logs `username` in through the /login page of `origin` (not the device's base) and waits
 * for /account to be ready. */
async function loginOn(page, origin, username) {
  await openLoginPage(page, new URL('/login', origin).href);
  await page.fill('#username', username);
  await page.fill('#password', USER_PASSWORD);
  await page.locator('#login-form [type="submit"]').click();
  await page.waitForURL((url) => url.pathname === '/account');
  await waitForLoggedInPage(page);
}
