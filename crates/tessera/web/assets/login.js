// The login page: a session from another tab or the refresh cookie goes straight on;
// otherwise the form logs in and goes on to `next` (a path of this site) or the account.
import { client, describe, TesseraError } from '{{asset:common.js}}';

/**
 * `next` when it is a path of this site (`/…`, never `//…` or with a backslash) other than
 * this page; otherwise the account page.
 */
function destination() {
  const next = new URLSearchParams(location.search).get('next');
  if (next && next.startsWith('/') && !next.startsWith('//') && !/[\\\u0000-\u001f]/.test(next)
    && new URL(next, location.origin).pathname !== '/login') {
    return next;
  }
  return '/account';
}

const form = document.getElementById('login-form');
const error = document.getElementById('login-error');
const username = document.getElementById('username');
const password = document.getElementById('password');
const submit = form.querySelector('button[type="submit"]');

function message(failure) {
  if (failure instanceof TesseraError) {
    if (failure.status === 401) return 'Wrong username or password.';
    if (failure.status === 429) return 'Too many failed logins. Wait a moment, then try again.';
    if (failure.status === 503) return 'The server is busy. Try again in a moment.';
  }
  return describe(failure);
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.textContent = '';
  submit.disabled = true;
  try {
    await client.login(username.value, password.value);
    location.replace(destination());
  } catch (failure) {
    error.textContent = message(failure);
    password.value = '';
    password.focus();
  } finally {
    submit.disabled = false;
  }
});

(async () => {
  let restored = false;
  try {
    restored = await client.restore();
  } catch {
    restored = false;
  }
  if (restored) location.replace(destination());
})();
