// The caller's sessions: every live one, ending one or all but this one.
import {
  api, button, client, describe, report, requireSession, sessionRow,
} from '{{asset:common.js}}';

const body = document.querySelector('#sessions tbody');
const endOthers = document.getElementById('end-others');
const say = (message, isError) => report('sessions-status', 'sessions-error', message, isError);

let others = [];

async function load() {
  const response = await api('/api/auth/sessions');
  const { sessions } = await response.json();
  others = sessions.filter((session) => !session.current).map((session) => session.id);
  body.replaceChildren(...sessions.map((session) => sessionRow(session, (s) => {
    if (s.current) {
      const note = document.createElement('span');
      note.className = 'muted';
      note.textContent = 'This session';
      return note;
    }
    const end = button('End', 'end-session danger', `End the session of ${s.user_agent || 'unknown device'}`);
    end.addEventListener('click', () => endOne(s.id, end));
    return end;
  })));
  endOthers.disabled = others.length === 0;
}

async function endOne(id, control) {
  control.disabled = true;
  try {
    await api(`/api/auth/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' });
    say('Session ended.');
    await load();
  } catch (failure) {
    control.disabled = false;
    say(describe(failure), true);
  }
}

endOthers.addEventListener('click', async () => {
  endOthers.disabled = true;
  let ended = 0;
  try {
    for (const id of others) {
      const response = await client.fetch(
        `/api/auth/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' },
      );
      // 404: it ended meanwhile; nothing left to do.
      if (response.ok) ended += 1;
    }
    say(ended === 1 ? '1 other session ended.' : `${ended} other sessions ended.`);
  } catch (failure) {
    say(describe(failure), true);
  }
  await load().catch((failure) => say(describe(failure), true));
});

if (await requireSession()) {
  try {
    await load();
  } catch (failure) {
    say(describe(failure), true);
  }
}
