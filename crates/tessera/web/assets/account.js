// The account page: who is logged in, the access token's remaining lifetime by the server's
// clock (every second) and the current session's deadlines.
import { api, describe, formatDate, requireSession } from '{{asset:common.js}}';

const text = (id, value) => {
  document.getElementById(id).textContent = value;
};

/** `m:ss` of a duration in milliseconds, never below 0:00. */
function minutesSeconds(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

async function showSession(client) {
  try {
    const response = await api('/api/auth/sessions');
    const { sessions } = await response.json();
    const current = sessions.find((session) => session.current);
    text('idle-deadline', current ? formatDate(current.idle_expires_at) : 'unknown');
    text('absolute-deadline', current ? formatDate(current.absolute_expires_at) : 'unknown');
  } catch (failure) {
    text('account-error', describe(failure));
  }
  text('session-id', client.state ? client.state.sessionId : '');
}

function showUser(client) {
  const { user } = client.state;
  text('who', user.username);
  text('roles', user.roles.length ? user.roles.join(', ') : 'none');
  text('session-id', client.state.sessionId);
}

const client = await requireSession();
if (client) {
  showUser(client);
  const tick = () => text('token-remaining', minutesSeconds(client.expiresInMs()));
  tick();
  setInterval(tick, 1000);
  await showSession(client);
  client.onChange((state) => {
    if (!state) return;
    showUser(client);
    tick();
    showSession(client);
  });
}
