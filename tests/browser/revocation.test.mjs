// Sessions ended from elsewhere: an admin deactivating a user, the user ending one of their
// own sessions on another device, and a password change ending every other session. The
// device that lost its session goes to /login on its next action, in every tab, without a
// refresh loop.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ADMIN,
  MINUTE,
  USER_PASSWORD,
  advance,
  api,
  createUser,
  isLoginUrl,
  loginThroughPage,
  settle,
  waitForLoggedInPage,
  withServer,
} from './harness.mjs';

const REFRESH = '/api/auth/refresh';

test('a user deactivated by an admin goes to /login in every tab on the next action, without a refresh loop', async () => {
  await withServer({ TESSERA_JWT_EXPIRATION_MINUTES: '15' }, async ({ base, device }) => {
    await createUser(base, 'hana');
    const laptop = await device({ name: "hana's laptop", clock: { time: Date.now() } });
    const first = await laptop.newPage();
    await loginThroughPage(first, 'hana', USER_PASSWORD);
    const second = await laptop.newPage();
    await second.goto('/account');
    await waitForLoggedInPage(second);
    await settle(laptop);

    const office = await device({ name: "the admin's desktop" });
    const admin = await office.newPage();
    await loginThroughPage(admin, ADMIN.username, ADMIN.password, { next: '/admin/users' });
    const row = admin.locator('#users tr[data-username="hana"]');
    await row.waitFor();
    assert.equal(await row.getAttribute('data-active'), 'true');
    await row.locator('button.toggle-active').click();
    await admin.locator('#users tr[data-username="hana"][data-active="false"]').waitFor();

    const refreshesBefore = laptop.count(REFRESH);
    const answersBefore = laptop.answers.length;
    // Hana's next action: the sessions link of the first tab.
    await first.locator('#nav a[href="/sessions"]').click();
    await first.waitForURL((url) => isLoginUrl(url, '/sessions'));
    // The other tab follows without being touched (the logout is broadcast).
    await second.waitForURL((url) => isLoginUrl(url, '/account'));
    await settle(laptop);
    const refreshes = laptop.count(REFRESH) - refreshesBefore;
    // At most one per tab for finding out the session ended, and one per /login page for
    // its restore() finding no session: two tabs, at most four.
    assert.ok(refreshes <= 4, `${refreshes} refresh calls after the deactivation; requests ${JSON.stringify(laptop.counts())}`);
    const granted = laptop.answers.slice(answersBefore).filter((a) => a.path === REFRESH && a.status === 200);
    assert.deepEqual(granted, [], 'a deactivated user was given a new token');

    // No loop: minutes pass on /login without a single request to the API.
    const requestsBefore = laptop.total();
    for (let minute = 1; minute <= 5; minute += 1) await advance(laptop, MINUTE);
    assert.equal(laptop.total() - requestsBefore, 0, `API requests from /login while the clock moved 5 minutes: ${JSON.stringify(laptop.counts())}`);
    for (const tab of [first, second]) assert.equal(new URL(tab.url()).pathname, '/login');

    // Hana cannot log in again while deactivated, and the page says so.
    await first.fill('#username', 'hana');
    await first.fill('#password', USER_PASSWORD);
    await first.locator('#login-form [type="submit"]').click();
    await first.locator('#login-error').waitFor({ state: 'visible' });
    assert.equal(new URL(first.url()).pathname, '/login');
  });
});

test('ending a session on the sessions page logs that device out, and this one stays', async () => {
  await withServer({}, async ({ base, device }) => {
    await createUser(base, 'ivan');
    const laptop = await device({ name: 'laptop' });
    const phone = await device({ name: 'phone' });
    const mine = await laptop.newPage();
    const theirs = await phone.newPage();
    await loginThroughPage(theirs, 'ivan', USER_PASSWORD);
    await loginThroughPage(mine, 'ivan', USER_PASSWORD, { next: '/sessions' });

    const rows = mine.locator('#sessions tr[data-session-id]');
    await mine.locator('#sessions tr[data-current="true"]').waitFor();
    assert.equal(await rows.count(), 2, 'two devices, two sessions');
    const current = mine.locator('#sessions tr[data-current="true"]');
    assert.equal(await current.locator('button.end-session').count(), 0, 'no end button on the current session');
    const other = mine.locator('#sessions tr[data-session-id]:not([data-current="true"])');
    const otherId = await other.getAttribute('data-session-id');
    await other.locator('button.end-session').click();
    await mine.locator(`#sessions tr[data-session-id="${otherId}"]`).waitFor({ state: 'detached' });
    assert.equal(await rows.count(), 1, 'the ended session is gone from the table');
    assert.notEqual((await mine.locator('#sessions-status').innerText()).trim(), '', '#sessions-status reports the result');

    // The phone's next action sends it to /login.
    await theirs.locator('#nav a[href="/sessions"]').click();
    await theirs.waitForURL((url) => isLoginUrl(url, '/sessions'));

    // The laptop is still logged in.
    await mine.reload();
    await mine.locator('#sessions tr[data-current="true"]').waitFor();
    assert.equal(new URL(mine.url()).pathname, '/sessions');
  });
});

