// view.js — a kanban board room.
//
// Opening follows the chat view, through RoomSync (roomsync.js): live
// events from the room handle (joined through the Workspace) are buffered
// while the snapshot loads; the buffered events above the snapshot's seq
// are then folded, and a gap (or a new epoch) reloads the snapshot, as does
// a join point above it (the snapshot may have been requested before the
// join: prefetch.js, when the page opens on a board). After a reconnect
// the handle resumes from its last seq; when the stream no longer reaches
// it, onReset brings a fresh snapshot.
//
// Every change is published with a cid and shown at once through the
// model's optimistic overlay (model.js); it is confirmed when its event
// arrives. Refused publishes (e.g. `forbidden` for a member managing
// columns) drop the change and show the server's message.

import { h, icon, replace } from '../dom.js';
import { describeError } from '../errors.js';
import { avatar, plural } from '../format.js';
import { href, navigate, paths } from '../router.js';
import { emptyState, spinner, toast } from '../ui.js';
import { randomId } from '../../lib/ids.js';
import { between, keyForIndex } from '../../lib/positions.js';
import { LIMITS } from '../../lib/reducers/index.js';
import { firstSnapshot } from '../prefetch.js';
import { RoomSync } from '../roomsync.js';
import { ActivityPanel } from './activity.js';
import { cardTile } from './cards.js';
import { CardDialog, showConflict } from './dialog.js';
import { Dnd, KeyboardDrag } from './dnd.js';
import { confirmModal, promptModal } from './modal.js';
import {
  BoardModel, canManage, changedSince, dueOf, lastOtherAuthor, plainLabels, planMove,
} from './model.js';

const VIEWING_REFRESH_MS = 10000;
const VIEWING_TTL_MS = 25000;

const newCid = () => `b${randomId(20)}`;
const newId = (p) => `${p}${randomId(14)}`;

export function boardView(session, ws, roomId, scope) {
  const room = ws.room(roomId);
  if (!room || room.kind !== 'board') {
    return h('section', { class: 'pane pane-center board-app', dataset: { room: roomId } }, emptyState({
      iconName: 'alert', title: 'Board not found',
      text: 'It may have been archived, or the link is wrong.',
      action: h('a', { class: 'btn btn-secondary', href: href(paths.workspace(ws.id)) }, 'Back to rooms'),
    }));
  }
  return new BoardView(session, ws, room, scope).el;
}

export class BoardView {
  constructor(session, ws, room, scope) {
    this.session = session;
    this.ws = ws;
    this.api = session.api;
    this.room = room;
    this.roomId = room.id;
    this.scope = scope;
    this.me = session.userId;
    this.model = new BoardModel({ me: this.me });
    this.sync = new RoomSync({
      snapshot: () => this.api.snapshot(this.roomId),
      seq: () => this.model.seq,
      epoch: () => this.model.epoch,
      loadSnapshot: (snap) => this.model.loadSnapshot(snap),
      apply: (ev) => {
        const r = this.model.applyEvent(ev);
        if (r.conflict) this.onConflict(r.conflict);
      },
      onLoadError: (err) => this.showLoadError(err),
      onLoaded: (cause) => { if (cause === 'load') this.sync.checkJoin(this.handle); },
    }, { scope, retryMs: 500 });
    this.columnEls = new Map(); // column id -> {el, list, count, title, sig}
    this.cardEls = new Map(); // card id -> {el, card, sig}
    this.viewers = new Map(); // session -> {user, card, until}
    this.filter = { text: '', label: '', assignee: '' };
    this.kbd = null; // keyboard drag in progress
    this.dialog = null;
    this.denied = false;
    this.rendered = false;
    this.renderQueued = false;
    this.deferRender = false;

    this.build();
    this.attach();
    // The first load takes the prefetched snapshot, if any (prefetch.js).
    this.sync.load(() => firstSnapshot(this.api, this.roomId));
  }

  get manager() { return canManage(this.ws.role); }

  // ------------------------------------------------------------ layout

