// shell.js — the frame of an open workspace: top bar, sidebar (rooms with
// unread counts, members, who is online) and the main pane the routes fill.

import { h, icon, replace } from '../dom.js';
import { describeError } from '../errors.js';
import { avatar } from '../format.js';
import { href, navigate, paths, roomPath } from '../router.js';
import { roleBadge, toast } from '../ui.js';
import { topbar } from './chrome.js';

const KIND_ICON = { chat: 'hash', board: 'board', whiteboard: 'pen' };

export function workspaceShell(session, ws, scope) {
  const main = h('main', { class: 'main', id: 'main', tabIndex: -1 });
  const roomList = h('ul', { class: 'nav-list', attrs: { 'aria-label': 'Chat rooms' } });
  const otherList = h('ul', { class: 'nav-list', attrs: { 'aria-label': 'Boards and whiteboards' } });
  const onlineList = h('ul', { class: 'online-list', attrs: { 'aria-label': 'Online now', 'data-testid': 'online-list' } });
  const onlineTitle = h('h2', { class: 'nav-title' }, 'Online');
  const membersLink = h('a', { class: 'nav-item', href: href(paths.members(ws.id)), dataset: { route: 'members' } },
    icon('users', 16), h('span', { class: 'nav-label' }, 'Members'), h('span', { class: 'nav-count' }));
  const roleSlot = h('span', null, roleBadge(ws.role));
  let current = null;

  const sidebar = h('nav', { class: 'sidebar', attrs: { 'aria-label': 'Workspace' } },
    h('div', { class: 'sidebar-head' },
      h('a', { class: 'sidebar-ws', href: href(paths.workspace(ws.id)) },
        avatar(`ws${ws.id}`, ws.info.name, { size: 'md' }),
        h('span', { class: 'sidebar-ws-name' }, ws.info.name)),
      roleSlot),
    h('div', { class: 'nav-section' },
      h('div', { class: 'nav-title-row' },
        h('h2', { class: 'nav-title' }, 'Chat rooms'),
        newRoomButton(ws)),
      roomList),
    h('div', { class: 'nav-section' },
      h('h2', { class: 'nav-title' }, 'Boards & whiteboards'),
      otherList),
    h('div', { class: 'nav-section' }, membersLink),
    h('div', { class: 'nav-section nav-online' }, onlineTitle, onlineList));

  const el = h('div', { class: 'app' },
    topbar(session, { scope, workspace: ws.info, onMenu: () => el.classList.toggle('sidebar-open') }),
    h('div', { class: 'app-body' },
      sidebar,
      h('div', { class: 'sidebar-scrim', on: { click: () => el.classList.remove('sidebar-open') } }),
      main));

  const renderRooms = () => {
    const chats = ws.rooms.filter((r) => r.kind === 'chat');
    const others = ws.rooms.filter((r) => r.kind !== 'chat');
    replace(roomList, chats.length ? chats.map((r) => roomItem(r)) : h('li', { class: 'nav-empty' }, 'No chat rooms yet'));
    replace(otherList, others.length ? others.map((r) => roomItem(r)) : h('li', { class: 'nav-empty' }, 'None yet'));
    markCurrent();
    renderUnread();
  };

  const roomItem = (r) => {
    const count = ws.unreadCount(r.id);
    const badge = h('span', { class: 'unread', hidden: !count || r.kind !== 'chat', attrs: { 'aria-label': `${count} unread` } }, count > 99 ? '99+' : String(count));
    return h('li', null, h('a', {
      class: ['nav-item', count && r.kind === 'chat' && 'has-unread'],
      href: href(roomPath(ws.id, r)),
      dataset: { room: r.id, kind: r.kind },
      on: { click: () => el.classList.remove('sidebar-open') },
    },
    icon(KIND_ICON[r.kind] ?? 'hash', 16),
    h('span', { class: 'nav-label' }, r.name),
    r.kind === 'chat' ? badge : null));
  };

  const renderUnread = () => {
    for (const a of roomList.querySelectorAll('a[data-room]')) {
      const count = a.dataset.room === current ? 0 : ws.unreadCount(a.dataset.room);
      const badge = a.querySelector('.unread');
      badge.hidden = !count;
      badge.textContent = count > 99 ? '99+' : String(count);
      badge.setAttribute('aria-label', `${count} unread`);
      a.classList.toggle('has-unread', count > 0);
    }
    let total = 0;
    for (const r of ws.rooms) if (r.kind === 'chat' && r.id !== current) total += ws.unreadCount(r.id);
    document.title = total ? `(${total}) ${ws.info.name} — Chorus` : `${ws.info.name} — Chorus`;
  };

  const renderOnline = () => {
    const online = ws.online();
    const people = [...online].map((id) => ({ id, name: ws.nameOf(id) })).sort((a, b) => a.name.localeCompare(b.name));
    onlineTitle.textContent = `Online \u2014 ${people.length}`;
    replace(onlineList, people.length
      ? people.map((p) => h('li', { dataset: { user: p.id } }, avatar(p.id, p.name, { size: 'xs', online: true }),
        h('span', null, p.name), p.id === session.userId ? h('span', { class: 'muted' }, ' (you)') : null))
      : h('li', { class: 'nav-empty' }, 'Nobody else right now'));
  };

  const renderMembers = () => {
    membersLink.querySelector('.nav-count').textContent = String(ws.members.length);
  };

  const markCurrent = () => {
    for (const a of sidebar.querySelectorAll('a.nav-item')) {
      const on = (a.dataset.room && a.dataset.room === current) || (a.dataset.route && a.dataset.route === current);
      a.classList.toggle('is-current', Boolean(on));
      if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
  };

  scope.add(ws.on('rooms', renderRooms));
  scope.add(ws.on('unread', renderUnread));
  scope.add(ws.on('presence', renderOnline));
  scope.add(ws.on('members', () => { renderMembers(); renderOnline(); }));
  scope.add(ws.on('role', (role) => replace(roleSlot, roleBadge(role))));
  renderRooms();
  renderUnread();
  renderOnline();
  renderMembers();

  return {
    el,
    main,
    /** Highlights the open room (or 'members'); its unread count is hidden. */
    setCurrent(key) {
      current = key;
      markCurrent();
      renderUnread();
    },
  };
}

function newRoomButton(ws) {
  const btn = h('button', {
    type: 'button', class: 'btn btn-icon btn-ghost btn-xs',
    attrs: { 'aria-label': 'New chat room', title: 'New chat room', 'aria-expanded': 'false' },
  }, icon('plus', 16));
  btn.addEventListener('click', () => {
    const section = btn.closest('.nav-section');
    const existing = section.querySelector('form');
    if (existing) {
      existing.remove();
      btn.setAttribute('aria-expanded', 'false');
      return;
    }
    btn.setAttribute('aria-expanded', 'true');
    const input = h('input', { name: 'room', placeholder: 'room-name', autocomplete: 'off', attrs: { 'aria-label': 'New chat room name', maxlength: 100 } });
    const form = h('form', {
      class: 'nav-new',
      on: {
        submit: async (e) => {
          e.preventDefault();
          const name = input.value.trim();
          if (!name) return;
          input.disabled = true;
          try {
            const room = await ws.createRoom('chat', name);
            form.remove();
            btn.setAttribute('aria-expanded', 'false');
            navigate(paths.chat(ws.id, room.id));
          } catch (err) {
            input.disabled = false;
            toast(describeError(err, 'createRoom'), 'error');
          }
        },
        keydown: (e) => {
          if (e.key === 'Escape') {
            form.remove();
            btn.setAttribute('aria-expanded', 'false');
            btn.focus();
          }
        },
      },
    }, input);
    section.querySelector('.nav-title-row').after(form);
    input.focus();
  });
  return btn;
}
