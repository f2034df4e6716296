// workspaces.js — the list of the user's workspaces, and creating one.

import { h, icon, replace } from '../dom.js';
import { describeError } from '../errors.js';
import { avatar, plural } from '../format.js';
import { href, navigate, paths } from '../router.js';
import { alertBox, busy, emptyState, roleBadge, spinner } from '../ui.js';
import { topbar } from './chrome.js';

export function workspacesView(session, scope) {
  const list = h('div', { class: 'ws-grid', attrs: { 'aria-live': 'polite' } }, spinner('Loading workspaces'));
  const alert = alertBox();
  const nameInput = h('input', {
    id: 'new-ws-name', name: 'name', required: true, placeholder: 'e.g. Design team', autocomplete: 'off',
    attrs: { maxlength: 100 },
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, icon('plus', 16), 'Create workspace');
  const form = h('form', {
    class: 'inline-form', attrs: { 'aria-label': 'Create a workspace' },
    on: {
      submit: async (e) => {
        e.preventDefault();
        alert.clear();
        const name = nameInput.value.trim();
        if (!name) {
          alert.show('Give the workspace a name.');
          nameInput.focus();
          return;
        }
        try {
          const r = await busy(submit, session.api.createWorkspace(name));
          const ws = r?.workspace ?? r;
          navigate(paths.workspace(ws.id));
        } catch (err) {
          alert.show(describeError(err, 'createWorkspace'));
        }
      },
    },
  },
  h('label', { htmlFor: 'new-ws-name', class: 'sr-only' }, 'Workspace name'),
  nameInput, submit);

  let lastSig = null;
  const load = async () => {
    try {
      const r = await session.api.workspaces();
      const all = r?.workspaces ?? r ?? [];
      const sig = JSON.stringify(all.map((w) => [w.id, w.name, w.role, w.member_count]));
      if (sig === lastSig) return;
      lastSig = sig;
      if (!all.length) {
        replace(list, emptyState({
          iconName: 'layers',
          title: 'No workspaces yet',
          text: 'Create one for your team above, or ask a teammate to invite you by your username.',
        }));
        return;
      }
      replace(list, all.map((ws) => h('a', {
        class: 'ws-card', href: href(paths.workspace(ws.id)),
        attrs: { 'aria-label': `Open workspace ${ws.name}` },
      },
      avatar(`ws${ws.id}`, ws.name, { size: 'lg' }),
      h('div', { class: 'ws-card-body' },
        h('strong', { class: 'ws-card-name' }, ws.name),
        h('span', { class: 'muted' }, plural(ws.member_count ?? 1, 'member'))),
      roleBadge(ws.role),
      icon('chevron', 18))));
    } catch (err) {
      replace(list, h('p', { class: 'alert alert-error', attrs: { role: 'alert' } }, describeError(err)));
    }
  };
  load();
  // Invitations show up without a reload.
  const timer = setInterval(() => { if (document.visibilityState === 'visible') load(); }, 10000);
  const onFocus = () => load();
  window.addEventListener('focus', onFocus);
  scope.add(() => {
    clearInterval(timer);
    window.removeEventListener('focus', onFocus);
  });

  return h('div', { class: 'page' },
    topbar(session, { scope }),
    h('main', { class: 'page-body narrow', attrs: { 'aria-labelledby': 'ws-title' } },
      h('div', { class: 'page-head' },
        h('div', null,
          h('h1', { id: 'ws-title' }, 'Your workspaces'),
          h('p', { class: 'muted' }, `Signed in as @${session.user.username}. People can invite you by that username.`))),
      h('section', { class: 'card' },
        h('h2', { class: 'card-title' }, 'New workspace'),
        alert.el,
        form),
      list));
}