  build() {
    const r = this.room;
    this.titleEl = h('h1', { class: 'board-name' }, r.name);
    this.presenceEl = h('div', { class: 'board-presence', attrs: { 'data-testid': 'board-presence' } });
    this.search = h('input', {
      type: 'search', class: 'board-search', placeholder: 'Filter cards',
      attrs: { 'aria-label': 'Filter cards by text', 'data-testid': 'board-filter' },
      on: { input: () => { this.filter.text = this.search.value.trim().toLowerCase(); this.render(); } },
    });
    this.labelSel = h('select', {
      class: 'board-select', attrs: { 'aria-label': 'Filter by label' },
      on: { change: () => { this.filter.label = this.labelSel.value; this.render(); } },
    });
    this.assigneeSel = h('select', {
      class: 'board-select', attrs: { 'aria-label': 'Filter by assignee' },
      on: { change: () => { this.filter.assignee = this.assigneeSel.value; this.render(); } },
    });
    this.activityBtn = h('button', {
      type: 'button', class: 'btn btn-secondary btn-sm',
      attrs: { 'aria-expanded': 'false', 'aria-controls': 'board-activity', 'data-testid': 'activity-toggle' },
      on: { click: () => this.toggleActivity() },
    }, icon('activity', 16), h('span', null, 'Activity'));
    this.menuEl = h('div', { class: 'board-admin' });
    this.statusEl = h('div', { class: 'board-status', hidden: true, attrs: { role: 'alert', 'data-testid': 'board-error' } });
    this.columnsEl = h('div', {
      class: 'board-columns', attrs: { role: 'list', 'aria-label': `Columns of ${r.name}` },
    });
    this.newColumnEl = h('div', { class: 'column-new' });
    this.columnsEl.append(this.newColumnEl);
    this.live = h('div', { class: 'sr-only', attrs: { 'aria-live': 'assertive', 'data-testid': 'board-live' } });
    this.activity = new ActivityPanel(this);
    this.loadingEl = h('div', { class: 'board-loading' }, spinner('Loading board'));
    this.blockedEl = h('div', { class: 'board-blocked', hidden: true });

    this.el = h('section', {
      class: 'pane board-app', dataset: { room: r.id, state: 'loading' },
      attrs: { 'aria-label': `Board ${r.name}` },
    },
    h('header', { class: 'board-head' },
      h('div', { class: 'board-title' }, icon('board', 18), this.titleEl),
      this.presenceEl,
      h('div', { class: 'board-tools' },
        h('label', { class: 'board-search-wrap' }, icon('search', 14), this.search),
        this.labelSel, this.assigneeSel, this.activityBtn, this.menuEl)),
    this.statusEl,
    h('p', { id: 'board-dnd-help', class: 'sr-only' },
      'Press Enter to open the card. Press Space to pick it up, arrow keys to move it, Space or Enter to drop it, Escape to cancel.'),
    h('div', { class: 'board-body' }, this.loadingEl, this.columnsEl, this.activity.el),
    this.live,
    this.blockedEl);
    this.columnsEl.hidden = true;
    // A handle for tests and tools: the same actions the UI uses.
    this.el.chorusBoard = {
      model: this.model,
      addColumn: (title) => this.addColumn(title),
      addCard: (columnId, title) => this.addCard(columnId, title),
      moveCard: (cardId, columnId, index) => this.moveCardToIndex(cardId, columnId, index),
      publish: (kind, payload) => this.publish(kind, payload),
    };
  }

  attach() {
    const { scope } = this;
    const sub = this.ws.subscribe(this.roomId, {
      onEvent: (ev) => this.sync.onEvent(ev),
      onEphemeral: (ev) => this.onEphemeral(ev),
      onPresence: (p) => this.onPresence(p),
      onReset: (snap) => this.sync.onReset(snap),
    });
    this.handle = sub.handle;
    scope.add(sub.unsubscribe);
    scope.add(this.ws.on('presence', (room) => { if (room === this.roomId) this.renderPresence(); }));
    scope.add(this.ws.on('members', () => { this.refreshFilters(); this.render(); this.dialog?.refresh(); }));
    scope.add(this.ws.on('role', () => { this.renderAdmin(); this.render(true); this.dialog?.refresh(); }));
    scope.add(this.ws.on('rooms', () => {
      const r = this.ws.room(this.roomId);
      if (r && r.name !== this.room.name) {
        this.room = r;
        this.titleEl.textContent = r.name;
      }
    }));
    scope.add(this.ws.on('joinerror', (room, err) => {
      if (room === this.roomId) this.blocked(err);
    }));
    scope.add(this.model.on((change) => this.onModel(change)));
    this.dnd = new Dnd({
      board: this.columnsEl,
      onDrop: (cardId, colId, prevId, nextId) => this.dropCard(cardId, colId, prevId, nextId),
      onColumnDrop: (colId, prevId, nextId) => this.dropColumn(colId, prevId, nextId),
      canDragColumns: () => this.manager && !this.denied,
      onActive: (on) => { if (!on) this.render(); },
    });
    scope.add(() => this.dnd.dispose());
    this.columnsEl.addEventListener('click', (e) => this.onBoardClick(e));
    this.columnsEl.addEventListener('keydown', (e) => this.onBoardKey(e));
    // A keyboard drag ends when focus or the pointer goes elsewhere: renders
    // wait for it, so it must not be left behind.
    this.columnsEl.addEventListener('focusout', (e) => this.onKbdFocusOut(e));
    const onPointerDown = (e) => {
      if (this.kbd && !(e.target instanceof Node && this.kbd.el.contains(e.target))) this.cancelKbd();
    };
    document.addEventListener('pointerdown', onPointerDown, true);
    scope.add(() => document.removeEventListener('pointerdown', onPointerDown, true));
    this.sweepTimer = setInterval(() => this.sweepViewers(), 5000);
    scope.add(() => {
      clearInterval(this.sweepTimer);
      this.dialog?.close();
    });
    this.renderAdmin();
    this.refreshFilters();
    this.renderPresence();
  }

  // ------------------------------------------------------------ loading and live events

  showLoadError(err) {
    if (err?.status === 403 || err?.status === 404) {
      this.blocked({ code: 'forbidden', message: describeError(err) });
      return;
    }
    replace(this.loadingEl, emptyState({
      iconName: 'alert', title: 'Could not load this board', text: describeError(err),
      action: h('button', { type: 'button', class: 'btn btn-secondary', on: { click: () => { replace(this.loadingEl, spinner('Loading board')); this.sync.load(); } } }, icon('retry', 16), 'Try again'),
    }));
  }

  onModel(change) {
    if (change.type === 'reset' && this.loadingEl.isConnected) {
      this.loadingEl.remove();
      this.columnsEl.hidden = false;
    }
    if (change.type === 'reset') this.activity.reset();
    if (change.type === 'event') this.activity.onEvent(change.event, change.applied);
    this.scheduleRender();
  }

