// ui.js — small shared components.

import { h, icon, replace } from './dom.js';

let fieldCounter = 0;

/** A labelled input with a hint and an error line; returns {el, input, setError}. */
export function field({ label, name, type = 'text', value = '', hint, autocomplete, required = true, minlength, maxlength, pattern, placeholder, autofocus }) {
  const id = `f-${name}-${++fieldCounter}`;
  const input = h('input', {
    id, name, type, value, required, autocomplete, placeholder, autofocus,
    attrs: { minlength, maxlength, pattern, 'aria-describedby': `${id}-hint ${id}-err` },
  });
  const err = h('p', { class: 'field-error', id: `${id}-err`, attrs: { 'aria-live': 'polite' } });
  const el = h('div', { class: 'field' },
    h('label', { htmlFor: id }, label),
    input,
    hint ? h('p', { class: 'field-hint', id: `${id}-hint` }, hint) : null,
    err);
  return {
    el,
    input,
    setError(msg) {
      err.textContent = msg ?? '';
      input.setAttribute('aria-invalid', msg ? 'true' : 'false');
    },
  };
}

/** An alert box (role=alert) that can be set and cleared. */
export function alertBox(kind = 'error') {
  const el = h('div', { class: ['alert', `alert-${kind}`], hidden: true, attrs: { role: kind === 'error' ? 'alert' : 'status' } });
  return {
    el,
    show(msg) {
      replace(el, icon(kind === 'error' ? 'alert' : 'check', 16), h('span', null, msg));
      el.hidden = false;
    },
    clear() {
      el.hidden = true;
      el.replaceChildren();
    },
  };
}

/** Marks a button busy while promise runs; returns its result. */
export async function busy(button, promise) {
  button.disabled = true;
  button.classList.add('is-busy');
  button.setAttribute('aria-busy', 'true');
  try {
    return await promise;
  } finally {
    button.disabled = false;
    button.classList.remove('is-busy');
    button.removeAttribute('aria-busy');
  }
}

export function emptyState({ iconName = 'layers', title, text, action }) {
  return h('div', { class: 'empty' },
    h('div', { class: 'empty-icon' }, icon(iconName, 28)),
    h('h3', null, title),
    text ? h('p', null, text) : null,
    action ?? null);
}

export function spinner(label = 'Loading') {
  return h('div', { class: 'spinner-wrap', attrs: { role: 'status' } },
    h('span', { class: 'spinner', attrs: { 'aria-hidden': 'true' } }),
    h('span', { class: 'sr-only' }, label));
}

const toastHost = () => document.getElementById('toasts');

/** A short-lived notice at the bottom of the screen. */
export function toast(msg, kind = 'info', ms = 4000) {
  const host = toastHost();
  if (!host) return;
  const el = h('div', { class: ['toast', `toast-${kind}`], attrs: { role: kind === 'error' ? 'alert' : 'status' } }, msg);
  host.append(el);
  setTimeout(() => {
    el.classList.add('is-leaving');
    setTimeout(() => el.remove(), 300);
  }, ms);
}

export const ROLE_LABEL = { owner: 'Owner', admin: 'Admin', member: 'Member' };

export function roleBadge(role) {
  return h('span', { class: ['badge', `badge-${role}`] }, ROLE_LABEL[role] ?? role);
}
