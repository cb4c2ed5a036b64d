// Admin: the users, 50 a page (following the API's `Link: rel="next"`), a search by
// username, deactivating or reactivating, and creating a user.
import {
  api, button, cell, describe, formatDate, isAdmin, json, report, requireSession,
} from '{{asset:common.js}}';

const PAGE_SIZE = 50;
const body = document.querySelector('#users tbody');
const nextPage = document.getElementById('next-page');
const searchForm = document.getElementById('user-search-form');
const search = document.getElementById('user-search');
const createForm = document.getElementById('create-user-form');
const say = (message, isError) => report('users-status', 'users-error', message, isError);

/** The path of the next page, from a `Link` header, when it is a path of this site. */
function nextLink(header) {
  if (!header) return null;
  for (const part of header.split(',')) {
    const match = /<([^>]*)>\s*;\s*rel="?next"?/i.exec(part);
    if (!match) continue;
    const url = new URL(match[1], location.origin);
    if (url.origin === location.origin) return url.pathname + url.search;
  }
  return null;
}

let next = null;

function firstPage() {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  const q = search.value.trim();
  if (q) query.set('q', q);
  return `/api/users?${query}`;
}

function row(user) {
  const tr = document.createElement('tr');
  tr.dataset.userId = user.id;
  tr.dataset.username = user.username;
  tr.dataset.active = String(user.active);
  const name = document.createElement('td');
  const link = document.createElement('a');
  link.href = `/admin/user?id=${encodeURIComponent(user.id)}`;
  link.textContent = user.username;
  name.append(link);
  const state = cell(user.active ? 'Active' : 'Deactivated', 'Status');
  const toggle = button(user.active ? 'Deactivate' : 'Reactivate',
    user.active ? 'toggle-active danger' : 'toggle-active secondary',
    `${user.active ? 'Deactivate' : 'Reactivate'} ${user.username}`);
  toggle.addEventListener('click', () => setActive(user, !user.active, tr));
  const actions = document.createElement('td');
  actions.append(toggle);
  const created = cell(formatDate(user.created_at), 'Created');
  created.className = 'optional';
  tr.append(name, cell(user.roles.join(', ') || 'none', 'Roles'), state, created, actions);
  return tr;
}

async function show(path) {
  const response = await api(path);
  const { users } = await response.json();
  body.replaceChildren(...users.map(row));
  next = nextLink(response.headers.get('Link'));
  nextPage.hidden = next === null;
  if (users.length === 0) say(search.value.trim() ? 'No user matches.' : 'No users.');
}

async function setActive(user, active, tr) {
  try {
    const response = await api(`/api/users/${encodeURIComponent(user.id)}`, json('PATCH', { active }));
    const changed = await response.json();
    tr.replaceWith(row(changed));
    say(`${changed.username} ${changed.active ? 'reactivated' : 'deactivated'}.`);
  } catch (failure) {
    say(describe(failure), true);
  }
}

searchForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  say('');
  try {
    await show(firstPage());
  } catch (failure) {
    say(describe(failure), true);
  }
});

nextPage.addEventListener('click', async () => {
  if (!next) return;
  say('');
  try {
    await show(next);
  } catch (failure) {
    say(describe(failure), true);
  }
});

createForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const username = document.getElementById('new-username');
  const password = document.getElementById('new-user-password');
  const admin = document.getElementById('new-user-admin');
  try {
    const response = await api('/api/users', json('POST', {
      username: username.value.trim(),
      password: password.value,
      roles: admin.checked ? ['admin'] : [],
    }));
    const created = await response.json();
    createForm.reset();
    await show(firstPage());
    say(`User ${created.username} created.`);
  } catch (failure) {
    say(describe(failure), true);
  }
});

if (await requireSession()) {
  if (!isAdmin()) {
    say('This page is for administrators.', true);
  } else {
    try {
      await show(firstPage());
    } catch (failure) {
      say(describe(failure), true);
    }
  }
}
