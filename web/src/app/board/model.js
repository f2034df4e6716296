// model.js — one board's state: the folded server state, the optimistic
// overlay of this client's unconfirmed publishes, and conflict detection.
//
// The folded state only ever changes through the shared reducer
// (lib/reducers), so it always equals the server's. Optimistic changes are
// kept apart, in `ops` (cid -> op), and `view()` folds them on top of a
// copy with the same reducer: what the user sees is "server state + my
// pending changes". An op leaves the overlay when its event (same cid) is
// folded, when its publish is refused, or when a snapshot at or past its
// acknowledged seq replaces the state.
//
// This module has no DOM: the view (view.js) renders what it gives, and the
// node tests (tests/integration/web-board.test.mjs) run it directly.

import { cardsInColumn, columnsInOrder, reduceWithResult, stateNew } from '../../lib/reducers/index.js';
import { keyForIndex, spread, POSITION_MAX } from '../../lib/positions.js';

export { cardsInColumn, columnsInOrder };

/** Due dates are kept as one label of this form (see docs/reducers.md, Board). */
export const DUE_RE = /^due:(\d{4}-\d{2}-\d{2})$/;

/** The due date (YYYY-MM-DD) of a card, or null. */
export function dueOf(card) {
  for (const l of card?.labels ?? []) {
    const m = DUE_RE.exec(l);
    if (m) return m[1];
  }
  return null;
}

/** The labels of a card that are shown as labels (the due label is a date chip). */
export function plainLabels(card) {
  return (card?.labels ?? []).filter((l) => !DUE_RE.test(l));
}

/** True if the role may manage columns and the board. */
export function canManage(role) {
  return role === 'owner' || role === 'admin';
}

/** Kinds only owners and admins may publish. */
export const MANAGER_KINDS = new Set(['column.create', 'column.rename', 'column.move', 'column.delete']);

/**
 * Where a card lands when it is dropped into `columnCards` (display order,
 * the moved card included or not) at `index` (counted without the moved
 * card). Returns `{moves: [{id, column, position}]}`: one move when a key
 * fits between the neighbours, else the whole column respaced (one move per
 * card whose key changes, fresh keys from `spread`). `moves` is empty when
 * the card would stay where it is.
 * @param {object[]} columnCards cards of the target column in display order
 * @param {string} cardId the moved card
 * @param {string} columnId the target column
 * @param {number} index target index among the other cards
 * @param {object} [current] the moved card as it is now (column, position)
 */
export function planMove(columnCards, cardId, columnId, index, current = undefined) {
  const others = columnCards.filter((c) => c.id !== cardId);
  const i = Math.max(0, Math.min(index, others.length));
  if (current && current.column === columnId) {
    const before = columnCards.findIndex((c) => c.id === cardId);
    if (before === i) return { moves: [] };
  }
  const key = keyForIndex(others.map((c) => c.position), i);
  if (key !== null && key.length <= POSITION_MAX) {
    return { moves: [{ id: cardId, column: columnId, position: key }] };
  }
  const order = [...others.slice(0, i).map((c) => c.id), cardId, ...others.slice(i).map((c) => c.id)];
  const keys = spread(order.length);
  const byId = new Map(others.map((c) => [c.id, c]));
  const moves = [];
  order.forEach((id, k) => {
    const c = byId.get(id);
    if (id === cardId || !c || c.position !== keys[k] || c.column !== columnId) {
      moves.push({ id, column: columnId, position: keys[k] });
    }
  });
  return { moves, respaced: true };
}

/** A position key for a new item at the end of a list (respacing plan when none fits). */
export function planAppend(items) {
  const key = keyForIndex(items.map((c) => c.position), items.length);
  return key;
}

/**
 * Decides whether one's own `card.update` was refused for a stale
 * base_version: `card` is the card just before the event was folded.
 * Returns null (no conflict) or {card: id, fields: {title?, description?, labels?}}.
 */
export function staleUpdate(card, payload) {
  if (!card || !payload || payload.base_version === undefined) return null;
  if (card.version === payload.base_version) return null;
  const fields = {};
  for (const f of ['title', 'description', 'labels']) if (payload[f] !== undefined) fields[f] = payload[f];
  return { card: card.id, fields, baseVersion: payload.base_version, version: card.version };
}

