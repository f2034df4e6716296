// chrome.js — the top bar and the user menu.

import { h, icon } from '../dom.js';
import { avatar } from '../format.js';
import { href, paths } from '../router.js';
import { brand } from './auth.js';

export function topbar(session, { scope, workspace, onMenu } = {}) {
  const user = session.user;
  const name = user.display_name || user.username;
  const logout = h('button', {
    type: 'button', class: 'btn btn-ghost btn-sm', attrs: { 'data-action': 'logout', 'aria-label': 'Sign out' },
    on: { click: () => session.logout() },
  }, icon('logout', 16), h('span', { class: 'hide-sm' }, 'Sign out'));
  return h('header', { class: 'topbar' },
    onMenu ? h('button', {
      type: 'button', class: 'btn btn-icon btn-ghost show-sm', on: { click: onMenu },
      attrs: { 'aria-label': 'Show rooms' },
    }, icon('menu', 20)) : null,
    h('a', { href: href(paths.workspaces()), class: 'topbar-brand', attrs: { 'aria-label': 'All workspaces' } }, brand()),
    workspace ? h('span', { class: 'topbar-sep', attrs: { 'aria-hidden': 'true' } }, '/') : null,
    workspace ? h('a', { class: 'topbar-ws', href: href(paths.workspace(workspace.id)) }, workspace.name) : null,
    h('div', { class: 'topbar-spacer' }),
    connectionPill(session, scope),
    h('div', { class: 'topbar-user' },
      avatar(user.id, name, { size: 'sm' }),
      h('span', { class: 'topbar-user-name hide-sm', attrs: { 'data-testid': 'me' } }, name)),
    logout);
}

const STATE_TEXT = {
  connected: 'Live',
  connecting: 'Connecting',
  reconnecting: 'Reconnecting',
  offline: 'Offline',
};

/** A small status pill that follows the connection state. */
export function connectionPill(session, scope) {
  const text = h('span', null);
  const pill = h('span', { class: 'conn-pill', attrs: { 'data-testid': 'conn-pill', title: 'Connection to the live service' } },
    h('span', { class: 'conn-dot', attrs: { 'aria-hidden': 'true' } }), text);
  const set = () => {
    const s = session.status;
    pill.dataset.state = s;
    text.textContent = STATE_TEXT[s] ?? s;
    if (s === 'connected' && session.node) {
      pill.dataset.node = session.node;
      pill.title = `Connected to gateway ${session.node}`;
    } else {
      delete pill.dataset.node;
      pill.title = 'Connection to the live service';
    }
  };
  set();
  scope.add(session.on('connection', set));
  return pill;
}
