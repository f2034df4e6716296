// auth.js — sign in and create an account.

import { h, icon } from '../dom.js';
import { avatar } from '../format.js';
import { describeError } from '../errors.js';
import { href, navigate, paths } from '../router.js';
import { alertBox, busy, field } from '../ui.js';

export function brand() {
  return h('div', { class: 'brand' },
    h('span', { class: 'brand-mark', attrs: { 'aria-hidden': 'true' } }, icon('layers', 20)),
    h('span', { class: 'brand-name' }, 'Chorus'));
}

/** A static picture of the chat, for the sign-in page. */
function preview() {
  const msg = (id, name, ...text) => h('div', { class: 'preview-msg' },
    avatar(id, name), h('div', null, h('strong', null, name), h('p', null, ...text)));
  return h('div', { class: 'preview' },
    msg('p1', 'Maya Chen', 'Standup notes are in ', h('span', { class: 'mention' }, '#design'), ' — shipping the new onboarding today.'),
    msg('p2', 'Jonas Berg', h('span', { class: 'mention' }, '@maya'), ' looks great. I will review the copy after lunch.'),
    h('div', { class: 'preview-typing' }, h('span', { class: 'typing-dots' }, h('i'), h('i'), h('i')), 'Priya is typing…'));
}

function frame(title, subtitle, form, footer) {
  return h('main', { class: 'auth', attrs: { 'aria-labelledby': 'auth-title' } },
    h('section', { class: 'auth-pitch', attrs: { 'aria-hidden': 'true' } },
      brand(),
      h('h2', null, 'Work together, in real time.'),
      h('ul', null,
        h('li', null, icon('hash', 16), 'Chat rooms that never lose a message'),
        h('li', null, icon('users', 16), 'See who is online and who is typing'),
        h('li', null, icon('wifi', 16), 'Picks up exactly where you left off after a reconnect')),
      preview()),
    h('section', { class: 'auth-card' },
      h('div', { class: 'auth-card-brand' }, brand()),
      h('h1', { id: 'auth-title' }, title),
      h('p', { class: 'muted' }, subtitle),
      form,
      h('p', { class: 'auth-switch' }, footer)));
}

export function loginView(session, { next } = {}) {
  const user = field({ label: 'Username', name: 'username', autocomplete: 'username', autofocus: true });
  const pass = field({ label: 'Password', name: 'password', type: 'password', autocomplete: 'current-password' });
  const alert = alertBox();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
  const form = h('form', {
    class: 'form', attrs: { novalidate: true, 'aria-label': 'Sign in' },
    on: {
      submit: async (e) => {
        e.preventDefault();
        alert.clear();
        const username = user.input.value.trim();
        const password = pass.input.value;
        user.setError(username ? '' : 'Enter your username.');
        pass.setError(password ? '' : 'Enter your password.');
        if (!username || !password) return;
        try {
          await busy(submit, session.login(username, password));
          navigate(next ?? paths.workspaces(), { replace: true });
        } catch (err) {
          alert.show(describeError(err, 'login'));
          pass.input.select();
        }
      },
    },
  }, alert.el, user.el, pass.el, submit);
  return frame('Sign in', 'Welcome back. Sign in to your workspaces.', form,
    ['New to Chorus? ', h('a', { href: href(paths.register()) }, 'Create an account')]);
}

export function registerView(session) {
  const user = field({
    label: 'Username', name: 'username', autocomplete: 'username', autofocus: true,
    hint: '3 to 32 characters: lowercase letters, digits, _ . -', minlength: 3, maxlength: 32,
  });
  const display = field({ label: 'Display name', name: 'display_name', autocomplete: 'name', required: false, hint: 'Optional. Shown to others; defaults to your username.', maxlength: 64 });
  const pass = field({ label: 'Password', name: 'password', type: 'password', autocomplete: 'new-password', hint: 'At least 8 characters.', minlength: 8 });
  const alert = alertBox();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Create account');
  const form = h('form', {
    class: 'form', attrs: { novalidate: true, 'aria-label': 'Create account' },
    on: {
      submit: async (e) => {
        e.preventDefault();
        alert.clear();
        const username = user.input.value.trim().toLowerCase();
        const displayName = display.input.value.trim();
        const password = pass.input.value;
        let ok = true;
        if (!/^[a-z0-9_.-]{3,32}$/.test(username)) {
          user.setError('Use 3 to 32 characters: lowercase letters, digits, _ . -');
          ok = false;
        } else user.setError('');
        if (password.length < 8) {
          pass.setError('Use at least 8 characters.');
          ok = false;
        } else pass.setError('');
        if (displayName.length > 64) {
          display.setError('Use at most 64 characters.');
          ok = false;
        } else display.setError('');
        if (!ok) return;
        try {
          await busy(submit, session.register(username, password, displayName || undefined));
          navigate(paths.workspaces(), { replace: true });
        } catch (err) {
          const msg = describeError(err, 'register');
          if (err?.field === 'username') user.setError(msg);
          else if (err?.field === 'password') pass.setError(msg);
          else if (err?.field === 'display_name') display.setError(msg);
          else alert.show(msg);
        }
      },
    },
  }, alert.el, user.el, display.el, pass.el, submit);
  return frame('Create your account', 'It takes ten seconds. No email needed.', form,
    ['Already have an account? ', h('a', { href: href(paths.login()) }, 'Sign in')]);
}
