// rooms.js — the workspace home: its rooms, and creating one.

import { h, icon, replace } from '../dom.js';
import { describeError } from '../errors.js';
import { href, navigate, paths, roomPath } from '../router.js';
import { alertBox, busy, emptyState } from '../ui.js';

const KINDS = [
  ['chat', 'Chat room', 'hash', 'Conversations in real time.'],
  ['board', 'Kanban board', 'board', 'Cards and columns, moved live.'],
  ['whiteboard', 'Whiteboard', 'pen', 'Draw together on a shared canvas.'],
];
const KIND = Object.fromEntries(KINDS.map(([k, label, ic, text]) => [k, { label, icon: ic, text }]));

export function roomsView(session, ws, scope) {
  const alert = alertBox();
  const nameInput = h('input', { id: 'new-room-name', name: 'name', placeholder: 'e.g. design-review', autocomplete: 'off', attrs: { maxlength: 100 } });
  const kindSelect = h('select', { id: 'new-room-kind', name: 'kind' },
    KINDS.map(([k, label]) => h('option', { value: k }, label)));
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, icon('plus', 16), 'Create room');
  const form = h('form', {
    class: 'inline-form', attrs: { 'aria-label': 'Create a room' },
    on: {
      submit: async (e) => {
        e.preventDefault();
        alert.clear();
        const name = nameInput.value.trim();
        if (!name) {
          alert.show('Give the room a name.');
          nameInput.focus();
          return;
        }
        try {
          const room = await busy(submit, ws.createRoom(kindSelect.value, name));
          nameInput.value = '';
          navigate(roomPath(ws.id, room));
        } catch (err) {
          alert.show(describeError(err, 'createRoom'));
        }
      },
    },
  },
  h('label', { htmlFor: 'new-room-name', class: 'sr-only' }, 'Room name'), nameInput,
  h('label', { htmlFor: 'new-room-kind', class: 'sr-only' }, 'Room kind'), kindSelect,
  submit);

  const openAlert = alertBox();
  const openInput = h('input', { id: 'open-room', name: 'room', placeholder: 'whiteboard.3.12 or a shared link', autocomplete: 'off', attrs: { maxlength: 400 } });
  const openForm = h('form', {
    class: 'inline-form', attrs: { 'aria-label': 'Open a room by id or link' },
    on: {
      submit: async (e) => {
        e.preventDefault();
        openAlert.clear();
        const id = roomIdFrom(openInput.value);
        if (!id) {
          openAlert.show('Paste a room id such as whiteboard.3.12, or a link someone shared.');
          openInput.focus();
          return;
        }
        let room = ws.room(id);
        if (!room) {
          // Created since this page loaded, or in another workspace.
          await ws.reloadRooms().catch(() => {});
          // The user went elsewhere meanwhile: stay there.
          if (scope.disposed) return;
          room = ws.room(id);
        }
        if (!room) {
          // Ids compared as text: long ones do not fit a double exactly.
          const other = id.split('.')[1];
          if (other !== String(ws.id)) {
            navigate(roomPath(other, { id, kind: id.split('.')[0] }));
            return;
          }
          openAlert.show('No room with that id in this workspace. It may have been archived.');
          return;
        }
        openInput.value = '';
        navigate(roomPath(ws.id, room));
      },
    },
  },
  h('label', { htmlFor: 'open-room', class: 'sr-only' }, 'Room id or link'), openInput,
  h('button', { type: 'submit', class: 'btn btn-secondary' }, icon('chevron', 16), 'Open'));

  const list = h('div', { class: 'room-grid' });
  const render = () => {
    if (!ws.rooms.length) {
      replace(list, emptyState({ iconName: 'hash', title: 'No rooms yet', text: 'Create the first one above.' }));
      return;
    }
    replace(list, ws.rooms.map((r) => {
      const k = KIND[r.kind] ?? { label: r.kind, icon: 'layers', text: '' };
      const unread = r.kind === 'chat' ? ws.unreadCount(r.id) : 0;
      return h('a', { class: 'room-card', href: href(roomPath(ws.id, r)), dataset: { room: r.id } },
        h('span', { class: ['room-card-icon', `kind-${r.kind}`] }, icon(k.icon, 18)),
        h('span', { class: 'room-card-body' },
          h('strong', null, r.name),
          h('span', { class: 'muted' }, k.label)),
        unread ? h('span', { class: 'unread' }, String(unread)) : null);
    }));
  };
  scope.add(ws.on('rooms', render));
  scope.add(ws.on('unread', render));
  render();

  return h('div', { class: 'pane pane-scroll' },
    h('div', { class: 'page-body' },
      h('div', { class: 'page-head' },
        h('div', null,
          h('h1', null, ws.info.name),
          h('p', { class: 'muted' }, 'Rooms in this workspace. Every member can see them and create new ones.')),
        h('a', { class: 'btn btn-secondary', href: href(paths.members(ws.id)) }, icon('users', 16), 'Members')),
      h('section', { class: 'card' },
        h('h2', { class: 'card-title' }, 'New room'),
        alert.el,
        form),
      h('section', { class: 'card' },
        h('h2', { class: 'card-title' }, 'Open by id or link'),
        openAlert.el,
        openForm),
      list));
}

/**
 * The room id in what someone pasted: an id (`whiteboard.3.12`) or a link to
 * a room (`…#/w/3/r/whiteboard.3.12`, `…#/w/3/c/chat.3.7`); null if none.
 */
export function roomIdFrom(text) {
  const m = /(?:^|[/#\s])((?:chat|board|whiteboard)\.\d{1,19}\.\d{1,19})(?:$|[\s?&#])/.exec(String(text ?? '').trim());
  return m ? m[1] : null;
}

/** A room link that names no live room of this workspace. */
export function roomNotFoundView(ws) {
  return h('div', { class: 'pane pane-center' }, emptyState({
    iconName: 'alert', title: 'Room not found',
    text: 'It may have been archived, or the link is wrong.',
    action: h('a', { class: 'btn btn-secondary', href: href(paths.workspace(ws.id)) }, icon('back', 16), 'Back to rooms'),
  }));
}
