// Sign-in for the staff pages (console, audit): cookie session via POST /api/login, checked on
// load with GET /api/me, ended with POST /api/logout.

import { $, fetchJson, setStatus } from './common.js';

/**
 * Wire the login form and logout button of a staff page.
 *
 * `roles` lists the roles this page is for; a signed-in user with another role sees
 * `wrongRoleText(role)` instead of the app. `onSignedIn(me)` runs once per sign-in,
 * `onSignedOut()` after logout.
 */
export function setupAuth({ roles, wrongRoleText, onSignedIn, onSignedOut }) {
  const loginSection = $('#login');
  const appSection = $('#app');
  const form = $('#login-form');
  const username = $('#login-username');
  const password = $('#login-password');
  const submit = $('#login-submit');
  const error = $('#login-error');
  const userBox = $('#user-box');
  const userName = $('#user-name');
  const logout = $('#logout');

  function showLogin(message) {
    appSection.hidden = true;
    userBox.hidden = true;
    loginSection.hidden = false;
    document.body.dataset.auth = 'signed-out';
    setStatus(error, message || '', message ? 'error' : '');
    username.focus();
  }

  function enter(me) {
    if (!roles.includes(me.role)) {
      showLogin(wrongRoleText(me.role));
      userBox.hidden = false;
      userName.textContent = `${me.username} (${me.role})`;
      return;
    }
    loginSection.hidden = true;
    appSection.hidden = false;
    userBox.hidden = false;
    userName.textContent = `${me.username} (${me.role})`;
    document.body.dataset.auth = 'signed-in';
    document.body.dataset.role = me.role;
    password.value = '';
    setStatus(error, '');
    onSignedIn(me);
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    setStatus(error, '');
    try {
      const me = await fetchJson('/api/login', {
        method: 'POST',
        json: { username: username.value.trim(), password: password.value },
      });
      enter(me);
    } catch (err) {
      const text =
        err.status === 401
          ? 'Wrong username or password.'
          : err.status === 429
            ? 'Too many attempts. Wait a minute and try again.'
            : err.message;
      setStatus(error, text, 'error');
      password.select();
    } finally {
      submit.disabled = false;
    }
  });

  logout.addEventListener('click', async () => {
    try {
      await fetchJson('/api/logout', { method: 'POST' });
    } catch {
      // The cookie may already be gone; either way we show the form again.
    }
    if (onSignedOut) onSignedOut();
    showLogin('');
  });

  (async () => {
    try {
      const me = await fetchJson('/api/me');
      if (me) {
        enter(me);
        return;
      }
    } catch {
      // 401: not signed in.
    }
    showLogin('');
  })();

  return { showLogin };
}
