// chat.js — one chat room: messages in server (seq) order, live.
//
// Opening: the room snapshot (the last 200 messages, edits applied) is
// loaded while the room handle (joined by the workspace, see workspace.js)
// delivers live events; RoomSync (roomsync.js) buffers them and folds
// those above the snapshot's seq, and reloads the snapshot on a gap. The
// view shows the last 50 messages and more on scroll-back: first from the
// loaded window, then history pages.
//
// Sending is optimistic: the message shows as pending at once, publish()
// carries a cid (the client resends it with the same cid after a reconnect,
// so a retry is never a second message), and it turns into a normal message
// when its event (same cid) arrives in seq order.

import { h, icon, leading, replace } from '../dom.js';
import { describeError } from '../errors.js';
import { avatar, dayKey, formatDay, formatFull, formatTime, joinNames } from '../format.js';
import { href, paths } from '../router.js';
import { emptyState, spinner, toast } from '../ui.js';
import { mentionIds, mentionQuery, renderText } from '../chat/mentions.js';
import { ChatModel } from '../chat/model.js';
import { TYPING_REFRESH, TypingTracker } from '../chat/typing.js';
import { listen } from '../events.js';
import { RoomSync } from '../roomsync.js';
import { randomId } from '../../lib/ids.js';

const GROUP_MS = 5 * 60 * 1000;
const MAX_TEXT = 4000;
const NEAR_BOTTOM = 48;
const NEAR_TOP = 240;

const newCid = () => `m${randomId(20)}`;

export function chatView(session, ws, roomId, scope) {
  const room = ws.room(roomId);
  if (!room || room.kind !== 'chat') {
    return h('div', { class: 'pane pane-center' }, emptyState({
      iconName: 'alert', title: 'Room not found',
      text: 'It may have been archived, or the link is wrong.',
      action: h('a', { class: 'btn btn-secondary', href: href(paths.workspace(ws.id)) }, 'Back to rooms'),
    }));
  }
  const me = session.userId;
  const model = new ChatModel(roomId, { me });
  const view = new ChatView(session, ws, room, model, scope);
  return view.el;
}

class ChatView {
  constructor(session, ws, room, model, scope) {
    this.session = session;
    this.ws = ws;
    this.room = room;
    this.model = model;
    this.scope = scope;
    this.me = session.userId;
    this.nodes = new Map(); // key -> {sig, el}
    this.loadingOlder = false;
    this.editing = null; // seq being edited
    this.newBelow = 0;
    this.lastMarked = 0;
    this.sentMarked = 0;
    this.readTimer = null;

    this.typing = new TypingTracker(() => this.renderTyping());
    scope.add(() => this.typing.dispose());
    this.sync = new RoomSync({
      snapshot: () => this.session.api.snapshot(this.room.id),
      seq: () => this.model.seq,
      epoch: () => this.model.epoch,
      loadSnapshot: (snap) => this.model.loadSnapshot(snap),
      apply: (ev) => this.applyEvent(ev),
      // The model settles one's own pending message with an event it already holds.
      stale: (ev) => this.applyEvent(ev),
      onLoadError: (err) => this.showLoadError(err),
      onLoaded: (cause) => { if (cause === 'load') this.fillViewport(); },
    }, { scope });

    this.build();
    this.attach();
    this.sync.load();
  }

  // ------------------------------------------------------------ layout

