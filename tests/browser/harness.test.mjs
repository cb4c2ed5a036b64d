// The harness itself: the real binary starts on a fresh database, answers over HTTP, and
// Chromium reaches it; these run even before any page exists.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ADMIN, api, apiLogin, createUser, withServer } from './harness.mjs';

test('the server starts on a fresh database and answers /healthz and /api/openapi.json', async () => {
  await withServer({}, async ({ base }) => {
    const health = await api(base, 'GET', '/healthz');
    assert.equal(health.status, 200, JSON.stringify(health.body));
    const openapi = await api(base, 'GET', '/api/openapi.json');
    assert.equal(openapi.status, 200);
    assert.match(String(openapi.body.openapi), /^3\./, 'an OpenAPI 3 document');
    assert.ok(openapi.body.paths['/api/auth/login'], 'the document lists /api/auth/login');
  });
});

test('the bootstrapped admin logs in with 15-minute tokens and creates a user', async () => {
  await withServer({}, async ({ base }) => {
    const login = await apiLogin(base, ADMIN.username, ADMIN.password);
    assert.equal(login.expires_in, 15 * 60);
    assert.deepEqual(login.user.roles, ['admin']);
    const user = await createUser(base, 'harness-user');
    assert.equal(user.username, 'harness-user');
    const again = await apiLogin(base, 'harness-user', 'user-password-12345');
    assert.equal(again.user.username, 'harness-user');
  });
});

test('Chromium loads a page of the server', async () => {
  await withServer({}, async ({ device }) => {
    const phone = await device({ name: 'phone' });
    const page = await phone.newPage();
    const response = await page.goto('/healthz');
    assert.equal(response.status(), 200);
  });
});
