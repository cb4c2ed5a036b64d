// Logging in, the account page's countdown, logging out, and a reload restoring the session
// through the refresh cookie.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  SECOND,
  USER_PASSWORD,
  adminToken,
  api,
  createUser,
  isLoginUrl,
  loginThroughPage,
  openLoginPage,
  runFor,
  settle,
  tokenRemaining,
  waitForLoggedInPage,
  withServer,
} from './harness.mjs';

test('login shows a wrong password in #login-error, then the account page names the user and counts the token down', async () => {
  await withServer({ TESSERA_JWT_EXPIRATION_MINUTES: '15' }, async ({ base, device }) => {
    await createUser(base, 'alice');
    const laptop = await device({ name: 'laptop', clock: { time: Date.now() } });
    const page = await laptop.newPage();

    await openLoginPage(page);
    await page.fill('#username', 'alice');
    await page.fill('#password', 'not-her-password');
    await page.locator('#login-form [type="submit"]').click();
    const error = page.locator('#login-error');
    await error.waitFor({ state: 'visible' });
    assert.equal(await error.getAttribute('role'), 'alert');
    assert.notEqual((await error.innerText()).trim(), '', 'a refused login says why');
    assert.equal(new URL(page.url()).pathname, '/login', 'a refused login stays on /login');

    await page.fill('#password', USER_PASSWORD);
    await page.locator('#login-form [type="submit"]').click();
    await page.waitForURL((url) => url.pathname === '/account');
    await waitForLoggedInPage(page);
    await settle(laptop);

    assert.equal((await page.locator('#who').innerText()).trim(), 'alice');
    assert.notEqual((await page.locator('#session-id').innerText()).trim(), '', '#session-id is shown');
    for (const id of ['#roles', '#idle-deadline', '#absolute-deadline']) {
      await page.locator(id).waitFor({ state: 'attached' });
    }
    // The nav of a logged-in page, without the admin link for a plain user.
    for (const href of ['/account', '/sessions', '/password']) {
      assert.equal(await page.locator(`#nav a[href="${href}"]`).count(), 1, `#nav links to ${href}`);
    }
    assert.equal(await page.locator('#nav a[href="/admin/users"]:visible').count(), 0, 'no admin link for a plain user');

    // A fresh 15-minute token: between 14:00 and 15:00 remain by the server's clock.
    const first = await tokenRemaining(page);
    assert.ok(first > 14 * 60 && first <= 15 * 60, `#token-remaining right after login: ${first} s`);
    // Three seconds later (by the browser's clock) it shows three seconds less.
    await runFor(laptop, 3 * SECOND);
    const later = await tokenRemaining(page);
    assert.ok(
      first - later >= 2 && first - later <= 4,
      `#token-remaining went from ${first} s to ${later} s over 3 s of the browser's clock`,
    );
  });
});

test('login follows a same-origin next path and ignores one that leaves the site', async () => {
  await withServer({}, async ({ base, device }) => {
    await createUser(base, 'bruno');
    const laptop = await device({ name: 'laptop' });
    const page = await laptop.newPage();
    await loginThroughPage(page, 'bruno', USER_PASSWORD, { next: '/sessions' });
    await page.locator('#sessions').waitFor();

    const other = await device({ name: 'other laptop' });
    const tab = await other.newPage();
    await openLoginPage(tab, `/login?next=${encodeURIComponent('//evil.example/account')}`);
    await tab.fill('#username', 'bruno');
    await tab.fill('#password', USER_PASSWORD);
    await tab.locator('#login-form [type="submit"]').click();
    await tab.waitForURL((url) => url.origin === new URL(base).origin && url.pathname === '/account');
  });
});

test('the logout button ends the session and /account then sends to /login', async () => {
  await withServer({}, async ({ base, device }) => {
    const user = await createUser(base, 'carla');
    const laptop = await device({ name: 'laptop' });
    const page = await laptop.newPage();
    await loginThroughPage(page, 'carla', USER_PASSWORD);

    await page.locator('#logout').click();
    await page.waitForURL((url) => url.pathname === '/login');

    await page.goto('/account');
    await page.waitForURL((url) => isLoginUrl(url, '/account'));
    // The session ended on the server, not only in the page.
    const sessions = await api(base, 'GET', `/api/users/${user.id}/sessions`, { token: await adminToken(base) });
    assert.equal(sessions.status, 200);
    assert.deepEqual(sessions.body.sessions, [], 'no session of carla is left after logout');
  });
});

test('reloading /account stays logged in through the refresh cookie, and /login goes straight on', async () => {
  await withServer({}, async ({ base, device }) => {
    await createUser(base, 'dora');
    const laptop = await device({ name: 'laptop' });
    const page = await laptop.newPage();
    await loginThroughPage(page, 'dora', USER_PASSWORD);
    const sessionId = (await page.locator('#session-id').innerText()).trim();

    await page.reload();
    await waitForLoggedInPage(page);
    assert.equal(new URL(page.url()).pathname, '/account', 'a reload stays on /account');
    assert.equal((await page.locator('#who').innerText()).trim(), 'dora');
    assert.equal((await page.locator('#session-id').innerText()).trim(), sessionId, 'the same session, restored');

    // Opening /login with a live session goes on to `next` without asking again.
    const tab = await laptop.newPage();
    await tab.goto('/login?next=%2Fpassword');
    await tab.waitForURL((url) => url.pathname === '/password');
    await tab.locator('#password-form').waitFor();
  });
});