  build() {
    const r = this.room;
    this.presenceEl = h('div', { class: 'chat-presence', attrs: { 'data-testid': 'room-presence', 'aria-live': 'polite' } });
    this.list = h('div', { class: 'msg-list' });
    this.scroller = h('div', {
      class: 'chat-scroll',
      tabIndex: 0,
      attrs: { role: 'log', 'aria-label': `Messages in ${r.name}`, 'aria-live': 'polite', 'aria-relevant': 'additions' },
    }, this.list);
    this.jump = h('button', {
      type: 'button', class: 'jump-latest', hidden: true,
      on: { click: () => this.scrollToBottom(true) },
    }, icon('down', 14), h('span', null, 'New messages'));
    this.typingEl = h('div', { class: 'typing', attrs: { 'aria-live': 'polite', 'data-testid': 'typing' } });
    this.status = h('div', { class: 'chat-status', hidden: true, attrs: { role: 'status' } });

    this.input = h('textarea', {
      class: 'composer-input', rows: 1, placeholder: `Message #${r.name}`,
      attrs: { 'aria-label': `Message #${r.name}`, maxlength: MAX_TEXT * 2, 'aria-describedby': 'composer-hint', 'aria-autocomplete': 'list' },
    });
    this.sendBtn = h('button', { type: 'submit', class: 'btn btn-primary btn-icon composer-send', attrs: { 'aria-label': 'Send message' } }, icon('send', 18));
    this.suggest = h('ul', { class: 'suggest', hidden: true, id: 'mention-suggest', attrs: { role: 'listbox', 'aria-label': 'Mention someone' } });
    this.counter = h('span', { class: 'composer-count', hidden: true });
    this.form = h('form', { class: 'composer', attrs: { 'aria-label': 'Send a message' } },
      this.suggest,
      h('div', { class: 'composer-box' }, this.input, this.sendBtn),
      h('div', { class: 'composer-foot' },
        h('span', { id: 'composer-hint', class: 'composer-hint' },
          h('kbd', null, 'Enter'), ' to send, ', h('kbd', null, 'Shift'), '+', h('kbd', null, 'Enter'), ' for a new line, ', h('kbd', null, '@'), ' to mention'),
        this.counter));

    this.el = h('section', { class: 'chat', attrs: { 'aria-label': `#${r.name}` }, dataset: { room: r.id } },
      h('header', { class: 'chat-head' },
        h('div', { class: 'chat-title' },
          icon('hash', 18),
          h('h1', null, r.name)),
        this.presenceEl),
      this.status,
      h('div', { class: 'chat-body' }, this.scroller, this.jump),
      this.typingEl,
      this.form);
    replace(this.list, spinner('Loading messages'));
  }