/**
 * Fields of an edit that someone changed since the edit began: `base` is
 * the card as it was when editing started, `now` as it is; `fields` the
 * edited fields. Returns the names that differ.
 */
export function changedSince(base, now, fields) {
  const out = [];
  for (const f of fields) {
    const a = base?.[f];
    const b = now?.[f];
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(f);
  }
  return out;
}

/** The latest activity entry about a card by someone other than me (or null). */
export function lastOtherAuthor(activity, cardId, me, { afterSeq = 0 } = {}) {
  for (let i = (activity?.length ?? 0) - 1; i >= 0; i--) {
    const e = activity[i];
    if (e.card === cardId && String(e.author) !== String(me) && e.seq > afterSeq) return e;
  }
  return null;
}

/** True if an event (from history) is about the card. */
export function eventIsAboutCard(ev, cardId) {
  const k = String(ev?.kind ?? '');
  if (k.startsWith('card.')) return ev?.payload?.id === cardId;
  if (k.startsWith('comment.')) return ev?.payload?.card === cardId;
  return false;
}

/**
 * A readable sentence for a raw event when no reducer summary is at hand
 * (history older than the state's last 100 activity entries). `state` is
 * used to name cards and columns that still exist.
 */
export function describeEvent(ev, state, nameOf = (u) => u) {
  const p = ev?.payload ?? {};
  const card = (id) => state?.cards?.[id]?.title;
  const col = (id) => state?.columns?.[id]?.title;
  const q = (t) => (t ? `"${t}"` : 'a card');
  switch (ev?.kind) {
    case 'column.create': return `added column "${p.title ?? ''}"`;
    case 'column.rename': return `renamed column to "${p.title ?? ''}"`;
    case 'column.move': return `moved column ${col(p.id) ? `"${col(p.id)}"` : ''}`.trim();
    case 'column.delete': return 'deleted a column';
    case 'card.create': return `added card "${p.title ?? ''}"${col(p.column) ? ` to "${col(p.column)}"` : ''}`;
    case 'card.update': return `edited card ${q(p.title ?? card(p.id))}`;
    case 'card.move': return `moved card ${q(card(p.id))}${col(p.column) ? ` to "${col(p.column)}"` : ''}`;
    case 'card.delete': return 'deleted a card';
    case 'card.assign': return `assigned ${nameOf(p.user)} to card ${q(card(p.id))}`;
    case 'card.unassign': return `unassigned ${nameOf(p.user)} from card ${q(card(p.id))}`;
    case 'card.label':
      if (DUE_RE.test(String(p.label))) return p.on ? `set the due date of card ${q(card(p.id))} to ${String(p.label).slice(4)}` : `removed the due date from card ${q(card(p.id))}`;
      return `${p.on ? 'added' : 'removed'} label "${p.label ?? ''}" ${p.on ? 'to' : 'from'} card ${q(card(p.id))}`;
    case 'comment.add': return `commented on card ${q(card(p.card))}`;
    case 'comment.delete': return `deleted a comment on card ${q(card(p.card))}`;
    default: return String(ev?.kind ?? 'event');
  }
}

/** Activity summaries name user ids verbatim ("assigned 12 to card"); this names them. */
export function humanSummary(entry, nameOf) {
  const s = String(entry?.summary ?? '');
  if (entry?.kind === 'card.label') {
    const m = /^(added|removed) label "due:(\d{4}-\d{2}-\d{2})" (?:to|from) card (.*)$/.exec(s);
    if (m) return m[1] === 'added' ? `set the due date of card ${m[3]} to ${m[2]}` : `removed the due date ${m[2]} from card ${m[3]}`;
  }
  if (entry?.kind === 'card.assign' || entry?.kind === 'card.unassign') {
    const m = /^(assigned|unassigned) (.+?) (to|from) card /.exec(s);
    if (m) return `${m[1]} ${nameOf(m[2])} ${s.slice(m[1].length + 1 + m[2].length + 1)}`;
  }
  return s;
}

/** Epochs match, or one of them is not known (null/undefined). */
const sameEpoch = (a, b) => a === undefined || a === null || b === undefined || b === null || a === b;

export class BoardModel {
  constructor({ me }) {
    this.me = String(me);
    this.state = stateNew('board');
    this.epoch = null;
    this.loaded = false;
    /** cid -> {cid, kind, payload, ackSeq?, ackEpoch?} in publish order */
    this.ops = new Map();
    this.listeners = new Set();
    this.viewCache = null;
  }

