// Every page: its headers and DOM skeleton, no console error, uncaught exception or CSP
// violation, a full-page screenshot in target/browser-artifacts/, and axe-core finding no
// serious or critical accessibility violation.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ADMIN,
  AXE_PATH,
  USER_PASSWORD,
  apiLogin,
  createUser,
  loginThroughPage,
  screenshot,
  settle,
  unexpectedProblems,
  waitForLoggedInPage,
  withServer,
} from './harness.mjs';

/** The CSP of every page, as the contract writes it. */
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The navigation link each logged-in page marks as the current page. */
const CURRENT_LINK = {
  account: '/account',
  sessions: '/sessions',
  password: '/password',
  'admin-users': '/admin/users',
  'admin-user': '/admin/users',
};

/**
 * Visits every page as the admin on `device`: /login before logging in, then the logged-in
 * pages, the admin user page of `gina` (a user with a session of her own). Calls
 * `onPage(page, name, response)` once each page has shown its content.
 */
async function visitEveryPage({ base, device: makeDevice }, deviceOptions, onPage) {
  const gina = await createUser(base, 'gina');
  await apiLogin(base, 'gina', USER_PASSWORD);
  const device = await makeDevice(deviceOptions);
  const page = await device.newPage();

  const loginResponse = await page.goto('/login');
  await page.locator('#login-form').waitFor();
  await settle(device);
  await onPage(page, 'login', loginResponse);

  await loginThroughPage(page, ADMIN.username, ADMIN.password);
  const visits = [
    ['account', '/account', '#session-id'],
    ['sessions', '/sessions', '#sessions tr[data-current="true"]'],
    ['password', '/password', '#password-form'],
    ['admin-users', '/admin/users', '#users tr[data-username="gina"]'],
    ['admin-user', `/admin/user?id=${gina.id}`, '#user-sessions tr[data-session-id]'],
  ];
  for (const [name, path, ready] of visits) {
    const response = await page.goto(path);
    await waitForLoggedInPage(page);
    await page.locator(ready).first().waitFor();
    await settle(device);
    assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, path, `${name} stayed on ${path}`);
    await onPage(page, name, response);
  }
  return device;
}

test('every page has its headers and skeleton, logs no error and no CSP violation, and is screenshotted', async () => {
  await withServer({}, async (ctx) => {
    const seen = [];
    const device = await visitEveryPage(ctx, { name: 'desktop' }, async (page, name, response) => {
      seen.push(name);
      const headers = response.headers();
      assert.equal(response.status(), 200, `${name}: status`);
      assert.match(headers['content-type'] ?? '', /^text\/html/, `${name}: content-type`);
      assert.equal(headers['content-security-policy'], PAGE_CSP, `${name}: CSP`);
      assert.equal(headers['x-frame-options'], 'DENY', `${name}: X-Frame-Options`);
      assert.equal(headers['referrer-policy'], 'no-referrer', `${name}: Referrer-Policy`);
      assert.equal(headers['cache-control'], 'no-cache', `${name}: Cache-Control`);

      const skeleton = await page.evaluate(() => ({
        lang: document.documentElement.getAttribute('lang'),
        title: document.title.trim(),
        h1: document.querySelectorAll('h1').length,
        main: document.querySelectorAll('main').length,
        inlineScripts: [...document.querySelectorAll('script')].filter((s) => !s.src).length,
        moduleScripts: [...document.querySelectorAll('script[src]')].map((s) => new URL(s.src).pathname),
        styled: document.querySelectorAll('[style]').length,
        handlers: [...document.querySelectorAll('*')].filter((el) => [...el.attributes].some((a) => a.name.startsWith('on'))).length,
      }));
      assert.equal(skeleton.lang, 'en', `${name}: <html lang>`);
      assert.notEqual(skeleton.title, '', `${name}: <title>`);
      assert.equal(skeleton.h1, 1, `${name}: one <h1>`);
      assert.equal(skeleton.main, 1, `${name}: one <main>`);
      assert.equal(skeleton.inlineScripts, 0, `${name}: inline <script>`);
      assert.equal(skeleton.styled, 0, `${name}: style= attributes`);
      assert.equal(skeleton.handlers, 0, `${name}: on*= attributes`);
      for (const src of skeleton.moduleScripts) {
        assert.match(src, /^\/assets\/[\w-]+\.[0-9a-zA-Z_-]+\.js$/, `${name}: scripts come from hashed /assets/ paths`);
      }
      if (name !== 'login') {
        assert.equal(await page.locator('#nav a[href="/admin/users"]').count(), 1, `${name}: the admin sees the admin link`);
        assert.equal(await page.locator('button#logout').count(), 1, `${name}: #logout`);
        // One navigation link, this page's (the list of users for a user's page), is marked
        // current and stands out.
        const current = await page.locator('#nav a[aria-current="page"]').evaluateAll((links) =>
          links.map((link) => [link.getAttribute('href'), getComputedStyle(link).fontWeight]));
        assert.deepEqual(current, [[CURRENT_LINK[name], '600']], `${name}: the current page's link`);
      }
      await screenshot(page, name);
    });
    assert.deepEqual(seen, ['login', 'account', 'sessions', 'password', 'admin-users', 'admin-user']);
    const problems = unexpectedProblems(device);
    assert.deepEqual(problems, [], `console errors, exceptions or CSP violations:\n${JSON.stringify(problems, null, 2)}`);
  });
});

test('axe-core finds no serious or critical violation on any page', async () => {
  await withServer({}, async (ctx) => {
    const found = [];
    // axe-core is injected as a script, which the pages' CSP (script-src 'self') forbids:
    // this context alone bypasses CSP; the test above checks the pages under their CSP.
    await visitEveryPage(ctx, { name: 'axe', bypassCSP: true }, async (page, name) => {
      await page.addScriptTag({ path: AXE_PATH });
      const violations = await page.evaluate(async () => {
        // eslint-disable-next-line no-undef
        const result = await axe.run(document, { resultTypes: ['violations'] });
        return result.violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          help: v.help,
          targets: v.nodes.map((n) => n.target.join(' ')),
        }));
      });
      for (const violation of violations) {
        if (violation.impact === 'serious' || violation.impact === 'critical') found.push({ page: name, ...violation });
      }
    });
    assert.deepEqual(found, [], `axe-core violations:\n${JSON.stringify(found, null, 2)}`);
  });
});
