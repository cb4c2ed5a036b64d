// What every logged-in page shares: the client, the session check, the navigation and
// small helpers that write text (never HTML) into the page.
import { TesseraClient, TesseraError } from '{{asset:tessera.js}}';

export { TesseraError };

/** The page's one client, same origin. */
export const client = new TesseraClient({ baseUrl: '' });

/**
 * Marks the navigation's link to this page, the one its `data-current-page` names (the list
 * of users for a user's page), as the current page. Pages share one navigation, so this
 * cannot be written in each page's HTML.
 */
function markCurrentPage() {
  const nav = document.getElementById('nav');
  if (!nav) return;
  for (const link of nav.querySelectorAll('a')) {
    if (link.getAttribute('href') === nav.dataset.currentPage) link.setAttribute('aria-current', 'page');
  }
}

markCurrentPage();

/** This page's path and query, where the login page sends the user back to. */
function here() {
  return location.pathname + location.search;
}

/** Whether the page is already on its way to the login page. */
let leaving = false;

/** Leaves for the login page (once), which comes back here afterwards. */
function toLogin() {
  if (leaving) return;
  leaving = true;
  location.replace('/login?next=' + encodeURIComponent(here()));
}

/**
 * Makes sure there is a session (otherwise leaves for the login page), shows the admin link
 * to admins, wires the logout button and starts the refresh loop. Returns the client, or
 * null when the page is being left.
 */
export async function requireSession() {
  client.onLoggedOut(toLogin);
  let restored = false;
  try {
    restored = await client.restore();
  } catch {
    restored = false;
  }
  if (!restored || !client.state) {
    toLogin();
    return null;
  }
  const isAdmin = client.state.user.roles.includes('admin');
  for (const link of document.querySelectorAll('.admin-only')) link.hidden = !isAdmin;
  const logout = document.getElementById('logout');
  logout.addEventListener('click', async () => {
    logout.disabled = true;
    try {
      await client.logout();
    } finally {
      toLogin();
    }
  });
  showConnection();
  client.start();
  return client;
}

/**
 * Tells the person when the session cannot be renewed for a reason that may pass (the
 * server away, overloaded): the session is kept, and the notice goes once a renewal works.
 */
function showConnection() {
  const notice = document.getElementById('connection-status');
  if (!notice) return;
  client.onError((error) => {
    notice.textContent = client.paused
      ? 'The server cannot be reached. Renewing the session is paused; it is tried again when you use this page.'
      : `The server cannot be reached (${error.message}); the session is kept and renewing it is tried again in a minute.`;
    notice.hidden = false;
  });
  client.onChange((state) => {
    if (state) {
      notice.hidden = true;
      notice.textContent = '';
    }
  });
}

/** Whether the logged-in user is an admin. */
export function isAdmin() {
  return Boolean(client.state && client.state.user.roles.includes('admin'));
}

/** A TesseraError from an error answer of the API. */
export async function errorOf(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    body = {};
  }
  return new TesseraError(response.status, body.error || 'http_error',
    body.message || `the server answered ${response.status}`);
}

/** `client.fetch`, throwing a TesseraError unless the answer is 2xx. */
export async function api(path, init) {
  const response = await client.fetch(path, init);
  if (!response.ok) throw await errorOf(response);
  return response;
}

/** Request options for a JSON body. */
export function json(method, body) {
  return { method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
}

/** What to tell the user about a failed request. */
export function describe(error) {
  if (error instanceof TesseraError) return error.message;
  return 'The server could not be reached. Try again.';
}

/** A date of the API in the browser's locale. */
export function formatDate(value) {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

/**
 * Shows `text` in the status element and clears the error element, or the other way round
 * when `isError`.
 */
export function report(statusId, errorId, text, isError = false) {
  const status = document.getElementById(statusId);
  const error = document.getElementById(errorId);
  if (status) status.textContent = isError ? '' : text;
  if (error) error.textContent = isError ? text : '';
}

/** A table cell holding `text`, labelled by its column (shown on narrow screens). */
export function cell(text, label) {
  const td = document.createElement('td');
  td.textContent = text;
  if (label) td.dataset.label = label;
  return td;
}

/** A button of `className` labelled `text`, with a more precise accessible name. */
export function button(text, className, label) {
  const element = document.createElement('button');
  element.type = 'button';
  element.className = className;
  element.textContent = text;
  if (label) element.setAttribute('aria-label', label);
  return element;
}

/** The rows of a session list: device, address, last used, then `action(session)`'s cell. */
export function sessionRow(session, action) {
  const row = document.createElement('tr');
  row.dataset.sessionId = session.id;
  if (session.current) row.dataset.current = 'true';
  row.append(
    cell(session.user_agent || 'Unknown device', 'Device'),
    cell(session.client_ip || '', 'Address'),
    cell(formatDate(session.last_used_at), 'Last used'),
  );
  const last = document.createElement('td');
  const content = action(session);
  if (content) last.append(content);
  row.append(last);
  return row;
}
