// model.js — one chat room's messages, as the chat view shows them.
//
//  - `state` is the chat reducer's state (the last 200 messages, edits and
//    deletes applied), loaded from the room snapshot and advanced by every
//    live event through the shared reducer, so it always equals the
//    server's. Only its messages can be edited or deleted.
//  - Older messages come from history pages (GET /rooms/{room}/events,
//    before=...). They are shown read-only; edits and deletes found in those
//    pages are applied to them.
//  - `pending` holds this user's optimistic changes (send, edit, delete) by
//    cid, drawn on top of the folded state and dropped when the event with
//    that cid arrives, so the folded state never contains a guess.
//  - `shownFrom` is the lowest seq the view shows: it opens on the last
//    PAGE messages and moves down as the user scrolls back.

import { reduce, stateNew } from '../../lib/reducers/index.js';

export const PAGE = 50;
const HISTORY_PAGE = 100;

export class ChatModel {
  constructor(room, { me }) {
    this.room = room;
    this.me = String(me);
    this.listeners = new Set();
    this.reset();
  }

  reset() {
    this.state = stateNew('chat');
    this.epoch = null;
    this.loaded = false;
    /** seq -> message: the state's window plus older history. */
    this.messages = new Map();
    /** seqs of messages in the reducer window (editable). */
    this.window = new Set();
    /** Ops from history pages whose target is older than anything loaded: target seq -> op. */
    this.laterOps = new Map();
    /** Lowest event seq fetched from history (paging cursor), or null. */
    this.historyCursor = null;
    this.historyDone = false;
    this.shownFrom = 1;
    /** cid -> {cid, op: 'send'|'edit'|'delete', text, mentions, target, status, error, createdAt} */
    this.pending = new Map();
  }

  on(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(change) {
    for (const fn of this.listeners) fn(change);
  }

  get seq() { return this.state.seq ?? 0; }

  // ---------------------------------------------------------------- loading

  /** Replaces everything with a snapshot {seq, epoch, state}. */
  loadSnapshot(snap) {
    const pending = this.pending;
    this.reset();
    this.pending = pending;
    this.epoch = snap.epoch ?? null;
    const st = snap.state && typeof snap.state === 'object' ? snap.state : stateNew('chat');
    this.state = structuredClone(st);
    if (typeof this.state.seq !== 'number') this.state.seq = snap.seq ?? 0;
    if (!Array.isArray(this.state.messages)) this.state.messages = [];
    this.#syncWindow();
    const seqs = [...this.messages.keys()].sort((a, b) => a - b);
    // Everything from shownFrom up is shown, live messages included.
    this.shownFrom = seqs.length > PAGE ? seqs[seqs.length - PAGE] : (seqs[0] ?? this.state.seq + 1);
    // History below the window starts under its oldest message (or at the
    // snapshot's position when the window is empty).
    this.historyCursor = seqs.length ? seqs[0] : this.state.seq + 1;
    this.historyDone = this.historyCursor <= 1;
    this.loaded = true;
    this.emit({ type: 'reset' });
  }

  /** Folds one durable event (from the room handle). Returns true if it was new. */
  applyEvent(ev) {
    if (!ev || typeof ev.seq !== 'number') return false;
    if (ev.epoch !== undefined && this.epoch !== null && ev.epoch !== this.epoch) return false;
    if (ev.seq <= this.seq) {
      this.#settle(ev);
      return false;
    }
    this.state = reduce('chat', this.state, ev);
    const affected = this.#syncWindow();
    const settled = this.#settle(ev);
    const isNewMessage = ev.kind === 'message.create' && this.messages.has(ev.seq);
    this.emit({ type: 'event', event: ev, affected, settled, isNewMessage });
    return true;
  }

  /** Copies the reducer's window into `messages`; returns the seqs that changed. */
  #syncWindow() {
    const affected = [];
    const next = new Set();
    for (const m of this.state.messages) {
      next.add(m.seq);
      const prev = this.messages.get(m.seq);
      if (!prev || signature(prev) !== signature(m)) {
        // A copy: the reducer may update its state in place.
        this.messages.set(m.seq, structuredClone(m));
        affected.push(m.seq);
      }
    }
    for (const s of this.window) if (!next.has(s)) affected.push(s);
    this.window = next;
    return affected;
  }

