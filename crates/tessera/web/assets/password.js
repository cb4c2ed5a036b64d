// Changing one's own password: the other sessions end, this one stays.
import {
  api, describe, json, report, requireSession, TesseraError,
} from '{{asset:common.js}}';

const form = document.getElementById('password-form');
const current = document.getElementById('current-password');
const next = document.getElementById('new-password');
const confirm = document.getElementById('confirm-password');
const submit = form.querySelector('button[type="submit"]');
const say = (message, isError) => report('password-status', 'password-error', message, isError);

function message(failure) {
  if (failure instanceof TesseraError) {
    if (failure.code === 'wrong_password') return 'The current password is wrong.';
    if (failure.status === 429) return 'Too many wrong passwords. Wait a moment, then try again.';
  }
  return describe(failure);
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (next.value !== confirm.value) {
    say('The new password and its confirmation differ.', true);
    confirm.focus();
    return;
  }
  submit.disabled = true;
  say('');
  try {
    const response = await api('/api/auth/password', json('POST', {
      current_password: current.value,
      new_password: next.value,
    }));
    const { sessions_ended: ended } = await response.json();
    form.reset();
    const others = ended === 1 ? '1 other session was ended' : `${ended} other sessions were ended`;
    say(`Password changed; ${others}.`);
  } catch (failure) {
    say(message(failure), true);
  } finally {
    submit.disabled = false;
  }
});

await requireSession();