  attach() {
    const { scope } = this;
    const sub = this.ws.subscribe(this.room.id, {
      onEvent: (ev) => this.sync.onEvent(ev),
      onEphemeral: (ev) => this.onEphemeral(ev),
      onPresence: () => this.renderPresence(),
      onReset: (snap) => this.sync.onReset(snap),
    });
    this.handle = sub.handle;
    scope.add(sub.unsubscribe);
    scope.add(this.ws.on('presence', (room) => { if (room === this.room.id) this.renderPresence(); }));
    scope.add(this.ws.on('members', () => this.render()));
    scope.add(this.session.on('connection', () => this.render()));
    scope.add(this.ws.on('joinerror', (room, err) => {
      if (room !== this.room.id) return;
      const why = err?.message ? `${err.message.charAt(0).toUpperCase()}${err.message.slice(1)}.` : 'Access was refused.';
      this.showStatus(err?.code === 'forbidden' ? `You no longer have access to this room. ${why}` : `This room is not available. ${why}`, 'error');
      this.input.disabled = true;
      this.sendBtn.disabled = true;
    }));
    if (this.handle) scope.add(listen(this.handle, 'pending', () => this.render()));
    scope.add(this.model.on((change) => this.onModel(change)));

    this.scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });
    const onVis = () => this.maybeMarkRead();
    document.addEventListener('visibilitychange', onVis);
    window.addEventListener('focus', onVis);
    scope.add(() => {
      document.removeEventListener('visibilitychange', onVis);
      window.removeEventListener('focus', onVis);
    });

    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send();
    });
    this.input.addEventListener('keydown', (e) => this.onComposerKey(e));
    this.input.addEventListener('input', () => this.onComposerInput());
    this.input.addEventListener('blur', () => setTimeout(() => this.hideSuggest(), 150));
    // At most one "typing" per TYPING_REFRESH while keys are pressed, none
    // after: the others' indicator expires TYPING_TTL after the last key.
    this.sendTyping = leading(() => this.publishTyping(true), TYPING_REFRESH);
    this.renderPresence();
    queueMicrotask(() => this.input.focus());
    scope.add(() => {
      if (this.typingSent) this.publishTyping(false);
      this.flushRead();
    });
  }

  // ------------------------------------------------------------ loading

  showLoadError(err) {
    replace(this.list, emptyState({
      iconName: 'alert',
      title: 'Could not load this room',
      text: describeError(err),
      action: h('button', { type: 'button', class: 'btn btn-secondary', on: { click: () => this.sync.load() } }, icon('retry', 16), 'Try again'),
    }));
  }

  applyEvent(ev) {
    if (ev.kind === 'message.create' && String(ev.author) !== this.me) this.typing.clear(String(ev.author));
    this.model.applyEvent(ev);
  }

  // ------------------------------------------------------------ model changes

  onModel(change) {
    const wasAtBottom = this.isNearBottom();
    const prevHeight = this.scroller.scrollHeight;
    const prevTop = this.scroller.scrollTop;
    this.render();
    if (change.type === 'reset') {
      if (this.markEpoch !== this.model.epoch) {
        // Read markers count within an epoch: a new one starts from zero.
        if (this.markEpoch !== undefined) this.flushRead();
        this.markEpoch = this.model.epoch;
        this.lastMarked = 0;
        this.sentMarked = 0;
      }
      // The first load opens at the newest message; a reload keeps a
      // reader who scrolled up where they are.
      if (!this.shown || wasAtBottom) this.scrollToBottom(false);
      this.shown = true;
      this.maybeMarkRead();
      return;
    }
    if (change.type === 'older') {
      this.scroller.scrollTop = prevTop + (this.scroller.scrollHeight - prevHeight);
      return;
    }
    if (change.type === 'event') {
      const mine = String(change.event.author) === this.me;
      if (wasAtBottom || (mine && change.isNewMessage)) {
        this.scrollToBottom(false);
      } else if (change.isNewMessage) {
        this.newBelow++;
        this.updateJump();
      }
      this.maybeMarkRead();
      return;
    }
    if (wasAtBottom) this.scrollToBottom(false);
  }

  // ------------------------------------------------------------ rendering

  render() {
    if (!this.model.loaded) return;
    const items = this.items();
    const keep = new Set();
    // Drop a spinner or error placeholder left from loading.
    for (const child of [...this.list.children]) if (!child.dataset.key) child.remove();
    let ref = this.list.firstChild;
    for (const it of items) {
      keep.add(it.key);
      let node = this.nodes.get(it.key);
      if (!node || node.sig !== it.sig) {
        const el = it.build();
        el.dataset.key = it.key;
        if (node) {
          if (node.el === ref) ref = el;
          node.el.replaceWith(el);
        }
        node = { sig: it.sig, el };
        this.nodes.set(it.key, node);
      }
      if (node.el !== ref) this.list.insertBefore(node.el, ref);
      else ref = ref.nextSibling;
      if (node.el === ref) ref = ref.nextSibling;
    }
    for (const [key, node] of this.nodes) {
      if (!keep.has(key)) {
        node.el.remove();
        this.nodes.delete(key);
      }
    }
  }

  items() {
    const out = [];
    const model = this.model;
    const msgs = model.visible();
    const sends = model.pendingSends();
    if (model.atBeginning) {
      out.push({
        key: 'begin', sig: `${msgs.length ? 1 : 0}`,
        build: () => h('div', { class: 'chat-begin', attrs: { 'data-testid': 'chat-begin' } },
          h('span', { class: 'chat-begin-icon' }, icon('hash', 22)),
          h('h2', null, `Welcome to #${this.room.name}`),
          h('p', { class: 'muted' }, msgs.length || sends.length
            ? 'This is the very beginning of the room.'
            : 'No messages yet. Say hello \u2014 everyone in the workspace can read along.')),
      });
    } else {
      out.push({
        key: 'older', sig: this.loadingOlder ? 'loading' : 'idle',
        build: () => h('div', { class: 'chat-older' },
          this.loadingOlder ? spinner('Loading older messages') : h('button', {
            type: 'button', class: 'btn btn-ghost btn-sm', on: { click: () => this.loadOlder() },
          }, 'Load older messages')),
      });
    }
    let prev = null;
    let prevDay = null;
    for (const m of msgs) {
      const day = dayKey(m.ts);
      if (day !== prevDay) {
        out.push({ key: `day-${day}`, sig: formatDay(m.ts), build: () => daySep(m.ts) });
        prevDay = day;
        prev = null;
      }
      const compact = Boolean(prev && !prev.deleted && !m.deleted && prev.author === m.author
        && m.ts - prev.ts < GROUP_MS);
      const name = this.ws.nameOf(m.author);
      const editing = this.editing === m.seq && m.editable;
      const sig = editing ? 'editing' : [
        compact ? 'c' : 'f', name, m.deleted ? 'D' : '', m.text ?? '', m.edited_ts ?? '',
        (m.mentions ?? []).join(','), m.editable ? 'E' : '',
        m.pendingOp ? `${m.pendingOp.op}:${m.pendingOp.status}` : '',
      ].join('\u0001');
      out.push({ key: `m-${m.seq}`, sig, build: () => (editing ? this.buildEditor(m, compact) : this.buildMessage(m, { compact, name })) });
      prev = m;
    }
    const meName = this.session.user.display_name || this.session.user.username;
    for (const p of sends) {
      out.push({
        key: `p-${p.cid}`, sig: `${p.status}\u0001${p.error ?? ''}\u0001${this.session.connection}`,
        build: () => this.buildPending(p, meName),
      });
    }
    return out;
  }

  buildMessage(m, { compact, name }) {
    const own = String(m.author) === this.me;
    const mentionsMe = (m.mentions ?? []).map(String).includes(this.me) && !own;
    const time = h('time', { class: 'msg-time', dateTime: new Date(m.ts).toISOString(), title: formatFull(m.ts) }, formatTime(m.ts));
    const body = [];
    if (m.deleted) {
      body.push(h('p', { class: 'msg-text msg-deleted' }, 'This message was deleted.'));
    } else {
      const text = h('p', { class: 'msg-text' }, renderText(m.text ?? '', { byUsername: this.ws.byUsername, meId: this.me }));
      if (m.edited_ts) text.append(' ', h('span', { class: 'msg-edited', title: `Edited ${formatFull(m.edited_ts)}` }, '(edited)'));
      body.push(text);
    }
    if (m.pendingOp) {
      const label = m.pendingOp.status === 'failed'
        ? `Not saved: ${m.pendingOp.error ?? 'try again'}`
        : m.pendingOp.op === 'delete' ? 'Deleting\u2026' : 'Saving\u2026';
      body.push(h('span', { class: ['msg-state', m.pendingOp.status === 'failed' && 'is-failed'] }, label));
    }
    let actions = null;
    if (m.editable && !m.pendingOp) {
      actions = h('div', { class: 'msg-actions', attrs: { role: 'toolbar', 'aria-label': 'Message actions' } },
        h('button', {
          type: 'button', class: 'btn btn-icon btn-ghost btn-xs', attrs: { 'aria-label': 'Edit message', title: 'Edit', 'data-action': 'edit' },
          on: { click: () => this.startEdit(m.seq) },
        }, icon('edit', 15)),
        this.deleteButton(m));
    }
    return h('article', {
      class: ['msg', compact && 'msg-compact', own && 'msg-own', mentionsMe && 'msg-mention', m.deleted && 'is-deleted', m.pendingOp && 'is-pending'],
      dataset: { seq: String(m.seq), author: String(m.author) },
      attrs: { 'aria-label': `${name}, ${formatFull(m.ts)}` },
    },
    h('div', { class: 'msg-gutter' }, compact ? time.cloneNode(true) : avatar(m.author, name)),
    h('div', { class: 'msg-main' },
      compact ? null : h('header', { class: 'msg-head' }, h('span', { class: 'msg-author' }, name), time),
      body),
    actions);
  }

  deleteButton(m) {
    const btn = h('button', {
      type: 'button', class: 'btn btn-icon btn-ghost btn-xs btn-danger-text',
      attrs: { 'aria-label': 'Delete message', title: 'Delete', 'data-action': 'delete' },
    }, icon('trash', 15));
    let armed = null;
    btn.addEventListener('click', () => {
      if (!armed) {
        btn.classList.add('is-armed');
        btn.setAttribute('aria-label', 'Click again to delete');
        btn.title = 'Click again to delete';
        btn.replaceChildren(h('span', { class: 'confirm-text' }, 'Delete?'));
        armed = setTimeout(() => {
          armed = null;
          btn.classList.remove('is-armed');
          btn.setAttribute('aria-label', 'Delete message');
          btn.title = 'Delete';
          btn.replaceChildren(icon('trash', 15));
        }, 3000);
        return;
      }
      clearTimeout(armed);
      this.publishChange('delete', m.seq);
    });
    return btn;
  }

  buildPending(p, meName) {
    const failed = p.status === 'failed';
    return h('article', {
      class: ['msg', 'msg-own', 'is-pending', failed && 'is-failed'],
      dataset: { cid: p.cid, pending: p.status },
      attrs: { 'aria-label': failed ? 'Message not sent' : 'Sending message' },
    },
    h('div', { class: 'msg-gutter' }, avatar(this.me, meName)),
    h('div', { class: 'msg-main' },
      h('header', { class: 'msg-head' }, h('span', { class: 'msg-author' }, meName),
        h('span', { class: 'msg-time' }, failed ? '' : 'sending\u2026')),
      h('p', { class: 'msg-text' }, renderText(p.text, { byUsername: this.ws.byUsername, meId: this.me })),
      failed ? h('div', { class: 'msg-state is-failed' },
        icon('alert', 14), h('span', null, `Not sent: ${p.error ?? 'failed'}. `),
        h('button', { type: 'button', class: 'link-btn', on: { click: () => this.retry(p.cid) } }, 'Retry'),
        ' \u00b7 ',
        h('button', { type: 'button', class: 'link-btn', on: { click: () => this.model.removePending(p.cid) } }, 'Discard'))
        : h('span', { class: 'msg-state' }, icon('clock', 13), this.session.connection === 'connected' ? 'Sending' : 'Waiting for connection')));
  }

  buildEditor(m, compact) {
    // A draft typed before a re-render rebuilt the editor is kept.
    const draft = this.editDraft?.seq === m.seq ? this.editDraft.text : null;
    const ta = h('textarea', {
      class: 'edit-input', value: draft ?? m.text ?? '', rows: 2,
      attrs: { 'aria-label': 'Edit message', maxlength: MAX_TEXT * 2 },
    });
    const save = () => {
      const text = ta.value.trim();
      if (!text) {
        toast('A message cannot be empty: delete it instead.', 'error');
        return;
      }
      if (text === m.text) {
        this.stopEdit();
        return;
      }
      this.publishChange('edit', m.seq, text);
    };
    ta.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        this.stopEdit();
      } else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        save();
      }
    });
    const el = h('article', { class: ['msg', 'msg-own', 'is-editing', compact && 'msg-compact'], dataset: { seq: String(m.seq) } },
      h('div', { class: 'msg-gutter' }),
      h('div', { class: 'msg-main' },
        ta,
        h('div', { class: 'edit-foot' },
          h('span', { class: 'muted' }, h('kbd', null, 'Enter'), ' to save, ', h('kbd', null, 'Esc'), ' to cancel'),
          h('button', { type: 'button', class: 'btn btn-ghost btn-sm', on: { click: () => this.stopEdit() } }, 'Cancel'),
          h('button', { type: 'button', class: 'btn btn-primary btn-sm', on: { click: save } }, 'Save'))));
    // Focus as soon as the editor is in the list (render() inserts it
    // synchronously), with the caret at the end. Never later: moving the
    // caret after the user started typing or selecting would misplace
    // what they type next.
    queueMicrotask(() => {
      if (!ta.isConnected || document.activeElement === ta) return;
      ta.focus();
      ta.setSelectionRange(ta.value.length, ta.value.length);
    });
    requestAnimationFrame(() => autosize(ta));
    ta.addEventListener('input', () => {
      this.editDraft = { seq: m.seq, text: ta.value };
      autosize(ta);
    });
    return el;
  }

  renderPresence() {
    const present = this.ws.presentIn(this.room.id);
    const people = [...present.values()].map((p) => ({ id: p.user, name: this.ws.nameOf(p.user, p.name) }));
    people.sort((a, b) => (a.id === this.me) - (b.id === this.me) || a.name.localeCompare(b.name));
    for (const u of this.typing.list()) if (!present.has(u)) this.typing.clear(u);
    const shown = people.slice(0, 5);
    replace(this.presenceEl,
      h('div', { class: 'avatar-stack' }, shown.map((p) => h('span', { dataset: { user: p.id }, title: p.name }, avatar(p.id, p.name, { size: 'sm', online: true })))),
      h('span', { class: 'chat-online' }, h('span', { class: 'dot-online', attrs: { 'aria-hidden': 'true' } }),
        people.length ? `${people.length} online` : 'Connecting\u2026'),
      h('span', { class: 'sr-only' }, people.length ? `Online here: ${people.map((p) => p.name).join(', ')}` : ''));
    this.presenceEl.dataset.users = people.map((p) => p.id).join(',');
  }

  renderTyping() {
    const names = this.typing.list().map((u) => this.ws.nameOf(u));
    if (!names.length) {
      this.typingEl.replaceChildren();
      this.typingEl.classList.remove('is-active');
      return;
    }
    const text = names.length > 3 ? 'Several people are typing' : `${joinNames(names)} ${names.length === 1 ? 'is' : 'are'} typing`;
    replace(this.typingEl, h('span', { class: 'typing-dots', attrs: { 'aria-hidden': 'true' } }, h('i'), h('i'), h('i')), h('span', null, `${text}\u2026`));
    this.typingEl.classList.add('is-active');
  }

  showStatus(msg, kind = 'info') {
    if (!msg) {
      this.status.hidden = true;
      return;
    }
    replace(this.status, icon(kind === 'error' ? 'alert' : 'wifi', 16), h('span', null, msg));
    this.status.className = `chat-status chat-status-${kind}`;
    this.status.hidden = false;
  }

  // ------------------------------------------------------------ scrolling

  isNearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM;
  }

  scrollToBottom(smooth) {
    const s = this.scroller;
    if (smooth) s.scrollTo({ top: s.scrollHeight, behavior: 'smooth' });
    else s.scrollTop = s.scrollHeight;
    this.newBelow = 0;
    this.updateJump();
    this.maybeMarkRead();
  }

  updateJump() {
    this.jump.hidden = this.newBelow === 0;
    this.jump.querySelector('span').textContent = this.newBelow === 1 ? '1 new message' : `${this.newBelow} new messages`;
  }

  onScroll() {
    if (this.isNearBottom()) {
      if (this.newBelow) {
        this.newBelow = 0;
        this.updateJump();
      }
      this.maybeMarkRead();
    }
    if (this.scroller.scrollTop < NEAR_TOP) this.loadOlder();
  }

  /** Loads older messages until the list can scroll (or the beginning shows). */
  async fillViewport() {
    for (let i = 0; i < 5; i++) {
      if (this.scope.disposed || this.model.atBeginning) return;
      if (this.scroller.scrollHeight > this.scroller.clientHeight + NEAR_TOP) return;
      if (!(await this.loadOlder())) return;
    }
  }

  async loadOlder() {
    if (this.loadingOlder || !this.model.loaded) return false;
    if (this.model.revealOlder()) return true;
    if (this.model.historyDone) return false;
    this.loadingOlder = true;
    this.render();
    try {
      const api = this.session.api;
      // Pages may hold only edits; keep reading until messages appear.
      for (let i = 0; i < 5 && !this.model.historyDone; i++) {
        const added = await this.model.loadOlder((before, limit) => api.history(this.room.id, { before, limit }));
        if (this.scope.disposed) return false;
        if (added) break;
      }
    } catch (err) {
      toast(`Could not load older messages: ${describeError(err)}`, 'error');
      return false;
    } finally {
      this.loadingOlder = false;
    }
    const prevHeight = this.scroller.scrollHeight;
    const prevTop = this.scroller.scrollTop;
    this.model.revealOlder();
    this.render();
    this.scroller.scrollTop = prevTop + (this.scroller.scrollHeight - prevHeight);
    return true;
  }

  // ------------------------------------------------------------ read markers

  maybeMarkRead() {
    const seq = this.model.seq;
    if (!this.model.loaded || seq <= this.lastMarked) return;
    if (document.visibilityState !== 'visible') return;
    if (!this.isNearBottom()) return;
    this.lastMarked = seq;
    if (this.readTimer) return;
    this.readTimer = setTimeout(() => this.flushRead(), 250);
  }

  /**
   * The user's own event at seq is read by them: when everything before it
   * was read, the marker moves to it, even if its event has not arrived yet
   * (or the view was closed meanwhile), so it never counts as unread.
   */
  markOwnRead(seq) {
    if (!this.model.loaded || seq <= this.lastMarked) return;
    if (this.lastMarked < this.model.seq || seq > this.model.seq + 1) return;
    this.lastMarked = seq;
    if (this.scope.disposed) this.flushRead();
    else if (!this.readTimer) this.readTimer = setTimeout(() => this.flushRead(), 250);
  }

  /** Sends the pending read marker now (also when the view closes). */
  flushRead() {
    clearTimeout(this.readTimer);
    this.readTimer = null;
    if (this.lastMarked > this.sentMarked) {
      this.sentMarked = this.lastMarked;
      this.ws.markRead(this.room.id, this.lastMarked, this.model.epoch);
    }
  }

  // ------------------------------------------------------------ composing

  onComposerKey(e) {
    if (!this.suggest.hidden) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        this.moveSuggest(e.key === 'ArrowDown' ? 1 : -1);
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        this.pickSuggest();
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        this.hideSuggest();
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.send();
    } else if (e.key === 'ArrowUp' && !this.input.value) {
      const own = this.model.visible().filter((m) => m.editable).pop();
      if (own) {
        e.preventDefault();
        this.startEdit(own.seq);
      }
    }
  }

  onComposerInput() {
    autosize(this.input);
    const len = [...this.input.value].length;
    this.counter.hidden = len < MAX_TEXT - 200;
    this.counter.textContent = `${len} / ${MAX_TEXT}`;
    this.counter.classList.toggle('is-over', len > MAX_TEXT);
    if (this.input.value.trim()) this.sendTyping();
    else if (this.typingSent) this.publishTyping(false);
    this.updateSuggest();
  }

  publishTyping(typing) {
    if (!this.handle) return;
    if (!typing && !this.typingSent) return;
    this.typingSent = typing;
    if (!typing) this.sendTyping?.reset();
    try {
      const r = this.handle.publishEphemeral('typing', { typing });
      if (r && typeof r.catch === 'function') r.catch(() => {});
    } catch { /* offline: typing is best effort */ }
  }

  send() {
    const text = this.input.value.trim();
    if (!text) return;
    if ([...text].length > MAX_TEXT) {
      toast(`Messages can be at most ${MAX_TEXT} characters.`, 'error');
      return;
    }
    if (!this.handle) {
      toast('Not connected to this room yet.', 'error');
      return;
    }
    const mentions = mentionIds(text, this.ws.byUsername);
    const payload = mentions.length ? { text, mentions } : { text };
    const cid = newCid();
    this.model.addPending({ cid, op: 'send', text, mentions });
    this.input.value = '';
    autosize(this.input);
    this.counter.hidden = true;
    this.hideSuggest();
    if (this.typingSent) this.publishTyping(false);
    this.sendTyping.reset();
    this.scrollToBottom(false);
    this.publish('message.create', payload, cid);
  }

  publish(kind, payload, cid) {
    let p;
    try {
      p = this.handle.publish(kind, payload, { cid });
    } catch (err) {
      p = Promise.reject(err);
    }
    Promise.resolve(p).then((ack) => {
      // The event normally settles the entry; an ack for a seq already
      // folded (e.g. a duplicate) settles it here.
      if (ack && typeof ack.seq === 'number' && ack.seq <= this.model.seq) this.model.removePending(cid);
      if (ack && typeof ack.seq === 'number') this.markOwnRead(ack.seq);
    }, (err) => {
      this.model.updatePending(cid, { status: 'failed', error: shortError(err), payload, kind });
    });
  }

  retry(cid) {
    const p = this.model.pending.get(cid);
    if (!p) return;
    this.model.updatePending(cid, { status: 'sending', error: null });
    const kind = p.kind ?? 'message.create';
    const payload = p.payload ?? (p.mentions?.length ? { text: p.text, mentions: p.mentions } : { text: p.text });
    this.publish(kind, payload, cid);
  }

  publishChange(op, seq, text) {
    const cid = newCid();
    if (op === 'edit') {
      const mentions = mentionIds(text, this.ws.byUsername);
      this.editing = null;
      this.editDraft = null;
      this.model.addPending({ cid, op: 'edit', target: seq, text, mentions });
      this.publish('message.edit', mentions.length ? { target_seq: seq, text, mentions } : { target_seq: seq, text }, cid);
      this.input.focus();
    } else {
      this.model.addPending({ cid, op: 'delete', target: seq });
      this.publish('message.delete', { target_seq: seq }, cid);
    }
  }

  startEdit(seq) {
    if (this.editing !== seq) this.editDraft = null;
    this.editing = seq;
    this.render();
  }

  stopEdit() {
    this.editing = null;
    this.editDraft = null;
    this.render();
    this.input.focus();
  }

  onEphemeral(ev) {
    if (ev?.kind !== 'typing') return;
    const user = String(ev.author ?? '');
    if (!user || user === this.me) return;
    this.typing.note(user, ev.payload?.typing !== false);
  }

  // ------------------------------------------------------------ mention suggestions

  updateSuggest() {
    const q = mentionQuery(this.input.value, this.input.selectionStart ?? this.input.value.length);
    if (!q) {
      this.hideSuggest();
      return;
    }
    const matches = this.ws.members
      .filter((m) => String(m.user_id) !== this.me)
      .filter((m) => m.username.startsWith(q.query) || (m.display_name ?? '').toLowerCase().startsWith(q.query))
      .slice(0, 6);
    if (!matches.length) {
      this.hideSuggest();
      return;
    }
    this.suggestQuery = q;
    this.suggestIndex = 0;
    replace(this.suggest, matches.map((m, i) => h('li', {
      id: `mention-opt-${i}`,
      class: ['suggest-item', i === 0 && 'is-active'],
      dataset: { username: m.username },
      attrs: { role: 'option', 'aria-selected': i === 0 ? 'true' : 'false' },
      on: {
        mousedown: (e) => {
          e.preventDefault();
          this.suggestIndex = i;
          this.pickSuggest();
        },
      },
    }, avatar(m.user_id, m.display_name || m.username, { size: 'xs' }),
    h('span', null, m.display_name || m.username), h('span', { class: 'muted' }, `@${m.username}`))));
    this.suggest.hidden = false;
    this.input.setAttribute('aria-controls', 'mention-suggest');
    this.input.setAttribute('aria-activedescendant', 'mention-opt-0');
  }

  moveSuggest(d) {
    const items = [...this.suggest.children];
    this.suggestIndex = (this.suggestIndex + d + items.length) % items.length;
    items.forEach((li, i) => {
      li.classList.toggle('is-active', i === this.suggestIndex);
      li.setAttribute('aria-selected', i === this.suggestIndex ? 'true' : 'false');
    });
    this.input.setAttribute('aria-activedescendant', `mention-opt-${this.suggestIndex}`);
  }

  pickSuggest() {
    const li = this.suggest.children[this.suggestIndex];
    const q = this.suggestQuery;
    if (!li || !q) return;
    const v = this.input.value;
    const caret = this.input.selectionStart ?? v.length;
    const insert = `@${li.dataset.username} `;
    this.input.value = v.slice(0, q.start) + insert + v.slice(caret);
    const pos = q.start + insert.length;
    this.input.setSelectionRange(pos, pos);
    this.hideSuggest();
    this.input.focus();
  }

  hideSuggest() {
    this.suggest.hidden = true;
    this.suggest.replaceChildren();
    this.input.removeAttribute('aria-activedescendant');
  }
}

function daySep(ts) {
  return h('div', { class: 'day-sep', attrs: { role: 'separator' } }, h('span', null, formatDay(ts)));
}

function autosize(ta) {
  ta.style.height = 'auto';
  ta.style.height = `${Math.min(ta.scrollHeight, 200)}px`;
}

function shortError(err) {
  if (!err) return 'failed';
  if (err.code === 'forbidden') return 'you no longer have access to this room';
  if (err.code === 'archived') return 'the room is archived';
  if (err.code === 'bad_request') return 'the message was refused';
  return err.message ?? String(err);
}
