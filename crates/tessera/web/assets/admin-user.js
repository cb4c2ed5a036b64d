// Admin: one user (`?id=`): roles, a new password, its sessions and ending them.
import {
  api, button, describe, isAdmin, json, report, requireSession, sessionRow,
} from '{{asset:common.js}}';

const id = new URLSearchParams(location.search).get('id') || '';
const base = `/api/users/${encodeURIComponent(id)}`;
const body = document.querySelector('#user-sessions tbody');
const endAll = document.getElementById('end-all-sessions');
const say = (message, isError) => report('user-status', 'user-error', message, isError);

let user = null;

function showUser(value) {
  user = value;
  document.getElementById('user-name').textContent = user.username;
  document.getElementById('user-active').textContent = user.active ? 'Active' : 'Deactivated';
  document.getElementById('role-admin').checked = user.roles.includes('admin');
  document.getElementById('user-roles').textContent = user.roles.join(', ') || 'none';
}

async function loadSessions() {
  const response = await api(`${base}/sessions`);
  const { sessions } = await response.json();
  body.replaceChildren(...sessions.map((session) => sessionRow(session, (s) => {
    const end = button('End', 'end-session danger', `End the session of ${s.user_agent || 'unknown device'}`);
    end.addEventListener('click', async () => {
      end.disabled = true;
      try {
        await api(`${base}/sessions/${encodeURIComponent(s.id)}`, { method: 'DELETE' });
        say('Session ended.');
        await loadSessions();
      } catch (failure) {
        end.disabled = false;
        say(describe(failure), true);
      }
    });
    return end;
  })));
  endAll.disabled = sessions.length === 0;
  document.getElementById('user-sessions-empty').hidden = sessions.length !== 0;
}

document.getElementById('roles-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!user) return;
  const others = user.roles.filter((role) => role !== 'admin');
  const roles = document.getElementById('role-admin').checked ? [...others, 'admin'] : others;
  try {
    const response = await api(base, json('PATCH', { roles }));
    showUser(await response.json());
    say('Roles saved.');
  } catch (failure) {
    say(describe(failure), true);
  }
});

document.getElementById('reset-password-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const password = document.getElementById('reset-password');
  try {
    await api(base, json('PATCH', { password: password.value }));
    password.value = '';
    say('Password changed.');
  } catch (failure) {
    say(describe(failure), true);
  }
});

endAll.addEventListener('click', async () => {
  endAll.disabled = true;
  try {
    const response = await api(`${base}/sessions`, { method: 'DELETE' });
    const { sessions_ended: ended } = await response.json();
    say(ended === 1 ? '1 session ended.' : `${ended} sessions ended.`);
    await loadSessions();
  } catch (failure) {
    endAll.disabled = false;
    say(describe(failure), true);
  }
});

if (await requireSession()) {
  if (!isAdmin()) {
    say('This page is for administrators.', true);
  } else if (!id) {
    say('No user given: open a user from the list of users.', true);
  } else {
    try {
      const response = await api(base);
      showUser(await response.json());
      await loadSessions();
    } catch (failure) {
      say(failure.status === 404 ? 'There is no such user.' : describe(failure), true);
    }
  }
}