  /** Drops the pending change whose cid this event carries (if it is ours). */
  #settle(ev) {
    if (!ev.cid || String(ev.author) !== this.me) return false;
    return this.pending.delete(ev.cid);
  }

  /**
   * Loads the next history page below what is loaded. fetchPage(before,
   * limit) resolves {events, has_more}. Resolves the number of messages
   * added.
   */
  async loadOlder(fetchPage) {
    if (this.historyDone) return 0;
    const before = this.historyCursor;
    const page = await fetchPage(before, HISTORY_PAGE);
    if (before !== this.historyCursor) return 0; // a reset happened meanwhile
    const events = Array.isArray(page?.events) ? page.events : [];
    let added = 0;
    // Newest first, so later ops are known before their targets appear.
    for (let i = events.length - 1; i >= 0; i--) {
      const ev = events[i];
      if (typeof ev?.seq !== 'number' || ev.seq >= before) continue;
      if (this.epoch !== null && ev.epoch !== undefined && ev.epoch !== this.epoch) continue;
      if (this.#applyHistoryEvent(ev)) added++;
    }
    const lowest = events.reduce((min, ev) => (typeof ev?.seq === 'number' && ev.seq < min ? ev.seq : min), before);
    this.historyCursor = lowest;
    this.historyDone = !page?.has_more || lowest <= 1 || events.length === 0;
    if (added || this.historyDone) this.emit({ type: 'older', added });
    return added;
  }

  #applyHistoryEvent(ev) {
    const p = ev.payload && typeof ev.payload === 'object' ? ev.payload : {};
    const author = String(ev.author ?? '');
    if (ev.kind === 'message.create') {
      if (this.messages.has(ev.seq) || typeof p.text !== 'string' || !p.text) return false;
      let msg = { seq: ev.seq, author, ts: ev.ts ?? 0, text: p.text };
      if (Array.isArray(p.mentions) && p.mentions.length) msg.mentions = p.mentions.map(String);
      const op = this.laterOps.get(ev.seq);
      if (op && op.author === author) msg = applyOp(msg, op);
      this.laterOps.delete(ev.seq);
      this.messages.set(ev.seq, msg);
      return true;
    }
    if (ev.kind === 'message.edit' || ev.kind === 'message.delete') {
      const target = p.target_seq;
      if (!Number.isInteger(target) || this.window.has(target)) return false;
      const op = { kind: ev.kind, author, ts: ev.ts ?? 0, text: p.text, mentions: p.mentions, seq: ev.seq };
      if (ev.kind === 'message.edit' && (typeof p.text !== 'string' || !p.text)) return false;
      // Walking backwards: the first delete seen wins, and so does the
      // newest edit seen before any older delete.
      const known = this.laterOps.get(target);
      if (!known || (op.kind === 'message.delete' && known.kind !== 'message.delete')) this.laterOps.set(target, op);
      return false;
    }
    return false;
  }

  // ---------------------------------------------------------------- paging

  /** Shows up to PAGE more loaded messages below shownFrom; returns how many. */
  revealOlder() {
    const below = [...this.messages.keys()].filter((s) => s < this.shownFrom).sort((a, b) => b - a);
    if (!below.length) return 0;
    const take = below.slice(0, PAGE);
    this.shownFrom = take[take.length - 1];
    this.emit({ type: 'older', added: take.length });
    return take.length;
  }

  /** True if older messages are loaded but not shown yet. */
  get hasHiddenOlder() {
    for (const s of this.messages.keys()) if (s < this.shownFrom) return true;
    return false;
  }

  get atBeginning() {
    return this.historyDone && !this.hasHiddenOlder;
  }

  // ---------------------------------------------------------------- view data

  /** Shown messages in seq order, with pending edits/deletes drawn on top. */
  visible() {
    const overlay = new Map();
    for (const p of this.pending.values()) if (p.op !== 'send') overlay.set(p.target, p);
    const out = [];
    for (const [seq, m] of this.messages) {
      if (seq < this.shownFrom) continue;
      const o = overlay.get(seq);
      let view = m;
      if (o && !m.deleted) {
        view = o.op === 'delete'
          ? { ...m, pendingOp: o }
          : { ...m, text: o.text, mentions: o.mentions, pendingOp: o };
      }
      out.push({ ...view, editable: this.window.has(seq) && String(m.author) === this.me && !m.deleted });
    }
    out.sort((a, b) => a.seq - b.seq);
    return out;
  }

  /** Pending sends, oldest first. */
  pendingSends() {
    return [...this.pending.values()].filter((p) => p.op === 'send').sort((a, b) => a.createdAt - b.createdAt);
  }

  // ---------------------------------------------------------------- optimistic

  addPending(entry) {
    this.pending.set(entry.cid, { status: 'sending', createdAt: Date.now(), ...entry });
    this.emit({ type: 'pending' });
  }

  updatePending(cid, patch) {
    const p = this.pending.get(cid);
    if (!p) return;
    Object.assign(p, patch);
    this.emit({ type: 'pending' });
  }

  removePending(cid) {
    if (this.pending.delete(cid)) this.emit({ type: 'pending' });
  }
}

function signature(m) {
  return `${m.deleted ? 'D' : ''}|${m.edited_ts ?? ''}|${m.text ?? ''}|${(m.mentions ?? []).join(',')}`;
}

function applyOp(msg, op) {
  if (op.kind === 'message.delete') return { seq: msg.seq, author: msg.author, ts: msg.ts, deleted: true };
  const out = { seq: msg.seq, author: msg.author, ts: msg.ts, text: op.text, edited_ts: op.ts };
  if (Array.isArray(op.mentions) && op.mentions.length) out.mentions = op.mentions.map(String);
  return out;
}