test('"end other sessions" on the sessions page logs every other device out', async () => {
  await withServer({}, async ({ base, device }) => {
    await createUser(base, 'jana');
    const laptop = await device({ name: 'laptop' });
    const mine = await laptop.newPage();
    const others = [];
    for (const name of ['phone', 'tablet']) {
      const other = await device({ name });
      const page = await other.newPage();
      await loginThroughPage(page, 'jana', USER_PASSWORD);
      others.push(page);
    }
    await loginThroughPage(mine, 'jana', USER_PASSWORD, { next: '/sessions' });
    const rows = mine.locator('#sessions tr[data-session-id]');
    await mine.locator('#sessions tr[data-current="true"]').waitFor();
    assert.equal(await rows.count(), 3);

    await mine.locator('#end-others').click();
    await mine.waitForFunction(() => document.querySelectorAll('#sessions tr[data-session-id]').length === 1);
    assert.equal(await mine.locator('#sessions tr[data-current="true"]').count(), 1, 'the current session stays');
    assert.notEqual((await mine.locator('#sessions-status').innerText()).trim(), '', '#sessions-status reports the result');

    for (const page of others) {
      await page.locator('#nav a[href="/account"]').click();
      await page.waitForURL((url) => isLoginUrl(url, '/account'));
    }
    await mine.reload();
    await mine.locator('#sessions tr[data-current="true"]').waitFor();
  });
});

test('a password change on /password ends the other sessions and keeps this one', async () => {
  await withServer({}, async ({ base, device }) => {
    await createUser(base, 'kai');
    const laptop = await device({ name: 'laptop' });
    const phone = await device({ name: 'phone' });
    const mine = await laptop.newPage();
    const theirs = await phone.newPage();
    await loginThroughPage(theirs, 'kai', USER_PASSWORD);
    await loginThroughPage(mine, 'kai', USER_PASSWORD, { next: '/password' });

    // A wrong current password is refused on the page.
    await mine.fill('#current-password', 'not-the-password');
    await mine.fill('#new-password', 'a-new-password-456');
    await mine.fill('#confirm-password', 'a-new-password-456');
    await mine.locator('#password-form [type="submit"]').click();
    await mine.locator('#password-error').waitFor({ state: 'visible' });
    assert.notEqual((await mine.locator('#password-error').innerText()).trim(), '');
    assert.equal((await api(base, 'POST', '/api/auth/login', { body: { username: 'kai', password: USER_PASSWORD } })).status, 200, 'the refused change left the password alone');

    await mine.fill('#current-password', USER_PASSWORD);
    await mine.fill('#new-password', 'a-new-password-456');
    await mine.fill('#confirm-password', 'a-new-password-456');
    await mine.locator('#password-form [type="submit"]').click();
    await mine.locator('#password-status').waitFor({ state: 'visible' });
    await mine.waitForFunction(() => (document.querySelector('#password-status')?.textContent ?? '').trim() !== '');

    // The phone's next action sends it to /login.
    await theirs.locator('#nav a[href="/sessions"]').click();
    await theirs.waitForURL((url) => isLoginUrl(url, '/sessions'));

    // This one stays logged in, across its next action and a reload.
    await mine.locator('#nav a[href="/account"]').click();
    await mine.waitForURL((url) => url.pathname === '/account');
    await waitForLoggedInPage(mine);
    await mine.reload();
    await waitForLoggedInPage(mine);
    assert.equal((await mine.locator('#who').innerText()).trim(), 'kai');

    const oldPassword = await api(base, 'POST', '/api/auth/login', { body: { username: 'kai', password: USER_PASSWORD } });
    assert.equal(oldPassword.status, 401, 'the old password no longer works');
    const newPassword = await api(base, 'POST', '/api/auth/login', { body: { username: 'kai', password: 'a-new-password-456' } });
    assert.equal(newPassword.status, 200, 'the new password works');
  });
});