  scheduleRender() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    queueMicrotask(() => {
      this.renderQueued = false;
      this.render();
    });
  }

  // ------------------------------------------------------------ publishing

  /**
   * Publishes one event with the optimistic overlay. Resolves the ack, or
   * null when refused (the error is shown).
   */
  publish(kind, payload, { quiet = false } = {}) {
    if (this.denied) return Promise.resolve(null);
    const cid = newCid();
    this.model.addOp(cid, kind, payload);
    if (!this.handle) {
      this.model.dropOp(cid);
      this.showError('Not connected to the live service.');
      return Promise.resolve(null);
    }
    return this.handle.publish(kind, payload, { cid }).then((ack) => {
      this.model.ackOp(cid, ack.seq, ack.epoch);
      return ack;
    }, (err) => {
      this.model.dropOp(cid);
      if (!quiet) this.publishFailed(err, kind);
      return null;
    });
  }

  publishFailed(err, kind) {
    if (this.denied || err?.code === 'failed' || err?.code === 'left') return;
    const msg = err?.message ? capitalise(err.message) : 'The change was refused.';
    if (err?.code === 'forbidden') {
      this.showError(`${msg}${/[.!]$/.test(msg) ? '' : '.'}`);
    } else {
      this.showError(`Could not save (${kind}): ${msg}`);
    }
  }

  showError(text) {
    toast(text, 'error', 6000);
    replace(this.statusEl, icon('alert', 16), h('span', null, text),
      h('button', { type: 'button', class: 'btn btn-ghost btn-xs', attrs: { 'aria-label': 'Dismiss' }, on: { click: () => { this.statusEl.hidden = true; } } }, icon('x', 14)));
    this.statusEl.hidden = false;
    clearTimeout(this.statusTimer);
    this.statusTimer = setTimeout(() => { this.statusEl.hidden = true; }, 8000);
  }

  announce(text) {
    this.live.textContent = '';
    setTimeout(() => { this.live.textContent = text; }, 30);
  }

  // ------------------------------------------------------------ columns

  async addColumn(title) {
    const t = String(title ?? '').trim().slice(0, 100);
    if (!t) return null;
    const cols = this.model.layout().map((c) => c.column);
    if (cols.length >= LIMITS.boardColumns) {
      this.showError(`A board has at most ${LIMITS.boardColumns} columns.`);
      return null;
    }
    const position = keyForIndex(cols.map((c) => c.position), cols.length) ?? between(cols[cols.length - 1]?.position ?? null, null);
    const id = newId('col');
    const ack = await this.publish('column.create', { id, title: t, position });
    return ack ? id : null;
  }

  async renameColumn(colId) {
    const col = this.model.view().columns[colId];
    if (!col) return;
    const title = await promptModal({ title: 'Rename column', label: 'Column name', value: col.title, host: this.el, testid: 'rename-column' });
    if (!title || title === col.title) return;
    this.publish('column.rename', { id: colId, title: title.slice(0, 100) });
  }

  moveColumnBy(colId, delta) {
    const cols = this.model.layout().map((c) => c.column);
    const i = cols.findIndex((c) => c.id === colId);
    const j = i + delta;
    if (i < 0 || j < 0 || j >= cols.length) return;
    const others = cols.filter((c) => c.id !== colId);
    this.placeColumn(colId, others, j);
    this.announce(`Moved column ${cols[i].title} to position ${j + 1} of ${cols.length}.`);
  }

  placeColumn(colId, others, index) {
    let key = keyForIndex(others.map((c) => c.position), index);
    if (key === null) {
      // Respace all columns.
      const order = [...others.slice(0, index), { id: colId }];
      order.push(...others.slice(index));
      let k = 'V';
      for (const c of order) {
        this.publish('column.move', { id: c.id, position: k });
        k = between(k, null);
      }
      return;
    }
    this.publish('column.move', { id: colId, position: key });
  }

  dropColumn(colId, prevId, nextId) {
    const cols = this.model.layout().map((c) => c.column);
    const others = cols.filter((c) => c.id !== colId);
    let index = nextId ? others.findIndex((c) => c.id === nextId) : others.length;
    if (index < 0) index = prevId ? others.findIndex((c) => c.id === prevId) + 1 : others.length;
    if (cols.findIndex((c) => c.id === colId) === index) return;
    this.placeColumn(colId, others, index);
  }

  async deleteColumn(colId) {
    const lay = this.model.layout().find((c) => c.column.id === colId);
    if (!lay) return;
    const n = lay.cards.length;
    const ok = await confirmModal({
      title: `Delete column “${lay.column.title}”?`,
      text: n ? `Its ${plural(n, 'card')} will be deleted with it. This cannot be undone.` : 'It has no cards.',
      confirm: n ? `Delete column and ${plural(n, 'card')}` : 'Delete column',
      host: this.el,
      testid: 'confirm-delete-column',
    });
    if (ok) this.publish('column.delete', { id: colId });
  }

  // ------------------------------------------------------------ cards

  async addCard(columnId, title, description = undefined) {
    const t = String(title ?? '').trim();
    if (!t) return null;
    const lay = this.model.layout().find((c) => c.column.id === columnId);
    if (!lay) return null;
    if (Object.keys(this.model.view().cards).length >= LIMITS.boardCards) {
      this.showError(`A board has at most ${LIMITS.boardCards} cards.`);
      return null;
    }
    const id = newId('k');
    const plan = planMove(lay.cards, id, columnId, lay.cards.length);
    const payload = { id, column: columnId, title: [...t].slice(0, 200).join(''), position: 'V' };
    if (description) payload.description = description;
    // The last move of the plan is the new card's (a respace moves the others first).
    const mine = plan.moves.find((m) => m.id === id);
    for (const m of plan.moves) if (m.id !== id) this.publish('card.move', m);
    payload.position = mine?.position ?? 'V';
    const ack = await this.publish('card.create', payload);
    return ack ? id : null;
  }

  /** Moves a card next to the cards it was dropped between. */
  dropCard(cardId, columnId, prevId, nextId) {
    const lay = this.model.layout().find((c) => c.column.id === columnId);
    if (!lay) return;
    const others = lay.cards.filter((c) => c.id !== cardId);
    const at = (id) => (id ? others.findIndex((c) => c.id === id) : -1);
    let index = 0;
    if (at(prevId) >= 0) index = at(prevId) + 1;
    else if (at(nextId) >= 0) index = at(nextId);
    else if (prevId) index = others.length;
    this.moveCardToIndex(cardId, columnId, index);
  }

  /** Moves a card to index (among the column's other cards). */
  moveCardToIndex(cardId, columnId, index) {
    const s = this.model.view();
    const card = s.cards[cardId];
    const lay = this.model.layout().find((c) => c.column.id === columnId);
    if (!card || !lay) return Promise.resolve(null);
    const plan = planMove(lay.cards, cardId, columnId, index, card);
    if (!plan.moves.length) return Promise.resolve(null);
    const acks = plan.moves.map((m) => this.publish('card.move', m));
    return Promise.all(acks).then((a) => a[a.length - 1]);
  }

  async deleteCard(cardId) {
    const card = this.model.view().cards[cardId];
    if (!card) return false;
    const ok = await confirmModal({ title: `Delete card “${card.title}”?`, text: 'The card, its comments and its labels are deleted for everyone.', confirm: 'Delete card', host: this.el, testid: 'confirm-delete-card' });
    if (!ok) return false;
    this.publish('card.delete', { id: cardId });
    return true;
  }

  /** Waits until my unconfirmed changes to a card are in the folded state. */
  async settled(cardId) {
    for (let i = 0; i < 100; i++) {
      const busy = [...this.model.ops.values()].some((op) => (op.payload?.id === cardId || op.payload?.card === cardId) && op.kind !== 'comment.add' && op.kind !== 'comment.delete');
      if (!busy) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Saves edited fields of a card. `base` is the card as it was when the
   * edit began: if someone changed one of these fields since, the user is
   * asked (never silently overwritten); otherwise the update carries the
   * current version as base_version, so a change that slips in between is
   * refused by every reducer and reported when the event comes back.
   */
  async saveFields(cardId, fields, base) {
    await this.settled(cardId);
    const now = this.model.state.cards[cardId];
    if (!now) {
      this.showError('This card was deleted meanwhile.');
      return false;
    }
    const names = Object.keys(fields);
    if (names.every((f) => JSON.stringify(now[f]) === JSON.stringify(fields[f]))) return 'saved';
    const changed = changedSince(base, now, names);
    if (changed.length) {
      return this.onConflict({ card: cardId, fields, baseVersion: base.version, version: now.version });
    }
    const ack = await this.publish('card.update', { id: cardId, ...fields, base_version: now.version });
    return ack ? 'saved' : false;
  }

  /**
   * Someone else changed the card meanwhile: asks what to keep. Resolves
   * 'theirs', 'mine' (resent on top of the current version) or 'dismissed'.
   */
  async onConflict(conflict) {
    if (this.conflictOpen) return 'dismissed';
    this.conflictOpen = true;
    try {
      const who = await this.whoChanged(conflict.card);
      const choice = await showConflict(this, conflict, who);
      if (choice === 'mine') {
        const now = this.model.state.cards[conflict.card];
        if (!now) {
          this.showError('This card was deleted meanwhile.');
          return 'theirs';
        }
        await this.publish('card.update', { id: conflict.card, ...conflict.fields, base_version: now.version });
      }
      return choice ?? 'dismissed';
    } finally {
      this.conflictOpen = false;
    }
  }

  /** The name of whoever last changed the card (other than me). */
  async whoChanged(cardId) {
    const e = lastOtherAuthor(this.model.state.activity, cardId, this.me);
    if (e) return this.ws.nameOf(e.author);
    try {
      const r = await this.api.history(this.roomId, { card: cardId, limit: 50 });
      const evs = (r?.events ?? []).filter((x) => (x.payload?.id === cardId || x.payload?.card === cardId) && String(x.author) !== this.me);
      if (evs.length) return this.ws.nameOf(evs[evs.length - 1].author);
    } catch { /* unknown */ }
    return 'someone else';
  }

  setLabel(cardId, label, on) {
    return this.publish('card.label', { id: cardId, label, on });
  }

  async setDue(cardId, date) {
    const card = this.model.view().cards[cardId];
    if (!card) return;
    const cur = dueOf(card);
    if (cur === date) return;
    if (date && !cur && plainLabels(card).length >= 20) {
      this.showError('A card has at most 20 labels, and the due date uses one.');
      return;
    }
    if (cur) this.setLabel(cardId, `due:${cur}`, false);
    if (date) this.setLabel(cardId, `due:${date}`, true);
  }

  // ------------------------------------------------------------ viewing (ephemeral)

  setViewing(cardId) {
    clearInterval(this.viewTimer);
    if (this.viewingCard && this.viewingCard !== cardId) {
      this.handle?.publishEphemeral('card.viewing', { card: this.viewingCard, on: false });
    }
    this.viewingCard = cardId;
    if (!cardId) return;
    const send = () => this.handle?.publishEphemeral('card.viewing', { card: cardId, on: true });
    send();
    this.viewTimer = setInterval(send, VIEWING_REFRESH_MS);
  }

  onEphemeral(ev) {
    if (ev?.kind !== 'card.viewing' || !ev.session) return;
    const p = ev.payload ?? {};
    if (p.on === true && typeof p.card === 'string') {
      this.viewers.set(ev.session, { user: String(ev.author), card: p.card, until: Date.now() + VIEWING_TTL_MS });
    } else {
      this.viewers.delete(ev.session);
    }
    this.render();
    this.dialog?.renderViewers();
  }

  onPresence(p) {
    if (p?.action === 'leave' && p.session) this.viewers.delete(p.session);
    if (p?.action === 'sync' && p.presence) {
      for (const s of [...this.viewers.keys()]) if (!p.presence.has(s)) this.viewers.delete(s);
    }
    if (p?.action === 'join' && this.viewingCard) {
      this.handle?.publishEphemeral('card.viewing', { card: this.viewingCard, on: true });
    }
    this.renderPresence();
    this.render();
    this.dialog?.renderViewers();
  }

  sweepViewers() {
    const now = Date.now();
    let changed = false;
    for (const [s, v] of this.viewers) {
      if (v.until < now) {
        this.viewers.delete(s);
        changed = true;
      }
    }
    if (changed) {
      this.render();
      this.dialog?.renderViewers();
    }
  }

  /** Names of the others viewing a card now (one per user). */
  viewersOf(cardId) {
    const users = new Set();
    for (const v of this.viewers.values()) if (v.card === cardId && v.user !== this.me) users.add(v.user);
    return [...users];
  }

  // ------------------------------------------------------------ access

  blocked(err) {
    if (this.denied) return;
    this.denied = true;
    this.dialog?.close();
    this.dnd?.cancel();
    this.el.dataset.access = 'denied';
    const why = err?.message ? capitalise(err.message) : '';
    replace(this.blockedEl, h('div', {
      class: 'board-blocked-box', attrs: { role: 'alertdialog', 'aria-modal': 'true', 'aria-labelledby': 'board-blocked-title', 'data-testid': 'board-no-access' },
    },
    h('div', { class: 'empty-icon' }, icon('lock', 28)),
    h('h2', { id: 'board-blocked-title' }, err?.code === 'forbidden' ? 'You no longer have access to this board' : 'This board is not available'),
    why ? h('p', { class: 'muted' }, why.endsWith('.') ? why : `${why}.`) : null,
    h('a', { class: 'btn btn-secondary', href: href(paths.workspaces()) }, icon('back', 16), 'All workspaces')));
    this.blockedEl.hidden = false;
    this.columnsEl.inert = true;
    this.el.querySelector('.board-head')?.setAttribute('inert', '');
    this.blockedEl.querySelector('a')?.focus();
  }

  // ------------------------------------------------------------ header

  renderAdmin() {
    if (!this.manager) {
      replace(this.menuEl);
      return;
    }
    replace(this.menuEl,
      h('button', {
        type: 'button', class: 'btn btn-ghost btn-sm', attrs: { 'data-testid': 'rename-board' },
        on: { click: () => this.renameBoard() },
      }, icon('edit', 14), h('span', { class: 'hide-sm' }, 'Rename')),
      h('button', {
        type: 'button', class: 'btn btn-ghost btn-sm btn-danger-text', attrs: { 'data-testid': 'archive-board' },
        on: { click: () => this.archiveBoard() },
      }, icon('trash', 14), h('span', { class: 'hide-sm' }, 'Archive')));
  }

  async renameBoard() {
    const name = await promptModal({ title: 'Rename board', label: 'Board name', value: this.room.name, host: this.el, testid: 'rename-board-dialog' });
    if (!name || name === this.room.name) return;
    try {
      await this.api.updateRoom(this.roomId, { name });
      this.titleEl.textContent = name;
      await this.ws.reloadRooms();
    } catch (err) {
      this.showError(describeError(err));
    }
  }

  async archiveBoard() {
    const ok = await confirmModal({ title: `Archive “${this.room.name}”?`, text: 'Nobody can change it any more; it disappears from the room list.', confirm: 'Archive board', host: this.el, testid: 'confirm-archive' });
    if (!ok) return;
    try {
      await this.api.archiveRoom(this.roomId);
      await this.ws.reloadRooms().catch(() => {});
      navigate(paths.workspace(this.ws.id));
    } catch (err) {
      this.showError(describeError(err));
    }
  }

  renderPresence() {
    const present = this.ws.presentIn(this.roomId);
    const list = [...present.values()];
    replace(this.presenceEl, list.length ? h('div', { class: 'avatar-stack', attrs: { title: list.map((p) => this.ws.nameOf(p.user, p.name)).join(', ') } },
      list.slice(0, 6).map((p) => h('span', null, avatar(p.user, this.ws.nameOf(p.user, p.name), { size: 'sm' })))) : null,
    list.length ? h('span', { class: 'muted' }, `${list.length} here`) : null);
    this.presenceEl.dataset.users = list.map((p) => p.user).sort().join(',');
  }

  refreshFilters() {
    const s = this.model.view();
    const labels = new Set();
    for (const c of Object.values(s.cards)) for (const l of plainLabels(c)) labels.add(l);
    const sig = [...labels].sort().join('\u0001');
    if (sig !== this.labelSig) {
      this.labelSig = sig;
      const cur = this.labelSel.value;
      replace(this.labelSel, h('option', { value: '' }, 'All labels'), [...labels].sort().map((l) => h('option', { value: l }, l)));
      this.labelSel.value = labels.has(cur) ? cur : '';
      this.filter.label = this.labelSel.value;
    }
    const msig = this.ws.members.map((m) => `${m.user_id}:${this.ws.nameOf(m.user_id)}`).join(',');
    if (msig !== this.memberSig) {
      this.memberSig = msig;
      const cur = this.assigneeSel.value;
      replace(this.assigneeSel, h('option', { value: '' }, 'Anyone'), h('option', { value: 'me' }, 'Assigned to me'),
        h('option', { value: 'none' }, 'Unassigned'),
        this.ws.members.map((m) => h('option', { value: String(m.user_id) }, this.ws.nameOf(m.user_id))));
      this.assigneeSel.value = cur;
      if (this.assigneeSel.value !== cur) this.assigneeSel.value = '';
      this.filter.assignee = this.assigneeSel.value;
    }
  }

  matches(card) {
    const f = this.filter;
    if (f.text) {
      const hay = `${card.title}\n${card.description}\n${card.labels.join(' ')}`.toLowerCase();
      if (!hay.includes(f.text)) return false;
    }
    if (f.label && !card.labels.includes(f.label)) return false;
    if (f.assignee === 'me' && !card.assignees.includes(this.me)) return false;
    if (f.assignee === 'none' && card.assignees.length) return false;
    if (f.assignee && f.assignee !== 'me' && f.assignee !== 'none' && !card.assignees.includes(f.assignee)) return false;
    return true;
  }

  toggleActivity(open = !this.activity.open) {
    this.activity.setOpen(open);
    this.activityBtn.setAttribute('aria-expanded', String(open));
    this.activityBtn.classList.toggle('is-on', open);
  }

  // ------------------------------------------------------------ rendering

  render(force = false) {
    if (!this.model.loaded || this.scope.disposed) return;
    if (this.kbd) {
      this.deferRender = true;
      return;
    }
    this.deferRender = false;
    if (force) {
      for (const c of this.columnEls.values()) c.sig = null;
      for (const c of this.cardEls.values()) c.sig = null;
    }
    const layout = this.model.layout();
    const pending = this.model.pendingIds();
    const filtering = Boolean(this.filter.text || this.filter.label || this.filter.assignee);
    const manager = this.manager && !this.denied;
    const keepCols = new Set();
    const keepCards = new Set();
    let ref = this.columnsEl.firstChild;
    layout.forEach(({ column, cards }, ci) => {
      keepCols.add(column.id);
      const shown = filtering ? cards.filter((c) => this.matches(c)) : cards;
      const sig = [column.title, cards.length, shown.length, filtering, manager, ci, layout.length, pending.has(column.id)].join('\u0001');
      let ce = this.columnEls.get(column.id);
      if (!ce) {
        ce = this.buildColumn(column);
        this.columnEls.set(column.id, ce);
      }
      if (ce.sig !== sig) {
        this.updateColumnHead(ce, column, { total: cards.length, shown: shown.length, filtering, manager, first: ci === 0, last: ci === layout.length - 1, pending: pending.has(column.id) });
        ce.sig = sig;
      }
      if (ce.el !== ref) this.columnsEl.insertBefore(ce.el, ref);
      else ref = ref.nextSibling;
      if (ce.el === ref) ref = ref.nextSibling;
      // Cards, in display order; the drop marker of a drag in progress stays.
      let cref = ce.list.firstChild;
      const skip = () => { while (cref && !cref.dataset?.card) cref = cref.nextSibling; };
      skip();
      for (const card of cards) {
        keepCards.add(card.id);
        const viewers = this.viewersOf(card.id);
        const csig = `${pending.has(card.id) ? 'P' : ''}|${viewers.join(',')}|${column.title}`;
        let ke = this.cardEls.get(card.id);
        if (!ke || ke.card !== card || ke.sig !== csig) {
          const el = cardTile(card, { columnTitle: column.title, pending: pending.has(card.id), viewers: viewers.map((u) => this.ws.nameOf(u)), nameOf: (u) => this.ws.nameOf(u) });
          if (ke) {
            if (ke.el === cref) cref = el;
            const hadFocus = document.activeElement === ke.el;
            if (ke.el.classList.contains('is-drag-source')) el.classList.add('is-drag-source');
            ke.el.replaceWith(el);
            if (hadFocus) el.focus({ preventScroll: true });
            if (this.dnd?.drag?.el === ke.el) this.dnd.drag.el = el;
          }
          ke = { el, card, sig: csig };
          this.cardEls.set(card.id, ke);
        }
        ke.el.hidden = filtering && !shown.includes(card);
        if (ke.el !== cref) ce.list.insertBefore(ke.el, cref);
        else { cref = cref.nextSibling; skip(); }
        if (ke.el === cref) { cref = cref.nextSibling; skip(); }
      }
      ce.empty.hidden = shown.length > 0;
      ce.empty.textContent = filtering && cards.length ? 'No matching cards' : 'No cards yet';
    });
    for (const [id, ce] of this.columnEls) {
      if (!keepCols.has(id)) {
        ce.el.remove();
        this.columnEls.delete(id);
      }
    }
    for (const [id, ke] of this.cardEls) {
      if (!keepCards.has(id)) {
        ke.el.remove();
        this.cardEls.delete(id);
      }
    }
    // Cards that moved to another column were inserted there; anything left
    // over in a list that is not ours any more goes.
    for (const ce of this.columnEls.values()) {
      for (const n of [...ce.list.children]) {
        if (n.dataset?.card && ce.list !== this.cardEls.get(n.dataset.card)?.el.parentNode) n.remove();
      }
    }
    if (this.columnsEl.lastChild !== this.newColumnEl) this.columnsEl.append(this.newColumnEl);
    this.renderNewColumn(manager, layout.length);
    this.refreshFilters();
    this.dialog?.refresh();
    this.el.dataset.seq = String(this.model.seq);
    if (!this.rendered) {
      this.rendered = true;
      this.el.dataset.state = 'ready';
      try {
        performance.mark('board-rendered');
        requestAnimationFrame(() => setTimeout(() => performance.mark('board-painted'), 0));
      } catch { /* no performance API */ }
    }
  }

  buildColumn(column) {
    const titleId = `col-title-${column.id}`;
    const title = h('h2', { class: 'column-title', id: titleId });
    const count = h('span', { class: 'column-count', attrs: { 'data-testid': 'column-count' } });
    const actions = h('div', { class: 'column-actions' });
    const list = h('ul', { class: 'cards', attrs: { 'aria-labelledby': titleId } });
    const empty = h('p', { class: 'column-empty muted' }, 'No cards yet');
    const footer = h('div', { class: 'column-foot' });
    const el = h('div', {
      class: 'board-column', dataset: { column: column.id },
      attrs: { role: 'listitem', 'aria-labelledby': titleId },
    },
    h('div', { class: 'column-head' }, h('span', { class: 'column-grip', attrs: { 'aria-hidden': 'true' } }, icon('grip', 14)), title, count, actions),
    h('div', { class: 'column-body' }, list, empty),
    footer);
    const ce = { el, list, title, count, actions, empty, footer, sig: null };
    this.renderAddCard(ce, column.id, false);
    return ce;
  }

  updateColumnHead(ce, column, { total, shown, filtering, manager, first, last, pending }) {
    ce.title.textContent = column.title;
    ce.el.classList.toggle('is-pending', pending);
    ce.el.classList.toggle('is-manageable', manager);
    ce.count.textContent = filtering ? `${shown}/${total}` : String(total);
    ce.count.setAttribute('aria-label', filtering ? `${shown} of ${plural(total, 'card')} shown` : plural(total, 'card'));
    if (!manager) {
      replace(ce.actions);
      return;
    }
    const btn = (name, label, onClick, disabled, testid) => h('button', {
      type: 'button', class: 'btn btn-ghost btn-icon btn-xs', disabled,
      attrs: { 'aria-label': `${label} ${column.title}`, title: label, 'data-testid': testid },
      on: { click: onClick },
    }, icon(name, 14));
    replace(ce.actions,
      btn('left', 'Move left', () => this.moveColumnBy(column.id, -1), first, 'column-left'),
      btn('right', 'Move right', () => this.moveColumnBy(column.id, 1), last, 'column-right'),
      btn('edit', 'Rename', () => this.renameColumn(column.id), false, 'column-rename'),
      btn('trash', 'Delete', () => this.deleteColumn(column.id), false, 'column-delete'));
  }

  renderAddCard(ce, columnId, open) {
    if (!open) {
      replace(ce.footer, h('button', {
        type: 'button', class: 'btn btn-ghost btn-sm add-card', attrs: { 'data-testid': 'add-card' },
        on: { click: () => this.renderAddCard(ce, columnId, true) },
      }, icon('plus', 14), 'Add a card'));
      return;
    }
    const input = h('textarea', {
      class: 'add-card-input', rows: 2, placeholder: 'Card title',
      attrs: { 'aria-label': 'Title of the new card', maxlength: 400 },
    });
    const submit = async () => {
      const t = input.value.trim();
      if (!t) return;
      input.value = '';
      await this.addCard(columnId, t);
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        submit();
      } else if (e.key === 'Escape') {
        e.preventDefault();
        this.renderAddCard(ce, columnId, false);
        ce.footer.querySelector('button')?.focus();
      }
    });
    replace(ce.footer, h('form', {
      class: 'add-card-form', on: { submit: (e) => { e.preventDefault(); submit(); input.focus(); } },
    }, input, h('div', { class: 'add-card-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary btn-sm' }, 'Add card'),
      h('button', {
        type: 'button', class: 'btn btn-ghost btn-sm', attrs: { 'aria-label': 'Cancel' },
        on: { click: () => this.renderAddCard(ce, columnId, false) },
      }, icon('x', 14)))));
    input.focus();
  }

  renderNewColumn(manager, count) {
    const want = manager ? (this.newColumnOpen ? 'open' : 'closed') : 'none';
    if (this.newColumnState === want) return;
    this.newColumnState = want;
    if (want === 'none') {
      replace(this.newColumnEl);
      this.newColumnEl.hidden = true;
      return;
    }
    this.newColumnEl.hidden = false;
    if (want === 'closed') {
      replace(this.newColumnEl, h('button', {
        type: 'button', class: 'btn btn-secondary add-column', disabled: count >= LIMITS.boardColumns, attrs: { 'data-testid': 'add-column' },
        on: { click: () => { this.newColumnOpen = true; this.render(); this.newColumnEl.querySelector('input')?.focus(); } },
      }, icon('plus', 16), 'Add column'));
      return;
    }
    const input = h('input', { type: 'text', placeholder: 'Column name', attrs: { 'aria-label': 'Name of the new column', maxlength: 100 } });
    const close = () => { this.newColumnOpen = false; this.render(); };
    input.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.preventDefault(); close(); } });
    replace(this.newColumnEl, h('form', {
      class: 'add-column-form',
      on: { submit: (e) => { e.preventDefault(); const t = input.value.trim(); if (!t) return; input.value = ''; this.addColumn(t); close(); } },
    }, input, h('div', { class: 'add-card-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary btn-sm' }, 'Add column'),
      h('button', { type: 'button', class: 'btn btn-ghost btn-sm', attrs: { 'aria-label': 'Cancel' }, on: { click: close } }, icon('x', 14)))));
  }

  // ------------------------------------------------------------ interaction

  onBoardClick(e) {
    if (this.kbd || this.denied) return;
    const tile = e.target.closest('[data-card]');
    if (tile && this.columnsEl.contains(tile) && !e.target.closest('button, a, input, textarea')) {
      this.openCard(tile.dataset.card);
    }
  }

  openCard(cardId) {
    if (this.dialog?.cardId === cardId) return;
    this.dialog?.close();
    this.dialog = new CardDialog(this, cardId, () => {
      this.dialog = null;
      this.setViewing(null);
      const tile = this.cardEls.get(cardId)?.el;
      if (tile?.isConnected) tile.focus({ preventScroll: true });
    });
    this.setViewing(cardId);
  }

  onBoardKey(e) {
    const tile = e.target.closest?.('[data-card]');
    if (!tile || e.target !== tile || this.denied) return;
    const title = this.model.view().cards[tile.dataset.card]?.title ?? 'card';
    if (!this.kbd) {
      if (e.key === ' ' || e.key === 'Spacebar') {
        e.preventDefault();
        this.kbd = new KeyboardDrag(this.columnsEl, tile);
        const w = this.kbd.where();
        this.announce(`Picked up ${title}. Position ${w.index + 1} of ${w.count} in ${this.columnTitle(w.columnId)}. Arrow keys move it, Space or Enter drops it, Escape cancels.`);
      } else if (e.key === 'Enter') {
        e.preventDefault();
        this.openCard(tile.dataset.card);
      } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const sibs = [...tile.parentNode.children].filter((n) => n.dataset?.card && !n.hidden);
        sibs[sibs.indexOf(tile) + (e.key === 'ArrowDown' ? 1 : -1)]?.focus();
      }
      return;
    }
    if (tile !== this.kbd.el) return;
    const moves = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };
    if (moves[e.key]) {
      e.preventDefault();
      const ok = this.kbd.step(...moves[e.key]);
      const w = this.kbd.where();
      this.announce(ok ? `${title}: position ${w.index + 1} of ${w.count} in ${this.columnTitle(w.columnId)}.` : `${title} cannot move further.`);
    } else if (e.key === ' ' || e.key === 'Spacebar' || e.key === 'Enter') {
      e.preventDefault();
      const k = this.kbd;
      const w = k.where();
      k.finish();
      this.kbd = null;
      this.announce(`Dropped ${title} at position ${w.index + 1} of ${w.count} in ${this.columnTitle(w.columnId)}.`);
      this.dropCard(k.id, w.columnId, w.prevId, w.nextId);
      this.render();
      this.cardEls.get(k.id)?.el.focus({ preventScroll: true });
    } else if (e.key === 'Escape') {
      e.preventDefault();
      const k = this.kbd;
      this.cancelKbd(`Cancelled. ${title} is back where it was.`);
      this.cardEls.get(k.id)?.el.focus({ preventScroll: true });
    } else if (e.key === 'Tab') {
      this.cancelKbd();
    }
  }

  /** Focus left the lifted card (moving it in the DOM blurs it for a moment). */
  onKbdFocusOut(e) {
    const k = this.kbd;
    if (!k || e.target !== k.el) return;
    if (e.relatedTarget instanceof Node && k.el.contains(e.relatedTarget)) return;
    setTimeout(() => {
      if (this.kbd !== k || this.scope.disposed) return;
      const a = document.activeElement;
      if (a && k.el.contains(a)) return;
      this.cancelKbd();
    }, 0);
  }

  /** Puts a card lifted by the keyboard back and renders what waited meanwhile. */
  cancelKbd(message = 'Move cancelled.') {
    const k = this.kbd;
    if (!k) return;
    k.restore();
    this.kbd = null;
    this.announce(message);
    this.render(true);
  }

  columnTitle(colId) {
    return this.model.view().columns[colId]?.title ?? 'column';
  }
}

function capitalise(s) {
  const t = String(s);
  return t.charAt(0).toUpperCase() + t.slice(1);
}