  on(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  #emit(change) {
    this.viewCache = null;
    for (const fn of [...this.listeners]) {
      try { fn(change); } catch (err) { console.error('board listener failed', err); }
    }
  }

  get seq() { return this.state.seq; }

  /** Replaces the state with a snapshot {seq, epoch, state}. */
  loadSnapshot(snap) {
    this.state = snap?.state ?? stateNew('board');
    this.epoch = snap?.epoch ?? null;
    this.loaded = true;
    // Ops acknowledged at or below the snapshot are in it. One acknowledged
    // in another epoch never comes as an event of this one: the snapshot
    // holds whatever survived of it.
    for (const [cid, op] of this.ops) {
      if (op.ackSeq === undefined) continue;
      if (!sameEpoch(op.ackEpoch, this.epoch) || op.ackSeq <= this.state.seq) this.ops.delete(cid);
    }
    this.#emit({ type: 'reset' });
  }

  /**
   * Folds one durable event. Returns {applied, own, conflict}: `conflict`
   * is set when it is one's own card.update refused for a stale
   * base_version.
   */
  applyEvent(ev) {
    const own = typeof ev?.cid === 'string' && this.ops.has(ev.cid) ? this.ops.get(ev.cid) : null;
    const before = ev?.kind === 'card.update' ? this.state.cards?.[ev.payload?.id] : undefined;
    const { state, applied } = reduceWithResult('board', this.state, ev);
    this.state = state;
    let conflict = null;
    const mine = own || String(ev?.author) === this.me;
    if (!applied && mine && ev?.kind === 'card.update') conflict = staleUpdate(before, ev.payload);
    if (own) this.ops.delete(ev.cid);
    this.#emit({ type: 'event', event: ev, applied, own: Boolean(own), conflict });
    return { applied, own: Boolean(own), conflict };
  }

  /** Records an optimistic op (before publishing it). */
  addOp(cid, kind, payload) {
    this.ops.set(cid, { cid, kind, payload });
    this.#emit({ type: 'op' });
  }

  /**
   * The publish was acknowledged with seq (in epoch): the event follows, or
   * is already folded. Acknowledged in another epoch than the state's, the
   * op waits for that epoch's snapshot (loadSnapshot settles it).
   */
  ackOp(cid, seq, epoch) {
    const op = this.ops.get(cid);
    if (!op) return;
    op.ackEpoch = epoch ?? null;
    if (sameEpoch(op.ackEpoch, this.epoch) && seq <= this.state.seq) {
      this.ops.delete(cid);
      this.#emit({ type: 'op' });
    } else {
      op.ackSeq = seq;
    }
  }

  /** The publish was refused: the change is dropped. */
  dropOp(cid) {
    if (this.ops.delete(cid)) this.#emit({ type: 'op' });
  }

  /** Ids of cards (and columns) with unconfirmed changes. */
  pendingIds() {
    const out = new Set();
    for (const op of this.ops.values()) {
      const p = op.payload ?? {};
      if (op.kind.startsWith('comment.')) out.add(p.card);
      else out.add(p.id);
    }
    return out;
  }

  /**
   * The state shown: the folded state with the pending ops on top, each
   * folded by the same reducer (base_version left out, so a pending edit
   * shows even if it will turn out stale).
   */
  view() {
    if (this.viewCache) return this.viewCache;
    let s = this.state;
    let seq = s.seq;
    for (const op of this.ops.values()) {
      let payload = op.payload;
      if (op.kind === 'card.update' && payload && payload.base_version !== undefined) {
        const { base_version: _b, ...rest } = payload;
        payload = rest;
      }
      s = reduceWithResult('board', s, { seq: ++seq, ts: Date.now(), author: this.me, kind: op.kind, payload }).state;
    }
    this.viewCache = s;
    return s;
  }

  /** Columns in display order, each with its cards in display order (of the shown state). */
  layout() {
    const s = this.view();
    const cols = columnsInOrder(s);
    const byCol = new Map(cols.map((c) => [c.id, []]));
    for (const card of Object.values(s.cards)) byCol.get(card.column)?.push(card);
    for (const list of byCol.values()) {
      list.sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }
    return cols.map((c) => ({ column: c, cards: byCol.get(c.id) }));
  }
}
